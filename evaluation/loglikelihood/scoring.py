"""Log-likelihood of continuations with Hugging Face transformers: log P(continuation | context) summed over
the continuation's tokens, and whether greedy decoding would have produced it.

Tokenisation follows lm-evaluation-harness 0.4.13 (`lm_eval/api/model.py` `_encode_pair` and
`loglikelihood`), so the same strings give the same tokens: trailing whitespace of the context moves to the
continuation; the continuation's tokens are those of `encode(context + continuation)` after the first
`len(encode(context))`; an empty context is the tokenizer's BOS token (else EOS).

The options of one question share their context tokens, so each context is run once and its KV cache is
copied to one row per option, which then runs only the continuation tokens (single-token continuations,
such as option letters, need no second pass at all). Contexts of several questions are batched with left
padding and explicit position ids.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from evaluation.loglikelihood.requests import ChoiceRequest, ContinuationScore


@dataclass(frozen=True)
class ScorerOptions:
    """`max_batch_tokens` bounds each forward pass: questions x padded context width for the contexts, and
    option rows x padded continuation width for the continuations (the logits are that times the vocab)."""

    max_batch_tokens: int = 4096
    max_batch_questions: int = 64

    def __post_init__(self) -> None:
        if self.max_batch_tokens < 1 or self.max_batch_questions < 1:
            raise ValueError("max_batch_tokens and max_batch_questions must be >= 1")


@dataclass(frozen=True)
class _Encoded:
    context: list[int]
    continuations: list[list[int]]


def encode_requests(tokenizer: PreTrainedTokenizerBase, requests: Sequence[ChoiceRequest]) -> list[_Encoded]:
    """Token ids of each request's context and continuations (see the module docstring)."""
    encoded = []
    for index, request in enumerate(requests):
        if not request.continuations:
            raise ValueError(f"request {index} has no continuations")
        if request.context == "":
            encoded.append(_encode_unconditional(tokenizer, request.continuations))
            continue
        context = request.context.rstrip()
        moved = request.context[len(context) :]
        context_ids = tokenizer.encode(context)
        wholes = tokenizer([context + moved + c for c in request.continuations])["input_ids"]
        continuations = [whole[len(context_ids) :] for whole in wholes]
        if any(not ids for ids in continuations):
            raise ValueError(f"request {index}: a continuation encodes to no tokens: {request.continuations}")
        encoded.append(_Encoded(context_ids, continuations))
    return encoded


def _encode_unconditional(tokenizer: PreTrainedTokenizerBase, continuations: Sequence[str]) -> _Encoded:
    prefix = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    ids = [tokenizer.encode(c, add_special_tokens=False) for c in continuations]
    if any(not i for i in ids):
        raise ValueError(f"a continuation encodes to no tokens: {continuations}")
    # lm-evaluation-harness: a continuation that itself starts with the prefix token uses that as context.
    if any(i[0] == prefix for i in ids):
        if len(ids) > 1:
            raise ValueError("continuations that start with the BOS/EOS token must be scored one at a time")
        return _Encoded(ids[0][:1], [ids[0][1:]])
    return _Encoded([prefix], ids)


