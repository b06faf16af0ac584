"""LUFFY (Yan et al. 2025): mixed-policy GRPO, no SFT term, shaped off-policy demonstrations; SRFT's trainer
with LUFFY's objective (SRFTConfig.luffy)."""

from pydantic import Field

from training.algorithms.registry import Algorithm
from training.algorithms.srft.entry import DemonstrationsBlock


class LUFFYBlock(DemonstrationsBlock):
    rollouts_per_prompt: int = Field(7, ge=2, description="G self-rollouts per prompt (+1 demonstration).")
    temperature: float = Field(1.0, gt=0, le=2)
    normalize_advantage_by_std: bool = Field(False, description="LUFFY's code: no std division.")


ALGORITHM = Algorithm(
    name="luffy",
    summary="LUFFY: mixed-policy GRPO with shaped off-policy demonstrations, no SFT term.",
    build="training.algorithms.luffy.build:build_trainer",
    block=LUFFYBlock,
    data_parallel=True,
    pinned_metrics=("reward_mean", "demo_rl_loss"),
)
