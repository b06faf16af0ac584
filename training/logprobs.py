"""The policy's log-probs and entropies of response tokens, in bounded memory.

`TokenLogProbs` wraps a Hugging Face causal LM. Its forward runs the decoder (`model.base_model`) to the final
hidden states and applies the LM head itself, only at real response positions and `chunk_tokens` positions
at a time, each chunk under activation checkpointing: the float32 [positions, vocabulary] logits,
log-softmax and softmax exist for one chunk at a time, in the forward and again (recomputed) in the
backward, never for the whole micro-batch (verl's fused linear-for-PPO, Liger's fused linear cross-entropy
do the same job). What autograd keeps per chunk is its [chunk, hidden] input.

The wrapper is also the unit FSDP2 shards as its root (training/sharding.py): the embedding, the final norm
and the LM head (tied or not) are the root's parameters, unsharded for the whole of its forward, the decoder
layers are sharded one by one.

`activation_checkpointing` recomputes every decoder layer in the backward (Hugging Face's per-layer
checkpointing, which keeps FSDP2's hooks outside the recomputation). Transformers only checkpoints a layer
in training mode; the trainer keeps the model in eval mode (no dropout), so the forward sets the `training`
flag of the decoder layers alone (not of their submodules, whose dropout stays off) while gradients are on.
"""

from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint
from transformers import PreTrainedModel
from transformers.modeling_layers import GradientCheckpointingLayer

from training.losses.entropy import entropy_from_logp

DEFAULT_CHUNK_TOKENS = 1024


class TokenLogProbs(nn.Module):
    """log π(response token) and H(π) at every response position of a right-padded response block, with
    π = softmax(lm_head(h) / temperature). Only models whose logits are exactly `lm_head(final hidden
    state)` are supported (Llama, Qwen, Mistral, ...; not soft-capped logits)."""

    def __init__(
        self,
        model: PreTrainedModel,
        chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
        activation_checkpointing: bool = False,
    ) -> None:
        super().__init__()
        if chunk_tokens < 1:
            raise ValueError(f"logprob_chunk_tokens must be >= 1, got {chunk_tokens}")
        if getattr(model.config, "final_logit_softcapping", None):
            raise ValueError(f"{type(model).__name__} soft-caps its logits; chunked log-probs do not")
        self.model = model
        self.chunk_tokens = chunk_tokens
        self.checkpointed_layers: list[nn.Module] = []
        if activation_checkpointing:
            checkpointing = partial(checkpoint, use_reentrant=False)
            for module in model.modules():
                if isinstance(module, GradientCheckpointingLayer):
                    module.gradient_checkpointing = True
                    module._gradient_checkpointing_func = checkpointing
                    self.checkpointed_layers.append(module)
            if not self.checkpointed_layers:
                raise ValueError(
                    f"{type(model).__name__} has no layers that support activation checkpointing"
                )

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor,
        response_ids: Tensor,
        response_mask: Tensor,
        temperature: float,
    ) -> tuple[Tensor, Tensor]:
        """`input_ids`/`attention_mask` [N, P + T] (prompts left-padded, responses right-padded),
        `response_ids`/`response_mask` [N, T]. Returns log-probs and entropies [N, T], 0 at padding (loss
        aggregation masks padding out)."""
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        for layer in self.checkpointed_layers:
            layer.training = torch.is_grad_enabled()
        # Position ids count real tokens only, as generation with left padding does.
        position_ids = (attention_mask.cumsum(dim=-1) - 1).clamp(min=0)
        hidden = self.model.base_model(
            input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False
        ).last_hidden_state
        width = response_ids.shape[1]
        # The hidden state at position t predicts token t + 1: the T positions before each response token.
        predicting = hidden[:, -width - 1 : -1]
        real = response_mask.bool()
        if not real.any():
            # No response token at all: one position still goes through the head, so that every parameter
            # is in the graph (its gradient 0, not None: sharded ranks reduce every gradient).
            real = torch.zeros_like(real)
            real[0, 0] = True
        head = self.model.get_output_embeddings()
        logps, entropies = [], []
        states, tokens = predicting[real], response_ids[real]
        for state, token in zip(
            states.split(self.chunk_tokens), tokens.split(self.chunk_tokens), strict=True
        ):
            logp, entropy = checkpoint(
                _chunk_logps_and_entropy,
                state,
                token,
                head.weight,
                head.bias,
                temperature,
                use_reentrant=False,
            )
            logps.append(logp)
            entropies.append(entropy)
        zeros = hidden.new_zeros(real.shape, dtype=torch.float32)
        return zeros.masked_scatter(real, torch.cat(logps)), zeros.masked_scatter(real, torch.cat(entropies))


def _chunk_logps_and_entropy(
    states: Tensor, tokens: Tensor, weight: Tensor, bias: Tensor | None, temperature: float
) -> tuple[Tensor, Tensor]:
    """log π(token) and H(π) of `states` [M, H] through the LM head (`weight` [V, H]), in float32."""
    logits = F.linear(states, weight, bias).float() / temperature
    logp = torch.log_softmax(logits, dim=-1)
    return logp.gather(-1, tokens.unsqueeze(-1)).squeeze(-1), entropy_from_logp(logp)
