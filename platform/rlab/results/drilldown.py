"""Per-problem drill-down of one evaluation, and the problem-by-problem comparison of two evaluations of the
same benchmark (A against B).

A problem counts as *right* in an evaluation when at least half of its samples are correct
(correct / samples ≥ 0.5; with one sample per problem, when that sample is correct). Comparing A with B
puts every problem that both evaluated into one of four kinds by that rule — right → wrong, wrong → right,
both right, both wrong — and the table shows each side's accuracy on the problem (correct / samples), so a
move from 3/8 to 5/8 is visible next to its kind.

Queries do not grow with the rows shown: per side one light query over all its problems (counts, filters,
paging) and one for the rows of the page; each side's samples file is read once per request, parsing only
the lines of the problems on the page (`rlab.results.samples`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import zip_longest

from django.core.paginator import Page, Paginator
from django.db import models

from rlab.catalog.models import Example
from rlab.results.forms import ProblemFilters
from rlab.results.models import EvalResult, ExampleResult
from rlab.results.samples import Sample, SampleIndex, read_samples

PAGE_SIZE = 25
RIGHT_SHARE = 0.5


class Verdict(models.TextChoices):
    """A problem in one evaluation."""

    RIGHT = "right", "right"
    WRONG = "wrong", "wrong"


class Flip(models.TextChoices):
    """A problem in evaluation A against evaluation B."""

    RIGHT_TO_WRONG = "right-wrong", "right → wrong"
    WRONG_TO_RIGHT = "wrong-right", "wrong → right"
    BOTH_RIGHT = "both-right", "both right"
    BOTH_WRONG = "both-wrong", "both wrong"


KIND_LABELS = dict(Verdict.choices) | dict(Flip.choices)


class NotComparable(ValueError):
    """Two evaluations that cannot be compared problem by problem."""


def is_right(correct: int, samples: int) -> bool:
    return samples > 0 and correct >= RIGHT_SHARE * samples


def kind_of(a: tuple[int, int], b: tuple[int, int] | None) -> str:
    """The kind of a problem from (correct, samples) of A, and of B when comparing."""
    a_right = is_right(*a)
    if b is None:
        return Verdict.RIGHT if a_right else Verdict.WRONG
    if a_right == is_right(*b):
        return Flip.BOTH_RIGHT if a_right else Flip.BOTH_WRONG
    return Flip.RIGHT_TO_WRONG if a_right else Flip.WRONG_TO_RIGHT


def evaluation_label(result: EvalResult) -> str:
    """What was evaluated, for headings and pickers (needs `run` and `checkpoint` loaded)."""
    if result.checkpoint is None:
        return f"{result.model_ref} (base)"
    return f"{result.run.name} · step {result.checkpoint.step}" if result.run else result.model_ref


@dataclass(frozen=True)
class Choice:
    """An evaluation offered by the compare pickers."""

    pk: int
    benchmark: str
    label: str


def choices(results: Iterable[EvalResult]) -> list[Choice]:
    """Picker entries for `results` (loaded with benchmark, run and checkpoint)."""
    return [Choice(r.pk, r.benchmark.key, f"{evaluation_label(r)} · {r.score * 100:.1f}%") for r in results]


def check_comparable(a: EvalResult, b: EvalResult) -> None:
    if a.team_id != b.team_id:
        raise NotComparable("A and B belong to different teams.")
    if a.benchmark_id != b.benchmark_id:
        raise NotComparable(
            f"A is an evaluation on {a.benchmark.key} and B on {b.benchmark.key}: only evaluations of "
            "the same benchmark can be compared problem by problem."
        )


def setting_differences(a: EvalResult, b: EvalResult) -> list[str]:
    """How A and B were evaluated differently (template, sampling): worth knowing before reading flips."""
    notes = []
    if a.template != b.template:
        notes.append(f"template: A {a.template}, B {b.template}")
    for key in sorted(set(a.sampling) | set(b.sampling)):
        if a.sampling.get(key) != b.sampling.get(key):
            notes.append(f"{key}: A {a.sampling.get(key)}, B {b.sampling.get(key)}")
    return notes


# ---------------------------------------------------------------- all problems (light)


@dataclass(frozen=True)
class Entry:
    """One problem in the filter and paging index."""

    example_id: int
    subject: str
    level: str
    kind: str
    index: int  # in the benchmark
    a: tuple[int, int]  # (correct, samples) of A
    b: tuple[int, int] | None  # of B when comparing


def entries(a: EvalResult, b: EvalResult | None) -> tuple[list[Entry], int]:
    """A's problems in benchmark order (only those B has too when comparing), and how many problems one
    side has and the other has not (evaluations with different limits)."""
    rows = list(
        a.example_results.order_by("example__index").values_list(
            "example_id", "example__subject", "example__level", "example__index", "correct", "samples"
        )
    )
    if b is None:
        return [
            Entry(e, subject, level, kind_of((c, s), None), index, (c, s), None)
            for e, subject, level, index, c, s in rows
        ], 0
    other = {e: (c, s) for e, c, s in b.example_results.values_list("example_id", "correct", "samples")}
    shared = [
        Entry(e, subject, level, kind_of((c, s), other[e]), index, (c, s), other[e])
        for e, subject, level, index, c, s in rows
        if e in other
    ]
    return shared, len(rows) + len(other) - 2 * len(shared)


def _level_order(level: str) -> tuple[bool, int, str]:
    return (not level.isdecimal(), int(level) if level.isdecimal() else 0, level)


# ---------------------------------------------------------------- the rows shown (full)


@dataclass(frozen=True)
class Answer:
    text: str | None
    correct: bool | None  # None: the verdict is unknown (no samples file)


@dataclass(frozen=True)
class Side:
    """One evaluation's result on one problem."""

    correct: int
    samples: int
    answers: list[Answer]
    responses: list[Sample] | None  # None: the samples file could not be read

    @property
    def accuracy(self) -> float:
        return self.correct / self.samples if self.samples else 0.0

    @property
    def right(self) -> bool:
        return is_right(self.correct, self.samples)


