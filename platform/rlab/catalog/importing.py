"""Importing a data file as a Dataset: read rows, map fields, validate every row, then save all or nothing.

Used by the CLI (`rlab data import`), the web upload (in the request for small files, in a worker for large
ones: rlab.catalog.background) and the hub import. Fields are dotted paths into each row
(`reward_model.ground_truth`, `prompt.0.content`), so verl-format files import without conversion.

Files are read as a stream, a batch of rows at a time, within the bounds of ImportLimits: a small file that
decodes to a huge table (a Parquet file of repeated rows), an overlong CSV field or JSON line, or deeply
nested JSON is refused with a message naming the bound, before it can fill the memory.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from django.db import transaction

from rlab.catalog.models import Dataset, Example

MAX_ERRORS_SHOWN = 50
SAVE_BATCH_ROWS = 1000
PARQUET_BATCH_ROWS = 256
DATASET_NAME = re.compile(r"^\w[\w.+-]*$")
DATASET_NAME_RULE = "letters, digits and . _ + - only, starting with a letter or digit"
MAX_NAME_LENGTH = Dataset._meta.get_field("name").max_length
KB, MB = 1024, 1024 * 1024
SHORT_FIELDS = {name: Example._meta.get_field(name).max_length for name in ("subject", "level")}
CSV_FIELD_LIMIT = csv.field_size_limit()  # a process-wide setting of the csv module, left as it is
MAX_INDEX = 2**31 - 1  # Example.index is a PositiveIntegerField


@dataclass(frozen=True)
class ImportLimits:
    """Bounds on what one import may read (and CSV_FIELD_LIMIT, Python's csv default of 128 KB)."""

    max_rows: int = 1_000_000
    max_line_bytes: int = 4 * MB  # one JSONL line
    max_json_file_bytes: int = 32 * MB  # a .json file is parsed whole; larger ones must be JSONL
    max_nesting: int = 32  # levels of objects and lists in a row
    max_decoded_bytes: int = 2048 * MB  # a Parquet file's rows once decoded (repeated values expand)


LIMITS = ImportLimits()


@dataclass(frozen=True)
class FieldMapping:
    """Which (dotted) field of a row fills each Example field; only problem and answer are required."""

    problem: str = "problem"
    answer: str = "answer"
    solution: str | None = None
    subject: str | None = None
    level: str | None = None
    choices: str | None = None
    index: str | None = None  # the example's key in rankings; default: its position in the file


VERL_MAPPING = FieldMapping(
    problem="prompt.0.content", answer="reward_model.ground_truth", index="extra_info.index"
)
MAPPING_PRESETS = {"plain": FieldMapping(), "verl": VERL_MAPPING}


@dataclass(frozen=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class ImportFailed(ValueError):
    """Nothing was saved; `errors` lists the first offending rows by line (1-based), `total` counts all."""

    source: str
    errors: list[RowError] = field(default_factory=list)
    n_errors: int | None = None  # when more rows were bad than `errors` keeps

    @property
    def total(self) -> int:
        return self.n_errors if self.n_errors is not None else len(self.errors)

    def __str__(self) -> str:
        shown = "\n  ".join(str(e) for e in self.errors[:MAX_ERRORS_SHOWN])
        more = self.total - min(len(self.errors), MAX_ERRORS_SHOWN)
        return f"{self.source}: {self.total} bad row(s), nothing imported\n  {shown}" + (
            f"\n  … and {more} more" if more > 0 else ""
        )


class Unreadable(ValueError):
    """The file as a whole cannot be read (not a row of it): wrong format, over a bound, broken CSV."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.line = line


class DatasetNameTaken(ImportFailed):
    """The team already has a dataset of that name: a problem with the name, not with any row."""

    def __init__(self, source: str, name: str) -> None:
        super().__init__(source, [])
        self.name = name

    def __str__(self) -> str:
        return f"a dataset named {self.name!r} already exists in this team: choose another name"


def name_problem(name: str) -> str | None:
    """Why `name` cannot name a dataset, or None when it can."""
    if not name:
        return "a dataset needs a name"
    if len(name) > MAX_NAME_LENGTH:
        return f"a dataset name has at most {MAX_NAME_LENGTH} characters (this one has {len(name)})"
    if not DATASET_NAME.match(name):
        return f"{name!r} cannot name a dataset: {DATASET_NAME_RULE}"
    return None


def _nesting(value: Any) -> int:
    """Levels of objects and lists in a parsed JSON value (0 for a scalar), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _parsed_json(number: int, text: bytes, limits: ImportLimits) -> Any:
    try:
        value = json.loads(text)
    except UnicodeDecodeError:
        return RowError(number, "not UTF-8 text")
    except json.JSONDecodeError as error:
        return RowError(number, f"not valid JSON ({error.msg})")
    except RecursionError:
        return RowError(number, f"nested deeper than {limits.max_nesting} levels")
    if _nesting(value) > limits.max_nesting:
        return RowError(number, f"nested deeper than {limits.max_nesting} levels")
    return value


def _read_jsonl(stream: BinaryIO, limits: ImportLimits) -> Iterator[tuple[int, Any]]:
    for number in itertools.count(1):
        line = stream.readline(limits.max_line_bytes + 1)
        if not line:
            return
        if len(line) > limits.max_line_bytes:
            while line and not line.endswith(b"\n"):  # skip the rest of the overlong line
                line = stream.readline(MB)
            yield number, RowError(number, f"the line is longer than {limits.max_line_bytes // MB} MB")
        elif line.strip():
            yield number, _parsed_json(number, line, limits)


def _read_json(stream: BinaryIO, limits: ImportLimits) -> Iterator[tuple[int, Any]]:
    data = stream.read(limits.max_json_file_bytes + 1)
    if len(data) > limits.max_json_file_bytes:
        raise Unreadable(
            f"a .json file is read whole, so at most {limits.max_json_file_bytes // MB} MB; "
            "save larger files as .jsonl (one object a line)"
        )
    value = _parsed_json(0, data, limits)
    if isinstance(value, RowError):
        raise Unreadable(value.message)
    if not isinstance(value, list):
        raise Unreadable("a .json file must hold a list of objects")
    yield from enumerate(value, start=1)


def _read_csv(stream: BinaryIO, limits: ImportLimits) -> Iterator[tuple[int, Any]]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = csv.DictReader(text)
    # Line numbers count records, the header being line 1 (as a spreadsheet numbers them).
    number = 1
    try:
        for number, row in enumerate(reader, start=2):
            yield number, row
    except csv.Error as error:
        if "field limit" in str(error):
            raise Unreadable(f"a field is longer than {CSV_FIELD_LIMIT // KB} KB", number + 1) from None
        raise Unreadable(f"malformed CSV ({error})", number + 1) from None
    except UnicodeDecodeError:
        raise Unreadable("not UTF-8 text", number + 1) from None
    finally:
        text.detach()  # the caller closes the file


def _read_parquet(stream: BinaryIO, limits: ImportLimits) -> Iterator[tuple[int, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(stream)
    except (pa.ArrowException, OSError, ValueError) as error:
        raise Unreadable(f"not a Parquet file ({error})") from None
    # The footer says how many rows there are before any is decoded: a few KB can hold millions.
    if table.metadata.num_rows > limits.max_rows:
        raise Unreadable(f"{table.metadata.num_rows} rows; at most {limits.max_rows} can be imported")
    number, decoded = 0, 0
    try:
        for batch in table.iter_batches(batch_size=PARQUET_BATCH_ROWS):
            decoded += batch.nbytes
            if decoded > limits.max_decoded_bytes:
                raise Unreadable(
                    f"its rows decode to more than {limits.max_decoded_bytes // MB} MB", number + 1
                )
            for row in batch.to_pylist():
                number += 1
                yield number, row
    except (pa.ArrowException, OSError) as error:
        raise Unreadable(f"cannot decode the Parquet data ({error})", number + 1) from None


READERS: dict[str, Callable[[BinaryIO, ImportLimits], Iterator[tuple[int, Any]]]] = {
    ".jsonl": _read_jsonl,
    ".json": _read_json,
    ".csv": _read_csv,
    ".parquet": _read_parquet,
}


def reader_for(filename: str) -> Callable[[BinaryIO, ImportLimits], Iterator[tuple[int, Any]]]:
    suffix = Path(filename).suffix.lower()
    if suffix not in READERS:
        raise ImportFailed(
            filename, [RowError(0, f"unsupported file type {suffix!r}; use {', '.join(READERS)}")]
        )
    return READERS[suffix]


def iter_rows(filename: str, stream: BinaryIO, limits: ImportLimits = LIMITS) -> Iterator[tuple[int, Any]]:
    """(line or row number, row) pairs, read as needed; a row that cannot be parsed is a RowError in place
    of the row. Raises ImportFailed when the file as a whole cannot be read or holds too many rows."""
    rows = reader_for(filename)(stream, limits)
    try:
        for count, numbered in enumerate(rows, start=1):
            if count > limits.max_rows:
                raise Unreadable(f"more than {limits.max_rows} rows; at most that many can be imported")
            yield numbered
    except Unreadable as error:
        raise ImportFailed(filename, [RowError(error.line, f"cannot read the file: {error}")]) from None


@contextmanager
def opened(data: bytes | Path) -> Iterator[BinaryIO]:
    """A binary stream of the file's content, given as bytes or as the path of a stored file."""
    if isinstance(data, bytes):
        yield io.BytesIO(data)
    else:
        with open(data, "rb") as stream:
            yield stream


def get_path(row: Any, path: str) -> Any:
    """The value at a dotted path (`a.b.0.c`); KeyError naming the path when it is absent."""
    value = row
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdecimal() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise KeyError(path)
    return value


def _answer(value: Any) -> str | list[str]:
    """Strings, numbers or lists of them. An empty string is kept (real data has such rows, e.g. DSR-sub
    index 265, and rankings refer to them by index); such an example simply can never be rewarded."""
    if isinstance(value, list) and value and all(isinstance(v, str | int | float) for v in value):
        return [str(v) for v in value]
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError("the answer must be a string, a number or a list of them")
    return str(value)


def _example_fields(row: Any, position: int, mapping: FieldMapping) -> dict[str, Any]:
    if not isinstance(row, dict):
        raise ValueError(f"expected an object, got {type(row).__name__}")
    problem = get_path(row, mapping.problem)
    if not isinstance(problem, str) or not problem.strip():
        raise ValueError(f"{mapping.problem!r} must be a non-empty string")
    fields: dict[str, Any] = {"problem": problem, "answer": _answer(get_path(row, mapping.answer))}
    for name in ("solution", "subject", "level"):
        if (path := getattr(mapping, name)) is not None:
            fields[name] = str(get_path(row, path))
            if name in SHORT_FIELDS and len(fields[name]) > SHORT_FIELDS[name]:
                raise ValueError(f"{path!r} has more than {SHORT_FIELDS[name]} characters")
    if mapping.choices is not None:
        choices = get_path(row, mapping.choices)
        if not isinstance(choices, list) or len(choices) < 2:
            raise ValueError(f"{mapping.choices!r} must be a list of at least two options")
        fields["choices"] = [str(c) for c in choices]
    index = get_path(row, mapping.index) if mapping.index else position
    if isinstance(index, bool) or not str(index).isdecimal() or int(index) > MAX_INDEX:
        raise ValueError(f"{mapping.index!r} must be an integer from 0 to {MAX_INDEX}, got {index!r}")
    fields["index"] = int(index)
    fields["metadata"] = {"source_row": row} if mapping.index else {}
    return fields


class _Errors:
    """The first MAX_ERRORS_SHOWN bad rows and how many there were in all."""

    def __init__(self) -> None:
        self.shown: list[RowError] = []
        self.count = 0

    def add(self, error: RowError) -> None:
        self.count += 1
        if len(self.shown) < MAX_ERRORS_SHOWN:
            self.shown.append(error)


def _validated(rows: Iterator[tuple[int, Any]], mapping: FieldMapping, errors: _Errors) -> Iterator[dict]:
    """Example fields for each good row; bad rows go to `errors`."""
    seen: dict[int, int] = {}
    for position, (line, row) in enumerate(rows):
        if isinstance(row, RowError):
            errors.add(row)
            continue
        try:
            fields = _example_fields(row, position, mapping)
        except KeyError as missing:
            errors.add(RowError(line, f"missing field {missing.args[0]!r}"))
            continue
        except ValueError as error:
            errors.add(RowError(line, str(error)))
            continue
        if fields["index"] in seen:
            errors.add(
                RowError(line, f"index {fields['index']} already used on line {seen[fields['index']]}")
            )
            continue
        seen[fields["index"]] = line
        yield fields


def _sha256(stream: BinaryIO) -> str:
    digest = hashlib.sha256()
    while chunk := stream.read(MB):
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest()


def _size(stream: BinaryIO) -> int:
    size = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    return size


@transaction.atomic
def import_dataset(
    *,
    team,
    name: str,
    filename: str,
    data: bytes | Path,
    mapping: FieldMapping,
    kind: str = Dataset.Kind.TRAIN,
    user=None,
    licence_note: str = "",
    progress: Callable[[float], None] | None = None,
    limits: ImportLimits = LIMITS,
) -> Dataset:
    """Create the dataset and all its examples, or raise ImportFailed and save nothing.

    `data` is the file's content or the path of a stored copy; `progress` is told the share of the file
    read so far (0 to 1) after each batch of rows."""
    if problem := name_problem(name):
        raise ImportFailed(filename, [RowError(0, problem)])
    if Dataset.objects.filter(team=team, name=name).exists():
        raise DatasetNameTaken(filename, name)
    reader_for(filename)  # an unsupported type fails before anything is read
    with opened(data) as stream:
        content_hash, size = _sha256(stream), _size(stream)
        dataset = Dataset.objects.create(
            team=team,
            name=name,
            kind=kind,
            source=f"upload:{Path(filename).name}",
            created_by=user,
            content_hash=content_hash,
            licence_note=licence_note,
        )
        errors, n_rows = _Errors(), 0
        examples = _validated(iter_rows(filename, stream, limits), mapping, errors)
        while batch := list(itertools.islice(examples, SAVE_BATCH_ROWS)):
            n_rows += len(batch)
            if not errors.count:  # after the first bad row, only look for more of them
                Example.objects.bulk_create(Example(dataset=dataset, **fields) for fields in batch)
            if progress is not None:
                progress(min(stream.tell() / size, 1.0) if size else 1.0)
    if not n_rows and not errors.count:
        errors.add(RowError(0, "the file has no rows"))
    if errors.count:
        raise ImportFailed(filename, errors.shown, errors.count)
    return dataset
