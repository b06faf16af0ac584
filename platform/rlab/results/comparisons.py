"""Seed replicates and paired comparisons for the report tables.

Runs of one sweep point that differ only in seeds (SEED_FIELDS) are replicates of one configuration: a
report shows them as one row, mean ± standard deviation over the seeds (Hochlehnert et al., "A Sober Look
at Progress in LM Reasoning", arXiv 2504.07086), and pairs their per-problem scores averaged over the seeds
with the reference row's on the same problems (rlab.results.outcomes).

The paired bootstraps of a whole table are batched: per benchmark, the rows that share the reference's
problems are one matrix product with the benchmark's bootstrap weights, so a table of a hundred rows and
ten benchmarks costs ten products, not a thousand. Their results are cached under the table's evaluations
(ids and recorded scores and intervals, which change whenever an evaluation does), so only the first view
after a new evaluation pays for them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from django.core.cache import cache

from evaluation import statistics
from rlab.results.bests import Score
from rlab.results.models import EvalResult
from rlab.results.outcomes import Side, unpack, weights

SEED_FIELDS = ("train.seed", "eval.sampling.seed")
REPORT_RESAMPLES = 1000  # per benchmark and table: p-values to 0.001, percentiles to ±0.1 point
CACHE_SECONDS = 24 * 3600
TARGET = 0.02  # the difference a report would like to detect: 2 points


def flat_coordinates(coordinates: Mapping[str, object], prefix: str = "") -> list[tuple[str, object]]:
    """A run's coordinates as (dotted path, value) pairs: a block value ({"loss": {"kl_coef": 0}}) becomes
    loss.kl_coef."""
    pairs: list[tuple[str, object]] = []
    for key, value in coordinates.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            pairs += flat_coordinates(value, f"{path}.")
        else:
            pairs.append((path, value))
    return pairs


def without_seeds(coordinates: Mapping[str, object]) -> list[tuple[str, object]]:
    return [(path, value) for path, value in flat_coordinates(coordinates) if path not in SEED_FIELDS]


def replicate_key(coordinates: Mapping[str, object]) -> str:
    """What seed replicates of one sweep share: their coordinates without the seeds, as one string."""
    return json.dumps(without_seeds(coordinates), sort_keys=True, default=str)


def group_replicates(runs: Iterable) -> list[list]:
    """Runs (in order) grouped by their coordinates without the seeds, groups in order of first run."""
    groups: dict[str, list] = {}
    for run in runs:
        groups.setdefault(replicate_key(run.coordinates), []).append(run)
    return list(groups.values())


def load_outcomes(result_ids: Iterable[int | None]) -> dict[int, np.ndarray]:
    """The unpacked outcomes of the given EvalResults (one query)."""
    ids = {pk for pk in result_ids if pk is not None}
    rows = EvalResult.objects.filter(pk__in=ids).values_list("pk", "outcomes")
    return {pk: unpack(blob) for pk, blob in rows}


def side(result_ids: Iterable[int | None], outcomes: Mapping[int, np.ndarray]) -> Side | None:
    """One row's side on one benchmark from its replicates' EvalResults."""
    return Side.of([outcomes[pk] for pk in result_ids if pk in outcomes])


def _aligned(reference: Side, row: Side) -> tuple[bytes, np.ndarray]:
    """The problems both have (as bytes, a grouping key) and B − A on them."""
    if np.array_equal(reference.index, row.index):
        return reference.index.tobytes(), row.scores - reference.scores
    shared, in_ref, in_row = np.intersect1d(
        reference.index, row.index, assume_unique=True, return_indices=True
    )
    return shared.tobytes(), row.scores[in_row] - reference.scores[in_ref]


@dataclass
class _Draws:
    """Rows' observed B − A on one benchmark and their bootstrap resamples."""

    observed: np.ndarray  # (rows,)
    resampled: np.ndarray  # (rows, REPORT_RESAMPLES)
    n: np.ndarray  # problems paired per row
    mcnemar: list[float | None]  # mid-p where both sides have one greedy sample


