"""Reading an evaluation's samples file: the JSONL that `evaluation.runner.BenchmarkRun.write_samples` writes,
one line per sample with its problem id, response text, extracted answer and verdict.

A MATH500 file with k samples of long responses runs to many megabytes, so a page reads it once and parses
only the lines of the problems it shows: the problem id is found with a regular expression first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

# The key as json.dumps writes it. Inside a JSON string every quote is escaped, so a response that quotes
# this text cannot match: `problem_id` there is followed by a backslash, not by a quote.
_PROBLEM_ID = re.compile(r'"problem_id": ("(?:[^"\\]|\\.)*")')


@dataclass(frozen=True)
class Sample:
    """One sampled response to a problem, as the evaluation runner graded it."""

    index: int
    text: str
    extracted: str | None
    correct: bool
    n_tokens: int
    finish_reason: str


SampleIndex = dict[str, list[Sample]]


def read_samples(path: str, problem_ids: Collection[str]) -> SampleIndex | None:
    """The samples of `problem_ids` from the file at `path`, by problem id and in sample order; None when
    the evaluation has no samples file or it cannot be read (moved, deleted, another machine's disk, not
    the runner's format)."""
    if not path:
        return None
    found: SampleIndex = {problem_id: [] for problem_id in problem_ids}
    if not found:
        return found if Path(path).is_file() else None
    try:
        with Path(path).open(encoding="utf-8") as handle:
            for line in handle:
                match = _PROBLEM_ID.search(line)
                if match is None or json.loads(match.group(1)) not in found:
                    continue
                row = json.loads(line)
                found[row["problem_id"]].append(
                    Sample(
                        index=row["sample_index"],
                        text=row["text"],
                        extracted=row["extracted"],
                        correct=row["correct"],
                        n_tokens=row["n_tokens"],
                        finish_reason=row["finish_reason"],
                    )
                )
    except (OSError, ValueError, KeyError):
        return None
    for samples in found.values():
        samples.sort(key=lambda sample: sample.index)
    return found
