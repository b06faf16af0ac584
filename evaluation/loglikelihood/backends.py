"""The log-likelihood scorer for a generation backend, so that one warm engine (or model) serves both
modes of an evaluation: transformers scores on its model, vLLM through its prompt log-probs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evaluation.loglikelihood.runner import Scorer


def _transformers(backend: Any, tokenizer: Any) -> Scorer:
    from evaluation.loglikelihood.scoring import TransformersScorer

    return TransformersScorer(backend.model, tokenizer)


def _vllm(backend: Any, tokenizer: Any) -> Scorer:
    from evaluation.loglikelihood.vllm_scoring import VllmScorer

    return VllmScorer(backend.llm, tokenizer)


SCORERS: dict[str, Callable[[Any, Any], Scorer]] = {"transformers": _transformers, "vllm": _vllm}


def scorer_for(backend: Any, tokenizer: Any) -> Scorer:
    """A scorer on `backend` (a GenerationBackend by its `name`), tokenising with `tokenizer`."""
    try:
        return SCORERS[backend.name](backend, tokenizer)
    except KeyError:
        raise ValueError(
            f"no log-likelihood scorer for the {backend.name!r} backend; known: {', '.join(SCORERS)}"
        ) from None
