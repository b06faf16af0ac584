"""Benchmark scores from per-sample verdicts (grading happens elsewhere: these take bools).

avg@k is the mean over problems of each problem's mean correctness over ALL its samples (the Qwen2.5-Math
evaluator scores only the first sample; see research-notes/evaluation.md §1.6). With one sample per
problem it is plain accuracy.
"""

import math
import re
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from evaluation.benchmarks.problem import Problem
from evaluation.voting import Votes, majority_at_k_curve

REFLECTION_WORDS = ("rethink", "recheck", "recalculate")
_REFLECTION_PATTERNS = {word: re.compile(rf"\b{word}\b", re.IGNORECASE) for word in REFLECTION_WORDS}

# Repetition rule (see is_repetitive): the response's tail is at least REPEAT_MIN_COPIES back-to-back
# copies of one unit of 1..REPEAT_MAX_UNIT characters, spanning at least REPEAT_MIN_SPAN characters.
REPEAT_MIN_COPIES = 10
REPEAT_MAX_UNIT = 200
REPEAT_MIN_SPAN = 100


@dataclass(frozen=True)
class SampleOutcome:
    """One generated response to one problem, with its verdict."""

    problem_id: str
    correct: bool
    text: str = ""
    n_tokens: int = 0
    finish_reason: str | None = None  # as the generation backend reports it: "stop", "length", ...


@dataclass(frozen=True)
class LengthStats:
    """Response lengths in tokens."""

    mean: float
    median: float
    min: int
    max: int


@dataclass(frozen=True)
class BenchmarkScore:
    n_problems: int
    n_samples: int
    avg_at_k: float
    length: LengthStats
    boxed_ratio: float
    truncation_ratio: float
    repetition_ratio: float
    reflection_words: dict[str, float]  # mean occurrences per response
    pass_at_k: dict[int, float] = field(default_factory=dict)
    maj_at_k: dict[int, float] = field(
        default_factory=dict
    )  # k = 1 … samples (evaluation.voting); {}: no votes
    by_subject: dict[str, float] = field(default_factory=dict)  # avg@k within each subject
    by_level: dict[str, float] = field(default_factory=dict)  # avg@k within each level, keyed by str(level)


def _mean(values: Iterable[float], what: str) -> float:
    values = list(values)
    if not values:
        raise ValueError(f"no {what} to average")
    return math.fsum(values) / len(values)


def accuracy(verdicts: Iterable[bool]) -> float:
    """Fraction of correct verdicts."""
    return _mean((float(verdict) for verdict in verdicts), "verdicts")


def _by_problem(outcomes: Iterable[SampleOutcome]) -> dict[str, list[bool]]:
    verdicts: dict[str, list[bool]] = {}
    for outcome in outcomes:
        verdicts.setdefault(outcome.problem_id, []).append(outcome.correct)
    return verdicts


