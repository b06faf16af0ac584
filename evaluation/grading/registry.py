"""Graders keyed by answer kind; a new kind is a new entry here, not a new branch in the API."""

from types import MappingProxyType
from typing import Protocol

from evaluation.grading.extract import Extraction
from evaluation.grading.graders import ChoiceGrader, Gold, MathGrader, PreparedGold


class Grader(Protocol):
    def extract(self, text: str) -> Extraction: ...

    def prepare_gold(self, gold: Gold) -> PreparedGold:
        """Validate and canonicalise a gold answer; raises ValueError/TypeError if it is unusable."""
        ...

    def quick(self, gold: PreparedGold, pred: str, precision: int | None = None) -> bool | None:
        """Cheap in-process verdict; None means "run full() in a pool worker".

        `precision`: decimal places for comparing decimal literals (GradeConfig.precision), if it applies.
        """
        ...

    def full(self, gold: PreparedGold, pred: str, precision: int | None = None) -> bool: ...


GRADERS: MappingProxyType[str, Grader] = MappingProxyType({"math": MathGrader(), "choice": ChoiceGrader()})


def get_grader(kind: str) -> Grader:
    grader = GRADERS.get(kind) if isinstance(kind, str) else None
    if grader is None:
        raise ValueError(f"unknown answer kind {kind!r}; expected one of {sorted(GRADERS)}")
    return grader
