import math
from dataclasses import replace

import pytest
import torch

from tests.training.loss_ablations import ABLATIONS
from training.losses import (
    AGGREGATIONS,
    KL_ESTIMATORS,
    LossBatch,
    LossConfig,
    aggregate,
    compute_loss,
    entropy_from_logits,
    kl_penalty,
    policy_loss,
    token_logps_and_entropy,
)

LN2 = math.log(2.0)

# Shared tiny batch: 2 sequences x 3 tokens, the last token of sequence 1 is padding.
MASK = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
ADVANTAGES = torch.tensor([1.0, -1.0])
# Ratios r = π_θ/π_old per token; the padded one (2.0) must never matter.
RATIOS = torch.tensor([[1.0, 1.5, 0.5], [0.5, 4.0, 2.0]])


def _policy_inputs(ratios: torch.Tensor = RATIOS) -> tuple[torch.Tensor, torch.Tensor]:
    old_logp = torch.full(ratios.shape, math.log(0.25))
    logp = (old_logp + ratios.log()).requires_grad_()
    return logp, old_logp


# Per-token policy loss for RATIOS, ε = 0.2, c = 3, l = max(-A·r, -A·clip(r, 0.8, 1.2)):
#   seq 0 (A = +1): r=1.0 → max(-1.0, -1.0) = -1.0
#                   r=1.5 → max(-1.5, -1.2) = -1.2   (clipped)
#                   r=0.5 → max(-0.5, -0.8) = -0.5
#   seq 1 (A = -1): r=0.5 → max(0.5, 0.8)   =  0.8   (clipped); dual: min(0.8, 3) = 0.8
#                   r=4.0 → max(4.0, 1.2)   =  4.0;             dual: min(4.0, 3) = 3.0 (dual-clipped)
#                   r=2.0 → max(2.0, 1.2)   =  2.0   (padding)
EXPECTED_PG = torch.tensor([[-1.0, -1.2, -0.5], [0.8, 3.0, 2.0]])


def test_policy_loss_clips_both_sides_and_dual_clips():
    logp, old_logp = _policy_inputs()
    loss, stats = policy_loss(logp, old_logp, ADVANTAGES, MASK)
    torch.testing.assert_close(loss, EXPECTED_PG)
    # clipped branch active on (0,1) and (1,0): 2 of 5 valid tokens; dual clip on (1,1): 1 of 5
    assert stats["clip_frac"] == pytest.approx(0.4)
    assert stats["dual_clip_frac"] == pytest.approx(0.2)
    # mean ratio over valid tokens: (1 + 1.5 + 0.5 + 0.5 + 4) / 5 = 1.5
    assert stats["ratio_mean"] == pytest.approx(1.5)
    # approx_kl = mean(-log r) = -(0 + ln1.5 + ln0.5 + ln0.5 + ln4)/5 = -ln(1.5)/5
    assert stats["approx_kl"] == pytest.approx(-math.log(1.5) / 5)


def test_policy_loss_gradient_vanishes_where_clipped():
    # dl/dlogp = -A·r on unclipped tokens, 0 where clipped or dual-clipped.
    # token-mean over 5 tokens: (0,0): -1·1/5 = -0.2; (0,2): -1·0.5/5 = -0.1; the rest 0.
    logp, old_logp = _policy_inputs()
    loss, _ = policy_loss(logp, old_logp, ADVANTAGES, MASK)
    aggregate(loss, MASK, "token-mean").backward()
    torch.testing.assert_close(logp.grad, torch.tensor([[-0.2, 0.0, -0.1], [0.0, 0.0, 0.0]]))


def test_policy_loss_asymmetric_clip_and_no_dual_clip():
    # ε_high = 0.28: (0,1) → max(-1.5, -1.28) = -1.28; dual clip off: (1,1) stays 4.0
    logp, old_logp = _policy_inputs()
    loss, stats = policy_loss(logp, old_logp, ADVANTAGES, MASK, clip_high=0.28, dual_clip_c=None)
    torch.testing.assert_close(loss, torch.tensor([[-1.0, -1.28, -0.5], [0.8, 4.0, 2.0]]))
    assert stats["dual_clip_frac"] == 0.0


def test_policy_loss_accepts_token_level_advantages():
    logp, old_logp = _policy_inputs()
    per_token = ADVANTAGES.unsqueeze(-1).expand(2, 3)
    loss, _ = policy_loss(logp, old_logp, per_token, MASK)
    torch.testing.assert_close(loss, EXPECTED_PG)


