"""maj@k (Self-Consistency, Wang et al. 2022) over all k-subsets of the samples: a hand-computed case through
the real grader, and the counting formula against plain enumeration of the subsets."""

import itertools
import random
from collections import Counter
from fractions import Fraction

import pytest

from evaluation.grading import grade_batch
from evaluation.grading.api import GradePair
from evaluation.voting import Votes, answer_votes, majority_at_k, majority_at_k_curve

# 3 problems × 4 samples. Problem 1: gold 5, answers 5, 5, 3, nothing. Problem 2: gold 2, answers 7, 7, 7, 2.
# Problem 3: gold 3, answers \frac{1}{2}, 0.5, 4, 3 — the first two are one answer, by equivalence.
GOLDS = ["5", "2", "3"]
ANSWERS = [["5", "5", "3", None], ["7", "7", "7", "2"], ["\\frac{1}{2}", "0.5", "4", "3"]]


def test_hand_computed_maj_at_k_of_three_problems_with_four_samples():
    verdicts = [
        grade_batch([GradePair(gold, answer) for answer in answers])
        for gold, answers in zip(GOLDS, ANSWERS, strict=True)
    ]
    votes = answer_votes(ANSWERS, verdicts, "math")
    assert votes == [Votes(2, (1,), 1), Votes(1, (3,), 0), Votes(1, (2, 1), 0)]
    # Problem 1, the 6 pairs: {5,5} won, {5,3} ×2 tied (½ each), {5,∅} ×2 won, {3,∅} lost → 4/6.
    # 3 of 4: leaving out a 5 ties 5 with 3 (½, twice), leaving out 3 or ∅ wins → 3/4. All 4: 5 wins.
    # Problem 2: gold 2 only in a subset with it; {2,7} ties (½, 3 of 6 pairs) → 1/4; from 3 samples, 7 wins.
    # Problem 3: {3,x} ties for every x (½, 3 pairs of 6) → 1/4; of the 3 triples with 3, {3,½,0.5} loses and
    # the two with 4 are three-way ties (⅓ each) → 2/3 of 4 → 1/6; all 4: ½ has 2 votes and wins → 0.
    per_problem = [
        [Fraction(1, 2), Fraction(2, 3), Fraction(3, 4), Fraction(1)],
        [Fraction(1, 4), Fraction(1, 4), Fraction(0), Fraction(0)],
        [Fraction(1, 4), Fraction(1, 4), Fraction(1, 6), Fraction(0)],
    ]
    for found, expected in zip(votes, per_problem, strict=True):
        assert majority_at_k(found) == pytest.approx([float(v) for v in expected])
    # Denominator: 3 problems. maj@1 = avg@4 = (2 + 1 + 1) / 12.
    expected_curve = [Fraction(1, 3), Fraction(7, 18), Fraction(11, 36), Fraction(1, 3)]
    assert majority_at_k_curve(votes) == pytest.approx([float(v) for v in expected_curve])


def test_string_identity_would_split_the_equivalent_wrong_answers():
    """Without grading ½ and 0.5 as one answer, problem 3's 4 samples would be a four-way tie (¼), not 0."""
    assert majority_at_k(Votes(1, (1, 1, 1), 0))[-1] == pytest.approx(0.25)


def _enumerated(labels: list[str]) -> list[float]:
    """maj@k by visiting every k-subset: label "C" is the gold answer, "-" an abstention."""
    curve = []
    for k in range(1, len(labels) + 1):
        total = Fraction(0)
        subsets = list(itertools.combinations(labels, k))
        for subset in subsets:
            counts = Counter(label for label in subset if label != "-")
            if not counts:
                continue
            top = max(counts.values())
            tied = [label for label, count in counts.items() if count == top]
            if "C" in tied:
                total += Fraction(1, len(tied))
        curve.append(float(total / len(subsets)))
    return curve


def test_counting_matches_enumeration_of_every_subset():
    rng = random.Random(0)
    for _ in range(40):
        n = rng.randint(1, 9)
        labels = [rng.choice("CCabc-") for _ in range(n)]
        counts = Counter(labels)
        votes = Votes(counts["C"], tuple(counts[x] for x in "abc" if counts[x]), counts["-"])
        assert majority_at_k(votes) == pytest.approx(_enumerated(labels)), labels


def test_maj_at_1_is_avg_and_bad_counts_are_refused():
    assert majority_at_k(Votes(5, (7, 2), 2))[0] == pytest.approx(5 / 16)
    with pytest.raises(ValueError, match="1 to 256 samples"):
        majority_at_k(Votes(0, (), 0))
    with pytest.raises(ValueError, match="positive counts"):
        majority_at_k(Votes(1, (0,), 0))
