"""Tables across runs: the team and global leaderboards, the per-example 1-shot comparison of a sweep and
the ablation report of a sweep. Each run is represented by its best-average checkpoint (rlab.results.bests),
which is kept on the Run, so that leaderboards sort and page in the database.

Everything here works on querysets the caller has already scoped (a team, or published runs), in a fixed
number of queries whatever the number of runs.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.db.models.fields.json import KeyTransform
from django.utils.safestring import SafeString

from rlab.catalog.models import Dataset, RankEntry, Ranking
from rlab.experiments.models import Run, Sweep
from rlab.results.bests import (
    Best,
    Score,
    base_scores,
    base_scores_by_team,
    column_label,
    mean,
    setup_key,
)
from rlab.results.html import object_url, score_cells
from rlab.results.models import EvalResult

PER_SUBJECT_BENCHMARK = "math500"
EXAMPLES_FIELD = "data.examples"
AVERAGE = "average"
NAME = "name"
# Deltas (in score points, 0..1) from which a cell is coloured as a clear gain or loss.
STRONG_DELTA = 0.05
PAGE_SIZE = 50
RUN_URL, EVALUATION_URL = "experiments:run_detail", "results:evaluation"
# What a leaderboard row needs of a run (its config only for the filters, in the database).
BOARD_RUN_FIELDS = ("pk", "name", "team_id", "team__name", "best_step", "best_average", "best_scores")


# ---------------------------------------------------------------- tables


def delta_class(delta: float | None) -> str:
    if delta is None:
        return ""
    if delta >= STRONG_DELTA:
        return "delta-up2"
    if delta > 0:
        return "delta-up1"
    if delta <= -STRONG_DELTA:
        return "delta-down2"
    if delta < 0:
        return "delta-down1"
    return "delta-zero"


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}"


@dataclass(frozen=True)
class Cell:
    score: float | None
    delta: float | None = None  # to the reference row (base model or baseline run)
    result: int | None = None  # the EvalResult shown, where the viewer may open it

    @property
    def text(self) -> str:
        return _percent(self.score) or "—"

    @property
    def delta_text(self) -> str:
        return "" if self.delta is None else f"{self.delta * 100:+.1f}"

    @property
    def css(self) -> str:
        return delta_class(self.delta)


@dataclass(frozen=True)
class Column:
    key: str
    label: str


@dataclass(frozen=True)
class Row:
    label: str
    cells: list[Cell]
    run: Run | None = None
    step: int | None = None
    title: str = ""
    is_reference: bool = False
    team: str = ""
    linked: bool = True  # whether the viewer may open the run (its team's)

    @property
    def url(self) -> str:
        return object_url(RUN_URL, self.run.pk) if self.run and self.linked else ""

    @property
    def cells_html(self) -> SafeString:
        """The score cells, each linked to its evaluation's per-problem results, else to the run."""
        run_url = self.url
        return score_cells(
            (cell, object_url(EVALUATION_URL, cell.result) if cell.result else run_url) for cell in self.cells
        )


@dataclass
class Table:
    columns: list[Column]
    rows: list[Row] = field(default_factory=list)
    reference: str = ""  # what deltas are relative to
    team_column: bool = False
    page: int = 1
    pages: int = 1
    total: int = 0  # runs over all pages

    def csv(self) -> str:
        """The table's numbers as shown (percentages, one decimal), each followed by its delta."""
        out = io.StringIO()
        writer = csv.writer(out)
        header = ["row", "run", "step", *(["team"] if self.team_column else [])]
        for column in self.columns:
            header += [column.label, f"{column.label} delta"]
        writer.writerow(header)
        for row in self.rows:
            line = [row.label, row.run.name if row.run else "", "" if row.step is None else row.step]
            line += [row.team] if self.team_column else []
            for cell in row.cells:
                line += [_percent(cell.score), cell.delta_text]
            writer.writerow(line)
        return out.getvalue()


