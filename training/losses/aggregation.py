"""Loss aggregation modes: reduce a [B, T] per-token tensor to a scalar over the valid (mask = 1) tokens.

    token-mean                Σ_{i,t} m·l / Σ_{i,t} m                          verl default; TRL dapo/bnpo
    seq-mean-token-mean       (1/B) Σ_i (Σ_t m·l / Σ_t m)                      original GRPO; TRL grpo
    seq-mean-token-sum        (1/B) Σ_i Σ_t m·l
    seq-mean-token-sum-norm   Σ_{i,t} m·l / L, L a constant (max response length)   Dr. GRPO; verl's mode of
                              the same name; TRL dr_grpo divides by B·L instead

A row without valid tokens counts as a sequence with mean 0 (as TRL does, clamping its token count to 1).
Masked positions are replaced by 0 before summing, so garbage (inf/NaN) at padding cannot leak in.

Micro-batches (gradient accumulation, data-parallel ranks): a mode's value on the whole mini-batch is the sum,
over its micro-batches, of each micro-batch's own value times `share` — the micro-batch's part of the mode's
normaliser (its tokens over the mini-batch's tokens for token-mean, its responses over the mini-batch's
responses for the seq-mean modes, 1 for the constant-normalised sum). `Totals` carries the mini-batch's
counts, over all ranks.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

Aggregator = Callable[[Tensor, Tensor, float | None], Tensor]


def _masked(values: Tensor, mask: Tensor) -> Tensor:
    return torch.where(mask.bool(), values, torch.zeros_like(values))


def _token_mean(values: Tensor, mask: Tensor, norm_length: float | None) -> Tensor:
    return _masked(values, mask).sum() / mask.sum().clamp(min=1)


def _seq_mean_token_mean(values: Tensor, mask: Tensor, norm_length: float | None) -> Tensor:
    per_sequence = _masked(values, mask).sum(dim=-1) / mask.sum(dim=-1).clamp(min=1)
    return per_sequence.mean()


def _seq_mean_token_sum(values: Tensor, mask: Tensor, norm_length: float | None) -> Tensor:
    return _masked(values, mask).sum(dim=-1).mean()


def _seq_mean_token_sum_norm(values: Tensor, mask: Tensor, norm_length: float | None) -> Tensor:
    if norm_length is None or norm_length <= 0:
        raise ValueError("seq-mean-token-sum-norm needs a positive norm_length (the max response length)")
    return _masked(values, mask).sum() / norm_length


AGGREGATIONS: dict[str, Aggregator] = {
    "token-mean": _token_mean,
    "seq-mean-token-mean": _seq_mean_token_mean,
    "seq-mean-token-sum": _seq_mean_token_sum,
    "seq-mean-token-sum-norm": _seq_mean_token_sum_norm,
}


def aggregate(per_token: Tensor, mask: Tensor, mode: str, norm_length: float | None = None) -> Tensor:
    """Scalar loss from a [B, T] per-token tensor and its [B, T] mask (bool or 0/1)."""
    if mode not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation mode {mode!r}; choose one of {sorted(AGGREGATIONS)}")
    if per_token.shape != mask.shape:
        raise ValueError(f"per-token shape {tuple(per_token.shape)} != mask shape {tuple(mask.shape)}")
    return AGGREGATIONS[mode](per_token, mask.to(per_token.dtype), norm_length)


@dataclass(frozen=True)
class Totals:
    """Counts of the whole mini-batch a micro-batch belongs to, over all data-parallel ranks."""

    rows: float  # responses
    tokens: float  # valid (mask = 1) response tokens


def share(mask: Tensor, mode: str, totals: Totals | None) -> float:
    """The part of `mode`'s normaliser that a micro-batch with `mask` [B, T] holds of its mini-batch: its
    loss times this, summed over the micro-batches, is the mini-batch's loss. `totals` None: the micro-batch
    is the whole mini-batch (1)."""
    if mode not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation mode {mode!r}; choose one of {sorted(AGGREGATIONS)}")
    if totals is None or mode == "seq-mean-token-sum-norm":
        return 1.0
    if mode == "token-mean":
        return float(mask.sum()) / max(totals.tokens, 1.0)
    return mask.shape[0] / totals.rows
