"""Padded tensors of a rollout batch and the policy's log-probs of its response tokens.

Layout (verl's): prompts left-padded to a common width P, responses right-padded to a width T, so that
the hidden states predicting the response tokens are one contiguous slice for every row. Position ids are
counted over real tokens only (cumsum of the attention mask), as generation with left padding does, so a
padded row scores its tokens as the unpadded sequence would.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from transformers import PreTrainedModel

from training.logprobs import TokenLogProbs


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
    model: PreTrainedModel | TokenLogProbs, batch: RolloutBatch, temperature: float
) -> tuple[Tensor, Tensor]:
    """log π(response token) and the entropy of π at each response position, both [N, T] (0 at padding),
    with π = softmax(logits / temperature); through the LM head in chunks (training/logprobs.py)."""
    policy = model if isinstance(model, TokenLogProbs) else TokenLogProbs(model)
    return policy(batch.input_ids, batch.attention_mask, batch.response_ids, batch.response_mask, temperature)


def idle_batch(pad_token_id: int, device: torch.device | str) -> RolloutBatch:
    """One pad-token prompt and response: the input of a pass a data-parallel rank runs without data of its
    own, to take part in the collectives of the others' passes (training/sharding.py)."""
    return RolloutBatch.build([[pad_token_id]], [[pad_token_id]], pad_token_id, device)
