"""Tables across runs: the team and global leaderboards, the per-example 1-shot comparison of a sweep and
the ablation report of a sweep. Each run is represented by its best-average checkpoint (rlab.results.bests),
which is kept on the Run, so that leaderboards sort and page in the database.

Everything here works on querysets the caller has already scoped (a team, or published runs), in a fixed
number of queries whatever the number of runs.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from django.db.models import Count, QuerySet
from django.db.models.fields.json import KeyTransform
from django.utils.safestring import SafeString

from evaluation.statistics import PairedDifference, Replicates, z_value
from rlab.catalog.models import Dataset, RankEntry, Ranking
from rlab.experiments.models import EXAMPLES_FIELD, Run, Sweep, has_tag
from rlab.results.bests import (
    Best,
    Score,
    average_label,
    average_of,
    averaged,
    base_scores,
    base_scores_by_team,
    best_on,
    best_per_benchmark,
    column_label,
    setup_key,
)
from rlab.results.comparisons import (
    SEED_FIELDS,
    Power,
    RowComparison,
    flat_coordinates,
    group_replicates,
    replicate_key,
    table_statistics,
    without_seeds,
)
from rlab.results.html import object_url, score_cells
from rlab.results.models import EvalResult
from rlab.results.training_notes import overlap_notes, trained_on

PER_SUBJECT_BENCHMARK = "math500"
AVERAGE = "average"
NAME = "name"
# Deltas (in score points, 0..1) from which a cell is coloured as a clear gain or loss.
STRONG_DELTA = 0.05
PAGE_SIZE = 50
CSV_SUFFIXES = ("", " lo", " hi", " std", " n", " delta", " delta lo", " delta hi", " delta p")
RUN_URL, EVALUATION_URL = "experiments:run_detail", "results:evaluation"
# What a leaderboard row needs of a run (its config only for the filters, in the database).
BOARD_RUN_FIELDS = (
    "pk",
    "name",
    "team_id",
    "team__name",
    "sweep_id",
    "best_step",
    "best_average",
    "best_scores",
)


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


def _points(value: float) -> str:
    return f"{value * 100:.1f}"


@dataclass(frozen=True)
class Cell:
    score: float | None  # the mean over seeds where the row groups seed replicates
    delta: float | None = None  # to the reference row (base model or baseline run)
    result: int | None = None  # the EvalResult shown, where the viewer may open it
    lo: float | None = None  # the score's 95% interval (one evaluation)
    hi: float | None = None
    replicates: tuple[float, ...] = ()  # each seed's score, where the row groups seeds
    paired: PairedDifference | None = None  # the paired difference to the reference row
    size: str = ""  # problems × samples per problem of the evaluation shown (Score.size)
    setup: str = ""  # its Score.setup
    setup_note: str = ""  # where its column holds other setups too: how this cell's differs

    @property
    def text(self) -> str:
        return _percent(self.score) or "—"

    @property
    def std(self) -> float | None:
        return Replicates(self.replicates).std if len(self.replicates) > 1 else None

    @property
    def spread_text(self) -> str:
        """± the standard deviation over seeds, else ± half the 95% interval."""
        if self.score is None:
            return ""
        if (std := self.std) is not None:
            return f"±{_points(std)}"
        return "" if self.lo is None or self.hi is None else f"±{_points((self.hi - self.lo) / 2)}"

    @property
    def delta_text(self) -> str:
        return "" if self.delta is None else f"{self.delta * 100:+.1f}"

    @property
    def noise(self) -> bool:
        """Whether the difference to the reference is not distinguishable from noise (paired test)."""
        return self.delta is not None and self.paired is not None and not self.paired.significant

    @property
    def size_text(self) -> str:
        return f"n={self.size}" if self.size else ""

    @property
    def css(self) -> str:
        css = "delta-ns" if self.noise else delta_class(self.delta)
        return f"{css} setup-differs".strip() if self.setup_note else css

    @property
    def title(self) -> str:
        """The numbers behind the cell, for its tooltip."""
        parts = []
        if self.size:
            problems, _, samples = self.size.partition("×")
            parts.append(f"n = {problems} problems × {samples} sample{'s' if samples != '1' else ''}")
        if self.setup_note:
            parts.append(self.setup_note)
        if len(self.replicates) > 1:
            seeds = ", ".join(_points(v) for v in self.replicates)
            parts.append(f"mean ± std over {len(self.replicates)} seeds: {seeds}")
        elif self.lo is not None and self.hi is not None and self.score is not None:
            parts.append(f"95% interval {_points(self.lo)}–{_points(self.hi)}")
        if self.delta is not None and (p := self.paired) is not None:
            verdict = "significant" if p.significant else "not distinguishable from noise"
            parts.append(
                f"paired difference {p.difference * 100:+.1f} [{p.lo * 100:+.1f}, {p.hi * 100:+.1f}], "
                f"p = {p.p_value:.3f} ({p.method}, {p.n} problems): {verdict}"
            )
        return "; ".join(parts)


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    mixed: str = ""  # the setups its scores come from, where there is more than one (flagged cells)


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
    trained_on: str = ""  # its training examples and their wrong labels (sweep reports)
    overlap: str = ""  # benchmark problems among its training examples, left out or flagged
    seeds: str = ""  # on a leaderboard: the run's seed replicates' average, "3 seeds: 45.2 ± 1.3"
    seeds_title: str = ""  # and each seed's

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
    power: list[Power] = field(default_factory=list)  # what each benchmark can tell (sweep reports)

    def csv(self) -> str:
        """The table's numbers as shown (percentages, one decimal): per column the score, its 95% interval
        (lo, hi), the standard deviation over seeds, its problems × samples, the delta to the reference and
        the paired difference's interval and p-value."""
        out = io.StringIO()
        writer = csv.writer(out)
        header = ["row", "run", "step", *(["team"] if self.team_column else [])]
        for column in self.columns:
            header += [f"{column.label}{suffix}" for suffix in CSV_SUFFIXES]
        writer.writerow(header)
        for row in self.rows:
            line = [row.label, row.run.name if row.run else "", "" if row.step is None else row.step]
            line += [row.team] if self.team_column else []
            for cell in row.cells:
                paired = cell.paired if cell.delta is not None else None
                line += [
                    _percent(cell.score),
                    _percent(cell.lo),
                    _percent(cell.hi),
                    _percent(cell.std),
                    cell.size,
                    cell.delta_text,
                    "" if paired is None else f"{paired.lo * 100:+.1f}",
                    "" if paired is None else f"{paired.hi * 100:+.1f}",
                    "" if paired is None else f"{paired.p_value:.4f}",
                ]
            writer.writerow(line)
        return out.getvalue()


