"""Curation of the catalog's training data: π ranking by historical variance (`ranking`) and label noise
(`label_noise`). Pure Python, no Django: the `rlab data rank/noise` commands use them on plain files, and
rlab.catalog.rankings / rlab.catalog.variants on datasets.

This module holds the JSONL reading/writing both share. Errors in input files are raised as
`DataFileError` with the file and line number in the message; outputs are written to a temporary
file next to the target and renamed only once everything succeeded, so a failed run writes nothing.
"""

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any


class DataFileError(ValueError):
    """An input file is malformed; the message names the file and, where it applies, the line."""


def read_jsonl(path: str | Path) -> list[tuple[int, dict[str, Any]]]:
    """Read a JSONL file into (1-based line number, object) pairs; blank lines are skipped."""
    path = Path(path)
    rows: list[tuple[int, dict[str, Any]]] = []
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataFileError(f"{path} line {line_no}: not valid JSON ({error.msg})") from error
            if not isinstance(value, dict):
                kind = type(value).__name__
                raise DataFileError(f"{path} line {line_no}: expected a JSON object, got {kind}")
            rows.append((line_no, value))
    return rows


def write_jsonl_atomic(rows: Iterable[dict[str, Any]], path: str | Path) -> None:
    """Write one JSON object per line to `path`, via a temporary file renamed only on success."""
    path = Path(path)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        temp.chmod(0o644)  # mkstemp creates 0600; outputs are ordinary data files
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
