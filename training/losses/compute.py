"""Assemble the enabled loss terms of a `LossConfig` into one scalar."""

from dataclasses import dataclass

import torch
from torch import Tensor

from training.losses.aggregation import Totals, aggregate, share
from training.losses.config import LossConfig
from training.losses.kl import kl_penalty
from training.losses.policy import policy_loss


@dataclass
class LossBatch:
    """Per-token tensors of one (micro-)batch of responses; all [B, T] except `advantages` ([B] or [B, T])."""

    old_logp: Tensor
    advantages: Tensor
    mask: Tensor
    ref_logp: Tensor | None = None
    totals: Totals | None = None  # of the mini-batch this is a micro-batch of; None: it is the mini-batch




@dataclass
class LossOutput:
    loss: Tensor  # to backpropagate: this micro-batch's part of the mini-batch's loss (see LossBatch.totals)
    metrics: dict[str, float]  # the micro-batch's own values


def compute_loss(
    logp: Tensor, batch: LossBatch, config: LossConfig, entropy: Tensor | None = None
) -> LossOutput:
    """loss = [policy_loss] * agg(l_PG) + beta * agg(KL) + alpha * agg_H(H); see `LossConfig`.

    `logp` [B, T] are the current policy's log-probs of the response tokens and `entropy` [B, T] its
    per-token entropies (both from `token_logps_and_entropy`, with gradient). `entropy` is required when
    alpha != 0 and `batch.ref_logp` when beta > 0. Metrics hold each term's aggregated value before its
    coefficient, so loss = policy_loss * pg_loss + beta * kl + alpha * entropy; kl and entropy are logged
    whenever their inputs are given.
    """
    if logp.shape != batch.mask.shape or logp.shape != batch.old_logp.shape:
        raise ValueError(f"logp {tuple(logp.shape)}, old_logp {tuple(batch.old_logp.shape)} and mask "
                         f"{tuple(batch.mask.shape)} must have the same shape")
    per_token_pg, metrics = policy_loss(
        logp, batch.old_logp, batch.advantages, batch.mask,
        clip_low=config.clip_ratio_low, clip_high=config.clip_ratio_high, dual_clip_c=config.dual_clip_c,
    )
    pg = aggregate(per_token_pg, batch.mask, config.aggregation, config.norm_length)
    metrics["pg_loss"] = pg.item()
    return with_regularization([pg] if config.policy_loss else [], metrics, logp, entropy, batch, config)


def with_regularization(
    objective: list[Tensor],
    metrics: dict[str, float],
    logp: Tensor,
    entropy: Tensor | None,
    batch: LossBatch,
    config: LossConfig,
) -> LossOutput:
    """An algorithm's own objective terms + beta * agg(KL) + alpha * agg_H(H): the KL and entropy terms that
    every objective (GRPO's clipped PG, SRFT's four parts, GSPO's sequence-level PG) composes with.
    Adds kl and entropy (whenever their inputs are given) and loss to `metrics`.

    The objective terms are aggregated with `config.aggregation`. With `batch.totals` (a micro-batch) each
    term is scaled by the micro-batch's share of its aggregation's normaliser, so that the micro-batches'
    losses sum to the mini-batch's loss exactly whatever the modes; the `loss` metric is unscaled."""
    if config.kl_coef and batch.ref_logp is None:
        raise ValueError("kl_coef > 0 needs batch.ref_logp")
    if config.entropy_coeff and entropy is None:
        raise ValueError("entropy_coeff != 0 needs the per-token entropy")
    objective_share = share(batch.mask, config.aggregation, batch.totals)
    terms = [(term, objective_share) for term in objective]
    if batch.ref_logp is not None:
        per_token_kl = kl_penalty(logp, batch.ref_logp, config.kl_estimator)
        kl = aggregate(per_token_kl, batch.mask, config.aggregation, config.norm_length)
        metrics["kl"] = kl.item()
        if config.kl_coef:
            terms.append((config.kl_coef * kl, objective_share))
    if entropy is not None:
        mean_entropy = aggregate(entropy, batch.mask, config.entropy_aggregation, config.norm_length)
        metrics["entropy"] = mean_entropy.item()
        if config.entropy_coeff:
            entropy_share = share(batch.mask, config.entropy_aggregation, batch.totals)
            terms.append((config.entropy_coeff * mean_entropy, entropy_share))
    metrics["loss"] = float(sum(float(term.detach()) for term, _ in terms))
    loss = torch.stack([term * weight for term, weight in terms]).sum()
    return LossOutput(loss=loss, metrics=metrics)