def _values(scores: dict[str, Score], columns: list[Column]) -> list[float | None]:
    """The row's number for each column: a benchmark, `math500:<subject>`, or the average."""
    values: list[float | None] = []
    for column in columns:
        benchmark, _, subject = column.key.partition(":")
        if column.key == AVERAGE:
            values.append(average_of(scores) if scores else None)
        elif benchmark not in scores:
            values.append(None)
        elif subject:
            values.append(scores[benchmark].per_subject.get(subject))
        else:
            values.append(scores[benchmark].score)
    return values


def _intervals(scores: dict[str, Score], columns: list[Column]) -> list[tuple[float | None, float | None]]:
    """Each column's 95% interval: a benchmark's as recorded; the average's from the benchmarks' (their
    half-widths as 1.96 standard errors, benchmarks independent: SE = sqrt(Σ SE_j²) / m); none for a
    subject."""
    z = z_value()
    found: list[tuple[float | None, float | None]] = []
    for column in columns:
        benchmark, _, subject = column.key.partition(":")
        if column.key == AVERAGE:
            bounds = [(scores[key].lo, scores[key].hi) for key in averaged(scores)]
            if not scores or any(lo is None or hi is None for lo, hi in bounds):
                found.append((None, None))
                continue
            se = math.sqrt(math.fsum(((hi - lo) / (2 * z)) ** 2 for lo, hi in bounds)) / len(bounds)
            average = average_of(scores)
            found.append((max(0.0, average - z * se), min(1.0, average + z * se)))
        elif benchmark in scores and not subject:
            found.append((scores[benchmark].lo, scores[benchmark].hi))
        else:
            found.append((None, None))
    return found


def _delta(value: float | None, reference: float | None) -> float | None:
    """value - reference at the shown precision (0.1 point), so that text and colour agree (no -0.0)."""
    if value is None or reference is None:
        return None
    return round(float(value) - float(reference), 3) + 0.0  # float(): numpy's round is 10× slower


def _result_ids(scores: dict[str, Score], columns: list[Column]) -> list[int | None]:
    """The EvalResult behind each column (a subject's is its benchmark's; the average has none)."""
    return [
        scores[key].result_id if (key := column.key.partition(":")[0]) in scores else None
        for column in columns
    ]


