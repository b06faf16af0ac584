"""Data-parallel processes: the process group torchrun sets up, and the few collectives the trainer needs
besides FSDP2's own (training/sharding.py: gradients are reduced by FSDP2, not here).

`init_from_env()` reads torchrun's RANK / WORLD_SIZE / LOCAL_RANK (MASTER_ADDR / MASTER_PORT for the
rendezvous) and joins the group: NCCL with one GPU per local rank when CUDA is there, gloo on CPU. Without
those variables (a notebook, the single-process worker) it returns `SINGLE_PROCESS`, whose collectives
are identities, so the trainer runs the same code in both cases. docs/distributed.md has the semantics.
"""

import os
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import Tensor

T = TypeVar("T")


@dataclass(frozen=True)
class Distributed:
    """This process's place among the data-parallel processes. `device` is None for a single process (the
    caller places the model), else the device of its local rank."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device | None = None

    @property
    def is_main(self) -> bool:
        """Rank 0: the only process that reports, writes checkpoints and decides to stop."""
        return self.rank == 0

    @property
    def parallel(self) -> bool:
        return self.world_size > 1

    def require_divisible(self, value: int, name: str) -> None:
        if value % self.world_size:
            raise ValueError(
                f"{name} {value} must be divisible by the {self.world_size} data-parallel processes"
            )

    def broadcast_flag(self, flag: bool) -> bool:
        """Rank 0's `flag`, on every rank (what the others pass is ignored)."""
        if not self.parallel:
            return flag
        value = torch.tensor([1 if flag else 0], device=self.device)
        dist.broadcast(value, src=0)
        return bool(value.item())

    def broadcast_object(self, value: T) -> T:
        """Rank 0's picklable `value`, on every rank."""
        if not self.parallel:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0, device=self.device)
        return box[0]

    def all_gather_object(self, value: Any) -> list[Any]:
        """Every rank's picklable `value`, in rank order, on every rank."""
        if not self.parallel:
            return [value]
        values: list[Any] = [None] * self.world_size
        dist.all_gather_object(values, value)
        return values

    def all_reduce_sum(self, values: Tensor) -> Tensor:
        """The element-wise sum of `values` over the ranks (in place)."""
        if self.parallel:
            dist.all_reduce(values, op=dist.ReduceOp.SUM)
        return values

    def barrier(self) -> None:
        if self.parallel:
            dist.barrier()


SINGLE_PROCESS = Distributed()


def init_from_env() -> Distributed:
    """Join the process group torchrun described in the environment, or `SINGLE_PROCESS` without one."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return SINGLE_PROCESS
    rank, local_rank = int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"])
    if torch.cuda.is_available():
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        dist.init_process_group("nccl", rank=rank, world_size=world_size, device_id=device)
    else:
        device = torch.device("cpu")
        dist.init_process_group("gloo", rank=rank, world_size=world_size)
    return Distributed(rank=rank, world_size=world_size, local_rank=local_rank, device=device)


def close() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_initialized():
        dist.destroy_process_group()


def mini_batch_shares(prompts: int, mini_batch_prompts: int, rank: int, world_size: int) -> list[range]:
    """Which of a rollout batch's `prompts` (indices into it) this rank trains on, per global mini-batch.

    Global mini-batch k is prompts [k·M, min((k+1)·M, prompts)); each rank takes a contiguous, as-equal-as-
    possible piece of every one of them, so that the ranks' k-th local mini-batches together are exactly the
    single-process k-th mini-batch and every rank makes the same number of optimizer steps (a piece may be
    empty when a last, partial batch has fewer prompts than ranks)."""
    shares = []
    for start in range(0, prompts, mini_batch_prompts):
        size = min(mini_batch_prompts, prompts - start)
        shares.append(range(start + size * rank // world_size, start + size * (rank + 1) // world_size))
    return shares
