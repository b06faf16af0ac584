"""Rollout engines: sample the G responses per prompt of a GRPO step from the current policy.

An engine answers `generate` exactly as an evaluation `GenerationBackend` does (the same `SamplingConfig`
and `Completion`), and `sync_weights` is called after every optimizer step so that the next rollouts come
from the updated policy.

- `transformers`: `TransformersBackend` around the live policy object. Nothing to sync.
- `vllm`: a vLLM engine of its own (not evaluation's process-wide one, whose weights evaluation swaps),
  colocated with the trainer and started from a copy of the initial policy written to a temporary
  folder. The engine core runs in-process (VLLM_ENABLE_V1_MULTIPROCESSING=0), so tensors are passed by
  reference, not pickled.
  - `sync_weights` streams the policy's weights into the engine one tensor at a time (`policy_weights`: a
    parameter sharded by FSDP2 is gathered with `full_tensor()` only when its turn comes, so at most one
    whole tensor exists beyond the shards) through `reload_weights`, and drops the prefix cache, which
    holds KV computed with the old weights.
  - Sleep mode (`sleep`, where vLLM's platform has it: CUDA, ROCm, XPU): after generating, the engine
    sleeps at level 1 (weights to host memory, KV cache freed) so the trainer's backward pass has the
    memory; `sync_weights` wakes it before loading the new weights. Elsewhere (vLLM on CPU) it stays awake.
  - `tensor_parallel_size` > 1: every rank of the trainer's process group holds one shard of an engine
    that spans `tp` consecutive ranks (vLLM's `external_launcher` executor). The ranks of an engine
    generate together: each gathers the group's prompts, all generate the same batch with the group's
    first seed, and each keeps its own prompts' completions.
  Meant for GPU; the test suite drives the one-device path on vLLM's CPU build (tests/training/
  test_grpo_vllm.py)."""

import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from evaluation.generation.base import Completion, SamplingConfig
from evaluation.generation.transformers_backend import TransformersBackend, TransformersOptions

logger = logging.getLogger(__name__)


@runtime_checkable
class RolloutEngine(Protocol):
    def generate(self, prompts: Sequence[str], sampling: SamplingConfig) -> list[list[Completion]]:
        """For each prompt in order, its `sampling.n` completions from the current policy."""
        ...

    def sync_weights(self) -> None:
        """Make the engine sample from the policy's current weights (after an optimizer step)."""
        ...

    def close(self) -> None: ...


class TransformersRolloutEngine:
    """Samples with `model.generate` from the live policy, so its weights are always current."""

    def __init__(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, **options: Any) -> None:
        self.backend = TransformersBackend(model, tokenizer, TransformersOptions(**options))

    def generate(self, prompts: Sequence[str], sampling: SamplingConfig) -> list[list[Completion]]:
        return self.backend.generate(prompts, sampling)

    def sync_weights(self) -> None:
        pass

    def close(self) -> None:
        self.backend.close()


# The engine shares the GPU with the policy, its reference copy and AdamW's state (TRL's colocate default).
COLOCATED_GPU_MEMORY_UTILIZATION = 0.3
# Names a wrapper puts between a module and its parameters (torch's activation-checkpoint wrapper).
_WRAPPER_PREFIXES = ("_checkpoint_wrapped_module.",)


def policy_weights(model: torch.nn.Module) -> Iterator[tuple[str, Tensor]]:
    """The model's weights under their checkpoint names, one whole tensor at a time. A DTensor (an FSDP2
    shard) is all-gathered with `full_tensor()` as its turn comes: every rank must run the iteration to
    the end, in the same order (the gathers are collectives)."""
    for name, tensor in model.state_dict().items():
        for prefix in _WRAPPER_PREFIXES:
            name = name.replace(prefix, "")
        if hasattr(tensor, "full_tensor"):
            tensor = tensor.full_tensor()
        yield name, tensor.detach()