def _cells(
    values: list[float | None],
    reference: list[float | None] | None,
    results: list[int | None] | None = None,
    intervals: list[tuple[float | None, float | None]] | None = None,
    setups: list[tuple[str, str]] | None = None,
    replicates: list[tuple[float, ...]] | None = None,
    paired: list[PairedDifference | None] | None = None,
) -> list[Cell]:
    """One Cell per column, each built once (a report has thousands)."""
    blank = [None] * len(values)
    references = reference or blank
    intervals = intervals or [(None, None)] * len(values)
    return [
        Cell(v, None if reference is None else _delta(v, r), result, lo, hi, seeds, p, size, setup)
        for v, r, result, (lo, hi), (size, setup), seeds, p in zip(
            values,
            references,
            results or blank,
            intervals,
            setups or [("", "")] * len(values),
            replicates or [()] * len(values),
            paired or blank,
            strict=True,
        )
    ]


def _score_cells(
    scores: dict[str, Score], columns: list[Column], reference: list[float | None] | None, linked: bool
) -> list[Cell]:
    results = _result_ids(scores, columns) if linked else None
    return _cells(
        _values(scores, columns), reference, results, _intervals(scores, columns), _setups(scores, columns)
    )


def _setups(scores: dict[str, Score], columns: list[Column]) -> list[tuple[str, str]]:
    """Each benchmark column's (size, setup) of the evaluation it shows (a subject's or the average's have
    none of their own)."""
    return [
        (score.size, score.setup) if (score := scores.get(column.key)) is not None else ("", "")
        for column in columns
    ]


SetupCounts = Mapping[str, Mapping[str, int]]  # column key → setup → how many rows show it


def setup_counts(rows: Iterable[Row], columns: list[Column]) -> dict[str, Counter[str]]:
    counts: dict[str, Counter[str]] = {}
    for row in rows:
        for cell, column in zip(row.cells, columns, strict=True):
            if cell.setup:
                counts.setdefault(column.key, Counter())[cell.setup] += 1
    return counts


def flag_setups(
    rows: list[Row], columns: list[Column], counts: SetupCounts
) -> tuple[list[Row], list[Column]]:
    """Flag what would otherwise compare unlike numbers: a column whose scores come from more than one
    setup (problem count, samples, template or sampling; `counts` over every row of the table, not just a
    page) names them, and each cell whose setup is not the column's most common says so; an average over
    a flagged cell is flagged too."""
    common = {
        key: min(found, key=lambda setup: (-found[setup], setup))
        for key, found in counts.items()
        if len(found) > 1
    }
    if not common:
        return rows, columns
    columns = [
        replace(column, mixed="; ".join(f"{setup} ({count})" for setup, count in counts[column.key].items()))
        if column.key in common
        else column
        for column in columns
    ]
    flagged = []
    for row in rows:
        cells = [
            replace(
                cell,
                setup_note=f"another setup than most of this column: {cell.setup}; "
                f"most: {common[column.key]}",
            )
            if column.key in common and cell.setup and cell.setup != common[column.key]
            else cell
            for cell, column in zip(row.cells, columns, strict=True)
        ]
        averaged_keys = set(averaged(c.key for c in columns if c.key != AVERAGE and ":" not in c.key))
        if any(cell.setup_note for cell, c in zip(cells, columns, strict=True) if c.key in averaged_keys):
            cells = [
                replace(cell, setup_note="averages a score of another setup than most of its column")
                if column.key == AVERAGE and cell.score is not None
                else cell
                for cell, column in zip(cells, columns, strict=True)
            ]
        flagged.append(replace(row, cells=cells))
    return flagged, columns


def _benchmark_columns(keys: Iterable[str]) -> list[Column]:
    return [Column(key, column_label(key)) for key in sorted(set(keys))]


# ---------------------------------------------------------------- leaderboard


@dataclass(frozen=True)
class LeaderboardFilters:
    model: str = ""
    algorithm: str = ""
    tag: str = ""
    select_on: str = ""  # a column key: each run at its checkpoint best there (else its best-average one)

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> LeaderboardFilters:
        """The filters a page's or the API's query string holds (`model`, `algorithm`, `tag`,
        `select_on`)."""
        return cls(
            params.get("model", ""),
            params.get("algorithm", ""),
            params.get("tag", ""),
            params.get("select_on", ""),
        )

    def apply(self, runs: QuerySet[Run]) -> QuerySet[Run]:
        """The runs with a best checkpoint that pass the filters (on Run.best_facets, not the config)."""
        runs = runs.filter(best_average__isnull=False)
        if self.model:
            runs = runs.filter(best_facets__model=self.model)
        if self.algorithm:
            runs = runs.filter(best_facets__algorithm=self.algorithm)
        if self.tag:
            runs = runs.filter(has_tag(self.tag))
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
    benchmarks: list[tuple[str, str]]  # (column key, label): what a checkpoint may be selected on


