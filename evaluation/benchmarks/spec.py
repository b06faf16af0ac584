"""Declarative benchmark descriptions and the registry that holds them."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from evaluation.benchmarks.errors import UnknownBenchmark

Row = Mapping[str, Any]
RowTransform = Callable[[Row], Row]
GraderKind = Literal["math", "choice"]


@dataclass(frozen=True)
class RowMapping:
    """Which column of a row fills each Problem field.

    `transform`, when set, runs first and returns the row with derived columns added (a gold answer cut
    from a solution, a shuffled option list...); the field names may then refer to those columns.
    """

    problem: str
    answer: str
    id: str | None = None  # None: the row's position in its source
    choices: str | None = None
    subject: str | None = None
    level: str | None = None
    metadata: tuple[str, ...] = ()  # columns copied into Problem.metadata under the same name
    transform: RowTransform | None = None


@dataclass(frozen=True)
class HubSource:
    """A Hugging Face dataset, read with `datasets.load_dataset(path, config, split=..., revision=...)`."""

    path: str
    split: str
    config: str | None = None
    revision: str | None = None
    mapping: RowMapping | None = None  # None: the hub rows have the same schema as the local file


@dataclass(frozen=True)
class Sampling:
    """Generation defaults for one benchmark; temperature 0 means greedy decoding."""

    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 3072


@dataclass(frozen=True)
class BenchmarkSpec:
    """Everything the platform needs to know to load, prompt, sample and grade one benchmark.

    Local data lives at `<data_dir>/<local_stem><suffix>` for a suffix the local readers know
    (.jsonl, .json, .parquet). `generate`, when set, builds the rows in memory instead.
    """

    id: str
    description: str
    mapping: RowMapping
    grader: GraderKind
    default_template: str
    local_stem: str | None = None
    hub: HubSource | None = None
    generate: Callable[[], list[dict[str, Any]]] | None = None
    repeats: int = 1  # k of avg@k: samples drawn per problem
    sampling: Sampling = Sampling()
    # Log-likelihood formulations it can be scored with (evaluation.loglikelihood.formulations), the
    # default first; empty: generation only.
    formulations: tuple[str, ...] = ()

    @property
    def default_formulation(self) -> str | None:
        return self.formulations[0] if self.formulations else None

    @property
    def hub_mapping(self) -> RowMapping:
        """The mapping for rows read from the hub source."""
        return (self.hub.mapping if self.hub else None) or self.mapping


_REGISTRY: dict[str, BenchmarkSpec] = {}


def register(spec: BenchmarkSpec) -> BenchmarkSpec:
    if spec.id in _REGISTRY:
        raise ValueError(f"benchmark {spec.id!r} is already registered")
    _REGISTRY[spec.id] = spec
    return spec


def get_benchmark(benchmark_id: str) -> BenchmarkSpec:
    try:
        return _REGISTRY[benchmark_id]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise UnknownBenchmark(f"unknown benchmark {benchmark_id!r}; known: {known}") from None


def list_benchmarks() -> list[BenchmarkSpec]:
    return [_REGISTRY[key] for key in sorted(_REGISTRY)]
