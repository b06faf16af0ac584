"""How sure a benchmark score, or a difference of two, is: intervals, paired tests and power.

Definitions follow /work/shared/research-notes/statistics.md:

- Problems are a sample from a population of problems (Miller, "Adding Error Bars to Evals", arXiv
  2411.00640). With K samples per problem, a problem's score x_i = c_i / K and the benchmark score is their
  mean (avg@K). Var(mean) = (σ²_between + σ²_within / K) / n, where σ²_between is the variance of the
  problems' true success rates p_i and σ²_within = E[p_i (1 − p_i)] the variance of one sample around its
  problem's rate (Miller §3.2).
- Intervals behave at small n: Wilson's score interval, not the plain normal one (Bowyer et al., arXiv
  2503.01747). With K > 1 the Wilson interval is taken at the effective number of independent samples,
  n_eff = p̂(1 − p̂) / Var̂(mean) (Kish's design effect), which lies between n (problems all right or all
  wrong) and n·K (no difference between problems); with K = 1 it is exactly n, i.e. plain Wilson.
- Two evaluations of the same problems are compared by per-problem differences (Miller §4): a paired
  bootstrap over problems (resample problem indices with replacement, recompute both scores on the same
  indices, take the difference; the 2.5/97.5 percentiles are the 95 % interval) and, for one sample per
  problem each, McNemar's test on the discordant problems, in its mid-p form (Fagerland, Lydersen & Laake,
  BMC Med. Res. Methodol. 13:91, 2013: the exact conditional test is too conservative).

Scores and differences are fractions (0..1); every function takes numpy arrays and works along the last
axis, so that simulations run thousands of draws at once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist, stdev

import numpy as np

LEVEL = 0.95
ALPHA = 1 - LEVEL
POWER = 0.80
RESAMPLES = 2000
SEED = 0


def z_value(level: float = LEVEL) -> float:
    """The two-sided standard normal quantile of `level` (1.96 for 95 %)."""
    return NormalDist().inv_cdf(0.5 + level / 2)


@dataclass(frozen=True)
class Interval:
    lo: float
    hi: float


def wilson(successes: np.ndarray | float, n: np.ndarray | float, level: float = LEVEL) -> tuple:
    """Wilson's score interval (lo, hi) for `successes` out of `n` (both may be fractional: an effective
    count), element-wise: (p̂ + z²/2n ± z·sqrt(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n)."""
    z = z_value(level)
    n = np.asarray(n, dtype=float)
    p = np.asarray(successes, dtype=float) / n
    centre = p + z * z / (2 * n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    scale = 1 + z * z / n
    return np.clip((centre - half) / scale, 0.0, 1.0), np.clip((centre + half) / scale, 0.0, 1.0)


# ---------------------------------------------------------------- one evaluation


@dataclass(frozen=True)
class ScoreVariance:
    """Miller's two-level decomposition for n problems with K samples each."""

    n: int
    k: int
    mean: float
    between: float  # σ²_between: variance of the problems' true success rates (≥ 0)
    within: float  # σ²_within: mean variance of one sample around its problem's rate

    def standard_error(self, k: int | None = None) -> float:
        """The score's standard error with `k` samples per problem (default the K measured)."""
        return math.sqrt((self.between + self.within / (k or self.k)) / self.n)


def score_variance(correct: Sequence[int], samples: int) -> ScoreVariance:
    """Estimates of σ²_within and σ²_between from each problem's correct count out of `samples`.

    σ²_within: mean of x_i (1 − x_i) · K / (K − 1) (unbiased per problem; 0 when K = 1, where it cannot be
    told from σ²_between, which then holds the whole p̂(1 − p̂)). σ²_between: the sample variance of the x_i
    less σ²_within / K, floored at 0 (Miller §3.2)."""
    x = np.asarray(correct, dtype=float) / samples
    n = x.size
    if n == 0:
        raise ValueError("no problems")
    within = float(np.mean(x * (1 - x)) * samples / (samples - 1)) if samples > 1 else 0.0
    spread = float(np.var(x, ddof=1)) if n > 1 else 0.0
    between = max(0.0, spread - within / samples) if samples > 1 else float(np.mean(x) * (1 - np.mean(x)))
    return ScoreVariance(n, samples, float(np.mean(x)), between, within)


def score_intervals(correct: np.ndarray, samples: int, level: float = LEVEL) -> tuple:
    """95 % intervals (lo, hi) of the avg@K score of each row of `correct` (… × n problems, counts out of
    `samples` = K): Wilson at n_eff = p̂(1 − p̂) / SE², SE² = s² / n with s² the sample variance (ddof 1) of
    the problems' scores — Miller's standard error, which holds both levels of variance — clipped to
    [n, n·K]. With K = 1 it is plain Wilson at n (SE² = p̂(1 − p̂) / n)."""
    x = np.asarray(correct, dtype=float) / samples
    n = x.shape[-1]
    if n == 0:
        raise ValueError("no problems")
    p = x.mean(axis=-1)
    spread = x.var(axis=-1, ddof=1) if samples > 1 and n > 1 else p * (1 - p)
    binomial = p * (1 - p)
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = np.where(spread > 0, n * binomial / spread, n * samples)
    n_eff = np.where(binomial > 0, np.clip(n_eff, n, n * samples), n)
    return wilson(p * n_eff, n_eff, level)


def score_interval(correct: Sequence[int], samples: int, level: float = LEVEL) -> Interval:
    """The interval of one evaluation's avg@K from its problems' correct counts (see score_intervals)."""
    lo, hi = score_intervals(np.asarray(correct), samples, level)
    return Interval(float(lo), float(hi))


def proportion_interval(score: float, n: int, level: float = LEVEL) -> Interval:
    """Wilson at n problems for a score whose per-problem results are unknown (one sample per problem, or
    K samples treated as one: conservative for avg@K)."""
    lo, hi = wilson(score * n, n, level)
    return Interval(float(lo), float(hi))


# ---------------------------------------------------------------- two evaluations of the same problems


@dataclass(frozen=True)
class PairedDifference:
    """B − A over the same problems (score fractions), with its interval and two-sided p-value."""

    difference: float
    lo: float
    hi: float
    p_value: float
    n: int  # problems paired (summed over benchmarks for a suite average)
    method: str

    @property
    def significant(self) -> bool:
        """Whether the difference is distinguishable from noise at ALPHA."""
        return self.p_value < ALPHA

    def stored(self) -> dict:
        return {
            "difference": self.difference,
            "lo": self.lo,
            "hi": self.hi,
            "p": self.p_value,
            "n": self.n,
            "method": self.method,
        }


def bootstrap_weights(n: int, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """(resamples × n) weights: how often each problem is drawn in each resample, over n. A resample's mean
    of per-problem values v is then weights @ v, one matrix product for every resample."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n, np.full(n, 1.0 / n), size=resamples) / n


def percentile_interval_and_p(observed: np.ndarray, resampled: np.ndarray, level: float) -> tuple:
    """Percentile interval and the two-sided p-value of the resampled statistic centred on the observed:
    (1 + #{|d* − d| ≥ |d|}) / (1 + B), the bootstrap's picture of the null distribution."""
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(resampled, [tail, 100 - tail], axis=-1)
    resamples = resampled.shape[-1]
    extreme = np.abs(resampled - observed[..., None]) >= np.abs(observed[..., None]) - 1e-12
    p = (1 + extreme.sum(axis=-1)) / (1 + resamples)
    p = np.where(np.abs(observed) < 1e-12, 1.0, p)
    return lo, hi, p


def paired_bootstrap_many(
    differences: Sequence[np.ndarray], weights: Sequence[np.ndarray], level: float = LEVEL
) -> tuple:
    """The mean over benchmarks of each benchmark's mean per-problem difference (… × n_j, B − A), its
    percentile interval and p-value, resampling every benchmark's problems independently with
    `weights[j]` (resamples × n_j, from bootstrap_weights). One benchmark is the plain paired bootstrap."""
    observed = np.mean([d.mean(axis=-1) for d in differences], axis=0)
    resampled = np.mean([d @ w.T for d, w in zip(differences, weights, strict=True)], axis=0)
    lo, hi, p = percentile_interval_and_p(np.asarray(observed), resampled, level)
    return observed, lo, hi, p


def paired_bootstrap(
    a: Sequence[float], b: Sequence[float], weights: np.ndarray | None = None
) -> PairedDifference:
    """B − A from the two evaluations' per-problem scores (x_i, in the same problem order); `weights`
    from bootstrap_weights (default: RESAMPLES of them, seed SEED)."""
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    if d.size == 0:
        raise ValueError("no problems to pair")
    w = bootstrap_weights(d.size) if weights is None else weights
    diff, lo, hi, p = paired_bootstrap_many([d.astype(w.dtype)], [w])
    return PairedDifference(float(diff), float(lo), float(hi), float(p), d.size, "paired bootstrap")


def mcnemar_mid_p(right_to_wrong: np.ndarray, wrong_to_right: np.ndarray) -> np.ndarray:
    """Two-sided mid-p McNemar test from the discordant problem counts (element-wise): with m = b + c and
    X ~ Binomial(m, ½), p = 2·P(X < min(b, c)) + P(X = min(b, c)), capped at 1; 1 when m = 0."""
    b = np.asarray(right_to_wrong, dtype=int)
    c = np.asarray(wrong_to_right, dtype=int)
    m, low = b + c, np.minimum(b, c)
    p = np.ones(np.broadcast(b, c).shape)
    for index in np.ndindex(p.shape):
        if m[index] == 0:
            continue
        i = np.arange(1, low[index] + 1)
        # log C(m, i) by the running product C(m, i) = C(m, i − 1)·(m − i + 1)/i, then P(X = i) = C(m, i)/2^m
        log_pmf = np.concatenate(([0.0], np.cumsum(np.log(m[index] - i + 1) - np.log(i)))) - m[
            index
        ] * math.log(2)
        pmf = np.exp(log_pmf)
        p[index] = min(1.0, 2 * pmf[:-1].sum() + pmf[-1])
    return p


def paired_difference(
    a: Sequence[float], b: Sequence[float], single_sample: bool = False, weights: np.ndarray | None = None
) -> PairedDifference:
    """B − A from per-problem scores on the same problems: the paired bootstrap's interval and p-value; with
    `single_sample` (one greedy sample per problem on each side, scores 0 or 1) the p-value is McNemar's
    mid-p on the discordant problems and the interval stays the bootstrap's."""
    boot = paired_bootstrap(a, b, weights)
    if not single_sample:
        return boot
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    p = float(mcnemar_mid_p(np.sum(d < 0), np.sum(d > 0)))
    return PairedDifference(boot.difference, boot.lo, boot.hi, p, boot.n, "McNemar mid-p")


# ---------------------------------------------------------------- replicates and power


@dataclass(frozen=True)
class Replicates:
    """One score over seeds: mean ± sample standard deviation, and each seed's value."""

    values: tuple[float, ...]

    @property
    def mean(self) -> float:
        return math.fsum(self.values) / len(self.values)

    @property
    def std(self) -> float:
        """Sample standard deviation (ddof 1); 0 for a single replicate."""
        return stdev(self.values) if len(self.values) > 1 else 0.0


def detectable_difference(variance: ScoreVariance, k: int | None = None, power: float = POWER) -> float:
    """The smallest true difference between two systems that a two-sided test at ALPHA detects with
    `power`, with `k` samples per problem: (z_{1−α/2} + z_power) · SE_diff, SE_diff² = 2·(σ²_between +
    σ²_within / k) / n — the two systems' scores taken as independent, the upper bound of what pairing
    reaches (Miller §5)."""
    z = z_value(1 - ALPHA) + NormalDist().inv_cdf(power)
    return z * math.sqrt(2) * variance.standard_error(k)


def samples_needed(variance: ScoreVariance, target: float, limit: int = 1024) -> int | None:
    """The fewest samples per problem that bring detectable_difference under `target`; None when even
    `limit` samples do not (σ²_between alone is too large: more problems are needed)."""
    for k in range(1, limit + 1):
        if detectable_difference(variance, k) < target:
            return k
    return None


def pass_at_k_curve(correct: Sequence[int], samples: Sequence[int]) -> list[float]:
    """Unbiased pass@k (Chen et al. 2021, 1 − C(n−c, k)/C(n, k)) averaged over problems, for k = 1 … the
    fewest samples any problem has."""
    c = np.asarray(correct, dtype=float)
    n = np.asarray(samples, dtype=float)
    curve = []
    for k in range(1, int(n.min()) + 1):
        # 1 − prod_{i = n−c+1 … n} (1 − k/i), as in evaluation.metrics.pass_at_k, for every problem at once
        i = np.arange(1, int(n.max()) + 1)
        factors = np.where((i > (n - c)[:, None]) & (i <= n[:, None]), 1 - k / i, 1.0)
        values = np.where(n - c < k, 1.0, 1 - np.prod(factors, axis=1))
        curve.append(float(values.mean()))
    return curve
