"""Per-problem outcomes kept on each EvalResult (its `outcomes` bytes) so that intervals and paired tests
read one small value per evaluation instead of its ExampleResult rows, and the score's 95% interval, both
computed when the evaluation is recorded (evaluation.statistics has the definitions).

The bytes are a little-endian array of (example index, correct, samples) records — 8 bytes a problem —
ordered by example index: two evaluations of one benchmark pair on the indexes both have.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

import numpy as np

from evaluation import statistics

DTYPE = np.dtype([("index", "<u4"), ("correct", "<u2"), ("samples", "<u2")])


def pack(rows: Iterable[tuple[int, int, int]]) -> bytes:
    """(example index, correct, samples) rows as stored; empty for no rows."""
    array = np.array(sorted(rows), dtype=DTYPE)
    if np.any(array["correct"] > array["samples"]):
        raise ValueError("a problem has more correct samples than samples")
    return array.tobytes()


def unpack(blob: bytes | memoryview | None) -> np.ndarray:
    return np.frombuffer(bytes(blob or b""), dtype=DTYPE)


def from_examples(examples: Iterable[dict]) -> bytes:
    """The outcomes of EvalResult.record's `examples` (ExampleResult field dicts with an Example)."""
    return pack((row["example"].index, row["correct"], row["samples"]) for row in examples)


def interval(score: float, n: int, problems: np.ndarray) -> statistics.Interval:
    """The score's 95% interval: over `problems` (unpacked outcomes) when every problem has the same number
    of samples (Wilson, two-level for avg@k), else Wilson over n problems from the score alone."""
    if problems.size and len(set(problems["samples"].tolist())) == 1:
        return statistics.score_interval(problems["correct"], int(problems["samples"][0]))
    return statistics.proportion_interval(min(max(score, 0.0), 1.0), max(n, 1))


def interval_fields(score: float, n: int, examples: Iterable[dict]) -> dict:
    """EvalResult's outcomes, score_lo and score_hi for a score over n problems and its example rows."""
    blob = from_examples(examples)
    found = interval(score, n, unpack(blob))
    return {"outcomes": blob, "score_lo": found.lo, "score_hi": found.hi}


# ---------------------------------------------------------------- paired comparisons


@cache
def weights(n: int, resamples: int) -> np.ndarray:
    """Bootstrap weights for n problems as an (n × resamples) contiguous float32 matrix, the same for every
    comparison: differences (rows × n) @ weights are every row's resamples in one product."""
    return np.ascontiguousarray(statistics.bootstrap_weights(n, resamples).T, dtype=np.float32)


@dataclass(frozen=True)
class Side:
    """One or more evaluations (seed replicates) of one benchmark: per-problem scores averaged over them,
    on the problems every replicate has."""

    index: np.ndarray
    scores: np.ndarray
    single_sample: bool  # one evaluation with one sample per problem (McNemar applies)

    @classmethod
    def of(cls, replicates: list[np.ndarray]) -> Side | None:
        replicates = [r for r in replicates if r.size]
        if not replicates:
            return None
        if len(replicates) == 1:
            (only,) = replicates
            return cls(only["index"], only["correct"] / only["samples"], bool(np.all(only["samples"] == 1)))
        index = replicates[0]["index"]
        for other in replicates[1:]:
            index = np.intersect1d(index, other["index"], assume_unique=True)
        scores = np.zeros(index.size)
        for r in replicates:
            chosen = r[np.isin(r["index"], index, assume_unique=True)]
            scores += chosen["correct"] / chosen["samples"]
        return cls(index, scores / len(replicates), False)


def _aligned(a: Side, b: Side) -> np.ndarray:
    """B − A per problem on the problems both have."""
    _, in_a, in_b = np.intersect1d(a.index, b.index, assume_unique=True, return_indices=True)
    return b.scores[in_b] - a.scores[in_a]


def compare(a: Side, b: Side, resamples: int = statistics.RESAMPLES) -> statistics.PairedDifference | None:
    """B − A on one benchmark (None when they share no problem)."""
    d = _aligned(a, b)
    if not d.size:
        return None
    single = a.single_sample and b.single_sample
    return statistics.paired_difference(np.zeros_like(d), d, single, weights(d.size, resamples).T)


def paired(
    a_outcomes: bytes | memoryview, b_outcomes: bytes | memoryview
) -> statistics.PairedDifference | None:
    """B − A of two evaluations of one benchmark from their stored outcomes (None without shared problems)."""
    a, b = Side.of([unpack(a_outcomes)]), Side.of([unpack(b_outcomes)])
    return None if a is None or b is None else compare(a, b)
