"""Public grading functions. grade() takes an extracted answer; grade_response() extracts first."""

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from evaluation.grading.extract import Extraction
from evaluation.grading.graders import Gold
from evaluation.grading.pool import GradingPool, default_pool
from evaluation.grading.registry import get_grader

logger = logging.getLogger(__name__)


MAX_PRECISION = 50


@dataclass(frozen=True)
class GradeConfig:
    timeout_s: float = 3.0  # wall-clock limit of one symbolic check; a timeout means "not equal"
    # Decimal places at which a decimal literal is compared with the other side (both rounded), as
    # Math-Verify's `precision`/`float_rounding`. None: the default rule (>= 6 significant digits, within
    # one unit of the last digit, and only against values with no finite decimal expansion).
    precision: int | None = None

    def __post_init__(self) -> None:
        if self.precision is not None and (
            isinstance(self.precision, bool)
            or not isinstance(self.precision, int)
            or not 0 <= self.precision <= MAX_PRECISION
        ):
            raise ValueError(f"precision must be an integer 0-{MAX_PRECISION}, not {self.precision!r}")


@dataclass(frozen=True)
class GradePair:
    """A gold answer and an already-extracted predicted answer (None = nothing extracted)."""

    gold: Gold
    pred: str | None
    kind: str = "math"


def extract(text: str, kind: str = "math") -> Extraction:
    """The answer in a model response and how it was found (method "none" if nothing was)."""
    return get_grader(kind).extract(text)


def extract_answer(text: str, kind: str = "math") -> str | None:
    """The answer in a model response: last \\boxed{} etc. for "math", a letter for "choice"."""
    return extract(text, kind).answer


def grade_batch(
    pairs: Sequence[GradePair], *, config: GradeConfig | None = None, pool: GradingPool | None = None
) -> list[bool]:
    """Grade many pairs: cheap checks in-process, the rest in one pool submission (duplicates once).

    Raises ValueError/TypeError for an unknown kind or an unusable gold; a failing check is just False.
    """
    config = config or GradeConfig()
    results: list[bool] = []
    slow: dict[tuple[str, str, str], list[int]] = {}
    for index, pair in enumerate(pairs):
        grader = get_grader(pair.kind)
        gold = grader.prepare_gold(pair.gold)
        if pair.pred is not None and not isinstance(pair.pred, str):
            raise TypeError(f"pred must be a string or None, got {type(pair.pred).__name__}")
        verdict: bool | None = False
        if pair.pred is not None:
            try:
                verdict = grader.quick(gold, pair.pred, config.precision)
            except Exception:  # a parsing bug must not sink a whole batch
                logger.exception("grading failed for gold=%r pred=%r", gold, pair.pred)
                verdict = False
        results.append(bool(verdict))
        if verdict is None:
            slow.setdefault((pair.kind, json.dumps(gold), pair.pred or ""), []).append(index)
    if slow:
        tasks = [(kind, json.loads(gold), pred) for kind, gold, pred in slow]
        verdicts = (pool or default_pool()).run(tasks, config.timeout_s, config.precision)
        for indexes, verdict in zip(slow.values(), verdicts, strict=True):
            for index in indexes:
                results[index] = verdict
    return results


def grade(
    gold: Gold,
    pred: str | None,
    kind: str = "math",
    *,
    config: GradeConfig | None = None,
    pool: GradingPool | None = None,
) -> bool:
    """Whether the extracted answer `pred` equals `gold` (a list gold: all parts, in any order)."""
    return grade_batch([GradePair(gold, pred, kind)], config=config, pool=pool)[0]


def grade_response(
    gold: Gold,
    response: str,
    kind: str = "math",
    *,
    config: GradeConfig | None = None,
    pool: GradingPool | None = None,
) -> bool:
    """Extract the answer from a raw model response, then grade it."""
    return grade(gold, extract_answer(response, kind), kind, config=config, pool=pool)
