"""Generation with Hugging Face transformers: batched `model.generate` with left padding and a KV cache.

Works on CPU and CUDA, and on an in-memory model (`TransformersBackend(model, tokenizer)`), which is how
an RL trainer samples from its current policy without saving it first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import (
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    StoppingCriteria,
    StoppingCriteriaList,
)

from evaluation.generation.base import Completion, Progress, SamplingConfig
from evaluation.generation.models import load_model_and_tokenizer

# Values that neutralise decoding settings a checkpoint's generation_config.json may carry (Qwen ships
# repetition_penalty 1.05, for instance): generate() fills every field we leave at None from it, and a
# SamplingConfig must mean the same in every backend.
_NEUTRAL_GENERATION_SETTINGS = {"repetition_penalty": 1.0, "no_repeat_ngram_size": 0, "min_new_tokens": 0}
_NEUTRAL_SAMPLING_SETTINGS = {"typical_p": 1.0, "min_p": 0.0}


@dataclass(frozen=True)
class TransformersOptions:
    """`max_batch_tokens` caps rows x (longest prompt + max_new_tokens) per batch, which bounds the KV
    cache; `max_batch_size` caps the rows. Rows are sorted by prompt length first, so batches pad little."""

    device: str = "auto"
    max_batch_size: int = 64
    max_batch_tokens: int = 65_536

    def __post_init__(self) -> None:
        if self.max_batch_size < 1 or self.max_batch_tokens < 1:
            raise ValueError("max_batch_size and max_batch_tokens must be >= 1")


class TransformersBackend:
    name = "transformers"

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        options: TransformersOptions | None = None,
    ) -> None:
        self.model: PreTrainedModel | None = model
        self.tokenizer = tokenizer
        self.options = options or TransformersOptions()
        self.pad_token_id = (
            tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        )
        self.eos_token_ids = _eos_token_ids(model, tokenizer)

    @classmethod
    def from_ref(cls, model_ref: str, dtype: str = "auto", **opts: object) -> TransformersBackend:
        options = TransformersOptions(**opts)
        model, tokenizer = load_model_and_tokenizer(model_ref, dtype, options.device)
        return cls(model, tokenizer, options)

    def close(self) -> None:
        device = self.model.device if self.model is not None else None
        self.model = None
        if device is not None and device.type == "cuda":
            torch.cuda.empty_cache()

    def generate(
        self, prompts: Sequence[str], sampling: SamplingConfig, progress: Progress | None = None
    ) -> list[list[Completion]]:
        if self.model is None:
            raise RuntimeError("TransformersBackend.generate called after close()")
        prompt_ids = self.tokenizer(list(prompts), add_special_tokens=True)["input_ids"]
        if any(len(ids) == 0 for ids in prompt_ids):
            raise ValueError("cannot generate from an empty prompt")
        # Greedy samples are identical, so each prompt is decoded once and its completion repeated n times.
        copies = 1 if sampling.greedy else sampling.n
        rows = [i for i in range(len(prompt_ids)) for _ in range(copies)]
        batches = plan_batches(
            [len(prompt_ids[i]) for i in rows],
            sampling.max_new_tokens,
            self.options.max_batch_size,
            self.options.max_batch_tokens,
        )
        row_completions: list[Completion | None] = [None] * len(rows)
        # A trainer's policy may be in train mode: dropout off and the KV cache on while sampling.
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.random.fork_rng(
                devices=_rng_devices(self.model.device), enabled=sampling.seed is not None
            ):
                if sampling.seed is not None:
                    torch.manual_seed(sampling.seed)
                done = 0
                for batch in batches:
                    completions = self._generate_batch([prompt_ids[rows[r]] for r in batch], sampling)
                    for r, completion in zip(batch, completions, strict=True):
                        row_completions[r] = completion
                    done += len(batch)
                    if progress is not None:
                        progress(done * (sampling.n // copies), len(rows) * (sampling.n // copies))
        finally:
            self.model.train(was_training)
        per_prompt: list[list[Completion]] = [[] for _ in prompt_ids]
        for prompt, completion in zip(rows, row_completions, strict=True):
            assert completion is not None
            per_prompt[prompt].extend([completion] * (sampling.n // copies))
        return per_prompt

    def _generate_batch(self, prompt_ids: list[list[int]], sampling: SamplingConfig) -> list[Completion]:
        assert self.model is not None
        device = self.model.device
        width = max(len(ids) for ids in prompt_ids)
        input_ids = torch.tensor(
            [[self.pad_token_id] * (width - len(ids)) + ids for ids in prompt_ids], device=device
        )
        attention_mask = torch.tensor(
            [[0] * (width - len(ids)) + [1] * len(ids) for ids in prompt_ids], device=device
        )
        stop_ids = (*self.eos_token_ids, *sampling.stop_token_ids)
        criteria = StoppingCriteriaList()
        if sampling.stop:
            criteria.append(StopStringCriteria(self.tokenizer, sampling.stop, prompt_width=width))
        recorder = LogprobRecorder() if sampling.logprobs else None
        output = self.model.generate(
            input_ids=input_ids,
            attention_mask=attention_mask,
            generation_config=self._generation_config(sampling, stop_ids),
            stopping_criteria=criteria,
            logits_processor=LogitsProcessorList([recorder] if recorder else []),
        )
        generated = output[:, width:]
        logprobs = recorder.finish(generated) if recorder else None
        return [
            self._completion(
                generated[row].tolist(),
                set(stop_ids),
                sampling.stop,
                logprobs[row].tolist() if logprobs is not None else None,
            )
            for row in range(len(prompt_ids))
        ]

    def _generation_config(self, sampling: SamplingConfig, stop_ids: tuple[int, ...]) -> GenerationConfig:
        sampling_settings = (
            {"do_sample": False}
            if sampling.greedy
            else {
                "do_sample": True,
                "temperature": sampling.temperature,
                "top_p": sampling.top_p,
                "top_k": sampling.top_k,
                **_NEUTRAL_SAMPLING_SETTINGS,
            }
        )
        return GenerationConfig(
            max_new_tokens=sampling.max_new_tokens,
            eos_token_id=list(stop_ids),
            pad_token_id=self.pad_token_id,
            use_cache=True,
            **sampling_settings,
            **_NEUTRAL_GENERATION_SETTINGS,
        )

    def _completion(
        self,
        ids: list[int],
        stop_ids: set[int],
        stop_strings: tuple[str, ...],
        logprobs: list[float] | None,
    ) -> Completion:
        end = next((i + 1 for i, token in enumerate(ids) if token in stop_ids), None)
        finish_reason = "length" if end is None else "stop"
        ids = ids[:end]
        text = self._decode(ids)
        if stop_strings and (cut := _first_stop(text, stop_strings)) is not None:
            # Later rows of a batch keep decoding, so the ids may run past the stop string: keep the ids up
            # to the token that completed it.
            end = _shortest_prefix_containing(ids, stop_strings, self._decode)
            ids, text, finish_reason = ids[:end], text[:cut], "stop"
        return Completion(
            text=text,
            n_tokens=len(ids),
            finish_reason=finish_reason,
            token_ids=tuple(ids),
            logprobs=tuple(logprobs[: len(ids)]) if logprobs is not None else None,
        )

    def _decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)


def plan_batches(
    prompt_lengths: Sequence[int], max_new_tokens: int, max_batch_size: int, max_batch_tokens: int
) -> list[list[int]]:
    """Group row indices, longest prompt first, so that rows x (longest prompt + max_new_tokens) stays
    within `max_batch_tokens` (a row that alone exceeds it still gets its own batch)."""
    order = sorted(range(len(prompt_lengths)), key=lambda i: -prompt_lengths[i])
    batches: list[list[int]] = []
    for i in order:
        if batches:
            batch = batches[-1]
            cost = (len(batch) + 1) * (prompt_lengths[batch[0]] + max_new_tokens)
            if len(batch) < max_batch_size and cost <= max_batch_tokens:
                batch.append(i)
                continue
        batches.append([i])
    return batches


class StopStringCriteria(StoppingCriteria):
    """Marks a row finished once the decoded tail of its generated tokens contains a stop string."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, stop: tuple[str, ...], prompt_width: int) -> None:
        self.tokenizer = tokenizer
        self.stop = stop
        self.prompt_width = prompt_width
        # A character can take up to 4 byte-level tokens; the extra 2 cover a stop string that starts
        # inside a token.
        self.tail_tokens = 4 * max(len(s) for s in stop) + 2

    def __call__(
        self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: object
    ) -> torch.BoolTensor:
        start = max(self.prompt_width, input_ids.shape[1] - self.tail_tokens)
        tails = self.tokenizer.batch_decode(input_ids[:, start:], skip_special_tokens=True)
        done = [any(s in tail for s in self.stop) for tail in tails]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