def avg_at_k(outcomes: Iterable[SampleOutcome]) -> float:
    """Mean over problems of the fraction of each problem's samples that are correct."""
    return _mean((accuracy(verdicts) for verdicts in _by_problem(outcomes).values()), "problems")


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem with n samples of which c are correct: 1 - C(n-c, k) / C(n, k).

    Computed as 1 - prod_{i=n-c+1..n} (1 - k/i), which never forms the huge binomials.
    """
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got c={c}, n={n}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def mean_pass_at_k(outcomes: Iterable[SampleOutcome], k: int) -> float:
    """pass@k averaged over problems; every problem needs at least k samples."""
    per_problem = _by_problem(outcomes).values()
    return _mean((pass_at_k(len(verdicts), sum(verdicts), k) for verdicts in per_problem), "problems")


def _breakdown(
    outcomes: Sequence[SampleOutcome], problems: Sequence[Problem], key: Callable[[Problem], str | None]
) -> dict[str, float]:
    """avg@k within each group of problems; problems whose key is None are left out."""
    group_of = {problem.id: key(problem) for problem in problems}
    groups: dict[str, list[SampleOutcome]] = {}
    for outcome in outcomes:
        group = group_of[outcome.problem_id]
        if group is not None:
            groups.setdefault(group, []).append(outcome)
    return {group: avg_at_k(members) for group, members in sorted(groups.items())}


def by_subject(outcomes: Sequence[SampleOutcome], problems: Sequence[Problem]) -> dict[str, float]:
    return _breakdown(outcomes, problems, lambda problem: problem.subject)


def by_level(outcomes: Sequence[SampleOutcome], problems: Sequence[Problem]) -> dict[str, float]:
    return _breakdown(
        outcomes, problems, lambda problem: None if problem.level is None else str(problem.level)
    )


def length_stats(n_tokens: Sequence[int]) -> LengthStats:
    if not n_tokens:
        raise ValueError("no lengths")
    return LengthStats(
        mean=_mean(n_tokens, "lengths"),
        median=float(statistics.median(n_tokens)),
        min=min(n_tokens),
        max=max(n_tokens),
    )


def boxed_ratio(texts: Iterable[str]) -> float:
    """Fraction of responses containing `\\boxed{`."""
    return _mean((float("\\boxed{" in text) for text in texts), "responses")


def truncation_ratio(finish_reasons: Iterable[str | None]) -> float:
    """Fraction of responses cut off by the token limit (finish reason "length")."""
    return _mean((float(reason == "length") for reason in finish_reasons), "responses")


def is_repetitive(text: str) -> bool:
    """Whether the response ends in a degenerate loop.

    True when, for some unit length u in 1..REPEAT_MAX_UNIT characters, the last
    max(REPEAT_MIN_COPIES * u, REPEAT_MIN_SPAN) characters (trailing whitespace ignored) are periodic with
    period u, i.e. the tail is one character n-gram repeated at least REPEAT_MIN_COPIES times back to
    back. Working on characters rather than words means a loop cut off mid-word by the token limit still
    counts. Only the tail is checked: a response that loops and then recovers is not repetitive.
    """
    tail = text.rstrip()
    for unit in range(1, REPEAT_MAX_UNIT + 1):
        span = max(REPEAT_MIN_COPIES * unit, REPEAT_MIN_SPAN)
        if span > len(tail):
            return False
        window = tail[-span:]
        if window[unit:] == window[:-unit]:
            return True
    return False


def repetition_ratio(texts: Iterable[str]) -> float:
    """Fraction of responses that end in a loop, by the rule of is_repetitive."""
    return _mean((float(is_repetitive(text)) for text in texts), "responses")


def reflection_word_counts(text: str) -> dict[str, int]:
    """Occurrences of each self-reflection word as a whole word, case-insensitive ("Recheck" counts,
    "rechecking" does not)."""
    return {word: len(pattern.findall(text)) for word, pattern in _REFLECTION_PATTERNS.items()}


def reflection_word_frequency(texts: Iterable[str]) -> dict[str, float]:
    """Mean occurrences per response of each self-reflection word."""
    counts = [reflection_word_counts(text) for text in texts]
    return {word: _mean((count[word] for count in counts), "responses") for word in REFLECTION_WORDS}


def score_benchmark(
    outcomes: Sequence[SampleOutcome],
    problems: Sequence[Problem] | None = None,
    pass_ks: Sequence[int] = (),
    votes: Sequence[Votes] = (),
) -> BenchmarkScore:
    """All metrics for one benchmark run. Breakdowns need `problems`, which must then cover exactly
    the problems that have outcomes; maj@k needs each problem's `votes`."""
    if not outcomes:
        raise ValueError("no outcomes to score")
    if problems is not None:
        _check_coverage(outcomes, problems)
    return BenchmarkScore(
        n_problems=len(_by_problem(outcomes)),
        n_samples=len(outcomes),
        avg_at_k=avg_at_k(outcomes),
        length=length_stats([outcome.n_tokens for outcome in outcomes]),
        boxed_ratio=boxed_ratio(outcome.text for outcome in outcomes),
        truncation_ratio=truncation_ratio(outcome.finish_reason for outcome in outcomes),
        repetition_ratio=repetition_ratio(outcome.text for outcome in outcomes),
        reflection_words=reflection_word_frequency(outcome.text for outcome in outcomes),
        pass_at_k={k: mean_pass_at_k(outcomes, k) for k in pass_ks},
        maj_at_k=dict(enumerate(majority_at_k_curve(votes), 1)) if votes else {},
        by_subject=by_subject(outcomes, problems) if problems is not None else {},
        by_level=by_level(outcomes, problems) if problems is not None else {},
    )


def _check_coverage(outcomes: Sequence[SampleOutcome], problems: Sequence[Problem]) -> None:
    known = {problem.id for problem in problems}
    scored = {outcome.problem_id for outcome in outcomes}
    if unknown := sorted(scored - known):
        raise ValueError(f"{len(unknown)} outcomes name unknown problems, e.g. {unknown[:3]}")
    if unscored := sorted(known - scored):
        raise ValueError(f"{len(unscored)} problems have no outcomes, e.g. {unscored[:3]}")


def best_average_checkpoint(scores: Mapping[int, Mapping[str, float]]) -> int:
    """The step whose mean score over benchmarks is highest; ties go to the earliest step.

    Every checkpoint must be scored on the same benchmarks, or the means would not be comparable.
    """
    if not scores:
        raise ValueError("no checkpoints to choose from")
    steps = sorted(scores)
    benchmarks = set(scores[steps[0]])
    best_step, best_mean = steps[0], -math.inf
    for step in steps:
        if set(scores[step]) != benchmarks:
            raise ValueError(
                f"step {step} is scored on {sorted(scores[step])}, step {steps[0]} on {sorted(benchmarks)}"
            )
        mean = _mean(scores[step].values(), f"benchmark scores for step {step}")
        if mean > best_mean:
            best_step, best_mean = step, mean
    return best_step