def test_log_ratio_is_clamped_to_20():
    # log r = 30 → clamped to 20: r = e^20 finite; A = 1 → clipped branch -1.2 is the max; no inf/NaN.
    logp = torch.tensor([[30.0]], requires_grad=True)
    loss, stats = policy_loss(logp, torch.zeros(1, 1), torch.tensor([1.0]), torch.ones(1, 1))
    assert loss.item() == pytest.approx(-1.2)
    assert stats["ratio_mean"] == pytest.approx(math.exp(20.0))
    loss.sum().backward()
    assert logp.grad.item() == 0.0


def test_policy_loss_rejects_dual_clip_at_most_one():
    logp, old_logp = _policy_inputs()
    with pytest.raises(ValueError):
        policy_loss(logp, old_logp, ADVANTAGES, MASK, dual_clip_c=1.0)


# Aggregation of EXPECTED_PG (valid tokens: seq 0 sums to -2.7 over 3, seq 1 to 3.8 over 2):
#   token-mean              (-2.7 + 3.8) / 5        = 0.22
#   seq-mean-token-mean     (-2.7/3 + 3.8/2) / 2    = (-0.9 + 1.9) / 2 = 0.5
#   seq-mean-token-sum      (-2.7 + 3.8) / 2        = 0.55
#   seq-mean-token-sum-norm (-2.7 + 3.8) / L, L = 4 = 0.275
@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("token-mean", 0.22),
        ("seq-mean-token-mean", 0.5),
        ("seq-mean-token-sum", 0.55),
        ("seq-mean-token-sum-norm", 0.275),
    ],
)
def test_aggregation_modes(mode, expected):
    assert aggregate(EXPECTED_PG, MASK, mode, norm_length=4).item() == pytest.approx(expected)


def test_aggregation_registry_and_errors():
    assert set(AGGREGATIONS) == {
        "token-mean",
        "seq-mean-token-mean",
        "seq-mean-token-sum",
        "seq-mean-token-sum-norm",
    }
    with pytest.raises(ValueError):
        aggregate(EXPECTED_PG, MASK, "sum-of-everything")
    with pytest.raises(ValueError):
        aggregate(EXPECTED_PG, MASK, "seq-mean-token-sum-norm")  # no norm_length
    with pytest.raises(ValueError):
        aggregate(EXPECTED_PG, MASK[:, :2], "token-mean")


def test_aggregation_ignores_non_finite_padding():
    values = EXPECTED_PG.clone()
    values[1, 2] = float("nan")
    assert aggregate(values, MASK.bool(), "token-mean").item() == pytest.approx(0.22)


# KL with π_θ(token) = 0.5, π_ref(token) = 0.25, so d = log π_ref - log π_θ = -ln 2:
#   k1 = -d = ln 2 = 0.693147;  k2 = d²/2 = 0.240227;  k3 = e^d - d - 1 = 0.5 + ln 2 - 1 = 0.193147
# and reversed (π_θ = 0.25, π_ref = 0.5, d = +ln 2):
#   k1 = -0.693147;  k2 = 0.240227;  k3 = 2 - ln 2 - 1 = 0.306853
@pytest.mark.parametrize(
    ("estimator", "forward", "reverse"),
    [
        ("k1", LN2, -LN2),
        ("k2", LN2**2 / 2, LN2**2 / 2),
        ("k3", LN2 - 0.5, 1 - LN2),
        ("kl", LN2, -LN2),
        ("mse", LN2**2 / 2, LN2**2 / 2),
        ("low_var_kl", LN2 - 0.5, 1 - LN2),
    ],
)
def test_kl_estimators(estimator, forward, reverse):
    logp = torch.tensor([math.log(0.5), math.log(0.25)])
    ref_logp = torch.tensor([math.log(0.25), math.log(0.5)])
    torch.testing.assert_close(kl_penalty(logp, ref_logp, estimator), torch.tensor([forward, reverse]))


def test_k3_clamps_like_verl():
    # d = +30 → clamped to 20: e^20 - 21 ≈ 4.85e8 → clamped to 10.
    # d = -30 → clamped to -20: e^-20 + 20 - 1 ≈ 19 → clamped to 10.
    logp = torch.tensor([0.0, 0.0])
    ref_logp = torch.tensor([30.0, -30.0])
    torch.testing.assert_close(kl_penalty(logp, ref_logp, "k3"), torch.tensor([10.0, 10.0]))


def test_kl_registry_rejects_unknown():
    assert {"k1", "k2", "k3"} <= set(KL_ESTIMATORS)
    with pytest.raises(ValueError):
        kl_penalty(torch.zeros(1), torch.zeros(1), "k4")


@pytest.mark.parametrize("vocab", [2, 7, 1000])
def test_entropy_of_uniform_is_log_v(vocab):
    logits = torch.zeros(2, 3, vocab)
    torch.testing.assert_close(entropy_from_logits(logits), torch.full((2, 3), math.log(vocab)))


