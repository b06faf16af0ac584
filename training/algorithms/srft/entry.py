"""SRFT (Fu et al. 2025): one stage of entropy-weighted SFT on demonstrations + RL on self-rollouts."""

from typing import Literal

from pydantic import Field

from training.algorithms.grpo.entry import RewardName, RolloutEngineBlock
from training.algorithms.registry import Algorithm


class DemonstrationsBlock(RolloutEngineBlock):
    """What SRFT and LUFFY share: demonstrations joining each prompt's rollout group (docs/srft.md)."""

    demonstrations_field: str = Field("solution", description="Example field holding demonstrations.")
    demo_shaping_gamma: float | None = Field(
        0.1, gt=0, description="γ of the demonstration term -A·p/(p+γ); empty = the SRFT paper's -A·p."
    )
    rollouts_per_prompt: int = Field(8, ge=2, description="G self-rollouts per prompt (+1 demonstration).")
    temperature: float = Field(0.6, gt=0, le=2)
    normalize_advantage_by_std: bool = Field(True, description="False = LUFFY's code (no std division).")
    reward: RewardName = Field("outcome", description="Reward function (training.rewards).")


class SRFTBlock(DemonstrationsBlock):
    sft_weight_scale: float = Field(
        0.5, ge=0, description="w_SFT = scale · stopgrad(exp(±H)) on demonstrations (docs/srft.md)."
    )
    sft_entropy_sign: Literal[1, -1] = Field(
        1, description="Sign of H in w_SFT: 1 = exp(+H) as the released code, -1 = exp(-H) as the paper."
    )
    rl_positive_weight_scale: float = Field(
        0.1, ge=0, description="w_RL = scale · stopgrad(exp(H)) on positive self-rollouts."
    )
    entropy_scope: Literal["token", "batch_mean"] = Field(
        "token", description="H in the weights: each token's own, or the mean over the weighted tokens."
    )


ALGORITHM = Algorithm(
    name="srft",
    summary="SRFT: entropy-weighted SFT on demonstrations + RL on self-rollouts, one stage (docs/srft.md).",
    build="training.algorithms.srft.build:build_trainer",
    block=SRFTBlock,
    data_parallel=True,
    pinned_metrics=("reward_mean", "sft_loss", "w_sft"),
)