def _values(scores: dict[str, Score], columns: list[Column]) -> list[float | None]:
    """The row's number for each column: a benchmark, `math500:<subject>`, or the average."""
    values: list[float | None] = []
    for column in columns:
        benchmark, _, subject = column.key.partition(":")
        if column.key == AVERAGE:
            values.append(mean(scores.values()) if scores else None)
        elif benchmark not in scores:
            values.append(None)
        elif subject:
            values.append(scores[benchmark].per_subject.get(subject))
        else:
            values.append(scores[benchmark].score)
    return values


def _delta(value: float | None, reference: float | None) -> float | None:
    """value - reference at the shown precision (0.1 point), so that text and colour agree (no -0.0)."""
    return None if value is None or reference is None else round(value - reference, 3) + 0.0


def _result_ids(scores: dict[str, Score], columns: list[Column]) -> list[int | None]:
    """The EvalResult behind each column (a subject's is its benchmark's; the average has none)."""
    return [
        scores[key].result_id if (key := column.key.partition(":")[0]) in scores else None
        for column in columns
    ]


def _cells(
    values: list[float | None], reference: list[float | None] | None, results: list[int | None] | None = None
) -> list[Cell]:
    references = reference or [None] * len(values)
    results = results or [None] * len(values)
    return [
        Cell(v, None if reference is None else _delta(v, r), result)
        for v, r, result in zip(values, references, results, strict=True)
    ]


def _score_cells(
    scores: dict[str, Score], columns: list[Column], reference: list[float | None] | None, linked: bool
) -> list[Cell]:
    return _cells(_values(scores, columns), reference, _result_ids(scores, columns) if linked else None)


def _benchmark_columns(keys: Iterable[str]) -> list[Column]:
    return [Column(key, column_label(key)) for key in sorted(set(keys))]


# ---------------------------------------------------------------- leaderboard


def _has_tag(tag: str) -> Q:
    """Runs whose tag list holds `tag`: JSON containment where the database has it (PostgreSQL), else the
    tag as a quoted JSON string within the list's text (SQLite, the embedded default, where text matching
    ignores ASCII case)."""
    if connection.features.supports_json_field_contains:
        return Q(best_facets__tags__contains=[tag])
    return Q(best_facets__tags__icontains=json.dumps(tag))


@dataclass(frozen=True)
class LeaderboardFilters:
    model: str = ""
    algorithm: str = ""
    tag: str = ""

    def apply(self, runs: QuerySet[Run]) -> QuerySet[Run]:
        """The runs with a best checkpoint that pass the filters (on Run.best_facets, not the config)."""
        runs = runs.filter(best_average__isnull=False)
        if self.model:
            runs = runs.filter(best_facets__model=self.model)
        if self.algorithm:
            runs = runs.filter(best_facets__algorithm=self.algorithm)
        if self.tag:
            runs = runs.filter(_has_tag(self.tag))
        return runs

    @property
    def shows_base_models(self) -> bool:
        """Base-model rows have no algorithm or tags: they are shown unless those are filtered on."""
        return not (self.algorithm or self.tag)


@dataclass(frozen=True)
class FilterOptions:
    models: list[str]
    algorithms: list[str]
    tags: list[str]


def filter_options(runs: QuerySet[Run]) -> FilterOptions:
    """The models, algorithms and tags of the leaderboard runs among `runs` (one query over their small
    best_facets; the distinct combinations come from the database)."""
    models, algorithms, tags = set(), set(), set()
    facets = runs.filter(best_average__isnull=False).order_by().values_list("best_facets", flat=True)
    for facet in facets.distinct():
        models.add(facet["model"])
        algorithms.add(facet["algorithm"])
        tags.update(facet["tags"])
    return FilterOptions(sorted(models - {""}), sorted(algorithms - {""}), sorted(tags))