def test_entropy_of_known_distribution_and_masked_vocab():
    # p = [0.5, 0.25, 0.25]: H = 0.5·ln2 + 2·0.25·ln4 = 1.5·ln2 = 1.039721
    # -inf logits are impossible tokens: [0, 0, -inf] → uniform over 2 → ln 2, no NaN.
    logits = torch.tensor([[math.log(0.5), math.log(0.25), math.log(0.25)], [0.0, 0.0, float("-inf")]])
    logits.requires_grad_()
    entropy = entropy_from_logits(logits)
    torch.testing.assert_close(entropy, torch.tensor([1.5 * LN2, LN2]))
    entropy.sum().backward()
    assert torch.isfinite(logits.grad).all()


def test_entropy_chunking_gives_the_same_values():
    logits = torch.randn(3, 5, 11, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(entropy_from_logits(logits, chunk_size=4), entropy_from_logits(logits))


def test_token_logps_and_entropy_divide_by_temperature():
    # logits [0, ln3] at T = 2 → [0, ln3/2] → p ∝ [1, √3]: p = [0.366025, 0.633975]
    # H = -(0.366025·ln 0.366025 + 0.633975·ln 0.633975) = 0.367811 + 0.288827 = 0.656638
    logits = torch.tensor([[[0.0, math.log(3.0)]]])
    logp, entropy = token_logps_and_entropy(logits, torch.tensor([[1]]), temperature=2.0)
    p1 = math.sqrt(3) / (1 + math.sqrt(3))
    assert logp.item() == pytest.approx(math.log(p1))
    assert entropy.item() == pytest.approx(-(p1 * math.log(p1) + (1 - p1) * math.log(1 - p1)))
    with pytest.raises(ValueError):
        token_logps_and_entropy(logits, torch.tensor([[1]]), temperature=0.0)


def test_entropy_bonus_sign_convention():
    # One token, logits z = [0, ln3] → p = [0.25, 0.75]; H = 0.25·ln4 + 0.75·ln(4/3) = 0.562335.
    # ∂H/∂z_j = -p_j (ln p_j + H):
    #   j=0: -0.25·(-1.386294 + 0.562335) = +0.205990;  j=1: -0.75·(-0.287682 + 0.562335) = -0.205990
    # Entropy-only loss = alpha·H with alpha = -0.001 → ∂loss/∂z = [-2.0599e-4, +2.0599e-4]:
    # gradient descent raises z_0 (the rarer token) and lowers z_1 → p flattens → H increases (a bonus).
    z = torch.tensor([[[0.0, math.log(3.0)]]], requires_grad=True)
    logp, entropy = token_logps_and_entropy(z, torch.tensor([[1]]))
    assert entropy.item() == pytest.approx(0.562335, abs=1e-6)
    batch = LossBatch(old_logp=logp.detach(), advantages=torch.zeros(1), mask=torch.ones(1, 1))
    config = ABLATIONS["entropy-only"]
    assert config.entropy_coeff == -0.001
    output = compute_loss(logp, batch, config, entropy=entropy)
    assert output.loss.item() == pytest.approx(-0.001 * 0.562335, abs=1e-9)
    output.loss.backward()
    torch.testing.assert_close(z.grad, torch.tensor([[[-2.05990e-4, 2.05990e-4]]]), atol=1e-9, rtol=1e-4)

    def entropy_after_step(alpha: float) -> float:
        logits = torch.tensor([[[0.0, math.log(3.0)]]], requires_grad=True)
        lp, ent = token_logps_and_entropy(logits, torch.tensor([[1]]))
        compute_loss(lp, batch, replace(config, entropy_coeff=alpha), entropy=ent).loss.backward()
        with torch.no_grad():
            return entropy_from_logits(logits - 100.0 * logits.grad).item()

    assert entropy_after_step(-0.001) > 0.562335  # alpha < 0: bonus, entropy rises
    assert entropy_after_step(+0.001) < 0.562335  # alpha > 0: penalty, entropy falls


# compute_loss on an on-policy batch (r ≡ 1, nothing clipped), MASK, ADVANTAGES = [+1, -1]:
#   pg (token-mean) = (-1·3 + 1·2) / 5 = -0.2
#   π_θ = 0.5, π_ref = 0.25 on every token → k3 = ln2 - 0.5 = 0.193147 (token-mean the same)
#   entropy = ln 2 on every token → 0.693147
#   full: -0.2 + 0.001·0.193147 - 0.001·0.693147 = -0.2005
def _on_policy_inputs() -> tuple[torch.Tensor, LossBatch, torch.Tensor]:
    logp = torch.full((2, 3), math.log(0.5), requires_grad=True)
    batch = LossBatch(
        old_logp=logp.detach().clone(),
        advantages=ADVANTAGES,
        mask=MASK,
        ref_logp=torch.full((2, 3), math.log(0.25)),
    )
    return logp, batch, torch.full((2, 3), LN2)


PG, KL3, H = -0.2, LN2 - 0.5, LN2


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("full", PG + 0.001 * KL3 - 0.001 * H),
        ("pg-only", PG),
        ("pg+wd", PG),
        ("pg+wd+kl", PG + 0.001 * KL3),
        ("no-policy-loss", 0.001 * KL3 - 0.001 * H),
        ("entropy-only", -0.001 * H),
    ],
)
def test_compute_loss_ablations(name, expected):
    logp, batch, entropy = _on_policy_inputs()
    output = compute_loss(logp, batch, ABLATIONS[name], entropy=entropy)
    assert output.loss.item() == pytest.approx(expected, abs=1e-7)
    metrics = output.metrics
    assert metrics["pg_loss"] == pytest.approx(PG)
    assert metrics["kl"] == pytest.approx(KL3)
    assert metrics["entropy"] == pytest.approx(H)
    assert metrics["clip_frac"] == 0.0 and metrics["ratio_mean"] == pytest.approx(1.0)
    assert metrics["loss"] == pytest.approx(expected, abs=1e-7)