class LogprobRecorder(LogitsProcessor):
    """Records the log-probability of each generated token under the raw logits.

    generate() calls processors before it picks the token, so each call stores the step's log-softmax
    and reads off the token chosen at the previous step (the last one of `input_ids`); `finish` reads the
    final step. It runs before temperature/top-k/top-p, which generate() appends after custom processors.
    """

    def __init__(self) -> None:
        self.steps: list[torch.Tensor] = []
        self.last: torch.Tensor | None = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.last is not None:
            self.steps.append(self.last.gather(1, input_ids[:, -1:]).squeeze(1))
        self.last = torch.log_softmax(scores.float(), dim=-1)
        return scores

    def finish(self, generated: torch.Tensor) -> torch.Tensor:
        """(rows, generated tokens) log-probabilities, aligned with `generated`."""
        steps = list(self.steps)
        if self.last is not None and len(steps) < generated.shape[1]:
            steps.append(self.last.gather(1, generated[:, len(steps)].unsqueeze(1)).squeeze(1))
        return torch.stack(steps[: generated.shape[1]], dim=1).cpu()


def _first_stop(text: str, stop: tuple[str, ...]) -> int | None:
    found = [i for i in (text.find(s) for s in stop) if i >= 0]
    return min(found) if found else None


def _shortest_prefix_containing(ids: list[int], stop: tuple[str, ...], decode) -> int:
    """Smallest k such that decode(ids[:k]) contains a stop string (binary search; containment only grows)."""
    low, high = 1, len(ids)
    while low < high:
        mid = (low + high) // 2
        if _first_stop(decode(ids[:mid]), stop) is None:
            low = mid + 1
        else:
            high = mid
    return high


def _eos_token_ids(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> tuple[int, ...]:
    """Tokenizer EOS plus the generation config's (instruct models often list <|im_end|> there)."""
    configured = model.generation_config.eos_token_id
    ids = [tokenizer.eos_token_id] + (configured if isinstance(configured, list) else [configured])
    return tuple(dict.fromkeys(i for i in ids if i is not None))


def _rng_devices(device: torch.device) -> list[int]:
    return [device.index or 0] if device.type == "cuda" else []
