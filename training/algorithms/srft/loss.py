"""SRFT loss (Fu et al. 2025, arXiv 2506.19767): SFT + off-policy RL on demonstrations and entropy-weighted
RL on self-rollouts, in one objective. Sources and open choices: docs/srft.md.

Per valid token t of a response k with group advantage A_k, p_t = π_θ(y_t), H_t the entropy of π_θ at t
(sg = stop-gradient):

    self-rollout, A_k > 0    w_RL,t · l_PG,t        w_RL,t = rl_positive_weight_scale · sg(exp(H_t))
    self-rollout, A_k <= 0   l_PG,t                 (l_PG: `policy_loss`, clips of LossConfig)
    demonstration, RL        -A_k · f(p_t)          f(p) = p/(p + γ) (code), or p with γ = None (paper Eq. 10)
    demonstration, SFT       w_SFT,t · (-log p_t)   w_SFT,t = sft_weight_scale · sg(exp(±H_t))

    loss = agg(sum of the four) + β·agg(KL) + α·agg_H(H)      (agg, β, α from LossConfig)

The four parts are aggregated separately with the same mask; aggregation is linear, so the loss is exactly
the sum of the parts reported in the metrics.
"""

from dataclasses import dataclass

import torch
from torch import Tensor

from training.algorithms.srft.config import EntropyScope, SRFTConfig
from training.losses import LossBatch, LossConfig, LossOutput, aggregate, policy_loss, with_regularization


def _masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    return aggregate(values, mask, "token-mean")


def _agg(values: Tensor, mask: Tensor, loss: LossConfig) -> Tensor:
    return aggregate(values, mask, loss.aggregation, loss.norm_length)


def entropy_weight(entropy: Tensor, mask: Tensor, scale: float, sign: int, scope: EntropyScope) -> Tensor:
    """scale · exp(sign · H), detached, [B, T]; H per token or its mean over `mask` (scope 'batch_mean')."""
    entropy = entropy.detach().float()
    if scope == "batch_mean":
        entropy = _masked_mean(entropy, mask).expand_as(entropy)
    return scale * torch.exp(sign * entropy)


def demo_rl_loss(logp: Tensor, advantages: Tensor, gamma: float | None) -> Tensor:
    """Per-token off-policy loss on demonstration tokens: -A·f(p), f(p) = p/(p+γ), or p when γ is None."""
    p = logp.exp()
    shaped = p if gamma is None else p / (p + gamma)
    return -advantages.unsqueeze(-1).to(p.dtype) * shaped


@dataclass(frozen=True)
class SRFTParts:
    """The per-token [B, T] loss parts (0 outside their token set), the weights applied in them and the
    token sets (0/1 masks) of the demonstrations and of the positive self-rollouts."""

    sft: Tensor
    demo_rl: Tensor
    rl_positive: Tensor
    rl_negative: Tensor
    w_sft: Tensor
    w_rl: Tensor
    demo_mask: Tensor
    positive_mask: Tensor


def srft_parts(
    logp: Tensor, entropy: Tensor, batch: LossBatch, is_demo: Tensor, loss: LossConfig, srft: SRFTConfig
) -> tuple[SRFTParts, dict[str, float]]:
    """The four SRFT loss parts per token; `is_demo` [B] marks demonstration rows. Returns PG statistics
    (clip_frac, ratio_mean, ...) over the self-rollout tokens."""
    mask = batch.mask.to(logp.dtype)
    demo = is_demo.unsqueeze(-1).to(logp.dtype) * mask
    own = mask - demo
    advantages = batch.advantages if batch.advantages.dim() == 1 else batch.advantages[:, 0]
    positive = (advantages > 0).unsqueeze(-1).to(logp.dtype) * own
    negative = own - positive

    pg, stats = policy_loss(
        logp, batch.old_logp, advantages, own,
        clip_low=loss.clip_ratio_low, clip_high=loss.clip_ratio_high, dual_clip_c=loss.dual_clip_c,
    )
    w_sft = entropy_weight(entropy, demo, srft.sft_weight_scale, srft.sft_entropy_sign, srft.entropy_scope)
    w_rl = (
        entropy_weight(entropy, positive, srft.rl_positive_weight_scale, 1, srft.entropy_scope)
        if srft.rl_positive_entropy_weight
        else torch.ones_like(logp).detach()
    )
    parts = SRFTParts(
        sft=torch.where(demo.bool(), w_sft * -logp, 0.0),
        demo_rl=torch.where(demo.bool(), demo_rl_loss(logp, advantages, srft.demo_shaping_gamma), 0.0),
        rl_positive=torch.where(positive.bool(), w_rl * pg, 0.0),
        rl_negative=torch.where(negative.bool(), pg, 0.0),
        w_sft=w_sft,
        w_rl=w_rl,
        demo_mask=demo,
        positive_mask=positive,
    )
    return parts, stats


def compute_srft_loss(
    logp: Tensor, entropy: Tensor, batch: LossBatch, is_demo: Tensor, loss: LossConfig, srft: SRFTConfig
) -> LossOutput:
    """loss = agg(sft + demo_rl + rl_positive + rl_negative) + β·agg(KL) + α·agg_H(H), see the module doc.

    Metrics: the four parts (sft_loss, demo_rl_loss, rl_positive_loss, rl_negative_loss) aggregated over the
    whole micro-batch (so that they sum to pg_loss = their total), sft_nll (mean -log p on demonstration
    tokens), w_sft / w_rl (mean weight on demonstration / positive self-rollout tokens, 0 when there are
    none), demo_prob_mean, kl, entropy, loss and the PG statistics of the self-rollout tokens. A term the
    objective does not have reports nothing (LUFFY: no sft_loss or w_sft; no w_rl without its weighting),
    so that run pages chart only what the algorithm produces.
    """
    if logp.shape != batch.mask.shape or entropy.shape != logp.shape:
        raise ValueError(f"logp {tuple(logp.shape)}, entropy {tuple(entropy.shape)} and mask "
                         f"{tuple(batch.mask.shape)} must have the same shape")
    parts, metrics = srft_parts(logp, entropy, batch, is_demo, loss, srft)
    mask = batch.mask
    named = {
        "sft_loss": parts.sft,
        "demo_rl_loss": parts.demo_rl,
        "rl_positive_loss": parts.rl_positive,
        "rl_negative_loss": parts.rl_negative,
    }
    aggregated = {name: _agg(part, mask, loss) for name, part in named.items()}
    total = torch.stack(list(aggregated.values())).sum()
    has_sft = srft.sft_weight_scale > 0
    metrics.update(
        {name: value.item() for name, value in aggregated.items() if has_sft or name != "sft_loss"}
    )
    metrics["pg_loss"] = total.item()

    with torch.no_grad():
        demo = parts.demo_mask
        metrics["sft_nll"] = _masked_mean(-logp.detach(), demo).item()
        if has_sft:
            metrics["w_sft"] = _masked_mean(parts.w_sft, demo).item()
        if srft.rl_positive_entropy_weight:
            metrics["w_rl"] = _masked_mean(parts.w_rl, parts.positive_mask).item()
        metrics["demo_prob_mean"] = _masked_mean(logp.detach().exp(), demo).item()

    return with_regularization([total], metrics, logp, entropy, batch, loss)