@dataclass(frozen=True)
class Sort:
    """A `sort` value such as "-average": a column key (or "name" for the label) and its direction."""

    key: str
    descending: bool

    @classmethod
    def parse(cls, sort: str, columns: list[Column]) -> Sort:
        key = sort.lstrip("-")
        return cls(key if key in {c.key for c in columns} else NAME, sort.startswith("-"))

    def value(self, row: Row, columns: list[Column]) -> float | str | None:
        if self.key == NAME:
            return row.label.lower()
        return row.cells[[c.key for c in columns].index(self.key)].score

    def precedes(self, a: Row, b: Row, columns: list[Column]) -> bool:
        """Whether `a` sorts strictly before `b` (empty cells last whatever the direction)."""
        x, y = self.value(a, columns), self.value(b, columns)
        if x is None or y is None:
            return x is not None and y is None
        return x > y if self.descending else x < y  # type: ignore[operator]

    def order_by(self) -> list:
        """The same order for Run rows in the database (ties by id)."""
        if self.key == NAME:  # run names are slugs (lowercase) and unique: the index on name orders them
            return ["-name" if self.descending else "name"]
        if self.key == AVERAGE:
            return ["-best_average" if self.descending else "best_average", "pk"]
        score = KeyTransform("score", KeyTransform(self.key, "best_scores"))
        return [score.desc(nulls_last=True) if self.descending else score.asc(nulls_last=True), "pk"]


def sort_rows(rows: list[Row], sort: str, columns: list[Column]) -> list[Row]:
    """Rows by a column (empty cells last whatever the direction) or by label ("name")."""
    order = Sort.parse(sort, columns)
    scored = [r for r in rows if order.value(r, columns) is not None]
    empty = [r for r in rows if order.value(r, columns) is None]
    return sorted(scored, key=lambda r: order.value(r, columns), reverse=order.descending) + empty


def _board_columns(runs: QuerySet[Run], base_keys: Iterable[str]) -> tuple[list[Column], int]:
    """The benchmark columns of `runs` (those of their best checkpoints) and of the base rows, and the
    number of runs, from one query that counts the runs per set of benchmarks."""
    keys, total = set(base_keys), 0
    suites = runs.order_by().values_list("best_facets__benchmarks").annotate(count=Count("pk"))
    for benchmarks, count in suites:
        keys.update(benchmarks)
        total += count
    return [*_benchmark_columns(keys), Column(AVERAGE, "average")], total


@dataclass(frozen=True)
class Edges:
    first: bool  # the first page
    next_row: Row | None  # the first run of the next page (None on the last page)


def _merge_bases(
    runs: list[Row], bases: list[Row], order: Sort, columns: list[Column], edges: Edges
) -> list[Row]:
    """The page's run rows (already in order) with the base rows that fall among them: a base row before
    the first run only on the first page, after the last only if it precedes the next page's first run."""
    slots: list[list[Row]] = [[] for _ in range(len(runs) + 1)]
    for base in sort_rows(bases, f"{'-' if order.descending else ''}{order.key}", columns):
        position = next((i for i, run in enumerate(runs) if order.precedes(base, run, columns)), len(runs))
        after_page = position == len(runs) and not (
            edges.next_row is None or order.precedes(base, edges.next_row, columns)
        )
        if (position or edges.first) and not after_page:
            slots[position].append(base)
    merged = slots[0]
    for run, after in zip(runs, slots[1:], strict=True):
        merged += [run, *after]
    return merged


def _opens(team_id: int, own_teams: set[int] | None) -> bool:
    """Whether the viewer may open a run or result of the team (own_teams None: every row is theirs)."""
    return own_teams is None or team_id in own_teams


def _run_row(run: Run, columns: list[Column], own_teams: set[int] | None, team_column: bool) -> Row:
    best = Best.from_run(run)
    linked = _opens(run.team_id, own_teams)
    return Row(
        run.name,
        _score_cells(best.scores, columns, None, linked),
        run,
        best.step,
        title=f"best-average checkpoint: step {best.step}",
        team=run.team.name if team_column else "",
        linked=linked,
    )