def _differences(
    observed: np.ndarray, resampled: np.ndarray, n: np.ndarray, mcnemar: list[float | None]
) -> list[statistics.PairedDifference]:
    lo, hi, p = statistics.percentile_interval_and_p(observed, resampled, statistics.LEVEL)
    return [
        statistics.PairedDifference(
            float(observed[i]),
            float(lo[i]),
            float(hi[i]),
            float(p[i]) if mcnemar[i] is None else mcnemar[i],  # type: ignore[arg-type]
            int(n[i]),
            "paired bootstrap" if mcnemar[i] is None else "McNemar mid-p",
        )
        for i in range(len(observed))
    ]


def _benchmark_draws(reference: Side, rows: list[Side | None]) -> dict[int, tuple[_Draws, int]]:
    """Each pairable row's draws on one benchmark, as (the batch, the row's place in it): rows that pair
    on the same problems are one matrix product."""
    groups: dict[bytes, list[tuple[int, np.ndarray]]] = {}
    for i, row in enumerate(rows):
        if row is not None:
            key, diff = _aligned(reference, row)
            if diff.size:
                groups.setdefault(key, []).append((i, diff))
    found: dict[int, tuple[_Draws, int]] = {}
    for members in groups.values():
        d = np.stack([diff for _, diff in members]).astype(np.float32)
        mcnemar = [
            float(statistics.mcnemar_mid_p(np.sum(diff < 0), np.sum(diff > 0)))
            if reference.single_sample and rows[i].single_sample  # type: ignore[union-attr]
            else None
            for i, diff in members
        ]
        draws = _Draws(
            d.mean(axis=1), d @ weights(d.shape[1], REPORT_RESAMPLES), np.full(len(d), d.shape[1]), mcnemar
        )
        for place, (i, _) in enumerate(members):
            found[i] = (draws, place)
    return found


@dataclass(frozen=True)
class RowComparison:
    """A row against the reference: per benchmark and for the average over benchmarks (None where they
    cannot be paired)."""

    benchmarks: dict[str, statistics.PairedDifference]
    average: statistics.PairedDifference | None


def compare_rows(reference: Mapping[str, Side], rows: list[Mapping[str, Side]]) -> list[RowComparison]:
    """Every row against the reference, benchmark by benchmark; the average's paired difference where the
    row has exactly the reference's benchmarks, each paired (their problems resampled independently)."""
    keys = sorted(reference)
    per_benchmark = {key: _benchmark_draws(reference[key], [row.get(key) for row in rows]) for key in keys}
    singles: dict[tuple[str, int], statistics.PairedDifference] = {}
    for key, found in per_benchmark.items():
        batches: dict[int, tuple[_Draws, list[int]]] = {}
        for i, (draws, _) in found.items():
            batches.setdefault(id(draws), (draws, []))[1].append(i)
        for draws, members in batches.values():
            for i, difference in zip(
                members, _differences(draws.observed, draws.resampled, draws.n, draws.mcnemar), strict=True
            ):
                singles[(key, i)] = difference
    complete = [i for i, row in enumerate(rows) if keys and set(row) == set(keys)]
    complete = [i for i in complete if all(i in per_benchmark[key] for key in keys)]
    averages: dict[int, statistics.PairedDifference] = {}
    if complete:

        def stacked(attribute: str) -> np.ndarray:
            return np.mean(
                [
                    np.stack(
                        [getattr(per_benchmark[k][i][0], attribute)[per_benchmark[k][i][1]] for i in complete]
                    )
                    for k in keys
                ],
                axis=0,
            )

        n = np.sum([[per_benchmark[k][i][0].n[0] for i in complete] for k in keys], axis=0)
        found = _differences(stacked("observed"), stacked("resampled"), n, [None] * len(complete))
        averages = dict(zip(complete, found, strict=True))
    return [
        RowComparison({key: singles[(key, i)] for key in keys if (key, i) in singles}, averages.get(i))
        for i in range(len(rows))
    ]


Replicated = list[dict[str, Score]]  # a row's scores by benchmark, one dict per seed replicate


