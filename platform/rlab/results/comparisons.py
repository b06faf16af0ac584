"""Seed replicates and paired comparisons for the report tables.

Runs of one sweep point that differ only in seeds (SEED_FIELDS) are replicates of one configuration: a
report shows them as one row, mean ± standard deviation over the seeds (Hochlehnert et al., "A Sober Look
at Progress in LM Reasoning", arXiv 2504.07086), and pairs their per-problem scores averaged over the seeds
with the reference row's on the same problems (rlab.results.outcomes).

The paired bootstraps of a whole table are batched: per benchmark, the rows that share the reference's
problems are one matrix product with the benchmark's bootstrap weights, so a table of a hundred rows and
ten benchmarks costs ten products, not a thousand.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from evaluation import statistics
from rlab.results.models import EvalResult
from rlab.results.outcomes import Side, unpack, weights

SEED_FIELDS = ("train.seed", "eval.sampling.seed")
REPORT_RESAMPLES = 1000  # per benchmark and table: p-values to 0.001, percentiles to ±0.1 point


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


def group_replicates(runs: Iterable) -> list[list]:
    """Runs (in order) grouped by their coordinates without the seeds, groups in order of first run."""
    groups: dict[str, list] = {}
    for run in runs:
        groups.setdefault(json.dumps(without_seeds(run.coordinates), sort_keys=True, default=str), []).append(
            run
        )
    return list(groups.values())


def load_outcomes(result_ids: Iterable[int | None]) -> dict[int, np.ndarray]:
    """The unpacked outcomes of the given EvalResults (one query)."""
    ids = {pk for pk in result_ids if pk is not None}
    rows = EvalResult.objects.filter(pk__in=ids).values_list("pk", "outcomes")
    return {pk: unpack(blob) for pk, blob in rows}


def side(result_ids: Iterable[int | None], outcomes: Mapping[int, np.ndarray]) -> Side | None:
    """One row's side on one benchmark from its replicates' EvalResults."""
    return Side.of([outcomes[pk] for pk in result_ids if pk in outcomes])


@dataclass(frozen=True)
class _Resampled:
    observed: float
    resampled: np.ndarray  # the resamples' differences (REPORT_RESAMPLES,)
    n: int


def _finish(draws: list[_Resampled], p_values: list[float | None], method: list[str]) -> list:
    if not draws:
        return []
    observed = np.array([d.observed for d in draws])
    lo, hi, p = statistics.percentile_interval_and_p(
        observed, np.stack([d.resampled for d in draws]), statistics.LEVEL
    )
    return [
        statistics.PairedDifference(
            float(observed[i]),
            float(lo[i]),
            float(hi[i]),
            float(p[i] if p_values[i] is None else p_values[i]),
            draws[i].n,
            method[i],
        )
        for i in range(len(draws))
    ]


def _benchmark_draws(
    reference: Side, rows: list[Side | None]
) -> list[tuple[_Resampled, float | None] | None]:
    """Each row's resampled B − A on one benchmark, batched over rows that pair on the same problems; with
    the McNemar mid-p where both sides have one greedy sample."""
    aligned: dict[bytes, list[tuple[int, np.ndarray]]] = {}
    for i, row in enumerate(rows):
        if row is None:
            continue
        shared, in_ref, in_row = np.intersect1d(
            reference.index, row.index, assume_unique=True, return_indices=True
        )
        if shared.size:
            aligned.setdefault(shared.tobytes(), []).append(
                (i, row.scores[in_row] - reference.scores[in_ref])
            )
    found: list[tuple[_Resampled, float | None] | None] = [None] * len(rows)
    for members in aligned.values():
        d = np.stack([diff for _, diff in members]).astype(np.float32)
        resampled = d @ weights(d.shape[1], REPORT_RESAMPLES).T
        for (i, diff), draws in zip(members, resampled, strict=True):
            mcnemar = None
            if reference.single_sample and rows[i].single_sample:  # type: ignore[union-attr]
                mcnemar = float(statistics.mcnemar_mid_p(np.sum(diff < 0), np.sum(diff > 0)))
            found[i] = (_Resampled(float(diff.mean()), draws, diff.size), mcnemar)
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
    per_benchmark: dict[str, list] = {
        key: _benchmark_draws(ref, [row.get(key) for row in rows]) for key, ref in reference.items()
    }
    results = []
    for i, row in enumerate(rows):
        draws = {key: found[i] for key, found in per_benchmark.items() if found[i] is not None}
        keys = sorted(draws)
        singles = _finish(
            [draws[k][0] for k in keys],
            [draws[k][1] for k in keys],
            ["McNemar mid-p" if draws[k][1] is not None else "paired bootstrap" for k in keys],
        )
        average = None
        if keys and set(keys) == set(row) == set(reference):
            suite = _Resampled(
                float(np.mean([draws[k][0].observed for k in keys])),
                np.mean([draws[k][0].resampled for k in keys], axis=0),
                sum(draws[k][0].n for k in keys),
            )
            average = _finish([suite], [None], ["paired bootstrap"])[0]
        results.append(RowComparison(dict(zip(keys, singles, strict=True)), average))
    return results