def _side(result: ExampleResult, index: SampleIndex | None, problem_id: str) -> Side:
    responses = None if index is None else index.get(problem_id, [])
    if responses:
        answers = [Answer(sample.extracted, sample.correct) for sample in responses]
    else:
        answers = [Answer(text, None) for text in result.extracted_answers]
    return Side(result.correct, result.samples, answers, responses)


@dataclass(frozen=True)
class ProblemRow:
    example: Example
    a: Side
    b: Side | None

    @property
    def gold(self) -> str:
        """The gold answer; a multi-part answer (a list) as its parts joined by commas."""
        answer = self.example.answer
        return ", ".join(map(str, answer)) if isinstance(answer, list) else str(answer)

    @property
    def kind(self) -> str:
        return kind_of((self.a.correct, self.a.samples), self.b and (self.b.correct, self.b.samples))

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]

    @property
    def pairs(self) -> list[tuple[Sample | None, Sample | None]]:
        """A's and B's responses side by side, by sample index."""
        return list(zip_longest(self.a.responses or [], (self.b and self.b.responses) or []))


@dataclass(frozen=True)
class Problems:
    rows: list[ProblemRow]
    unreadable: list[EvalResult]  # the sides whose samples file could not be read


def problem_id(example: Example) -> str:
    """The evaluation runner's id of the problem (kept in the metadata of the benchmark's Example rows)."""
    return str(example.metadata.get("id", ""))


def problems(a: EvalResult, b: EvalResult | None, example_ids: list[int]) -> Problems:
    """The full rows of `example_ids` (in that order): two queries per side and one read of each side's
    samples file, whatever the number of rows."""
    a_rows = a.example_results.filter(example_id__in=example_ids).select_related("example")
    a_by_id = {row.example_id: row for row in a_rows}
    b_by_id = (
        {} if b is None else {r.example_id: r for r in b.example_results.filter(example_id__in=example_ids)}
    )
    ids = [problem_id(row.example) for row in a_by_id.values()]
    a_index = read_samples(a.samples_path, ids)
    b_index = None if b is None else read_samples(b.samples_path, ids)
    rows = []
    for example_id in example_ids:
        row = a_by_id.get(example_id)
        if row is None or (b is not None and example_id not in b_by_id):
            continue
        pid = problem_id(row.example)
        other = None if b is None else _side(b_by_id[example_id], b_index, pid)
        rows.append(ProblemRow(row.example, _side(row, a_index, pid), other))
    sides = [(a, a_index)] + ([] if b is None else [(b, b_index)])
    return Problems(rows, [result for result, index in sides if index is None])


# ---------------------------------------------------------------- one page


@dataclass(frozen=True)
class KindCount:
    kind: str
    label: str
    count: int


@dataclass(frozen=True)
class Drilldown:
    a: EvalResult
    b: EvalResult | None
    filters: ProblemFilters
    kinds: list[KindCount]
    total: int
    unmatched: int
    page: Page
    problems: Problems

    @property
    def right_counts(self) -> tuple[int, int | None]:
        """How many problems A and B get right (B: None when not comparing)."""
        counts = {k.kind: k.count for k in self.kinds}
        if self.b is None:
            return counts[Verdict.RIGHT], None
        both = counts[Flip.BOTH_RIGHT]
        return counts[Flip.RIGHT_TO_WRONG] + both, counts[Flip.WRONG_TO_RIGHT] + both


def drilldown(a: EvalResult, b: EvalResult | None, params: Mapping[str, str]) -> Drilldown:
    """One page of A's problems (against B's when given), filtered by subject, level and kind."""
    index, unmatched = entries(a, b)
    counts = Counter(entry.kind for entry in index)
    kinds = [KindCount(k.value, k.label, counts[k.value]) for k in (Verdict if b is None else Flip)]
    filters = ProblemFilters(
        params,
        subjects=sorted({e.subject for e in index if e.subject}),
        levels=sorted({e.level for e in index if e.level}, key=_level_order),
        kinds=[(k.kind, f"{k.label} ({k.count})") for k in kinds],
    )
    chosen = {name: value for name, value in filters.values.items() if value}
    shown = [e for e in index if all(getattr(e, name) == value for name, value in chosen.items())]
    page = Paginator(shown, PAGE_SIZE).get_page(params.get("page"))
    return Drilldown(
        a, b, filters, kinds, len(index), unmatched, page, problems(a, b, [e.example_id for e in page])
    )


def base_evaluations(team_id: int, model_ref: str) -> dict[tuple[int, str, str], EvalResult]:
    """The base model's evaluations by (benchmark, template, sampling hash): what a checkpoint's result of
    the same benchmark, evaluated the same way, is compared with."""
    results = EvalResult.objects.filter(team_id=team_id, checkpoint__isnull=True, model_ref=model_ref)
    return {(r.benchmark_id, r.template, r.sampling_hash): r for r in results.order_by("created_at")}