def filter_options(runs: QuerySet[Run]) -> FilterOptions:
    """The models, algorithms and tags of the leaderboard runs among `runs` (one query over their small
    best_facets; the distinct combinations come from the database)."""
    models, algorithms, tags, benchmarks = set(), set(), set(), set()
    facets = runs.filter(best_average__isnull=False).order_by()
    fields = ("best_facets__model", "best_facets__algorithm", "best_facets__tags", "best_facets__benchmarks")
    for model, algorithm, run_tags, run_benchmarks in facets.values_list(*fields).distinct():
        models.add(model or "")
        algorithms.add(algorithm or "")
        tags.update(run_tags or [])
        benchmarks.update(run_benchmarks or [])
    return FilterOptions(
        sorted(models - {""}),
        sorted(algorithms - {""}),
        sorted(tags),
        [(key, column_label(key)) for key in sorted(benchmarks)],
    )


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


@dataclass(frozen=True)
class BoardShape:
    columns: list[Column]
    total: int  # runs
    setups: dict[str, Counter[str]]  # column key → Score.setup → how many runs and base rows show it


def _board_shape(runs: QuerySet[Run], base_scores: Iterable[Score]) -> BoardShape:
    """The benchmark columns of `runs` (those of their best checkpoints) and of the base rows, the number
    of runs and the setups in each column, from one query that counts the runs per set of benchmarks and
    setups."""
    keys, total, setups = set(), 0, {}
    for score in base_scores:
        keys.add(score.benchmark)
        setups.setdefault(score.benchmark, Counter())[score.setup] += 1
    suites = runs.order_by().values_list("best_facets__benchmarks", "best_facets__setups")
    for benchmarks, run_setups, count in suites.annotate(count=Count("pk")):
        keys.update(benchmarks)
        total += count
        for key, setup in (run_setups or {}).items():
            setups.setdefault(key, Counter())[setup] += count
    return BoardShape([*_benchmark_columns(keys), Column(AVERAGE, average_label(keys))], total, setups)


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


def _with_training(rows: list[Row], training: Mapping[int, str]) -> list[Row]:
    """Sweep report rows with what each run trained on and the training overlap of its evaluations."""
    rows = [replace(row, trained_on=training.get(row.run.pk, "")) if row.run else row for row in rows]
    return _flag_overlaps(rows)


def _flag_overlaps(rows: list[Row]) -> list[Row]:
    """Each row with the training overlap of the evaluations its cells show (one query for all rows)."""
    notes = overlap_notes(cell.result for row in rows for cell in row.cells if cell.result)
    if not notes:
        return rows
    flagged = []
    for row in rows:
        mine = dict.fromkeys(notes[cell.result] for cell in row.cells if cell.result in notes)
        flagged.append(replace(row, overlap="; ".join(mine)) if mine else row)
    return flagged


def _opens(team_id: int, own_teams: set[int] | None) -> bool:
    """Whether the viewer may open a run or result of the team (own_teams None: every row is theirs)."""
    return own_teams is None or team_id in own_teams


def _run_row(
    run: Run,
    columns: list[Column],
    own_teams: set[int] | None,
    team_column: bool,
    best: Best | None = None,
    selection: str = "",
) -> Row:
    """A run's leaderboard row at its best-average checkpoint (kept on the run), or at `best`, its
    checkpoint best on the column `selection`."""
    best = best or Best.from_run(run)
    linked = _opens(run.team_id, own_teams)
    if selection:
        cells = _selected_cells(best.scores, columns, selection, linked)
        title = f"checkpoint best on {column_label(selection)}: step {best.step}"
    else:
        cells, title = (
            _score_cells(best.scores, columns, None, linked),
            f"best-average checkpoint: step {best.step}",
        )
    return Row(
        run.name, cells, run, best.step, title=title, team=run.team.name if team_column else "", linked=linked
    )


def _seed_notes(runs: QuerySet[Run], page: list[Run]) -> dict[int, tuple[str, str]]:
    """For each run on the page with seed replicates among `runs` (same sweep, same coordinates but the
    seeds): the replicates' best averages as mean ± std, and each seed's (one query over the page's
    sweeps)."""
    sweeps = {run.sweep_id for run in page if run.sweep_id}
    if not sweeps:
        return {}
    groups: dict[tuple[int, str], list[tuple[int, float]]] = {}
    siblings = runs.filter(sweep_id__in=sweeps).order_by("point_index")
    for pk, sweep_id, coordinates, average in siblings.values_list(
        "pk", "sweep_id", "coordinates", "best_average"
    ):
        groups.setdefault((sweep_id, replicate_key(coordinates)), []).append((pk, average))
    notes = {}
    for members in groups.values():
        if len(members) > 1:
            seeds = Replicates(tuple(average for _, average in members))
            badge = f"{len(members)} seeds: {_points(seeds.mean)} ± {_points(seeds.std)}"
            each = ", ".join(_points(average) for _, average in members)
            notes.update({pk: (badge, f"average over benchmarks of each seed: {each}") for pk, _ in members})
    return notes


