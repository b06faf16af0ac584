"""GRPO (Shao et al. 2024) as run by the 1-shot RLVR paper (verl): the registry entry and its spec block."""

from typing import Literal

from pydantic import Field

from training.algorithms.registry import Algorithm, SpecBlock
from training.rewards import REWARDS

RewardName = Literal[tuple(REWARDS)]  # type: ignore[valid-type]


class RolloutEngineBlock(SpecBlock):
    """The colocated vLLM rollout engine on GPUs (training/rollouts.py), for every algorithm that samples."""

    rollout_gpu_memory_utilization: float = Field(
        0.3,
        gt=0,
        lt=1,
        description="Share of each GPU the colocated vLLM engine reserves (weights + KV cache).",
    )
    rollout_tensor_parallel_size: int = Field(
        1, ge=1, description="GPUs per vLLM engine (tensor parallel); must divide resources.processes."
    )
    rollout_sleep: bool = Field(
        True, description="vLLM frees its KV cache and offloads its weights while the trainer runs (GPU)."
    )


class RolloutBlock(RolloutEngineBlock):
    """How rollouts are sampled and turned into advantages (GRPO and the algorithms built on it)."""

    rollouts_per_prompt: int = Field(8, ge=2, description="G: responses sampled per prompt.")
    temperature: float = Field(0.6, gt=0, le=2, description="Rollout sampling temperature.")
    top_p: float = Field(1.0, gt=0, le=1)
    normalize_advantage_by_std: bool = Field(True, description="False = Dr. GRPO (no std division).")
    ppo_epochs: int = Field(1, ge=1, description="Passes over each rollout batch.")


class GRPOBlock(RolloutBlock):
    reward: RewardName = Field("outcome", description="Reward function (training.rewards).")


ALGORITHM = Algorithm(
    name="grpo",
    summary="GRPO: group-normalised advantages, clipped policy gradient, KL and entropy terms.",
    build="training.algorithms.grpo.build:build_trainer",
    block=GRPOBlock,
    data_parallel=True,
    pinned_metrics=("reward_mean", "train_accuracy"),
)