def _sides(replicates: Replicated, outcomes: Mapping[int, np.ndarray]) -> dict[str, Side]:
    keys = {key for scores in replicates for key in scores}
    found = {key: side([s[key].result_id for s in replicates if key in s], outcomes) for key in keys}
    return {key: found_side for key, found_side in found.items() if found_side is not None}


def _cache_key(reference: Replicated, rows: list[Replicated]) -> str:
    def fingerprint(replicates: Replicated) -> list:
        return [
            sorted((k, s.result_id, s.score, s.lo, s.hi) for k, s in scores.items()) for scores in replicates
        ]

    material = json.dumps([REPORT_RESAMPLES, TARGET, fingerprint(reference), [fingerprint(r) for r in rows]])
    return f"rlab:paired:{hashlib.sha256(material.encode()).hexdigest()}"


@dataclass(frozen=True)
class Power:
    """What one benchmark can tell, from one evaluation's per-problem outcomes (Miller §5)."""

    benchmark: str
    n: int  # problems
    k: int  # samples per problem
    detectable: float  # smallest difference detected at 80% power (score fraction)
    samples_for_target: int | None  # samples per problem that bring it under TARGET (None: not enough)

    @property
    def text(self) -> str:
        head = f"{self.benchmark} ({self.n} problems, avg@{self.k}): {self.detectable * 100:.1f} points"
        if self.detectable < TARGET:
            return head
        if self.k == 1:
            return f"{head}; sample K ≥ 2 per problem to tell how far more samples would help"
        if self.samples_for_target is None:
            return f"{head}; under {TARGET * 100:.0f} points needs more problems, not more samples"
        return f"{head}; avg@{self.samples_for_target} would bring it under {TARGET * 100:.0f} points"


def benchmark_power(benchmark: str, problems: np.ndarray) -> Power | None:
    """Power of a benchmark from one evaluation's outcomes with the same samples for every problem."""
    if not problems.size or len(set(problems["samples"].tolist())) != 1:
        return None
    k = int(problems["samples"][0])
    variance = statistics.score_variance(problems["correct"], k)
    needed = statistics.samples_needed(variance, TARGET) if k > 1 else None
    return Power(benchmark, variance.n, k, statistics.detectable_difference(variance), needed)


@dataclass(frozen=True)
class TableStatistics:
    comparisons: list[RowComparison]
    power: list[Power]  # per benchmark, from the reference row's (first replicate's) evaluations


def table_statistics(reference: Replicated, rows: list[Replicated]) -> TableStatistics:
    """compare_rows for a report table from its rows' scores, and its benchmarks' power: the outcomes are
    read (one query) and the bootstraps run only when the cache does not hold the table's statistics."""
    key = _cache_key(reference, rows)
    found = cache.get(key)
    if found is None:
        ids = [
            s.result_id for replicates in [reference, *rows] for scores in replicates for s in scores.values()
        ]
        outcomes = load_outcomes(ids)
        first = reference[0] if reference else {}
        power = [
            found_power
            for benchmark, score in sorted(first.items())
            if score.result_id in outcomes
            and (found_power := benchmark_power(benchmark, outcomes[score.result_id])) is not None
        ]
        comparisons = compare_rows(_sides(reference, outcomes), [_sides(row, outcomes) for row in rows])
        found = TableStatistics(comparisons, power)
        cache.set(key, _packed(found), CACHE_SECONDS)
        return found
    return _unpacked(found)


_Fields = tuple[float, float, float, float, int, str]


def _fields(d: statistics.PairedDifference | None) -> _Fields | None:
    return None if d is None else (d.difference, d.lo, d.hi, d.p_value, d.n, d.method)


def _packed(found: TableStatistics) -> tuple:
    """The statistics as plain tuples: a cache hit then unpickles no dataclass per cell."""
    rows = [({k: _fields(d) for k, d in c.benchmarks.items()}, _fields(c.average)) for c in found.comparisons]
    return rows, found.power


def _unpacked(packed: tuple) -> TableStatistics:
    rows, power = packed
    return TableStatistics(
        [
            RowComparison(
                {k: statistics.PairedDifference(*f) for k, f in benchmarks.items()},
                statistics.PairedDifference(*average) if average else None,
            )
            for benchmarks, average in rows
        ],
        power,
    )