class TransformersScorer:
    name = "transformers"

    def __init__(
        self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, options: ScorerOptions | None = None
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.options = options or ScorerOptions()
        self.max_length = getattr(model.config, "max_position_embeddings", None)
        # transformers 5 renamed forward's `past_key_values` to `cache` (the old name warns).
        parameters = inspect.signature(model.forward).parameters
        self.cache_kwarg = "cache" if "cache" in parameters else "past_key_values"

    def score(self, requests: Sequence[ChoiceRequest]) -> list[list[ContinuationScore]]:
        """One ContinuationScore per continuation of each request, in order."""
        encoded = encode_requests(self.tokenizer, requests)
        self._check_lengths(encoded)
        results: list[list[ContinuationScore] | None] = [None] * len(encoded)
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                for batch in self._batches(encoded):
                    scored = self._score_batch([encoded[i] for i in batch])
                    for index, scores in zip(batch, scored, strict=True):
                        results[index] = scores
        finally:
            self.model.train(was_training)
        assert all(scores is not None for scores in results)
        return results  # type: ignore[return-value]

    def _check_lengths(self, encoded: list[_Encoded]) -> None:
        if self.max_length is None:
            return
        for index, item in enumerate(encoded):
            longest = len(item.context) + max(len(c) for c in item.continuations) - 1
            if longest > self.max_length:
                raise ValueError(
                    f"request {index}: context plus continuation is {longest} tokens, more than the model's "
                    f"{self.max_length} positions"
                )

    def _batches(self, encoded: list[_Encoded]) -> list[list[int]]:
        """Questions, longest context first, grouped within the token and question budgets."""
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i].context))
        budget, batches = self.options, []
        batch: list[int] = []
        for i in order:
            candidate = [*batch, i]
            width = len(encoded[candidate[0]].context)
            rows = sum(len(encoded[j].continuations) for j in candidate)
            cont_width = max(len(c) for j in candidate for c in encoded[j].continuations)
            fits = (
                len(candidate) <= budget.max_batch_questions
                and len(candidate) * width <= budget.max_batch_tokens
                and rows * cont_width <= budget.max_batch_tokens
            )
            if batch and not fits:
                batches.append(batch)
                candidate = [i]
            batch = candidate
        if batch:
            batches.append(batch)
        return batches

    def _score_batch(self, items: list[_Encoded]) -> list[list[ContinuationScore]]:
        device = self.model.device
        width = max(len(item.context) for item in items)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        input_ids = torch.tensor(
            [[pad] * (width - len(it.context)) + it.context for it in items], device=device
        )
        context_mask = torch.tensor(
            [[0] * (width - len(it.context)) + [1] * len(it.context) for it in items], device=device
        )
        positions = (context_mask.cumsum(-1) - 1).clamp(min=0)
        out = self.model(
            input_ids=input_ids,
            attention_mask=context_mask,
            position_ids=positions,
            use_cache=True,
            logits_to_keep=1,
        )
        first = _at_least_fp32(out.logits[:, -1, :])  # predicts each continuation's first token

        row_item = [i for i, item in enumerate(items) for _ in item.continuations]
        conts = [c for item in items for c in item.continuations]
        first_tokens = torch.tensor([c[0] for c in conts], device=device)
        first_logits = first[torch.tensor(row_item, device=device)]
        logprob = first_logits.gather(1, first_tokens[:, None])[:, 0] - first_logits.logsumexp(-1)
        greedy = first_logits.argmax(-1) == first_tokens

        rest = max(len(c) for c in conts) - 1
        if rest > 0:
            cache = out["cache"] if "cache" in out else out["past_key_values"]
            rest_logprob, rest_greedy = self._continue(cache, items, row_item, conts, rest, pad)
            logprob, greedy = logprob + rest_logprob, greedy & rest_greedy

        scores = [
            ContinuationScore(float(lp), bool(g), len(c))
            for lp, g, c in zip(logprob.tolist(), greedy.tolist(), conts, strict=True)
        ]
        grouped, start = [], 0
        for item in items:
            grouped.append(scores[start : start + len(item.continuations)])
            start += len(item.continuations)
        return grouped

    def _continue(
        self,
        cache,
        items: list[_Encoded],
        row_item: list[int],
        conts: list[list[int]],
        rest: int,
        pad: int,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-prob and greediness of every continuation token after the first, each option row reading
        its question's cached context."""
        device = self.model.device
        rows = torch.tensor(row_item, device=device)
        cache.reorder_cache(rows)  # one cache row per option
        width = max(len(item.context) for item in items)
        context_lengths = torch.tensor([len(items[i].context) for i in row_item], device=device)
        inputs = torch.tensor([c[:-1] + [pad] * (rest + 1 - len(c)) for c in conts], device=device)
        targets = torch.tensor([c[1:] + [pad] * (rest + 1 - len(c)) for c in conts], device=device)
        valid = torch.tensor([[t < len(c) - 1 for t in range(rest)] for c in conts], device=device)
        context_mask = (torch.arange(width, device=device) >= (width - context_lengths)[:, None]).long()
        mask = torch.cat([context_mask, torch.ones(len(conts), rest, dtype=torch.long, device=device)], 1)
        positions = context_lengths[:, None] + torch.arange(rest, device=device)
        out = self.model(
            input_ids=inputs,
            attention_mask=mask,
            position_ids=positions,
            use_cache=True,
            **{self.cache_kwarg: cache},
        )
        logits = _at_least_fp32(out.logits)
        token_logprob = logits.gather(2, targets[..., None])[..., 0] - logits.logsumexp(-1)
        logprob = (token_logprob * valid).sum(-1)
        greedy = ((logits.argmax(-1) == targets) | ~valid).all(-1)
        return logprob, greedy


def _at_least_fp32(logits: torch.Tensor) -> torch.Tensor:
    """bf16/fp16 logits in float32 for the softmax; float32 and float64 as they are."""
    return logits if logits.dtype in (torch.float32, torch.float64) else logits.float()
