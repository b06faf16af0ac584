"""Padded tensors of a rollout batch and the policy's log-probs of its response tokens.

Layout (verl's): prompts left-padded to a common width P, responses right-padded to a width T, so that
the logits predicting the response tokens are one contiguous slice for every row. Position ids are
counted over real tokens only (cumsum of the attention mask), as generation with left padding does, so a
padded row scores its tokens as the unpadded sequence would.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from transformers import PreTrainedModel

from training.losses import token_logps_and_entropy


@dataclass(frozen=True)
class RolloutBatch:
    input_ids: Tensor  # [N, P + T]
    attention_mask: Tensor  # [N, P + T]
    response_ids: Tensor  # [N, T]
    response_mask: Tensor  # [N, T], 1.0 on real response tokens
    prompt_lengths: Tensor  # [N]
    response_lengths: Tensor  # [N]

    @classmethod
    def build(
        cls,
        prompt_ids: Sequence[Sequence[int]],
        response_ids: Sequence[Sequence[int]],
        pad_token_id: int,
        device: torch.device | str = "cpu",
    ) -> "RolloutBatch":
        if len(prompt_ids) != len(response_ids):
            raise ValueError(f"{len(prompt_ids)} prompts but {len(response_ids)} responses")
        width_p = max(len(ids) for ids in prompt_ids)
        width_t = max(1, max(len(ids) for ids in response_ids))
        rows, masks = [], []
        for prompt, response in zip(prompt_ids, response_ids, strict=True):
            left, right = width_p - len(prompt), width_t - len(response)
            rows.append([pad_token_id] * left + list(prompt) + list(response) + [pad_token_id] * right)
            masks.append([0] * left + [1] * (len(prompt) + len(response)) + [0] * right)
        input_ids = torch.tensor(rows, dtype=torch.long, device=device)
        prompt_lengths = torch.tensor([len(ids) for ids in prompt_ids], device=device)
        response_lengths = torch.tensor([len(ids) for ids in response_ids], device=device)
        return cls(
            input_ids=input_ids,
            attention_mask=torch.tensor(masks, dtype=torch.long, device=device),
            response_ids=input_ids[:, width_p:],
            response_mask=(torch.arange(width_t, device=device) < response_lengths.unsqueeze(1)).float(),
            prompt_lengths=prompt_lengths,
            response_lengths=response_lengths,
        )

    def __len__(self) -> int:
        return self.input_ids.shape[0]

    @property
    def response_width(self) -> int:
        return self.response_ids.shape[1]

    def select(self, rows: Tensor) -> "RolloutBatch":
        """The given rows, with padding columns that none of them uses trimmed away (less compute)."""
        prompt_width = self.input_ids.shape[1] - self.response_width
        start = prompt_width - int(self.prompt_lengths[rows].max())
        width_t = max(1, int(self.response_lengths[rows].max()))
        input_ids = self.input_ids[rows, start : prompt_width + width_t]
        return RolloutBatch(
            input_ids=input_ids,
            attention_mask=self.attention_mask[rows, start : prompt_width + width_t],
            response_ids=input_ids[:, prompt_width - start :],
            response_mask=self.response_mask[rows, :width_t],
            prompt_lengths=self.prompt_lengths[rows],
            response_lengths=self.response_lengths[rows],
        )


def response_logps_and_entropy(
    model: PreTrainedModel, batch: RolloutBatch, temperature: float
) -> tuple[Tensor, Tensor]:
    """log π(response token) and the entropy of π at each response position, both [N, T], with
    π = softmax(logits / temperature). Only the T + 1 last positions go through the LM head."""
    position_ids = (batch.attention_mask.cumsum(dim=-1) - 1).clamp(min=0)
    logits = model(
        input_ids=batch.input_ids,
        attention_mask=batch.attention_mask,
        position_ids=position_ids,
        logits_to_keep=batch.response_width + 1,
        use_cache=False,
    ).logits
    return token_logps_and_entropy(logits[:, :-1], batch.response_ids, temperature)
