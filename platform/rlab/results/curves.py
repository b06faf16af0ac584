"""Curves of several runs on one chart: a training metric or a test score over steps, smoothed the way
W&B smooths (a debiased exponential moving average), and the pass@k and maj@k curves of each run's
best-average checkpoint per benchmark (unbiased pass@k, Chen et al. 2021, from the stored per-problem
outcomes; maj@k, evaluation.voting, as the evaluation recorded it in its metrics).

The charts are drawn by rlab.experiments.charts (server-side SVG, no script); three queries whatever the
number of runs, which is bounded by MAX_RUNS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from django.db.models import QuerySet

from evaluation.loglikelihood.formulations import is_formulation
from evaluation.statistics import pass_at_k_curve
from evaluation.voting import MAX_SAMPLES
from rlab.experiments.charts import Chart, Series, line_chart
from rlab.experiments.models import Run, TrainMetric
from rlab.results.bests import Best
from rlab.results.models import EvalResult
from rlab.results.outcomes import unpack

MAX_RUNS = 20
TEST_PREFIX = "test:"  # a metric key for a test score: test:<benchmark>
MAX_SMOOTHING = 0.99


class TooManyRuns(ValueError):
    """More runs selected than one chart can show."""


def smoothing(text: str) -> float:
    """A smoothing weight from a query parameter, or a ValueError that says what is allowed."""
    try:
        weight = float(text)
    except ValueError:
        weight = math.nan
    if not 0 <= weight <= MAX_SMOOTHING:
        raise ValueError(f"smoothing must be a number within 0 and {MAX_SMOOTHING}, got {text!r}")
    return weight


def smooth(values: list[float], weight: float) -> list[float]:
    """Debiased exponential moving average: s_t = w·s_{t−1} + (1 − w)·v_t, divided by 1 − w^t so that the
    first points are not pulled towards 0 (what W&B's "exponential moving average" smoothing does)."""
    smoothed, last = [], 0.0
    for t, value in enumerate(values, 1):
        last = weight * last + (1 - weight) * value
        smoothed.append(last / (1 - weight**t))
    return smoothed


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Overlay:
    runs: list[Run]
    metrics: list[str]  # what can be overlaid: training metrics, then test:<benchmark>
    metric: str
    smoothing: float
    chart: Chart | None
    pass_at_k: list[Chart]
    maj_at_k: list[Chart]


def _relabel(chart: Chart | None, axis: str) -> Chart | None:
    """The chart with marker tooltips naming `axis` instead of the training step."""
    if chart is None:
        return None
    lines = [
        replace(
            line,
            markers=[replace(m, tooltip=m.tooltip.replace(" · step ", f" · {axis} ")) for m in line.markers],
        )
        for line in chart.lines
    ]
    return replace(chart, lines=lines)


def _all_points(runs: list[Run]) -> dict[str, dict[int, list[tuple[float, float]]]]:
    """Every numeric training metric and test score (test:<benchmark>, in %, the latest evaluation of each
    checkpoint) of the runs: points (step, value) by metric, then run id."""
    points: dict[str, dict[int, list[tuple[float, float]]]] = {}
    for run_id, step, values in TrainMetric.objects.filter(run__in=runs).values_list(
        "run_id", "step", "values"
    ):
        for key, value in (values or {}).items():
            if _is_number(value):
                points.setdefault(key, {}).setdefault(run_id, []).append((step, value))
    tests = EvalResult.objects.filter(run__in=runs, checkpoint__isnull=False).order_by("created_at")
    latest: dict[tuple[str, int, int], float] = {}
    for run_id, step, key, score in tests.values_list(
        "run_id", "checkpoint__step", "benchmark__key", "score"
    ):
        latest[(f"{TEST_PREFIX}{key}", run_id, step)] = score * 100
    for (key, run_id, step), score in sorted(latest.items()):
        points.setdefault(key, {}).setdefault(run_id, []).append((step, score))
    return points


def pass_at_k_series(name: str, stored: bytes | memoryview | None) -> Series | None:
    """The pass@k curve (in %) of one evaluation's stored outcomes; None with one sample per problem."""
    problems = unpack(stored)
    if not problems.size or int(problems["samples"].min()) < 2:
        return None
    curve = pass_at_k_curve(problems["correct"], problems["samples"])
    return Series(name, [(k, value * 100) for k, value in enumerate(curve, 1)])


def maj_at_k_series(name: str, metrics: dict | None) -> Series | None:
    """The maj@k curve (in %) an evaluation recorded (metrics["maj_at_k"], k = 1 … samples); None without
    one: one sample per problem, a log-likelihood evaluation, or one recorded before maj@k was."""
    stored = (metrics or {}).get("maj_at_k") or {}
    if len(stored) < 2:
        return None
    return Series(name, sorted((int(k), value * 100) for k, value in stored.items()))


def no_maj_at_k_reason(result: EvalResult) -> str | None:
    """Why an evaluation shows no maj@k curve; None when it has one."""
    if maj_at_k_series("maj@k", result.metrics) is not None:
        return None
    if is_formulation(result.template):
        return "No pass@k or maj@k: a log-likelihood evaluation scores each option once, it has no samples."
    if result.k < 2:
        return "No pass@k or maj@k: with one sample per problem both are the accuracy."
    return (
        "No maj@k: this evaluation was recorded before maj@k was, or with more than "
        f"{MAX_SAMPLES} samples per problem."
    )


def k_chart(title: str, series: list[Series]) -> Chart | None:
    """A chart over k (pass@k, maj@k), in %."""
    return _relabel(line_chart(title, series, unit="%", y_floor=0), "k")


def _best_checkpoint_charts(runs: list[Run]) -> tuple[list[Chart], list[Chart]]:
    """Per benchmark, the pass@k and the maj@k curves (k = 1 … samples) of each run's best-average
    checkpoint."""
    bests = {run.pk: best for run in runs if (best := Best.from_run(run)) is not None}
    ids = {score.result_id for best in bests.values() for score in best.scores.values()}
    stored = {
        pk: (outcomes, metrics)
        for pk, outcomes, metrics in EvalResult.objects.filter(pk__in=ids).values_list(
            "pk", "outcomes", "metrics"
        )
    }
    pass_curves: dict[str, list[Series]] = {}
    maj_curves: dict[str, list[Series]] = {}
    for run in runs:
        best = bests.get(run.pk)
        for key, score in sorted(best.scores.items()) if best else []:
            name = f"{run.name} (step {best.step})"
            outcomes, metrics = stored.get(score.result_id, (None, None))
            if series := pass_at_k_series(name, outcomes):
                pass_curves.setdefault(key, []).append(series)
            if series := maj_at_k_series(name, metrics):
                maj_curves.setdefault(key, []).append(series)

    def charts(metric: str, curves: dict[str, list[Series]]) -> list[Chart]:
        drawn = [k_chart(f"{metric} on {key} (%)", series) for key, series in sorted(curves.items())]
        return [chart for chart in drawn if chart is not None]

    return charts("pass@k", pass_curves), charts("maj@k", maj_curves)


def overlay(runs: QuerySet[Run], run_ids: list[int], metric: str, smoothing: float) -> Overlay:
    """The chosen runs (among `runs`, the viewer's) with `metric` over steps, smoothed, and their pass@k and
    maj@k curves; the metric defaults to the first the runs have."""
    if len(set(run_ids)) > MAX_RUNS:
        raise TooManyRuns(f"{len(set(run_ids))} runs selected: one chart shows at most {MAX_RUNS}")
    chosen = list(runs.filter(pk__in=run_ids).order_by("name"))
    points = _all_points(chosen)
    names = sorted(k for k in points if not k.startswith(TEST_PREFIX)) + sorted(
        k for k in points if k.startswith(TEST_PREFIX)
    )
    metric = metric if metric in points else (names[0] if names else "")
    series = []
    for run in chosen:
        steps = sorted(points.get(metric, {}).get(run.pk, []))
        values = smooth([v for _, v in steps], smoothing)
        series.append(Series(run.name, [(s, v) for (s, _), v in zip(steps, values, strict=True)]))
    unit = "%" if metric.startswith(TEST_PREFIX) else ""
    title = f"{metric}{f' (smoothed {smoothing:g})' if smoothing else ''}"
    chart = line_chart(title, series, unit=unit) if metric else None
    return Overlay(chosen, names, metric, smoothing, chart, *_best_checkpoint_charts(chosen))
