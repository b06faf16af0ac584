"""GSPO's policy loss (Zheng et al. 2025, arXiv 2507.18071, Eqs. 5-7 and the GSPO-token form, Eq. 13).

With the length-normalised sequence ratio

    s_i = (π_θ(y_i|x) / π_old(y_i|x))^(1/|y_i|) = exp( (1/|y_i|) Σ_t [log π_θ(y_i,t) - log π_old(y_i,t)] )

the objective is J = (1/G) Σ_i min(s_i·A_i, clip(s_i, 1 - ε_left, 1 + ε_right)·A_i). It is computed in the
GSPO-token form s_i,t = sg[s_i] · π_θ(y_i,t) / sg[π_θ(y_i,t)], whose value is s_i at every token and whose
gradient, averaged over a sequence's tokens, is GSPO's: so the per-token loss below, aggregated
seq-mean-token-mean, is exactly -J and has exactly its gradient.
"""

import torch
from torch import Tensor

LOG_RATIO_CLAMP = 20.0


def gspo_policy_loss(
    logp: Tensor, old_logp: Tensor, advantages: Tensor, mask: Tensor, clip_low: float, clip_high: float
) -> tuple[Tensor, dict[str, float]]:
    """Per-token loss [B, T] (-min(s·A, clip(s)·A) at every valid token of a sequence, 0 elsewhere) and
    metrics: clip_frac (share of sequences whose ratio is clipped), ratio_mean (mean s_i)."""
    valid = mask.bool()
    lengths = valid.sum(dim=-1).clamp(min=1)
    log_ratio = torch.where(valid, logp - old_logp, 0.0).sum(dim=-1) / lengths
    sequence_ratio = torch.exp(log_ratio.clamp(-LOG_RATIO_CLAMP, LOG_RATIO_CLAMP))  # s_i, [B]
    token_ratio = sequence_ratio.detach().unsqueeze(-1) * torch.exp(logp - logp.detach())
    advantage = advantages.unsqueeze(-1) if advantages.dim() == 1 else advantages
    unclipped = -advantage * token_ratio
    clipped = -advantage * token_ratio.clamp(1.0 - clip_low, 1.0 + clip_high)
    per_token = torch.where(valid, torch.maximum(unclipped, clipped), 0.0)
    with torch.no_grad():
        outside = (sequence_ratio < 1.0 - clip_low) | (sequence_ratio > 1.0 + clip_high)
        metrics = {
            "clip_frac": float(outside.float().mean()),
            "ratio_mean": float(sequence_ratio.mean()),
        }
    return per_token, metrics
