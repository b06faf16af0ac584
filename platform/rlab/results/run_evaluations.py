"""The run page's evaluation table: test accuracy per checkpoint and benchmark, each checkpoint's score beside
the base model's evaluated the same way. The run page (an experiments template) includes it with the
`{% run_evaluations run %}` tag of rlab.results.templatetags.run_evaluations, and it refreshes itself from
the `results:run_evaluations` view while results may still arrive."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from rlab.experiments.charts import Chart, Series, line_chart
from rlab.experiments.models import Checkpoint, Run
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


@dataclass(frozen=True)
class EvalTable:
    benchmarks: list[str]
    rows: list[ScoreRow]
    chart: Chart | None
    overlaps: list[str]  # per benchmark with training problems in it: "arith: n = 15 (1 training problem …)"


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
    overlaps = [
        f"{r.benchmark.key}: n = {r.n}{r.overlap_note}"
        for r in {key: r for (_, key), r in latest.items()}.values()
        if r.overlap_note
    ]
    chart = line_chart("test accuracy (%)", series, unit="%", y_floor=0)
    return EvalTable(benchmarks, rows, chart, sorted(overlaps))


def evaluations_live(run: Run, now: datetime) -> bool:
    """Whether results may still arrive: the last checkpoints are evaluated after the run itself ends."""
    return not run.is_finished or (run.finished_at is not None and now - run.finished_at < EVALUATION_GRACE)


def run_evaluations_context(run: Run, now: datetime) -> dict:
    """What templates/results/_run_evaluations.html renders."""
    return {"run": run, "evals": eval_table(run), "evaluations_live": evaluations_live(run, now)}
