"""The generation interface every backend implements, and the registry that builds backends by name."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

FinishReason = Literal["stop", "length"]
Dtype = Literal["auto", "float32", "bfloat16", "float16"]
DTYPES: tuple[str, ...] = ("auto", "float32", "bfloat16", "float16")


class BackendUnavailableError(ImportError):
    """A backend's optional dependency (e.g. vllm) is not installed."""


Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class SamplingConfig:
    """How to sample completions; the same fields mean the same thing in every backend.

    temperature 0 means greedy decoding (then top_p, top_k and seed are ignored). top_k 0 means no top-k
    cut. A completion stops at the tokenizer's EOS, at any token of `stop_token_ids`, or as soon as its
    text contains one of `stop` (the text is cut before the stop string), else after `max_new_tokens`.
    `logprobs` asks for the log-probability of each generated token under the model's unmodified
    distribution (before temperature, top-k and top-p), as vLLM reports by default.
    """

    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    max_new_tokens: int = 256
    n: int = 1
    seed: int | None = 0
    stop: tuple[str, ...] = ()
    stop_token_ids: tuple[int, ...] = ()
    logprobs: bool = False

    @classmethod
    def for_template(cls, template_id: str, **fields: object) -> SamplingConfig:
        """Sampling that stops where the prompt template's responses end (its `stop` strings)."""
        from evaluation.templates import get_template

        return cls(stop=tuple(get_template(template_id).stop), **fields)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        # Lists from YAML/JSON specs are accepted and stored as tuples so the config stays hashable.
        object.__setattr__(self, "stop", tuple(self.stop))
        object.__setattr__(self, "stop_token_ids", tuple(self.stop_token_ids))
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0 (0 = off), got {self.top_k}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.n < 1:
            raise ValueError(f"n must be >= 1, got {self.n}")
        if any(not s for s in self.stop):
            raise ValueError("stop strings must be non-empty")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


@dataclass(frozen=True)
class Completion:
    """One sampled continuation of a prompt.

    `token_ids` are the generated ids up to and including the token that ended it (EOS, a stop token, or
    the token that completed a stop string), so `n_tokens == len(token_ids)`. `text` is their decoded text
    without special tokens and cut before the stop string. `logprobs` (one per token id) is filled only
    when `SamplingConfig.logprobs` is set.
    """

    text: str
    n_tokens: int
    finish_reason: FinishReason
    token_ids: tuple[int, ...] = ()
    logprobs: tuple[float, ...] | None = field(default=None, repr=False)


@runtime_checkable
class GenerationBackend(Protocol):
    def generate(
        self, prompts: Sequence[str], sampling: SamplingConfig, progress: Progress | None = None
    ) -> list[list[Completion]]:
        """Return, for each prompt in order, its `sampling.n` completions; `progress(done, total)` is told
        the completions finished so far (a command line's progress bar)."""
        ...

    def close(self) -> None:
        """Release the model (and device memory); the backend is unusable afterwards."""
        ...


BackendFactory = Callable[..., GenerationBackend]

# name -> "module:attribute" (imported on first use, so that asking for one backend never imports the
# other's heavy dependencies) or the factory itself. A factory is called as factory(model_ref, dtype, **opts).
_BACKENDS: dict[str, str | BackendFactory] = {
    "transformers": "evaluation.generation.transformers_backend:TransformersBackend.from_ref",
    "vllm": "evaluation.generation.vllm_backend:VllmBackend.from_ref",
}


def register_backend(name: str, factory: str | BackendFactory) -> None:
    _BACKENDS[name] = factory


def backend_names() -> list[str]:
    return sorted(_BACKENDS)


def _load_factory(target: str | BackendFactory) -> BackendFactory:
    if not isinstance(target, str):
        return target
    module_name, _, attribute_path = target.partition(":")
    obj = importlib.import_module(module_name)
    for attribute in attribute_path.split("."):
        obj = getattr(obj, attribute)
    return obj


def create_backend(name: str, model_ref: str, dtype: str = "auto", **opts: object) -> GenerationBackend:
    """Build the backend registered as `name` for `model_ref` (see `models.resolve_model`).

    `opts` are the backend's own options (e.g. `max_batch_size` for "transformers", `max_model_len`
    for "vllm"); an unknown option raises TypeError.
    """
    try:
        target = _BACKENDS[name]
    except KeyError:
        raise ValueError(
            f"unknown generation backend {name!r}; known: {', '.join(backend_names())}"
        ) from None
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; expected one of {', '.join(DTYPES)}")
    return _load_factory(target)(model_ref, dtype, **opts)