class VllmRolloutEngine:
    """A vLLM engine colocated with the trainer; `options` go to `vllm.LLM` (e.g. max_model_len,
    enforce_eager; gpu_memory_utilization defaults to 0.3), except `sleep` (default True: sleep while the
    trainer runs, where vLLM can)."""

    def __init__(
        self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, sleep: bool = True, **options: Any
    ) -> None:
        from evaluation.generation.vllm_backend import import_vllm

        self.vllm = import_vllm()
        from vllm.platforms import current_platform

        os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
        self.model = model
        self.sleeps = sleep and current_platform.is_sleep_mode_available()
        if sleep and not self.sleeps:
            logger.info("vLLM has no sleep mode on this platform: the rollout engine stays awake")
        self.tp_group, options = _tensor_parallel(options)
        self.folder = tempfile.mkdtemp(prefix="rlab-vllm-policy-")
        model.save_pretrained(self.folder)
        tokenizer.save_pretrained(self.folder)
        self.llm = self.vllm.LLM(
            model=self.folder,
            dtype=str(model.dtype).removeprefix("torch."),
            enable_sleep_mode=self.sleeps,
            **{"gpu_memory_utilization": COLOCATED_GPU_MEMORY_UTILIZATION, **options},
        )
        self.asleep = False

    def generate(self, prompts: Sequence[str], sampling: SamplingConfig) -> list[list[Completion]]:
        from evaluation.generation.vllm_backend import generate_with_llm

        self.wake_up()
        if self.tp_group is None:
            completions = generate_with_llm(self.llm, prompts, sampling)
        else:
            completions = self._generate_as_group(prompts, sampling, generate_with_llm)
        self.sleep()
        return completions

    def _generate_as_group(
        self, prompts: Sequence[str], sampling: SamplingConfig, generate: Callable
    ) -> list:
        """Every rank of the engine's group generates the group's prompts (vLLM's external launcher needs
        the same requests on each), with the first rank's seed; each keeps its own rows."""
        import torch.distributed as dist

        shares: list[Any] = [None] * dist.get_world_size(self.tp_group)
        dist.all_gather_object(shares, (list(prompts), sampling.seed), group=self.tp_group)
        everything = [prompt for share, _ in shares for prompt in share]
        completions = generate(self.llm, everything, replace(sampling, seed=shares[0][1]))
        start = sum(len(share) for share, _ in shares[: dist.get_rank(self.tp_group)])
        return completions[start : start + len(prompts)]

    def sleep(self) -> None:
        """Free the KV cache and move the weights to host memory until the next wake_up (level 1)."""
        if self.sleeps and not self.asleep:
            self.llm.sleep(level=1)
            self.asleep = True

    def wake_up(self) -> None:
        if self.asleep:
            self.llm.wake_up()
            self.asleep = False

    def sync_weights(self) -> None:
        self.wake_up()
        # In-place reload from tensors: unlike model.load_weights it redoes the kernel-format processing
        # (repacking) that loading applied to the first weights.
        self.llm.collective_rpc("reload_weights", kwargs={"weights_iterator": policy_weights(self.model)})
        self.llm.reset_prefix_cache()

    def close(self) -> None:
        self.llm.llm_engine.engine_core.shutdown()
        shutil.rmtree(self.folder, ignore_errors=True)


def _tensor_parallel(options: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The process group of this rank's engine and the vLLM options for it: with tensor_parallel_size tp
    > 1, groups of tp consecutive ranks of the trainer's (initialised) process group share one engine."""
    tp = int(options.get("tensor_parallel_size", 1))
    if tp == 1:
        return None, options
    import torch.distributed as dist

    world = dist.get_world_size() if dist.is_initialized() else 1
    if world % tp:
        raise ValueError(
            f"tensor_parallel_size {tp} must divide the {world} training processes (resources.processes): "
            "each engine spans that many ranks"
        )
    group, _ = dist.new_subgroups(group_size=tp)
    return group, {**options, "distributed_executor_backend": "external_launcher"}


RolloutEngineFactory = Callable[..., RolloutEngine]

ROLLOUT_ENGINES: dict[str, RolloutEngineFactory] = {
    "transformers": TransformersRolloutEngine,
    "vllm": VllmRolloutEngine,
}


def create_rollout_engine(
    name: str,
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    options: dict[str, Any] | None = None,
) -> RolloutEngine:
    if name not in ROLLOUT_ENGINES:
        raise ValueError(f"unknown rollout engine {name!r}; choose one of {sorted(ROLLOUT_ENGINES)}")
    return ROLLOUT_ENGINES[name](model, tokenizer, **(options or {}))
