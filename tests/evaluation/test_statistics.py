"""evaluation.statistics against hand-computed cases, and simulations of its intervals' coverage and its
paired tests' false-positive rate (definitions: /work/shared/research-notes/statistics.md; Miller, arXiv
2411.00640; Fagerland et al. 2013 for the mid-p McNemar test)."""

import math

import numpy as np
import pytest

from evaluation.metrics import pass_at_k
from evaluation.statistics import (
    Replicates,
    bootstrap_weights,
    detectable_difference,
    mcnemar_mid_p,
    paired_bootstrap,
    paired_bootstrap_many,
    paired_difference,
    pass_at_k_curve,
    proportion_interval,
    samples_needed,
    score_interval,
    score_intervals,
    score_variance,
    wilson,
)

DRAWS = 2000


def test_wilson_matches_the_textbook_case():
    lo, hi = wilson(3, 10)  # Wilson's interval of 3/10 at 95 %: 0.1078 .. 0.6032
    assert (float(lo), float(hi)) == pytest.approx((0.1078, 0.6032), abs=1e-4)
    zero = proportion_interval(0.0, 30)
    assert zero.lo == 0.0 and zero.hi == pytest.approx(3.8415 / (30 + 3.8415), abs=1e-4)  # z²/(n+z²)


def test_one_sample_per_problem_is_plain_wilson():
    correct = [1] * 7 + [0] * 23
    assert score_interval(correct, 1) == proportion_interval(7 / 30, 30)


def test_avg_at_k_interval_lies_between_problems_and_samples_as_units():
    """Per-problem scores 0, ½ and 1 vary less than 0/1 problems would (n_eff > n) and more than 24
    independent samples would (n_eff < n·K)."""
    interval = score_interval([0, 4, 8] * 10, 8)
    by_problems, by_samples = proportion_interval(0.5, 30), proportion_interval(0.5, 240)
    assert by_problems.lo < interval.lo < by_samples.lo
    assert by_samples.hi < interval.hi < by_problems.hi


def test_variance_decomposition_by_hand():
    """x = 0, ½, 1 with K = 8: σ²_within = mean(x(1−x))·8/7 = (1/12)(8/7); σ²_between = var(x) − σ²_w/8."""
    variance = score_variance([0, 4, 8], 8)
    within = (0.25 / 3) * 8 / 7
    assert variance.within == pytest.approx(within)
    assert variance.between == pytest.approx(0.25 - within / 8)
    assert variance.standard_error() == pytest.approx(math.sqrt(0.25 / 3))


def test_mcnemar_mid_p_by_hand():
    """b = 1, c = 5: X ~ Bin(6, ½), mid-p = 2·P(X = 0) + P(X = 1) = 2/64 + 6/64."""
    assert float(mcnemar_mid_p(1, 5)) == pytest.approx(8 / 64)
    assert float(mcnemar_mid_p(0, 0)) == 1.0
    assert float(mcnemar_mid_p(3, 3)) == 1.0


def test_paired_bootstrap_of_a_constant_difference_has_no_spread():
    result = paired_bootstrap([0.0] * 10, [0.5] * 10, bootstrap_weights(10, 200))
    assert (result.difference, result.lo, result.hi) == pytest.approx((0.5, 0.5, 0.5))
    assert result.p_value == pytest.approx(1 / 201) and result.significant
    same = paired_bootstrap([0.0, 1.0] * 5, [0.0, 1.0] * 5)
    assert same.difference == 0 and same.p_value == 1.0 and not same.significant


def test_paired_difference_uses_mcnemar_for_one_sample_each():
    a = [1] * 10 + [0] * 20
    b = [1] * 9 + [0] + [1] * 5 + [0] * 15  # 1 right → wrong, 5 wrong → right
    result = paired_difference(a, b, single_sample=True)
    assert result.method == "McNemar mid-p" and result.p_value == pytest.approx(8 / 64)
    assert result.difference == pytest.approx(4 / 30) and result.lo < 4 / 30 < result.hi
    assert paired_difference([0.5, 1.0], [1.0, 1.0]).method == "paired bootstrap"


def test_pass_at_k_curve_matches_the_per_problem_definition():
    assert pass_at_k_curve([1], [4]) == pytest.approx([0.25, 0.5, 0.75, 1.0])  # 1 − C(3,k)/C(4,k)
    correct, samples = [0, 3, 8, 5], [8, 8, 8, 8]
    expected = [np.mean([pass_at_k(8, c, k) for c in correct]) for k in range(1, 9)]
    assert pass_at_k_curve(correct, samples) == pytest.approx(expected)


def test_replicates_mean_and_sample_std():
    seeds = Replicates((0.30, 0.36, 0.33))
    assert seeds.mean == pytest.approx(0.33) and seeds.std == pytest.approx(0.03)
    assert Replicates((0.5,)).std == 0.0


def test_power_analysis_by_hand():
    """One sample per problem at p̂ = ½, n = 30: MDE = (1.96 + 0.8416)·sqrt(2·0.25/30) = 0.3617."""
    variance = score_variance([1] * 15 + [0] * 15, 1)
    assert detectable_difference(variance) == pytest.approx(2.8016 * math.sqrt(0.5 / 30), abs=1e-4)
    spread = score_variance([0, 2, 4, 6, 8] * 100, 8)  # 500 problems, mostly within-problem noise
    k = samples_needed(spread, 0.06)
    assert k is not None and detectable_difference(spread, k) < 0.06 <= detectable_difference(spread, k - 1)
    assert samples_needed(score_variance([0, 8] * 15, 8), 0.02) is None  # between-problem spread alone


# ---------------------------------------------------------------- simulations (seeded, vectorised)


def _draws(rng, truth: float, n: int, k: int) -> np.ndarray:
    """DRAWS evaluations of n problems: with k = 1 each problem is right with probability `truth`; with
    k > 1 problems have their own rates p_i ~ Beta(2·truth, 2·(1 − truth)) (mean `truth`, very uneven, as
    on reasoning benchmarks) and k samples each."""
    if k == 1:
        return rng.binomial(1, truth, size=(DRAWS, n))
    return rng.binomial(k, rng.beta(2 * truth, 2 * (1 - truth), size=(DRAWS, n)))


@pytest.mark.parametrize("k", [1, 8])
@pytest.mark.parametrize("n", [30, 500])
@pytest.mark.parametrize("truth", [0.25, 0.6])
def test_intervals_cover_the_true_rate_95_percent_of_the_time(truth, n, k):
    lo, hi = score_intervals(_draws(np.random.default_rng(16), truth, n, k), k)
    coverage = np.mean((lo <= truth) & (truth <= hi))
    assert 0.93 <= coverage <= 0.97, coverage


@pytest.mark.parametrize("k", [1, 8])
@pytest.mark.parametrize("n", [30, 500])
def test_paired_tests_reject_a_true_null_about_5_percent_of_the_time(n, k):
    """A and B share every problem's rate (no real difference) and sample independently."""
    rng = np.random.default_rng(7)
    rates = rng.beta(0.6, 0.6, size=(DRAWS, n))
    a, b = rng.binomial(k, rates), rng.binomial(k, rates)
    if k == 1:
        p = mcnemar_mid_p(((a == 1) & (b == 0)).sum(axis=1), ((a == 0) & (b == 1)).sum(axis=1))
    else:
        _, _, _, p = paired_bootstrap_many([(b - a) / k], [bootstrap_weights(n, 1000)])
    assert 0.03 <= np.mean(p < 0.05) <= 0.07
