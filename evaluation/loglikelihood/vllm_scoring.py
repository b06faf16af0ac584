"""Log-likelihood of continuations from vLLM's prompt log-probs: each (context + continuation) is one prompt,
generated for a single token with `prompt_logprobs=1`, which returns for every prompt position the
log-prob of the actual token and its rank (rank 1: the greedy choice). Tokenisation is
scoring.encode_requests, the same as the transformers scorer and lm-evaluation-harness, and the prompts go
in as token ids so vLLM does not re-tokenise them. Options of a question share their context tokens, which
the engine's prefix cache can reuse."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from transformers import PreTrainedTokenizerBase

from evaluation.generation.vllm_backend import import_vllm
from evaluation.loglikelihood.requests import ChoiceRequest, ContinuationScore
from evaluation.loglikelihood.scoring import encode_requests


class VllmScorer:
    name = "vllm"

    def __init__(self, llm: Any, tokenizer: PreTrainedTokenizerBase) -> None:
        self.llm = llm
        self.tokenizer = tokenizer

    def score(self, requests: Sequence[ChoiceRequest]) -> list[list[ContinuationScore]]:
        vllm = import_vllm()
        encoded = encode_requests(self.tokenizer, requests)
        prompts = [
            vllm.TokensPrompt(prompt_token_ids=item.context + continuation)
            for item in encoded
            for continuation in item.continuations
        ]
        params = vllm.SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=1)
        outputs = iter(self.llm.generate(prompts, params, use_tqdm=False))
        return [
            [
                _continuation_score(next(outputs), item.context, continuation)
                for continuation in item.continuations
            ]
            for item in encoded
        ]


def _continuation_score(output: Any, context: list[int], continuation: list[int]) -> ContinuationScore:
    positions = output.prompt_logprobs[len(context) :]  # entry i: {token id: Logprob} at prompt position i
    logprob, greedy = 0.0, True
    for token, entry in zip(continuation, positions, strict=True):
        logprob += entry[token].logprob
        greedy = greedy and entry[token].rank == 1
    return ContinuationScore(logprob, greedy, len(continuation))
