"""What the upload page shows before importing: the columns of a data file, its first rows and a guess of
which column fills each Example field. The import itself is `rlab.catalog.importing` (all or nothing)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, BinaryIO

from rlab.catalog.importing import RowError, get_path, iter_rows

PREVIEW_ROWS = 5
COLUMN_SCAN_ROWS = 50
MAX_COLUMN_DEPTH = 4
CELL_CHARS = 120
MAX_UPLOAD_BYTES = 200 * 1024 * 1024

# Candidate columns per Example field, most likely first (plain files, verl's layout, common hub datasets).
FIELD_GUESSES: dict[str, tuple[str, ...]] = {
    "problem": ("problem", "question", "prompt.0.content", "prompt", "input", "query"),
    "answer": ("answer", "reward_model.ground_truth", "ground_truth", "final_answer", "target", "label"),
    "solution": ("solution", "rationale", "explanation", "reasoning"),
    "subject": ("subject", "type", "category", "topic"),
    "level": ("level", "difficulty"),
    "choices": ("choices", "options"),
    "index": ("extra_info.index", "index", "idx"),
}


@dataclass(frozen=True)
class Preview:
    filename: str
    n_rows: int  # rows read: the first COLUMN_SCAN_ROWS at most
    more: bool  # the file goes on after them
    columns: list[str]
    rows: list[list[str]]
    unreadable: list[RowError]
    guess: dict[str, str]


def column_paths(value: Any, prefix: str = "", depth: int = 0) -> list[str]:
    """Dotted paths to the leaves of a row; a list of objects is entered through its first element
    (verl's `prompt.0.content`), any other list is a leaf (`choices`)."""
    if depth < MAX_COLUMN_DEPTH:
        if isinstance(value, dict):
            return [
                p for key, item in value.items() for p in column_paths(item, f"{prefix}{key}.", depth + 1)
            ]
        if isinstance(value, list) and value and isinstance(value[0], dict):
            return column_paths(value[0], f"{prefix}0.", depth + 1)
    return [prefix[:-1]] if prefix else []


def guess_mapping(columns: list[str]) -> dict[str, str]:
    by_name = {c.lower(): c for c in columns}
    guess = {}
    for field, candidates in FIELD_GUESSES.items():
        if found := next((by_name[c] for c in candidates if c in by_name), None):
            guess[field] = found
    return guess


def _cell(row: Any, column: str) -> str:
    try:
        text = str(get_path(row, column))
    except KeyError:
        return ""
    return text if len(text) <= CELL_CHARS else text[: CELL_CHARS - 1] + "…"


def preview_file(filename: str, stream: BinaryIO) -> Preview:
    """Columns, first rows and a mapping guess, from the first COLUMN_SCAN_ROWS rows only; raises
    ImportFailed when the file cannot be read at all."""
    numbered = list(itertools.islice(iter_rows(filename, stream), COLUMN_SCAN_ROWS + 1))
    more, numbered = len(numbered) > COLUMN_SCAN_ROWS, numbered[:COLUMN_SCAN_ROWS]
    readable = [row for _, row in numbered if isinstance(row, dict)]
    columns: list[str] = []
    for row in readable:
        columns += [c for c in column_paths(row) if c not in columns]
    return Preview(
        filename=filename,
        n_rows=len(numbered),
        more=more,
        columns=columns,
        rows=[[_cell(row, c) for c in columns] for row in readable[:PREVIEW_ROWS]],
        unreadable=[row for _, row in numbered if isinstance(row, RowError)],
        guess=guess_mapping(columns),
    )
