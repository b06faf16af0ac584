"""Sharded data parallel with PyTorch's FSDP2 (`torch.distributed.fsdp.fully_shard`) and its checkpoints
(`torch.distributed.checkpoint`, DCP). docs/distributed.md has the semantics.

`shard` applies FSDP2 to a `TokenLogProbs` (training/logprobs.py): every decoder layer (the model's
`_no_split_modules` classes, as Hugging Face's own FSDP wrapping does) is one unit, the wrapper is the root
and holds the rest (embedding, final norm, LM head, so tied embeddings stay one parameter). Each rank holds
1/N of every parameter, gradient and AdamW state; a unit's full parameters exist only while it runs (forward
and backward). Mixed precision: the sharded parameters are the float32 master weights, units all-gather and
compute in the model's own dtype (bf16), gradients are reduce-scattered in float32. The reduction SUMS the
ranks' gradients (divide factor 1): every rank's loss is already scaled by its share of the global
mini-batch (training.losses.share), so the sum is the single-process gradient.

Every forward and backward is a collective under FSDP2: the trainer runs the same number of them on every
rank (`idle` passes on a rank with fewer micro-batches), and `full_parameters` gathers the weights once for
a whole generation (whose number of forward passes differs between ranks).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.distributed.checkpoint as dcp
from torch import Tensor, nn
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_state_dict,
    set_state_dict,
)
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import FSDPModule, MixedPrecisionPolicy, fully_shard
from torch.distributed.tensor import DTensor
from torch.optim import Optimizer

from training.distributed import Distributed
from training.logprobs import TokenLogProbs


def shard(policy: TokenLogProbs, distributed: Distributed, compute_dtype: torch.dtype | None) -> None:
    """Shard `policy` in place over the ranks of `distributed`; `compute_dtype`: all-gather and compute in
    this dtype (the float32 parameters being master weights), None = in the parameters' own dtype."""
    device = distributed.device or torch.device("cpu")
    mesh = init_device_mesh(device.type, (distributed.world_size,))
    precision = MixedPrecisionPolicy(param_dtype=compute_dtype, reduce_dtype=torch.float32)
    unit_classes = set(getattr(policy.model, "_no_split_modules", None) or ())
    units = [module for module in policy.model.modules() if type(module).__name__ in unit_classes]
    if not units:
        raise ValueError(f"{type(policy.model).__name__} names no decoder layer class (_no_split_modules)")
    for unit in units:
        fully_shard(unit, mesh=mesh, mp_policy=precision)
    fully_shard(policy, mesh=mesh, mp_policy=precision)
    for module in fsdp_modules(policy):
        module.set_gradient_divide_factor(1.0)
        module.set_force_sum_reduction_for_comms(True)  # a plain SUM: gloo has no pre-multiplied sum


def fsdp_modules(module: nn.Module) -> list[FSDPModule]:
    return [m for m in module.modules() if isinstance(m, FSDPModule)]


def reshard(policy: nn.Module) -> None:
    """Register every unit's sharded parameters again. The root keeps its full parameters after a forward
    pass until the backward (FSDP2's default), so after a forward without backward `parameters()` and
    state dicts would see full tensors: the optimizer and the checkpoints need the sharded ones."""
    for module in fsdp_modules(policy):
        module.reshard()


@contextmanager
def full_parameters(policy: TokenLogProbs) -> Iterator[None]:
    """Gather every unit's full parameters for the block (a collective: every rank enters it), so that
    forward passes of `policy.model` inside it (generation) communicate nothing and may differ in number
    between ranks. Without sharding it does nothing.

    fully_shard marks every module it manages (`_is_fsdp_managed_module`), and transformers' generate then
    keeps the ranks' decoding loops in step (synced_gpus, an all-reduce per token) — needless here, and a
    hang when a rank generates less or nothing: the mark is lifted from the model for the block."""
    modules = fsdp_modules(policy)
    if not modules:
        yield
        return
    for module in modules:
        module.unshard()
        module.set_reshard_after_forward(False, recurse=False)
    policy.model._is_fsdp_managed_module = False
    try:
        yield
    finally:
        policy.model._is_fsdp_managed_module = True
        for module in modules:
            module.reshard()
            # FSDP2's defaults: units free their parameters after forward, the root keeps them for backward.
            module.set_reshard_after_forward(module is not policy, recurse=False)


def global_norm(norm: Tensor) -> Tensor:
    """A gradient norm as a plain tensor (clip_grad_norm_ of sharded gradients returns a DTensor)."""
    return norm.full_tensor() if isinstance(norm, DTensor) else norm


def full_weights(policy: TokenLogProbs) -> dict[str, Tensor]:
    """The model's full weights (names as in `policy.model.state_dict()`), on the CPU of rank 0; an empty
    dict on the other ranks. A collective."""
    reshard(policy)
    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    state = get_model_state_dict(policy, options=options)
    return {name.removeprefix("model."): tensor for name, tensor in state.items()}


def save_sharded_state(folder: Path, policy: TokenLogProbs, optimizer: Optimizer) -> None:
    """Every rank writes its shards of the weights and of the optimizer state to `folder` (DCP). A
    collective."""
    reshard(policy)
    model_state, optimizer_state = get_state_dict(policy, optimizer)
    dcp.save({"model": model_state, "optimizer": optimizer_state}, checkpoint_id=str(folder))


def load_sharded_state(folder: Path, policy: TokenLogProbs, optimizer: Optimizer) -> None:
    """Load what `save_sharded_state` wrote into the live sharded `policy` and `optimizer` (any number of
    ranks: DCP reshards). A collective."""
    reshard(policy)
    model_state, optimizer_state = get_state_dict(policy, optimizer)
    state = {"model": model_state, "optimizer": optimizer_state}
    dcp.load(state, checkpoint_id=str(folder))
    set_state_dict(policy, optimizer, model_state_dict=state["model"], optim_state_dict=state["optimizer"])
