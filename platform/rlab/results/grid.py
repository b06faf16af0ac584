"""The problem × checkpoint grid of one run on one benchmark: each cell the share of a problem's samples
that are correct at a checkpoint (and for the base model, when it was evaluated the same way), so that a
reader sees which problems are learned, when, and which are forgotten — the post-saturation
generalization of the 1-shot paper.

A problem is *right* at a checkpoint by drilldown.is_right (at least half its samples correct). Over the
run's checkpoints in step order a problem is one of: never right; always right; forgotten (wrong at the
last checkpoint, right at an earlier one); learned (right at the last, wrong at the first); unstable
(right at the first and the last, wrong in between). Problems missing from a checkpoint's evaluation are
left out. Three queries: the evaluations, their per-problem rows, the page's examples.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db import models

from rlab.catalog.models import Example
from rlab.experiments.models import Run
from rlab.results.drilldown import base_evaluations, is_right
from rlab.results.models import EvalResult, ExampleResult

PAGE_SIZE = 50


class Trajectory(models.TextChoices):
    LEARNED = "learned", "learned"
    FORGOTTEN = "forgotten", "forgotten"
    UNSTABLE = "unstable", "unstable"
    ALWAYS = "always", "always right"
    NEVER = "never", "never right"


def trajectory(rights: list[bool]) -> str:
    """The kind of a problem from whether it is right at each checkpoint, in step order."""
    if not any(rights):
        return Trajectory.NEVER
    if all(rights):
        return Trajectory.ALWAYS
    if not rights[-1]:
        return Trajectory.FORGOTTEN
    return Trajectory.LEARNED if not rights[0] else Trajectory.UNSTABLE


def learned_at(steps: list[int], rights: list[bool]) -> int | None:
    """The first step from which the problem stays right to the last checkpoint (None: wrong at the last)."""
    if not rights or not rights[-1]:
        return None
    index = len(rights) - 1
    while index > 0 and rights[index - 1]:
        index -= 1
    return steps[index]


@dataclass(frozen=True)
class GridCell:
    correct: int
    samples: int
    result: int  # the EvalResult, for the link to the problem's responses

    @property
    def share(self) -> float:
        return self.correct / self.samples if self.samples else 0.0

    @property
    def right(self) -> bool:
        return is_right(self.correct, self.samples)


@dataclass(frozen=True)
class GridRow:
    example: Example
    base: GridCell | None
    cells: list[GridCell]
    kind: str
    learned_step: int | None

    @property
    def kind_label(self) -> str:
        return Trajectory(self.kind).label


@dataclass(frozen=True)
class Column:
    label: str
    result: EvalResult


@dataclass(frozen=True)
class Grid:
    run: Run
    benchmark: str
    benchmarks: list[str]  # the run's evaluated benchmarks, for the picker
    base: Column | None
    columns: list[Column]  # the checkpoints in step order
    counts: list[tuple[str, str, int]]  # (kind, label, problems)
    kind: str
    total: int
    page: Page
    rows: list[GridRow]


def _latest_per_checkpoint(results: list[EvalResult]) -> list[EvalResult]:
    """The latest evaluation of each checkpoint (results ordered oldest first), in step order."""
    latest = {r.checkpoint_id: r for r in results}
    return sorted(latest.values(), key=lambda r: r.checkpoint.step)


def grid(run: Run, benchmark: str, params: Mapping[str, str]) -> Grid | None:
    """The grid of `run` on `benchmark` (None if the run has no evaluated checkpoint on it), filtered by
    params["kind"] and paged by params["page"]."""
    evaluated = EvalResult.objects.filter(run=run, checkpoint__isnull=False).select_related("checkpoint")
    benchmarks = sorted(set(evaluated.values_list("benchmark__key", flat=True)))
    results = _latest_per_checkpoint(list(evaluated.filter(benchmark__key=benchmark).order_by("created_at")))
    if not results:
        return None
    first = results[0]
    base = base_evaluations(run.team_id, first.model_ref).get(
        (first.benchmark_id, first.template, first.sampling_hash)
    )
    sides = results + ([base] if base else [])
    cells: dict[int, dict[int, GridCell]] = {}
    rows = ExampleResult.objects.filter(eval_result__in=sides).values_list(
        "eval_result_id", "example_id", "correct", "samples"
    )
    for result_id, example_id, correct, samples in rows:
        cells.setdefault(result_id, {})[example_id] = GridCell(correct, samples, result_id)
    shared = set.intersection(*(set(cells.get(r.pk, {})) for r in results))
    steps = [r.checkpoint.step for r in results]
    entries = []
    for example_id in shared:
        rights = [cells[r.pk][example_id].right for r in results]
        entries.append((example_id, trajectory(rights), learned_at(steps, rights)))
    counts = Counter(kind for _, kind, _ in entries)
    kind = params.get("kind", "")
    kind = kind if kind in Trajectory.values else ""
    shown = [e for e in entries if not kind or e[1] == kind]
    examples = Example.objects.filter(pk__in=shared).order_by("index")
    order = {pk: i for i, pk in enumerate(examples.values_list("pk", flat=True))}
    shown.sort(key=lambda e: order[e[0]])
    page = Paginator(shown, PAGE_SIZE).get_page(params.get("page"))
    on_page = Example.objects.in_bulk([e[0] for e in page])
    base_cells = cells.get(base.pk, {}) if base else {}
    return Grid(
        run,
        benchmark,
        benchmarks,
        Column("base", base) if base else None,
        [Column(f"step {r.checkpoint.step}", r) for r in results],
        [(k.value, k.label, counts[k.value]) for k in Trajectory],
        kind,
        len(entries),
        page,
        [
            GridRow(
                on_page[example_id],
                base_cells.get(example_id),
                [cells[r.pk][example_id] for r in results],
                kind_of,
                step,
            )
            for example_id, kind_of, step in page
        ],
    )
