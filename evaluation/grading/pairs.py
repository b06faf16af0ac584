"""The contract behind `rlab grade PAIRS.jsonl`: grade {"gold", "pred", "kind"} lines, keep going on bad ones.

Each input object comes back unchanged plus "equal": true/false ("kind" defaults to "math"; a null
"pred" means nothing was extracted and is simply not equal). Instead of "pred" (an extracted answer) a line
may give "response" (a whole completion): its answer is extracted exactly as evaluation extracts it, comes
back as "extracted", and is graded. A line that cannot be graded comes back
with "equal": null and "error": "line N: what is wrong" (N counts file lines from 1); a line that is not
a JSON object comes back as {"line": N, "input": ..., "equal": null, "error": ...}. Errors are counted
in the summary instead of stopping the run.
"""

import json
from collections.abc import Iterable, Sequence
from typing import IO, Any

from evaluation.grading.api import GradeConfig, GradePair, grade_batch
from evaluation.grading.pool import GradingPool
from evaluation.grading.registry import get_grader

CHUNK_LINES = 5000  # lines per grade_batch() call when reading a file

Numbered = tuple[int, object, str | None]  # (line number, parsed line, JSON error if it did not parse)


def _pair(line: object) -> GradePair:
    """Validate one line; raises ValueError with a message meant for the user."""
    if not isinstance(line, dict):
        raise ValueError(f"expected a JSON object, got {type(line).__name__}")
    if "gold" not in line:
        raise ValueError("missing field 'gold'")
    if ("pred" in line) == ("response" in line):
        raise ValueError("give either 'pred' (an extracted answer) or 'response' (a whole completion)")
    kind = line.get("kind", "math")
    try:
        grader = get_grader(kind)
    except ValueError as error:
        raise ValueError(f"field 'kind': {error}") from None
    field = "pred" if "pred" in line else "response"
    pred = line[field]
    if pred is not None and not isinstance(pred, str):
        raise ValueError(f"field {field!r} must be a string or null, got {type(pred).__name__}")
    if field == "response" and pred is not None:
        pred = grader.extract(pred).answer
    try:
        grader.prepare_gold(line["gold"])
    except (TypeError, ValueError) as error:
        raise ValueError(f"field 'gold': {error}") from None
    return GradePair(line["gold"], pred, kind)


def _grade_numbered(
    numbered: Sequence[Numbered], config: GradeConfig | None, pool: GradingPool | None
) -> list[dict[str, Any]]:
    outputs: list[dict[str, Any]] = []
    valid: list[tuple[int, GradePair]] = []
    for number, line, json_error in numbered:
        output = dict(line) if isinstance(line, dict) else {"line": number, "input": line}
        output["equal"] = None
        try:
            if json_error:
                raise ValueError(f"invalid JSON: {json_error}")
            pair = _pair(line)
            if isinstance(line, dict) and "response" in line:
                output["extracted"] = pair.pred
            valid.append((len(outputs), pair))
        except ValueError as error:
            output["error"] = f"line {number}: {error}"
        outputs.append(output)
    verdicts = grade_batch([pair for _, pair in valid], config=config, pool=pool)
    for (position, _), verdict in zip(valid, verdicts, strict=True):
        outputs[position]["equal"] = verdict
    return outputs


def summarize(outputs: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Counts of a graded run: count, equal, not_equal, errors."""
    summary = {"count": 0, "equal": 0, "not_equal": 0, "errors": 0}
    for output in outputs:
        summary["count"] += 1
        summary["errors" if "error" in output else "equal" if output["equal"] else "not_equal"] += 1
    return summary


def grade_pairs(
    lines: Iterable[object], *, config: GradeConfig | None = None, pool: GradingPool | None = None
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Grade parsed JSON lines; returns (each line plus "equal", or "error", in order; summary)."""
    numbered: list[Numbered] = [(number, line, None) for number, line in enumerate(lines, start=1)]
    outputs = _grade_numbered(numbered, config, pool)
    return outputs, summarize(outputs)


def grade_pairs_file(
    in_path: str, out_stream: IO[str], *, config: GradeConfig | None = None, pool: GradingPool | None = None
) -> dict[str, int]:
    """Grade a JSONL file in chunks, writing one JSON line per non-blank input line; returns the summary."""
    totals = {"count": 0, "equal": 0, "not_equal": 0, "errors": 0}

    def flush(chunk: list[Numbered]) -> None:
        outputs = _grade_numbered(chunk, config, pool)
        for output in outputs:
            out_stream.write(json.dumps(output, ensure_ascii=False) + "\n")
        for key, value in summarize(outputs).items():
            totals[key] += value
        chunk.clear()

    chunk: list[Numbered] = []
    with open(in_path, encoding="utf-8") as lines:
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            try:
                chunk.append((number, json.loads(text), None))
            except json.JSONDecodeError as error:
                chunk.append((number, text.rstrip("\n"), error.msg))
            if len(chunk) >= CHUNK_LINES:
                flush(chunk)
    flush(chunk)
    return totals
