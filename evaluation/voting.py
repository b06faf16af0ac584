"""maj@k: the share of problems on which the majority-voted answer of k samples is correct.

Majority voting over sampled reasoning paths is Self-Consistency (Wang et al. 2022, arXiv 2203.11171);
DeepSeek-R1 (arXiv 2501.12948) reports it as cons@64. For one problem with n samples:

- Each sample votes for its extracted answer; a sample with no extracted answer abstains (casts no vote).
- Answers are compared by equivalence, not string identity: every sample graded correct votes for the gold
  answer, and the wrong answers are grouped by the grader (`answer_votes`).
- The voted answer of a set of samples is the answer with the most votes; a tie between t answers is
  broken uniformly at random, so a correct answer tied with t − 1 others counts 1/t. A set in which every
  sample abstains has no answer: wrong.
- maj@k is the expected correctness of the voted answer of k samples drawn without replacement from the n,
  over all C(n, k) subsets alike: the U-statistic form of Chen et al. 2021's unbiased pass@k, so it
  estimates the maj@k of k fresh samples without bias and maj@1 equals avg@n. Peers vote on the first k
  samples only (lighteval's MajAtK, Qwen2.5-Math's rm_maj_eval.py, ties to the answer seen first): one
  draw of the same quantity, with more variance.

The benchmark's maj@k is the mean over problems (the denominator: problems evaluated).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from math import comb

import numpy as np

from evaluation.grading import GradePair, get_grader, grade_batch

# Distinct wrong answers of one problem compared with each other, at most C(32, 2) = 496 gradings a problem;
# the ones after the first MAX_COMPARED (in order of first appearance) each count as their own answer.
MAX_COMPARED = 32
# maj@k is computed for up to this many samples a problem: about 25 ms for each distinct Votes at 256 samples
# (the binomials would stay within a float64 up to 1,029).
MAX_SAMPLES = 256


@dataclass(frozen=True)
class Votes:
    """One problem's samples by the answer they vote for."""

    correct: int  # samples graded correct: all vote for the gold answer
    wrong: tuple[int, ...]  # samples per distinct (inequivalent) wrong answer
    abstained: int  # samples with no extracted answer

    @property
    def samples(self) -> int:
        return self.correct + sum(self.wrong) + self.abstained


def _distinct(answers: Sequence[str]) -> list[tuple[str, int]]:
    """Each distinct string with its count, in order of first appearance."""
    counts: dict[str, int] = {}
    for answer in answers:
        counts[answer] = counts.get(answer, 0) + 1
    return list(counts.items())


def _usable_as_gold(answer: str, kind: str) -> bool:
    try:
        get_grader(kind).prepare_gold(answer)
    except (TypeError, ValueError):
        return False
    return True


def answer_votes(
    answers: Sequence[Sequence[str | None]], verdicts: Sequence[Sequence[bool]], kind: str
) -> list[Votes]:
    """Per problem, its samples' votes: `answers` are the extracted answers (None: nothing extracted) and
    `verdicts` their grades against the gold answer.

    Wrong answers are grouped as Qwen2.5-Math's rm_maj_eval.py groups answers with `math_equal`: in order of
    first appearance, each joins the group of the first earlier answer that grades equal to it with that
    answer as the gold (evaluation.grading); every round grades the pairs of all problems in one batch."""
    wrong = [
        _distinct([a for a, ok in zip(group, oks, strict=True) if a is not None and not ok])
        for group, oks in zip(answers, verdicts, strict=True)
    ]
    sizes: list[list[int]] = [[count for _, count in found[MAX_COMPARED:]] for found in wrong]
    pending = [found[:MAX_COMPARED] for found in wrong]
    while any(pending):
        pairs, asked = [], []
        for problem, found in enumerate(pending):
            if not found:
                continue
            head = found[0][0]
            if _usable_as_gold(head, kind):
                pairs += [GradePair(head, answer, kind) for answer, _ in found[1:]]
                asked.append((problem, len(found) - 1))
            else:
                asked.append((problem, 0))
        verdict = iter(grade_batch(pairs))
        for problem, compared in asked:
            (_, count), *rest = pending[problem]
            same = [next(verdict) for _ in range(compared)] + [False] * (len(rest) - compared)
            sizes[problem].append(count + sum(n for (_, n), equal in zip(rest, same, strict=True) if equal))
            pending[problem] = [item for item, equal in zip(rest, same, strict=True) if not equal]
    return [
        Votes(sum(oks), tuple(sorted(found, reverse=True)), sum(a is None for a in group))
        for group, oks, found in zip(answers, verdicts, sizes, strict=True)
    ]


@lru_cache(maxsize=4096)
def _majority_at_k(votes: Votes) -> tuple[float, ...]:
    """maj@k of one problem for k = 1 … n, exactly, by counting subsets.

    A k-subset with x ≥ 1 correct samples is won by the gold answer when no wrong answer has more than x of
    its votes, shared with the t wrong answers that have exactly x. Wrong answers with fewer than x samples
    can never reach x, so they count as abstentions ("free" samples). For the others, a table
    ways[t, j] counts the choices of j non-correct samples in which t wrong answers hold exactly x votes
    and none more; it does not depend on k, so one table per x serves every k."""
    n, correct = votes.samples, votes.correct
    others = n - correct
    credit = np.zeros(n + 1)  # credit[k]: the summed credit of all k-subsets
    for x in range(1, correct + 1):
        big = [w for w in votes.wrong if w >= x]
        free = others - sum(big)
        ways = np.zeros((len(big) + 1, others + 1))
        ways[0, : free + 1] = [comb(free, j) for j in range(free + 1)]
        for size in big:
            grown = np.zeros_like(ways)
            for j in range(x):  # j < x votes for this answer
                grown[:, j:] += comb(size, j) * ways[:, : others + 1 - j]
            grown[1:, x:] += comb(size, x) * ways[:-1, : others + 1 - x]  # exactly x votes: one more tie
            ways = grown
        won = (ways / np.arange(1, len(big) + 2)[:, None]).sum(axis=0)  # a tie with t others counts 1/(t+1)
        credit[x : x + others + 1] += comb(correct, x) * won
    return tuple(min(float(credit[k] / comb(n, k)), 1.0) for k in range(1, n + 1))  # rounding stays ≤ 1


def majority_at_k(votes: Votes) -> list[float]:
    """maj@k of one problem for k = 1 … its samples (see the module docstring)."""
    if not 1 <= votes.samples <= MAX_SAMPLES:
        raise ValueError(f"maj@k needs 1 to {MAX_SAMPLES} samples a problem, got {votes.samples}")
    if votes.correct < 0 or votes.abstained < 0 or any(w < 1 for w in votes.wrong):
        raise ValueError(f"votes must be positive counts, got {votes}")
    return list(_majority_at_k(Votes(votes.correct, tuple(sorted(votes.wrong)), votes.abstained)))


def majority_at_k_curve(problems: Sequence[Votes]) -> list[float]:
    """maj@k averaged over problems for k = 1 … the fewest samples any problem has."""
    if not problems:
        raise ValueError("no problems to vote on")
    curves = [majority_at_k(votes) for votes in problems]
    shortest = min(len(curve) for curve in curves)
    return [float(np.mean([curve[k] for curve in curves])) for k in range(shortest)]
