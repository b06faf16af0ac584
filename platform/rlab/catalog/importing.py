"""Importing a data file as a Dataset: read rows, map fields, validate every row, then save all or nothing.

Used by the CLI (`rlab data import`) and the web upload. Fields are dotted paths into each row
(`reward_model.ground_truth`, `prompt.0.content`), so verl-format files import without conversion.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction

from rlab.catalog.models import Dataset, Example

MAX_ERRORS_SHOWN = 50


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
    """Nothing was saved; `errors` lists the offending rows by line (1-based)."""

    source: str
    errors: list[RowError] = field(default_factory=list)

    def __str__(self) -> str:
        shown = "\n  ".join(str(e) for e in self.errors[:MAX_ERRORS_SHOWN])
        more = len(self.errors) - MAX_ERRORS_SHOWN
        return f"{self.source}: {len(self.errors)} bad row(s), nothing imported\n  {shown}" + (
            f"\n  … and {more} more" if more > 0 else ""
        )


class DatasetNameTaken(ImportFailed):
    """The team already has a dataset of that name: a problem with the name, not with any row."""

    def __init__(self, source: str, name: str) -> None:
        super().__init__(source, [])
        self.name = name

    def __str__(self) -> str:
        return f"a dataset named {self.name!r} already exists in this team: choose another name"


def _read_jsonl(data: bytes) -> list[tuple[int, Any]]:
    rows = []
    for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
        if line.strip():
            try:
                rows.append((number, json.loads(line)))
            except json.JSONDecodeError as error:
                rows.append((number, RowError(number, f"not valid JSON ({error.msg})")))
    return rows


def _read_json(data: bytes) -> list[tuple[int, Any]]:
    value = json.loads(data.decode("utf-8"))
    if not isinstance(value, list):
        raise ValueError("a .json file must hold a list of objects")
    return list(enumerate(value, start=1))


def _read_csv(data: bytes) -> list[tuple[int, Any]]:
    reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
    return [(number, row) for number, row in enumerate(reader, start=2)]  # line 1 is the header


def _read_parquet(data: bytes) -> list[tuple[int, Any]]:
    import pyarrow.parquet as pq

    return list(enumerate(pq.read_table(io.BytesIO(data)).to_pylist(), start=1))


READERS = {".jsonl": _read_jsonl, ".json": _read_json, ".csv": _read_csv, ".parquet": _read_parquet}


def read_rows(filename: str, data: bytes) -> list[tuple[int, Any]]:
    """(line or row number, row) pairs; a row that cannot be parsed is a RowError in place of the row."""
    suffix = Path(filename).suffix.lower()
    if suffix not in READERS:
        raise ImportFailed(
            filename, [RowError(0, f"unsupported file type {suffix!r}; use {', '.join(READERS)}")]
        )
    try:
        return READERS[suffix](data)
    except (UnicodeDecodeError, ValueError, OSError) as error:
        raise ImportFailed(filename, [RowError(0, f"cannot read the file: {error}")]) from None


def get_path(row: Any, path: str) -> Any:
    """The value at a dotted path (`a.b.0.c`); KeyError naming the path when it is absent."""
    value = row
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
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
    if mapping.choices is not None:
        choices = get_path(row, mapping.choices)
        if not isinstance(choices, list) or len(choices) < 2:
            raise ValueError(f"{mapping.choices!r} must be a list of at least two options")
        fields["choices"] = [str(c) for c in choices]
    index = get_path(row, mapping.index) if mapping.index else position
    if isinstance(index, bool) or not str(index).isdigit():
        raise ValueError(f"{mapping.index!r} must be a non-negative integer, got {index!r}")
    fields["index"] = int(index)
    fields["metadata"] = {"source_row": row} if mapping.index else {}
    return fields


def validate_rows(filename: str, rows: list[tuple[int, Any]], mapping: FieldMapping) -> list[dict[str, Any]]:
    """Example fields for every row, or ImportFailed listing every bad row."""
    examples, errors, seen = [], [], {}
    for position, (line, row) in enumerate(rows):
        if isinstance(row, RowError):
            errors.append(row)
            continue
        try:
            fields = _example_fields(row, position, mapping)
        except KeyError as missing:
            errors.append(RowError(line, f"missing field {missing.args[0]!r}"))
            continue
        except ValueError as error:
            errors.append(RowError(line, str(error)))
            continue
        if fields["index"] in seen:
            errors.append(
                RowError(line, f"index {fields['index']} already used on line {seen[fields['index']]}")
            )
            continue
        seen[fields["index"]] = line
        examples.append(fields)
    if not rows:
        errors.append(RowError(0, "the file has no rows"))
    if errors:
        raise ImportFailed(filename, errors)
    return examples


@transaction.atomic
def import_dataset(
    *,
    team,
    name: str,
    filename: str,
    data: bytes,
    mapping: FieldMapping,
    kind: str = Dataset.Kind.TRAIN,
    user=None,
    licence_note: str = "",
) -> Dataset:
    """Create the dataset and all its examples, or raise ImportFailed and save nothing."""
    if Dataset.objects.filter(team=team, name=name).exists():
        raise DatasetNameTaken(filename, name)
    examples = validate_rows(filename, read_rows(filename, data), mapping)
    dataset = Dataset.objects.create(
        team=team,
        name=name,
        kind=kind,
        source=f"upload:{Path(filename).name}",
        created_by=user,
        content_hash=hashlib.sha256(data).hexdigest(),
        licence_note=licence_note,
    )
    Example.objects.bulk_create(Example(dataset=dataset, **fields) for fields in examples)
    return dataset
