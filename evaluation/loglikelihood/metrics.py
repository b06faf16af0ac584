"""Multiple-choice accuracy from per-option log-likelihoods, as lm-evaluation-harness 0.4.13 defines it
(`lm_eval/api/task.py`, ConfigurableTask.process_results, output_type multiple_choice):

- acc: the option with the highest summed log-likelihood is the gold one;
- acc_norm: the same after dividing each log-likelihood by its choice's length in characters
  (`len(choice)`, the choice without the target delimiter; characters, not bytes nor tokens);
- acc_mutual_info: after subtracting each option's unconditional log-likelihood (its continuation scored
  after the BOS/EOS token alone), log P(choice | context) - log P(choice).

Ties go to the first option (numpy.argmax). Every accuracy's denominator is the number of questions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field


def first_argmax(values: Sequence[float]) -> int:
    return max(range(len(values)), key=lambda i: (values[i], -i))


@dataclass(frozen=True)
class ItemScore:
    """One question scored: each option's log-likelihood and the choice strings they normalise by."""

    problem_id: str
    gold: int
    choices: tuple[str, ...]
    logprobs: tuple[float, ...]
    is_greedy: tuple[bool, ...]
    n_tokens: tuple[int, ...]
    unconditional: tuple[float, ...] | None = None

    @property
    def pred(self) -> int:
        return first_argmax(self.logprobs)

    @property
    def pred_norm(self) -> int:
        return first_argmax(
            [lp / len(choice) for lp, choice in zip(self.logprobs, self.choices, strict=True)]
        )

    @property
    def pred_mutual_info(self) -> int | None:
        if self.unconditional is None:
            return None
        return first_argmax([c - u for c, u in zip(self.logprobs, self.unconditional, strict=True)])

    def correct(self, metric: str) -> bool:
        pred = {"acc": self.pred, "acc_norm": self.pred_norm, "acc_mutual_info": self.pred_mutual_info}[
            metric
        ]
        if pred is None:
            raise ValueError(f"{self.problem_id}: {metric} needs the unconditional log-likelihoods")
        return pred == self.gold


@dataclass(frozen=True)
class ChoiceScore:
    """Accuracies over `n_problems` questions, with the standard error of each (sample std / sqrt(n),
    as lm-evaluation-harness reports acc_stderr); `by_subject` is the primary metric per subject."""

    n_problems: int
    primary: str
    accuracy: dict[str, float]
    stderr: dict[str, float | None]  # None with fewer than 2 questions
    by_subject: dict[str, float] = field(default_factory=dict)

    @property
    def value(self) -> float:
        return self.accuracy[self.primary]


def _mean_and_stderr(verdicts: list[bool]) -> tuple[float, float | None]:
    n = len(verdicts)
    mean = sum(verdicts) / n
    if n < 2:
        return mean, None
    variance = sum((v - mean) ** 2 for v in verdicts) / (n - 1)
    return mean, math.sqrt(variance / n)


def score_items(items: Sequence[ItemScore], primary: str, subjects: Sequence[str | None]) -> ChoiceScore:
    if not items:
        raise ValueError("no questions to score")
    metrics = ["acc", "acc_norm"] + (["acc_mutual_info"] if items[0].unconditional is not None else [])
    accuracy, stderr = {}, {}
    for metric in metrics:
        accuracy[metric], stderr[metric] = _mean_and_stderr([item.correct(metric) for item in items])
    groups: dict[str, list[bool]] = {}
    for item, subject in zip(items, subjects, strict=True):
        if subject is not None:
            groups.setdefault(subject, []).append(item.correct(primary))
    by_subject = {subject: sum(v) / len(v) for subject, v in sorted(groups.items())}
    return ChoiceScore(len(items), primary, accuracy, stderr, by_subject)
