"""The built-in graders: "math" (free-form answers) and "choice" (multiple-choice letters)."""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from evaluation.grading.choice import LETTERS, extract_choice, parse_letter
from evaluation.grading.compare import QuickComparator, compare
from evaluation.grading.extract import Extraction, extract_math
from evaluation.grading.normalize import is_oversized, normalize, read_decimal_comma
from evaluation.grading.structure import Node, make_bag, parse_answer

Gold = str | int | float | Sequence[str | int | float]
PreparedGold = str | list[str]  # JSON-friendly, so it can be sent to a pool worker


def _gold_text(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TypeError(f"gold must be a string, a number or a list of them, got {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"gold must be finite, got {value!r}")
    return value if isinstance(value, str) else repr(value)


@lru_cache(maxsize=8192)
def _tree(answer: str) -> Node:
    """Parsed answer; cached because golds (and common predictions) repeat across samples."""
    return parse_answer(normalize(answer))


class MathGrader:
    """Free-form maths answers: normalise, parse to a tree, compare (symbolic leaves in a worker)."""

    def extract(self, text: str) -> Extraction:
        return extract_math(text)

    def prepare_gold(self, gold: Gold) -> PreparedGold:
        """A string, or a list of parts for multi-answer golds (all parts must match, in any order)."""
        if isinstance(gold, str | int | float):
            return _gold_text(gold)
        if not isinstance(gold, Sequence) or not gold:
            raise ValueError("gold must be a string, a number or a non-empty list of them")
        parts = [_gold_text(part) for part in gold]
        return parts[0] if len(parts) == 1 else parts

    def _trees(self, gold: PreparedGold, pred: str) -> tuple[Node, Node]:
        if isinstance(gold, str):
            return _tree(read_decimal_comma(gold, pred)), _tree(read_decimal_comma(pred, gold))
        return make_bag([_tree(part) for part in gold], bare=True), _tree(pred)

    def quick(self, gold: PreparedGold, pred: str, precision: int | None = None) -> bool | None:
        """In-process verdict, or None when a symbolic check is needed."""
        golds = [gold] if isinstance(gold, str) else gold
        if is_oversized(pred) or any(is_oversized(part) for part in golds):
            return pred.strip() == "\n".join(golds).strip()
        return compare(*self._trees(gold, pred), QuickComparator(precision))

    def full(self, gold: PreparedGold, pred: str, precision: int | None = None) -> bool:
        """Complete verdict with sympy; runs inside a pool worker."""
        from evaluation.grading.symbolic import SymbolicComparator  # sympy is only ever loaded in workers

        return compare(*self._trees(gold, pred), SymbolicComparator(precision)) is True


@dataclass(frozen=True)
class ChoiceGrader:
    """Multiple-choice letters; `letters` are the valid options (A-J for MMLU-Pro)."""

    letters: str = LETTERS

    def extract(self, text: str) -> Extraction:
        return extract_choice(text, self.letters)

    def prepare_gold(self, gold: Gold) -> PreparedGold:
        letter = parse_letter(gold, self.letters) if isinstance(gold, str) else None
        if letter is None:
            raise ValueError(f"choice gold must be one letter of {self.letters}, got {gold!r}")
        return letter

    def quick(self, gold: PreparedGold, pred: str, precision: int | None = None) -> bool:
        """A bare letter ("B", "(B)", "B. 42"), else the letter a response states ("The answer is (B).")."""
        letter = parse_letter(pred, self.letters, option_text=True)
        return (letter or extract_choice(pred, self.letters).answer) == gold

    def full(self, gold: PreparedGold, pred: str, precision: int | None = None) -> bool:
        return self.quick(gold, pred)
