"""The run page's evaluation table: test accuracy per checkpoint and benchmark, each checkpoint's score beside
the base model's evaluated the same way, and the run's pinned metrics where its evaluations measure them
(the demo's boxed ratio: what its format reward trains, rising from the base model's). The run page (an
experiments template) includes it with the `{% run_evaluations run %}` tag of
rlab.results.templatetags.run_evaluations, and it refreshes itself from the `results:run_evaluations` view
while results may still arrive."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from rlab.experiments.charts import Chart, Series, line_chart
from rlab.experiments.models import Checkpoint, Run
from rlab.experiments.run_report import pinned_metrics
from rlab.results.bests import column_key
from rlab.results.drilldown import base_evaluations
from rlab.results.models import EvalResult

EVALUATION_GRACE = timedelta(minutes=10)


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
        return f"{r.score:.4f} on {r.n} problems{r.overlap_note}, avg@{r.k}, template {r.template}"


@dataclass(frozen=True)
class ScoreRow:
    label: str
    checkpoint: Checkpoint | None
    cells: list[ScoreCell]
    # the pinned evaluation metrics, in %, per EvalTable.metric_columns ("—": none), with what they are over
    metric_cells: list[tuple[str, str]]


@dataclass(frozen=True)
class EvalTable:
    benchmarks: list[str]
    rows: list[ScoreRow]
    chart: Chart | None
    overlaps: list[str]  # per benchmark with training problems in it: "arith: n = 15 (1 training problem …)"
    metric_columns: list[
        tuple[str, str]
    ]  # (benchmark, metric) of the run's pinned metrics its evaluations have
    metric_charts: list[Chart]  # one per pinned metric, a line per benchmark over the checkpoints


def _metric_cell(result: EvalResult | None, metric: str) -> tuple[str, str]:
    """The metric in % and its denominator, e.g. ("93.8", "boxed_ratio over 16 problems × 1 sample")."""
    value = result.metrics.get(metric) if result else None
    if not isinstance(value, int | float):
        return "—", "not measured"
    return (
        f"{value * 100:.1f}",
        f"{metric} over {result.n} problems × {result.k} sample{'s' if result.k != 1 else ''}",
    )


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

    pinned = [m for m in pinned_metrics(run) if any(m in r.metrics for r in latest.values())]
    metric_columns = [(b, m) for m in pinned for b in benchmarks]

    def row(label: str, checkpoint: Checkpoint | None) -> ScoreRow:
        key = checkpoint.id if checkpoint else None
        return ScoreRow(
            label,
            checkpoint,
            [cell(latest.get((key, b))) for b in benchmarks],
            [_metric_cell(latest.get((key, b)), m) for b, m in metric_columns],
        )

    rows = [row("base model", None)] if any(cid is None for cid, _ in latest) else []
    rows += [row(f"step {c.step}", c) for c in checkpoints]
    steps = {c.id: c.step for c in checkpoints}
    series = [
        Series(
            b,
            [(steps.get(cid, 0), r.score * 100) for (cid, key), r in latest.items() if key == b],
        )
        for b in benchmarks
    ]
    overlaps = [
        f"{r.benchmark.key}: n = {r.n}{r.overlap_note}"
        for r in {key: r for (_, key), r in latest.items()}.values()
        if r.overlap_note
    ]
    chart = line_chart("test accuracy (%)", series, unit="%", y_floor=0)
    metric_charts = [
        line_chart(
            f"{metric} on the test problems (%)",
            [
                Series(
                    b,
                    [
                        (steps.get(cid, 0), r.metrics[metric] * 100)
                        for (cid, key), r in latest.items()
                        if key == b and isinstance(r.metrics.get(metric), int | float)
                    ],
                )
                for b in benchmarks
            ],
            unit="%",
            y_floor=0,
        )
        for metric in pinned
    ]
    return EvalTable(benchmarks, rows, chart, sorted(overlaps), metric_columns, metric_charts)


def evaluations_live(run: Run, now: datetime) -> bool:
    """Whether results may still arrive: the last checkpoints are evaluated after the run itself ends."""
    return not run.is_finished or (run.finished_at is not None and now - run.finished_at < EVALUATION_GRACE)


def run_evaluations_context(run: Run, now: datetime) -> dict:
    """What templates/results/_run_evaluations.html renders."""
    return {"run": run, "evals": eval_table(run), "evaluations_live": evaluations_live(run, now)}