def test_disabled_terms_contribute_no_gradient():
    # entropy-only: the entropy tensor here is a constant, so logp gets no gradient from pg or KL.
    logp, batch, entropy = _on_policy_inputs()
    entropy.requires_grad_()
    compute_loss(logp, batch, ABLATIONS["entropy-only"], entropy=entropy).loss.backward()
    assert logp.grad is None
    # d(alpha·token-mean H)/dH = alpha/5 on valid tokens, 0 on padding
    torch.testing.assert_close(entropy.grad, -0.001 / 5 * MASK)
    # pg-only: gradient -A·r/5 on valid tokens = ∓0.2; no KL contribution
    logp, batch, entropy = _on_policy_inputs()
    compute_loss(logp, batch, ABLATIONS["pg-only"], entropy=entropy).loss.backward()
    torch.testing.assert_close(logp.grad, torch.tensor([[-0.2, -0.2, -0.2], [0.2, 0.2, 0.0]]))


@pytest.mark.parametrize("estimator", ["k1", "k2"])
def test_compute_loss_other_kl_estimators(estimator):
    # k1 = ln2, k2 = (ln2)²/2 on every token; pg + 0.1·KL
    logp, batch, _ = _on_policy_inputs()
    config = LossConfig(kl_coef=0.1, kl_estimator=estimator, entropy_coeff=0.0)
    expected_kl = {"k1": LN2, "k2": LN2**2 / 2}[estimator]
    output = compute_loss(logp, batch, config)
    assert output.loss.item() == pytest.approx(PG + 0.1 * expected_kl)
    assert "entropy" not in output.metrics


def test_compute_loss_dr_grpo_aggregation():
    # seq-mean-token-sum-norm, L = 4: pg = (-3 + 2) / 4 = -0.25; KL and entropy off
    logp, batch, _ = _on_policy_inputs()
    config = LossConfig(aggregation="seq-mean-token-sum-norm", norm_length=4, kl_coef=0.0, entropy_coeff=0.0)
    assert compute_loss(logp, batch, config).loss.item() == pytest.approx(-0.25)


def test_compute_loss_requires_inputs_of_enabled_terms():
    logp, batch, _ = _on_policy_inputs()
    with pytest.raises(ValueError, match="entropy"):
        compute_loss(logp, batch, LossConfig())
    with pytest.raises(ValueError, match="ref_logp"):
        compute_loss(logp, replace(batch, ref_logp=None), LossConfig(entropy_coeff=0.0))
    with pytest.raises(ValueError):
        compute_loss(logp[:, :2], batch, LossConfig(kl_coef=0.0, entropy_coeff=0.0))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"aggregation": "nope"},
        {"aggregation": "seq-mean-token-sum-norm"},
        {"kl_estimator": "k9"},
        {"dual_clip_c": 0.5},
        {"kl_coef": -1.0},
        {"policy_loss": False, "kl_coef": 0.0, "entropy_coeff": 0.0},
    ],
)
def test_loss_config_validation(kwargs):
    with pytest.raises(ValueError):
        LossConfig(**kwargs)


def test_loss_config_fields_have_help():
    from dataclasses import fields

    assert all(f.metadata.get("help") for f in fields(LossConfig))