def _base_rows(
    bases: dict[tuple[int, str], dict[tuple[str, str, str], dict[str, Score]]],
    columns: list[Column],
    own_teams: set[int] | None,
    team_column: bool,
) -> list[Row]:
    return [
        Row(
            f"{model_ref} (base)",
            _score_cells(scores, columns, None, _opens(team_id, own_teams)),
            title=f"base model, template {template}, sampling {sampling_hash[:8]}",
            team=team_name if team_column else "",
        )
        for (team_id, team_name), setups in bases.items()
        for (model_ref, template, sampling_hash), scores in setups.items()
    ]


def _board(
    runs: QuerySet[Run],
    bases: dict[tuple[int, str], dict[tuple[str, str, str], dict[str, Score]]],
    sort: str,
    page: int | None,
    own_teams: set[int] | None,
    team_column: bool = False,
) -> Table:
    """A leaderboard page (page None: every row) of `runs` (filtered, with a best checkpoint), sorted in
    the database, with the base rows of `bases` that fall on it."""
    base_keys = {key for setups in bases.values() for scores in setups.values() for key in scores}
    columns, total = _board_columns(runs, base_keys)
    order = Sort.parse(sort, columns)
    pages = max(1, -(-total // PAGE_SIZE))
    number = min(max(page or 1, 1), pages)
    ordered = runs.select_related("team").only(*BOARD_RUN_FIELDS).order_by(*order.order_by())
    if page is not None:  # one run more than a page: the next page's first
        ordered = ordered[(number - 1) * PAGE_SIZE : number * PAGE_SIZE + 1]
    run_rows = [_run_row(run, columns, own_teams, team_column) for run in ordered]
    shown = run_rows if page is None else run_rows[:PAGE_SIZE]
    edges = Edges(first=number == 1, next_row=run_rows[PAGE_SIZE] if len(run_rows) > len(shown) else None)
    base_rows = _base_rows(bases, columns, own_teams, team_column)
    rows = _merge_bases(shown, base_rows, order, columns, edges)
    return Table(columns, rows, team_column=team_column, page=number, pages=pages, total=total)


def leaderboard(
    runs: QuerySet[Run],
    results: QuerySet[EvalResult],
    filters: LeaderboardFilters,
    sort: str = f"-{AVERAGE}",
    page: int | None = 1,
) -> Table:
    """One row per run of a team with an evaluated checkpoint (its best-average one) and one per base model
    (model_ref, template, sampling); `results` are the team's evaluations the base rows may come from.
    `page` (of PAGE_SIZE runs; None for all) is clamped to the pages there are."""
    runs = filters.apply(runs)
    base_results = results.filter(model_ref=filters.model) if filters.model else results
    bases = base_scores_by_team(base_results) if filters.shows_base_models else {}
    return _board(runs, bases, sort, page, None)


def global_leaderboard(
    viewer_teams: set[int], filters: LeaderboardFilters, sort: str = f"-{AVERAGE}", page: int | None = 1
) -> Table:
    """The published runs of every team, with a team column, and the base rows of the publishing teams'
    own base evaluations under the model, template and sampling of a published run's best checkpoint.
    Only runs and results of `viewer_teams` are linked."""
    runs = filters.apply(Run.objects.filter(published=True))
    bases = {}
    if filters.shows_base_models:
        used = set(runs.order_by().values_list("team_id", "best_setup").distinct())
        results = EvalResult.objects.filter(team_id__in={team_id for team_id, _ in used})
        if filters.model:
            results = results.filter(model_ref=filters.model)
        bases = {
            team: {setup: scores for setup, scores in setups.items() if (team[0], setup_key(*setup)) in used}
            for team, setups in base_scores_by_team(results).items()
        }
    return _board(runs, bases, sort, page, viewer_teams, team_column=True)


# ---------------------------------------------------------------- sweep reports


def _flatten(path: str, value: object) -> list[tuple[str, object]]:
    """A coordinate whose value is a block ({"loss": {"kl_coef": 0}}) as dotted paths (loss.kl_coef)."""
    if isinstance(value, dict) and value:
        return [item for key, inner in value.items() for item in _flatten(f"{path}.{key}", inner)]
    return [(path, value)]


def _coordinate_text(value: object) -> str:
    return ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)


def coordinates_label(run: Run) -> str:
    pairs = [pair for key, value in run.coordinates.items() for pair in _flatten(key, value)]
    return "; ".join(f"{path}={_coordinate_text(value)}" for path, value in pairs) or run.name


def _sweep_runs(sweep: Sweep) -> tuple[list[Run], dict[int, Best]]:
    """The sweep's runs in point order and their best checkpoints by run id."""
    runs = list(sweep.runs.order_by("point_index"))
    return runs, {run.pk: best for run in runs if (best := Best.from_run(run)) is not None}


def _run_cells(best: Best | None, columns: list[Column], reference: list[float | None] | None) -> list[Cell]:
    if best is None:
        return _cells([None] * len(columns), reference)
    return _score_cells(best.scores, columns, reference, linked=True)


def _sweep_results(sweep: Sweep) -> QuerySet[EvalResult]:
    return EvalResult.objects.filter(team=sweep.team)


def ablation(sweep: Sweep, baseline_id: int | None = None) -> Table:
    """Rows = the sweep's runs by their coordinates (best-average checkpoint); deltas to the baseline run
    (default the first point)."""
    runs, best = _sweep_runs(sweep)
    columns = _benchmark_columns(b for r in runs if r.pk in best for b in best[r.pk].scores)
    columns.append(Column(AVERAGE, "average"))
    baseline = next((r for r in runs if r.pk == baseline_id), runs[0] if runs else None)
    reference = _values(best[baseline.pk].scores, columns) if baseline and baseline.pk in best else None
    rows = [
        Row(
            coordinates_label(run),
            _run_cells(best.get(run.pk), columns, reference),
            run,
            best[run.pk].step if run.pk in best else None,
            title=run.name,
            is_reference=run == baseline,
        )
        for run in runs
    ]
    return Table(columns, rows, reference=coordinates_label(baseline) if baseline else "")


class NotAnExampleSweep(ValueError):
    """The sweep's runs differ in something else than data.examples."""


def _training_dataset(sweep: Sweep, name: str) -> Dataset | None:
    """The dataset the runs trained on: the team's own of that name before a shared one."""
    return Dataset.objects.named_for(sweep.team, name)


def _ranking_of(run: Run, rankings: list[Ranking]) -> Ranking | None:
    """The ranking the run's π references name: the one its spec names, else the dataset's latest."""
    if name := run.config["data"].get("ranking"):
        return next((r for r in rankings if r.name == name), None)
    return rankings[0] if rankings else None


def _problem_texts(dataset: Dataset | None, runs: list[Run]) -> dict[int, str]:
    """The problem(s) each run trained on, by run id, as rlab.catalog.rankings.resolve_examples names them
    (π ranks in the run's ranking or the latest one, else indexes), in three queries for the whole sweep; ""
    where a reference does not resolve."""
    if dataset is None:
        return {}
    rankings = list(dataset.rankings.all())  # latest first
    chosen = {run.pk: _ranking_of(run, rankings) for run in runs}
    refs = {run.pk: [str(ref) for ref in run.coordinates[EXAMPLES_FIELD]] for run in runs}
    pis = {int(ref[2:]) for r in refs.values() for ref in r if ref.startswith("pi") and ref[2:].isdigit()}
    indexes = {int(ref) for r in refs.values() for ref in r if ref.isdigit()}
    entries = RankEntry.objects.filter(ranking__in={r for r in chosen.values() if r}, pi__in=pis)
    by_pi = {(e.ranking_id, e.pi): e.example.problem for e in entries.select_related("example")}
    by_index = dict(dataset.examples.filter(index__in=indexes).values_list("index", "problem"))

    def problem(run: Run, ref: str) -> str | None:
        if ref.startswith("pi"):
            ranking = chosen[run.pk]
            return by_pi.get((ranking.pk, int(ref[2:]))) if ranking and ref[2:].isdigit() else None
        return by_index.get(int(ref)) if ref.isdigit() else None

    texts = {}
    for run in runs:
        problems = [problem(run, ref) for ref in refs[run.pk]]
        texts[run.pk] = "" if None in problems else "\n\n".join(problems)  # type: ignore[arg-type]
    return texts


def _example_label(refs: list) -> str:
    return ", ".join(f"π{ref[2:]}" if str(ref).startswith("pi") else f"#{ref}" for ref in refs)


def example_comparison(sweep: Sweep) -> Table:
    """One row per π_i of a sweep over data.examples, with math500 per subject, the other benchmarks and
    the average of its best-average checkpoint, each coloured by its delta to the base model."""
    runs, best = _sweep_runs(sweep)
    if not runs or any(set(run.coordinates) != {EXAMPLES_FIELD} for run in runs):
        raise NotAnExampleSweep(f"the runs of sweep {sweep.pk} do not differ in {EXAMPLES_FIELD} alone")
    results = _sweep_results(sweep)
    model_refs = {score.model_ref for b in best.values() for score in b.scores.values()}
    bases = base_scores(results.filter(model_ref__in=model_refs))
    columns = _example_columns(best.values())
    base_row = _base_row(list(best.values()), bases, columns)
    reference = [c.score for c in base_row.cells] if base_row else None
    dataset = _training_dataset(sweep, runs[0].config["data"]["dataset"])
    titles = _problem_texts(dataset, runs)
    rows = [base_row] if base_row else []
    rows += [
        Row(
            _example_label(run.coordinates[EXAMPLES_FIELD]),
            _run_cells(best.get(run.pk), columns, reference),
            run,
            best[run.pk].step if run.pk in best else None,
            title=titles.get(run.pk, ""),
        )
        for run in runs
    ]
    return Table(columns, rows, reference="base model" if base_row else "")


def _example_columns(bests: Iterable[Best]) -> list[Column]:
    bests = list(bests)
    keys = {b for best in bests for b in best.scores}
    subjects = sorted(
        {
            s
            for best in bests
            if PER_SUBJECT_BENCHMARK in best.scores
            for s in best.scores[PER_SUBJECT_BENCHMARK].per_subject
        }
    )
    columns = []
    if PER_SUBJECT_BENCHMARK in keys:
        columns.append(Column(PER_SUBJECT_BENCHMARK, PER_SUBJECT_BENCHMARK))
        columns += [Column(f"{PER_SUBJECT_BENCHMARK}:{s}", s) for s in subjects]
    columns += _benchmark_columns(keys - {PER_SUBJECT_BENCHMARK})
    return [*columns, Column(AVERAGE, "average")]


def _base_row(
    bests: list[Best], bases: dict[tuple[str, str, str], dict[str, Score]], columns: list[Column]
) -> Row | None:
    """The base model's scores under the same model, template and sampling as the runs' evaluations."""
    scores: dict[str, Score] = {}
    for best in bests:
        for benchmark, score in best.scores.items():
            base = bases.get((score.model_ref, score.template, score.sampling_hash), {}).get(benchmark)
            if base is not None:
                scores.setdefault(benchmark, base)
    if not scores:
        return None
    values = _values(scores, columns)
    if set(scores) != {b for best in bests for b in best.scores}:
        values[-1] = None  # an average over fewer benchmarks would not compare
    return Row(
        "base model",
        _cells(values, None, _result_ids(scores, columns)),
        is_reference=True,
        title=", ".join(sorted({s.model_ref for s in scores.values()})),
    )
