"""Fill the catalogue from the evaluation registry: one Benchmark row per registered benchmark, and a
benchmark's problems as a shared Dataset of Example rows (per-example results point at them)."""

from django.db import transaction
from django.db.models import Exists, OuterRef

from rlab.catalog.models import Benchmark, Dataset, Example

BUILTIN_DATASETS = ("arith",)
SOLUTION = "solution"  # a problem metadata field that fills Example.solution (the demonstrations of SFT/SRFT)


def sync_benchmarks() -> int:
    from evaluation.benchmarks import list_benchmarks

    specs = list_benchmarks()
    for spec in specs:
        Benchmark.objects.update_or_create(
            key=spec.id,
            defaults={
                "name": spec.description[:100] or spec.id,
                "grader": spec.grader,
                "default_template": spec.default_template,
                "repeats": spec.repeats,
            },
        )
    return len(specs)


def example_from_problem(dataset: Dataset, index: int, problem) -> Example:
    """An Example row for an evaluation `Problem`; `index` is its position in the benchmark's source. A
    `solution` kept in the problem's metadata becomes the example's reference solution."""
    return Example(
        dataset=dataset,
        index=index,
        problem=problem.problem,
        answer=problem.answer,
        subject=problem.subject or "",
        level="" if problem.level is None else str(problem.level),
        choices=problem.choices,
        solution=str(problem.metadata.get(SOLUTION, "")),
        metadata={"id": problem.id, **{k: v for k, v in problem.metadata.items() if k != SOLUTION}},
    )


@transaction.atomic
def benchmark_dataset(benchmark_id: str, problems: list | None = None) -> Dataset:
    """The shared Dataset holding a benchmark's problems; rows missing so far are added from `problems`
    (the first N of the source, so indexes are stable whatever the limit) or from the whole source."""
    from evaluation.benchmarks import get_benchmark, load_benchmark

    spec = get_benchmark(benchmark_id)
    benchmark, _ = Benchmark.objects.get_or_create(
        key=benchmark_id,
        defaults={
            "name": spec.description[:100] or benchmark_id,
            "grader": spec.grader,
            "default_template": spec.default_template,
            "repeats": spec.repeats,
        },
    )
    dataset, _ = Dataset.objects.get_or_create(
        team=None,
        name=benchmark_id,
        defaults={
            "kind": Dataset.Kind.BENCHMARK,
            "source": f"benchmark:{benchmark_id}",
            "description": spec.description,
        },
    )
    problems = load_benchmark(benchmark_id) if problems is None else problems
    have = set(dataset.examples.values_list("index", flat=True))
    Example.objects.bulk_create(
        [example_from_problem(dataset, i, p) for i, p in enumerate(problems) if i not in have]
    )
    if benchmark.dataset_id != dataset.id:
        Benchmark.objects.filter(pk=benchmark.pk).update(dataset=dataset)
    return dataset


def load_local_benchmarks() -> list[str]:
    """Every registered benchmark with a local copy (or generator) whose problems are not catalog rows yet,
    loaded as its shared dataset; hub-only benchmarks are left until an evaluation loads them."""
    from evaluation.benchmarks import BenchmarkUnavailable, MalformedRow, list_benchmarks, load_benchmark

    loaded = []
    have = set(
        Benchmark.objects.filter(
            Exists(Example.objects.filter(dataset_id=OuterRef("dataset_id")))
        ).values_list("key", flat=True)
    )
    for spec in list_benchmarks():
        if spec.id in have:
            continue
        try:
            problems = load_benchmark(spec.id, source="local")
        except (BenchmarkUnavailable, MalformedRow):
            continue
        benchmark_dataset(spec.id, problems)
        loaded.append(spec.id)
    return loaded


def seed_catalog() -> None:
    """Benchmark rows, the built-in datasets, and the problems of every benchmark with a local copy (so the
    overlap of imported datasets with them is known from the start: rlab.catalog.overlaps)."""
    sync_benchmarks()
    for benchmark_id in BUILTIN_DATASETS:
        benchmark_dataset(benchmark_id)
    load_local_benchmarks()
