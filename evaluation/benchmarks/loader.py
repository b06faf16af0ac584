"""Turning a registered benchmark into a list of Problems: local files first, then the hub."""

import itertools
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from evaluation.benchmarks.errors import BenchmarkUnavailable, MalformedRow
from evaluation.benchmarks.problem import Problem
from evaluation.benchmarks.readers import READERS, Located
from evaluation.benchmarks.spec import BenchmarkSpec, Row, RowMapping, get_benchmark

DATA_DIR_ENV = "RLAB_DATA_DIR"
Source = Literal["auto", "local", "hub"]


def load_benchmark(
    benchmark_id: str,
    data_dir: Path | None = None,
    limit: int | None = None,
    source: Source = "auto",
) -> list[Problem]:
    """Load a benchmark's problems, in source order, at most `limit` of them.

    "auto" reads the local copy (or the built-in generator) and falls back to the Hugging Face hub
    only when no local copy exists; "local" and "hub" try just that one place. `data_dir` defaults to
    the RLAB_DATA_DIR environment variable; files are looked up at `<data_dir>/<spec.local_stem>.*`.
    """
    if source not in ("auto", "local", "hub"):
        raise ValueError(f"source must be 'auto', 'local' or 'hub', not {source!r}")
    spec = get_benchmark(benchmark_id)
    tried: list[str] = []  # why each place failed, for the error message
    if source != "hub":
        rows = _local_rows(spec, _resolve_data_dir(data_dir), tried)
        if rows is not None:
            return _map_rows(spec, spec.mapping, itertools.islice(rows, limit))
    if source != "local":
        rows = _hub_rows(spec, tried)
        if rows is not None:
            return _map_rows(spec, spec.hub_mapping, itertools.islice(rows, limit))
    raise BenchmarkUnavailable(f"benchmark {spec.id!r} is unavailable. Tried: " + "; ".join(tried))


def unavailable_reason(benchmark_id: str, data_dir: Path | None, hub: bool) -> str | None:
    """Why the benchmark cannot be loaded here, found without loading it (None: it can be, as far as can be
    told: its generator, a local file, or the hub when hub downloads are allowed)."""
    spec = get_benchmark(benchmark_id)
    if spec.generate is not None:
        return None
    tried: list[str] = []
    if spec.local_stem is not None and data_dir is not None:
        candidates = [data_dir / f"{spec.local_stem}{suffix}" for suffix in READERS]
        if any(path.is_file() for path in candidates):
            return None
        tried.append(f"no file {data_dir / spec.local_stem}{{{','.join(READERS)}}}")
    elif spec.local_stem is not None:
        tried.append(f"no data folder is set ({DATA_DIR_ENV})")
    if spec.hub is not None and hub:
        return None
    tried.append("hub downloads are off (HF_HUB_OFFLINE)" if spec.hub is not None else "no hub source")
    return f"benchmark {benchmark_id!r} has no data here: " + "; ".join(tried)


def load_rows(spec: BenchmarkSpec, rows: Iterable[Row], mapping: RowMapping | None = None) -> list[Problem]:
    """Map already-read rows (from the hub, a fixture, anywhere) exactly as load_benchmark would.

    `mapping` defaults to `spec.mapping`; pass `spec.hub_mapping` for rows in a hub source's own schema.
    """
    located = ((f"row {index}", dict(row)) for index, row in enumerate(rows))
    return _map_rows(spec, mapping or spec.mapping, located)


def _resolve_data_dir(data_dir: Path | None) -> Path | None:
    if data_dir is not None:
        return Path(data_dir)
    from_env = os.environ.get(DATA_DIR_ENV)
    return Path(from_env) if from_env else None


def _local_rows(spec: BenchmarkSpec, data_dir: Path | None, tried: list[str]) -> Iterator[Located] | None:
    if spec.generate is not None:
        return ((f"{spec.id} generator row {index}", row) for index, row in enumerate(spec.generate()))
    if spec.local_stem is None:
        tried.append("local: no local copy is defined for it")
        return None
    if data_dir is None:
        tried.append(f"local: no data_dir given and {DATA_DIR_ENV} is not set")
        return None
    candidates = [data_dir / f"{spec.local_stem}{suffix}" for suffix in READERS]
    for path in candidates:
        if path.is_file():
            return READERS[path.suffix](path)
    tried.append(f"local: {data_dir / spec.local_stem}{{{','.join(READERS)}}} (no such file)")
    return None


def _hub_rows(spec: BenchmarkSpec, tried: list[str]) -> Iterator[Located] | None:
    hub = spec.hub
    if hub is None:
        tried.append("hub: no hub source is defined for it")
        return None
    where = f"hub: {hub.path}" + (f" ({hub.config})" if hub.config else "") + f" split {hub.split}"
    try:
        import datasets  # optional and slow to import, so only when a hub load is needed
    except ImportError:
        tried.append(f"{where} (the `datasets` package is not installed)")
        return None
    try:
        dataset = datasets.load_dataset(hub.path, hub.config, split=hub.split, revision=hub.revision)
    except Exception as exc:  # offline, gated, renamed: datasets raises many unrelated types
        tried.append(f"{where} ({type(exc).__name__}: {exc})")
        return None
    return ((f"{hub.path} {hub.split} row {index}", dict(row)) for index, row in enumerate(dataset))


def _map_rows(spec: BenchmarkSpec, mapping: RowMapping, rows: Iterable[Located]) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for index, (location, row) in enumerate(rows):
        try:
            problem = _to_problem(mapping, row, index)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise MalformedRow(f"{location}: {spec.id}: {_describe(exc)}") from exc
        if problem.id in seen:
            raise MalformedRow(
                f"{location}: {spec.id}: duplicate id {problem.id!r} (first at {seen[problem.id]})"
            )
        seen[problem.id] = location
        problems.append(problem)
    return problems


def _describe(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing column {exc.args[0]!r}"
    return f"{type(exc).__name__}: {exc}"


def _to_problem(mapping: RowMapping, row: Row, index: int) -> Problem:
    if mapping.transform is not None:
        row = mapping.transform(row)
    raw_answer = row[mapping.answer]
    metadata = {column: row[column] for column in mapping.metadata}
    if not isinstance(raw_answer, str | list):
        # Kept as written (AMC23's 27.0 stays "27.0"); normalising is the grader's job.
        metadata["answer_source_type"] = type(raw_answer).__name__
    return Problem(
        id=str(row[mapping.id]) if mapping.id is not None else str(index),
        problem=_text(row[mapping.problem], mapping.problem),
        answer=[str(item) for item in raw_answer] if isinstance(raw_answer, list) else str(raw_answer),
        choices=[str(choice) for choice in row[mapping.choices]] if mapping.choices is not None else None,
        subject=_optional_str(row[mapping.subject]) if mapping.subject is not None else None,
        level=row[mapping.level] if mapping.level is not None else None,
        metadata=metadata,
    )


def _text(value: Any, column: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"column {column!r} must be a non-empty string, got {value!r:.80}")
    return value


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)
