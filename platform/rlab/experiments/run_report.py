"""What the run page shows besides the Run row: training curves, evaluation scores per checkpoint, the time
left, and the tail of the run's log."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import ValidationError

from rlab.experiments.charts import Chart, Series, line_chart
from rlab.experiments.models import Checkpoint, Run
from rlab.experiments.spec_form import dump_yaml
from rlab.results.bests import column_key
from rlab.results.drilldown import base_evaluations
from rlab.results.models import EvalResult
from rlab.spec import SpecV1

# Shown first, in this order; any other numeric metric follows alphabetically.
METRIC_ORDER = ("reward_mean", "train_accuracy", "entropy", "response_length_mean", "kl")
LOG_NAME = "run.log"  # written by workers.artifacts.run_log into the run's artifact folder
LOG_LINES = 200
LOG_MAX_BYTES = 1024 * 1024
EVALUATION_GRACE = timedelta(minutes=10)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Curves:
    main: list[Chart]  # the metrics of METRIC_ORDER that the run reports (all of them if it reports none)
    more: list[Chart]


def metric_charts(run: Run) -> Curves:
    """One chart per numeric key of the run's TrainMetric values, over the training step."""
    series: dict[str, list[tuple[float, float]]] = {}
    for step, values in run.metrics.values_list("step", "values"):
        for key, value in (values or {}).items():
            if _is_number(value):
                series.setdefault(key, []).append((step, value))
    main = [key for key in METRIC_ORDER if key in series]
    more = sorted(key for key in series if key not in METRIC_ORDER)
    if not main:
        main, more = more, []
    return Curves(
        main=[line_chart(key, [Series(key, series[key])]) for key in main],
        more=[line_chart(key, [Series(key, series[key])]) for key in more],
    )


@dataclass(frozen=True)
class ScoreCell:
    result: EvalResult | None
    baseline: EvalResult | None = None  # the base model's result to compare a checkpoint's with

    @property
    def text(self) -> str:
        return f"{self.result.score * 100:.1f}" if self.result else "—"

    @property
    def title(self) -> str:
        if not self.result:
            return "not evaluated (yet)"
        r = self.result
        return f"{r.score:.4f} on {r.n} problems, avg@{r.k}, template {r.template}"


@dataclass(frozen=True)
class ScoreRow:
    label: str
    checkpoint: Checkpoint | None
    cells: list[ScoreCell]


@dataclass(frozen=True)
class EvalTable:
    benchmarks: list[str]
    rows: list[ScoreRow]
    chart: Chart | None


def eval_table(run: Run) -> EvalTable:
    """Test accuracy per benchmark: one row for the base model (when evaluated) and one per checkpoint."""
    checkpoints = list(run.checkpoints.all())
    latest: dict[tuple[int | None, str], EvalResult] = {}
    for result in EvalResult.objects.filter(run=run).select_related("benchmark").order_by("created_at"):
        latest[(result.checkpoint_id, column_key(result.benchmark.key, result.template))] = result
    benchmarks = sorted({key for _, key in latest})
    bases = base_evaluations(run.team_id, run.config.get("model", {}).get("id", "")) if latest else {}

    def cell(result: EvalResult | None) -> ScoreCell:
        if result is None or result.checkpoint_id is None:
            return ScoreCell(result)
        return ScoreCell(result, bases.get((result.benchmark_id, result.template, result.sampling_hash)))

    rows = []
    if any(checkpoint_id is None for checkpoint_id, _ in latest):
        rows.append(ScoreRow("base model", None, [cell(latest.get((None, b))) for b in benchmarks]))
    rows += [
        ScoreRow(f"step {c.step}", c, [cell(latest.get((c.id, b))) for b in benchmarks]) for c in checkpoints
    ]
    steps = {c.id: c.step for c in checkpoints}
    series = [
        Series(
            b,
            [(steps.get(cid, 0), r.score * 100) for (cid, key), r in latest.items() if key == b],
        )
        for b in benchmarks
    ]
    return EvalTable(benchmarks, rows, line_chart("test accuracy (%)", series, unit="%", y_floor=0))


def evaluations_live(run: Run, now: datetime) -> bool:
    """Whether results may still arrive: the last checkpoints are evaluated after the run itself ends."""
    return not run.is_finished or (run.finished_at is not None and now - run.finished_at < EVALUATION_GRACE)


def eta_seconds(run: Run, now: datetime) -> float | None:
    """Time left at the rate so far; None unless the run is running and part-way."""
    if run.status != Run.Status.RUNNING or run.started_at is None or not 0 < run.progress < 1:
        return None
    elapsed = (now - run.started_at).total_seconds()
    return elapsed * (1 - run.progress) / run.progress


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = max(int(seconds), 0)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def log_tail(run: Run, lines: int = LOG_LINES) -> list[str] | None:
    """The last lines of the run's log, read from the end of the file; None when there is no log yet."""
    if not run.artifact_dir:
        return None
    try:
        with (Path(run.artifact_dir) / LOG_NAME).open("rb") as handle:
            position = handle.seek(0, os.SEEK_END)
            data = b""
            while position > 0 and data.count(b"\n") <= lines and len(data) < LOG_MAX_BYTES:
                size = min(64 * 1024, position)
                position -= size
                handle.seek(position)
                data = handle.read(size) + data
    except OSError:
        return None
    return data.decode("utf-8", errors="replace").splitlines()[-lines:]


def config_yaml(run: Run) -> str:
    """The run's spec point in the spec's field order (the database keeps JSON keys in its own order)."""
    try:
        data = SpecV1.model_validate(run.config).model_dump(mode="json")
    except ValidationError:  # a config written by an older version of the spec
        data = run.config
    return dump_yaml(data)
