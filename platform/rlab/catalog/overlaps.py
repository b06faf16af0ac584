"""Which benchmark problems a dataset's examples hold (evaluation.fingerprints: the same normalised text, or
a near duplicate), for the dataset's page. Benchmarks count once their problems are catalog rows: those with
a local copy from `seed_catalog` on, the others once an evaluation has loaded them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from rlab.catalog.models import Benchmark, Dataset, Example


@dataclass(frozen=True)
class Match:
    example: int  # the dataset example's index
    problem: int  # the benchmark problem's index
    problem_id: str
    kind: str  # "exact" or "near"


@dataclass(frozen=True)
class BenchmarkOverlap:
    benchmark: str
    dataset: Dataset  # the benchmark's problems as a dataset
    n_problems: int  # how many problems of the benchmark are in the catalogue (the denominator)
    matches: list[Match]

    @property
    def n_matched(self) -> int:
        """Benchmark problems held by at least one example."""
        return len({m.problem for m in self.matches})

    @property
    def n_exact(self) -> int:
        return len({m.problem for m in self.matches if m.kind == "exact"})

    @property
    def n_near(self) -> int:
        return self.n_matched - self.n_exact


def benchmark_overlaps(dataset: Dataset) -> list[BenchmarkOverlap]:
    """Per benchmark in the catalogue (other than the dataset itself), the problems its examples hold."""
    from evaluation.fingerprints import BenchmarkIndex, Fingerprint

    benchmarks = list(
        Benchmark.objects.filter(dataset__isnull=False).exclude(dataset=dataset).select_related("dataset")
    )
    rows = Example.objects.filter(dataset__in=[b.dataset for b in benchmarks])
    problem_ids, counts = {}, defaultdict(int)
    fingerprints = []
    for pk, dataset_id, index, exact, ngrams, metadata in rows.values_list(
        "pk", "dataset_id", "index", "fingerprint", "ngrams", "metadata"
    ):
        counts[dataset_id] += 1
        problem_ids[pk] = (dataset_id, index, str((metadata or {}).get("id", index)))
        fingerprints.append((pk, Fingerprint(exact, frozenset(ngrams))))
    index = BenchmarkIndex(fingerprints)
    matches: dict[int, list[Match]] = defaultdict(list)
    examples = dataset.examples.order_by("index").values_list("index", "problem", "fingerprint", "ngrams")
    for example_index, problem, exact, ngrams in examples.iterator(chunk_size=2000):
        fingerprint = Fingerprint(exact, frozenset(ngrams)) if exact else Fingerprint.of(problem)
        for pk, kind in index.matches(fingerprint).items():
            dataset_id, problem_index, problem_id = problem_ids[pk]
            matches[dataset_id].append(Match(example_index, problem_index, problem_id, kind))
    return [
        BenchmarkOverlap(b.key, b.dataset, counts[b.dataset_id], matches[b.dataset_id])
        for b in sorted(benchmarks, key=lambda b: b.key)
        if counts[b.dataset_id]
    ]