def _base_rows(
    bases: dict[tuple[int, str], dict[tuple[str, str, str], dict[str, Score]]],
    columns: list[Column],
    own_teams: set[int] | None,
    team_column: bool,
    selection: str = "",
) -> list[Row]:
    """One row per base model and setup; with a `selection` column, its average leaves that column out as
    the runs' rows do."""
    return [
        Row(
            f"{model_ref} (base)",
            _selected_cells(scores, columns, selection, _opens(team_id, own_teams))
            if selection
            else _score_cells(scores, columns, None, _opens(team_id, own_teams)),
            title=f"base model, template {template}, sampling {sampling_hash[:8]}",
            team=team_name if team_column else "",
        )
        for (team_id, team_name), setups in bases.items()
        for (model_ref, template, sampling_hash), scores in setups.items()
    ]


def _all_scores(bases: dict[tuple[int, str], dict[tuple[str, str, str], dict[str, Score]]]) -> list[Score]:
    return [score for setups in bases.values() for scores in setups.values() for score in scores.values()]


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
    shape = _board_shape(runs, _all_scores(bases))
    columns, total = shape.columns, shape.total
    order = Sort.parse(sort, columns)
    pages = max(1, -(-total // PAGE_SIZE))
    number = min(max(page or 1, 1), pages)
    ordered = runs.select_related("team").only(*BOARD_RUN_FIELDS).order_by(*order.order_by())
    if page is not None:  # one run more than a page: the next page's first
        ordered = ordered[(number - 1) * PAGE_SIZE : number * PAGE_SIZE + 1]
    page_runs = list(ordered)
    notes = _seed_notes(runs, page_runs)
    run_rows = [
        replace(row, seeds=notes[run.pk][0], seeds_title=notes[run.pk][1]) if run.pk in notes else row
        for run in page_runs
        if (row := _run_row(run, columns, own_teams, team_column))
    ]
    shown = run_rows if page is None else run_rows[:PAGE_SIZE]
    edges = Edges(first=number == 1, next_row=run_rows[PAGE_SIZE] if len(run_rows) > len(shown) else None)
    base_rows = _base_rows(bases, columns, own_teams, team_column)
    rows = _flag_overlaps(_merge_bases(shown, base_rows, order, columns, edges))
    rows, columns = flag_setups(rows, columns, shape.setups)
    return Table(columns, rows, team_column=team_column, page=number, pages=pages, total=total)


def _selected_cells(
    scores: dict[str, Score], columns: list[Column], selection: str, linked: bool
) -> list[Cell]:
    """A row's cells where the column `selection` chose the checkpoint: the test columns and their average
    without it, its own cell as recorded."""
    tests = {key: score for key, score in scores.items() if key != selection}
    cells = _score_cells(tests, columns, None, linked)
    if selection in scores:
        index = [column.key for column in columns].index(selection)
        cells[index] = _score_cells({selection: scores[selection]}, [columns[index]], None, linked)[0]
    return cells


def _selected_board(
    runs: QuerySet[Run],
    results: QuerySet[EvalResult],
    bases: dict[tuple[int, str], dict[tuple[str, str, str], dict[str, Score]]],
    selection: str,
    sort: str,
    page: int | None,
    own_teams: set[int] | None,
    team_column: bool = False,
) -> Table:
    """A leaderboard with each run at its checkpoint best on the column `selection` (bests.best_on), the
    test scores at that checkpoint and their average without the selection column. Computed from the
    evaluations rather than the runs' stored best checkpoints, so it sorts and pages here."""
    found = best_on(results.filter(run__in=runs), selection)
    base_list = _all_scores(bases)
    keys = {key for best in found.values() for key in best.scores} | {s.benchmark for s in base_list}
    tests = keys - {selection}
    columns = [
        Column(key, f"{column_label(key)} (selects)" if key == selection else column_label(key))
        for key in sorted(keys)
    ]
    columns.append(Column(AVERAGE, f"{average_label(tests)} without {column_label(selection)}"))
    # Sorted and paged on the scores alone; Row objects (cells, links, flags) only for the page shown.
    order = Sort.parse(sort, columns)
    names = dict(runs.filter(pk__in=list(found)).values_list("pk", "name"))
    bases_rows = _base_rows(bases, columns, own_teams, team_column, selection)
    entries: list[tuple[str, int | Row]] = [(name, pk) for pk, name in names.items()]
    entries += [(row.label, row) for row in bases_rows]

    def value(entry: tuple[str, int | Row]) -> float | str | None:
        label, item = entry
        if isinstance(item, Row):
            return order.value(item, columns)
        if order.key == NAME:
            return label.lower()
        scores = found[item].scores
        if order.key == AVERAGE:
            tests_only = {key: score for key, score in scores.items() if key != selection}
            return average_of(tests_only) if tests_only else None
        return scores[order.key].score if order.key in scores else None

    scored = sorted((e for e in entries if value(e) is not None), key=value, reverse=order.descending)
    ordered = scored + [e for e in entries if value(e) is None]
    pages = max(1, -(-len(ordered) // PAGE_SIZE))
    number = min(max(page or 1, 1), pages)
    shown = ordered if page is None else ordered[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
    page_runs = runs.filter(pk__in=[item for _, item in shown if not isinstance(item, Row)])
    by_pk = {run.pk: run for run in page_runs.select_related("team").only(*BOARD_RUN_FIELDS)}
    rows = [
        item
        if isinstance(item, Row)
        else _run_row(by_pk[item], columns, own_teams, team_column, found[item], selection)
        for _, item in shown
    ]
    counts: dict[str, Counter[str]] = {}
    for scores in [best.scores for best in found.values()] + [
        scores for setups in bases.values() for scores in setups.values()
    ]:
        for key, score in scores.items():
            counts.setdefault(key, Counter())[score.setup] += 1
    rows, columns = flag_setups(_flag_overlaps(rows), columns, counts)
    return Table(columns, rows, team_column=team_column, page=number, pages=pages, total=len(names))


def leaderboard(
    runs: QuerySet[Run],
    results: QuerySet[EvalResult],
    filters: LeaderboardFilters,
    sort: str = f"-{AVERAGE}",
    page: int | None = 1,
) -> Table:
    """One row per run of a team with an evaluated checkpoint (its best-average one, or with
    `filters.select_on` its best on that column) and one per base model (model_ref, template, sampling);
    `results` are the team's evaluations the base rows may come from. `page` (of PAGE_SIZE runs; None for
    all) is clamped to the pages there are."""
    runs = filters.apply(runs)
    base_results = results.filter(model_ref=filters.model) if filters.model else results
    bases = base_scores_by_team(base_results) if filters.shows_base_models else {}
    if filters.select_on:
        return _selected_board(runs, results, bases, filters.select_on, sort, page, None)
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
    if filters.select_on:
        results = EvalResult.objects.filter(run__in=runs)
        return _selected_board(runs, results, bases, filters.select_on, sort, page, viewer_teams, True)
    return _board(runs, bases, sort, page, viewer_teams, team_column=True)


# ---------------------------------------------------------------- sweep reports


def _coordinate_text(value: object) -> str:
    return ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)


def _pairs_label(pairs: list[tuple[str, object]]) -> str:
    return "; ".join(f"{path}={_coordinate_text(value)}" for path, value in pairs)


def coordinates_label(run: Run) -> str:
    return _pairs_label(flat_coordinates(run.coordinates)) or run.name


@dataclass
class Entry:
    """A report row before its cells: one run, a group of seed replicates, or the base model; `replicates`
    are the scores by benchmark of each (a run's best-average checkpoint, or the base evaluations)."""

    label: str
    replicates: list[dict[str, Score]]
    runs: list[Run] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    title: str = ""
    no_average: bool = False  # scored on fewer benchmarks than the rows it is compared with

    @property
    def run(self) -> Run | None:
        return self.runs[0] if self.runs else None

    @property
    def step(self) -> int | None:
        return self.steps[0] if len(self.steps) == 1 else None


def _sweep_groups(sweep: Sweep) -> list[tuple[list[Run], list[Best]]]:
    """The sweep's runs in point order, seed replicates together, each group with its evaluated runs'
    best checkpoints."""
    runs = list(sweep.runs.order_by("point_index"))
    best = {run.pk: found for run in runs if (found := Best.from_run(run)) is not None}
    return [(group, [best[r.pk] for r in group if r.pk in best]) for group in group_replicates(runs)]


def _group_entry(label: str, group: list[Run], bests: list[Best], title: str = "") -> Entry:
    if len(group) > 1:
        label = f"{label} ({len(group)} seeds)"
        evaluated = {b.step for b in bests}
        title = title or ", ".join(r.name for r in group)
        title += f" · {len(bests)} of {len(group)} seeds evaluated" if len(bests) < len(group) else ""
        return Entry(label, [b.scores for b in bests], group, sorted(evaluated) if evaluated else [], title)
    return Entry(label, [b.scores for b in bests], group, [b.step for b in bests], title)


def _mean_values(entry: Entry, columns: list[Column]) -> tuple[list[float | None], list[tuple[float, ...]]]:
    """Each column's mean over the entry's replicates (None where none has it) and the replicates' values."""
    per_replicate = [_values(scores, columns) for scores in entry.replicates]
    if not per_replicate:
        return [None] * len(columns), [()] * len(columns)
    seeds = [tuple(v for v in column if v is not None) for column in zip(*per_replicate, strict=True)]
    if entry.no_average:
        seeds = [() if column.key == AVERAGE else vs for column, vs in zip(columns, seeds, strict=True)]
    return [math.fsum(vs) / len(vs) if vs else None for vs in seeds], seeds


def _entry_cells(
    entry: Entry,
    columns: list[Column],
    reference: list[float | None] | None,
    comparison: RowComparison | None,
) -> list[Cell]:
    values, seeds = _mean_values(entry, columns)
    first = entry.replicates[0] if entry.replicates else {}
    paired = None
    if comparison is not None:
        by_key = comparison.benchmarks
        paired = [comparison.average if c.key == AVERAGE else by_key.get(c.key) for c in columns]
    results = _result_ids(first, columns) if entry.replicates else None
    if len(entry.replicates) == 1:
        intervals = _intervals(first, columns)
        if entry.no_average:
            intervals[-1] = (None, None)
        return _cells(values, reference, results, intervals, _setups(first, columns), paired=paired)
    return _cells(values, reference, results, None, _setups(first, columns), seeds, paired)


def _rows(
    entries: list[Entry], columns: list[Column], reference: Entry | None, base: Entry | None
) -> tuple[list[Row], list[Power]]:
    """The rows of `entries`, each with its delta and paired difference to `reference` (the reference row
    itself shows deltas of 0 unless it is the base model, `base`, which shows none), and the power of the
    reference's benchmarks."""
    reference_values = _mean_values(reference, columns)[0] if reference and reference.replicates else None
    comparisons: list[RowComparison | None] = [None] * len(entries)
    power: list[Power] = []
    if reference is not None and reference_values is not None:
        others = [i for i, e in enumerate(entries) if e is not reference]
        found = table_statistics(reference.replicates, [entries[i].replicates for i in others])
        for i, comparison in zip(others, found.comparisons, strict=True):
            comparisons[i] = comparison
        power = found.power
    rows = [
        Row(
            entry.label,
            _entry_cells(entry, columns, None if entry is base else reference_values, comparison),
            entry.run,
            entry.step,
            title=entry.title,
            is_reference=entry is reference,
        )
        for entry, comparison in zip(entries, comparisons, strict=True)
    ]
    return rows, power


def _sweep_results(sweep: Sweep) -> QuerySet[EvalResult]:
    return EvalResult.objects.filter(team=sweep.team)


def _reference_of(entries: list[Entry], run_id: int | None, default: Entry | None) -> Entry | None:
    """The entry holding run `run_id` (a user's pick), else `default`."""
    return next((e for e in entries if run_id is not None and any(r.pk == run_id for r in e.runs)), default)


BASE_BASELINE = "base"  # the ablation's baseline parameter that picks the base model


def ablation(sweep: Sweep, baseline_id: int | str | None = None) -> Table:
    """Rows = the sweep's points by their coordinates (best-average checkpoint; seed replicates as one row,
    mean ± std); deltas and paired differences to the baseline: a point's run id (default the first point),
    or BASE_BASELINE for the base model, whose row is then shown first."""
    groups = _sweep_groups(sweep)
    keys = {b for _, bests in groups for best in bests for b in best.scores}
    columns = _benchmark_columns(keys)
    columns.append(Column(AVERAGE, average_label(keys)))
    entries = [
        _group_entry(
            _pairs_label(without_seeds(group[0].coordinates)) or "seeds", group, bests, group[0].name
        )
        if len(group) > 1
        else _group_entry(coordinates_label(group[0]), group, bests, group[0].name)
        for group, bests in groups
    ]
    base = None
    if baseline_id == BASE_BASELINE:
        bests = [best for _, found in groups for best in found]
        model_refs = {score.model_ref for b in bests for score in b.scores.values()}
        base = _base_entry(bests, base_scores(_sweep_results(sweep).filter(model_ref__in=model_refs)))
    if base is not None:
        entries.insert(0, base)
        baseline = base
    else:
        point = baseline_id if isinstance(baseline_id, int) else None
        baseline = _reference_of(entries, point, entries[0] if entries else None)
    rows, power = _rows(entries, columns, baseline, base)
    rows = _with_training(rows, trained_on(run for group, _ in groups for run in group))
    rows, columns = flag_setups(rows, columns, setup_counts(rows, columns))
    return Table(columns, rows, reference=baseline.label if baseline else "", power=power)


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
    pis = {int(ref[2:]) for r in refs.values() for ref in r if ref.startswith("pi") and ref[2:].isdecimal()}
    indexes = {int(ref) for r in refs.values() for ref in r if ref.isdecimal()}
    entries = RankEntry.objects.filter(ranking__in={r for r in chosen.values() if r}, pi__in=pis)
    by_pi = {(e.ranking_id, e.pi): e.example.problem for e in entries.select_related("example")}
    by_index = dict(dataset.examples.filter(index__in=indexes).values_list("index", "problem"))

    def problem(run: Run, ref: str) -> str | None:
        if ref.startswith("pi"):
            ranking = chosen[run.pk]
            return by_pi.get((ranking.pk, int(ref[2:]))) if ranking and ref[2:].isdecimal() else None
        return by_index.get(int(ref)) if ref.isdecimal() else None

    texts = {}
    for run in runs:
        problems = [problem(run, ref) for ref in refs[run.pk]]
        texts[run.pk] = "" if None in problems else "\n\n".join(problems)  # type: ignore[arg-type]
    return texts


def _example_label(refs: list) -> str:
    return ", ".join(f"π{ref[2:]}" if str(ref).startswith("pi") else f"#{ref}" for ref in refs)


CHECKPOINT_CONVENTIONS = {
    "best-average": "each run's best-average checkpoint (the paper's headline tables)",
    "per-benchmark": "each benchmark at the run's checkpoint best on it; MATH500's subjects at its best "
    "MATH500 checkpoint (the paper's Tab. 3/5)",
}


def example_comparison(
    sweep: Sweep, reference_id: int | None = None, convention: str = "best-average"
) -> Table:
    """One row per π_i of a sweep over data.examples (seed replicates of a π as one row, mean ± std), with
    math500 per subject, the other benchmarks and the average, at the checkpoints `convention` picks
    (CHECKPOINT_CONVENTIONS); deltas and paired differences to the base model, or to the row of run
    `reference_id` (e.g. π1)."""
    if convention not in CHECKPOINT_CONVENTIONS:
        raise ValueError(f"checkpoint convention must be one of {list(CHECKPOINT_CONVENTIONS)}")
    groups = _sweep_groups(sweep)
    if convention == "per-benchmark":
        found = best_per_benchmark(_sweep_results(sweep))
        groups = [(group, [found[r.pk] for r in group if r.pk in found]) for group, _ in groups]
    runs = [run for group, _ in groups for run in group]
    if not runs or any({path for path, _ in without_seeds(r.coordinates)} != {EXAMPLES_FIELD} for r in runs):
        raise NotAnExampleSweep(
            f"the runs of sweep {sweep.pk} do not differ in {EXAMPLES_FIELD} alone "
            f"(besides the seeds: {', '.join(SEED_FIELDS)})"
        )
    bests = [best for _, found in groups for best in found]
    model_refs = {score.model_ref for b in bests for score in b.scores.values()}
    bases = base_scores(_sweep_results(sweep).filter(model_ref__in=model_refs))
    columns = _example_columns(bests)
    base = _base_entry(bests, bases)
    dataset = _training_dataset(sweep, runs[0].config["data"]["dataset"])
    titles = _problem_texts(dataset, runs)
    entries = [base] if base else []
    entries += [
        _group_entry(
            _example_label(dict(without_seeds(group[0].coordinates))[EXAMPLES_FIELD]),
            group,
            found,
            titles.get(group[0].pk, ""),
        )
        for group, found in groups
    ]
    reference = _reference_of(entries, reference_id, base)
    rows, power = _rows(entries, columns, reference, base)
    rows = _with_training(rows, trained_on(runs))
    rows, columns = flag_setups(rows, columns, setup_counts(rows, columns))
    return Table(columns, rows, reference=reference.label if reference else "", power=power)


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
    return [*columns, Column(AVERAGE, average_label(keys))]


def _base_entry(bests: list[Best], bases: dict[tuple[str, str, str], dict[str, Score]]) -> Entry | None:
    """The base model's scores under the same model, template and sampling as the runs' evaluations."""
    scores: dict[str, Score] = {}
    for best in bests:
        for benchmark, score in best.scores.items():
            base = bases.get((score.model_ref, score.template, score.sampling_hash), {}).get(benchmark)
            if base is not None:
                scores.setdefault(benchmark, base)
    if not scores:
        return None
    title = ", ".join(sorted({s.model_ref for s in scores.values()}))
    # an average over fewer benchmarks than the runs' would not compare
    return Entry(
        "base model", [scores], title=title, no_average=set(scores) != {b for x in bests for b in x.scores}
    )
