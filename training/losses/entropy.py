"""Per-token entropy and token log-probabilities from logits.

Temperature: rollouts are sampled from softmax(z / T). verl and TRL both divide the training logits by
the same T before taking log-probs and entropies, so that on-policy ratios are exactly 1 and the entropy is
that of the sampling distribution. `token_logps_and_entropy` does the division; `entropy_from_logits`
expects logits that are already divided by T.

Both work in float32 and tolerate -inf logits (masked vocabulary entries contribute 0 * log 0 = 0).
"""

import torch
from torch import Tensor


def entropy_from_logp(logp: Tensor) -> Tensor:
    """H = -Σ_v p_v log p_v from log-probabilities `logp` [..., V]; returns shape [...]."""
    # 0·(-inf) would be NaN: clamp log p to the most negative finite value first (its gradient there is 0).
    finite_logp = logp.clamp(min=torch.finfo(logp.dtype).min)
    return -(logp.exp() * finite_logp).sum(dim=-1)


def entropy_from_logits(logits: Tensor, chunk_size: int | None = None) -> Tensor:
    """H = -Σ_v p_v log p_v over the last dim of `logits` [..., V]; returns shape [...].

    `chunk_size` (rows of the flattened [N, V] view) bounds the float32 working memory to chunk_size·V. It
    helps when entropy is only a metric (under torch.no_grad); under autograd every chunk's intermediates are
    kept for backward anyway.
    """
    if chunk_size is None:
        return entropy_from_logp(torch.log_softmax(logits.float(), dim=-1))
    rows = logits.reshape(-1, logits.shape[-1])
    chunks = [entropy_from_logp(torch.log_softmax(c.float(), dim=-1)) for c in rows.split(chunk_size)]
    return torch.cat(chunks).reshape(logits.shape[:-1])


def token_logps_and_entropy(
    logits: Tensor, tokens: Tensor, temperature: float = 1.0
) -> tuple[Tensor, Tensor]:
    """log π(token) and H(π) at every position of `logits` [B, T, V] for `tokens` [B, T], with π =
    softmax(logits / temperature). The logits at position t must be those that predicted tokens[:, t]."""
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    logp = torch.log_softmax(logits.float() / temperature, dim=-1)
    token_logp = logp.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
    return token_logp, entropy_from_logp(logp)
