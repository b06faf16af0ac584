"""GSPO (Zheng et al. 2025, "Group Sequence Policy Optimization", arXiv 2507.18071): GRPO with a
sequence-level importance ratio, clipped per sequence. Added as the proof that an algorithm is one folder."""

from pydantic import Field

from training.algorithms.grpo.entry import GRPOBlock
from training.algorithms.registry import Algorithm


class GSPOBlock(GRPOBlock):
    sequence_clip_low: float = Field(
        3e-4, ge=0, lt=1, description="ε_left: s_i is clipped below at 1 - ε (GSPO paper §5.1: 3e-4)."
    )
    sequence_clip_high: float = Field(
        4e-4, ge=0, description="ε_right: s_i is clipped above at 1 + ε (GSPO paper §5.1: 4e-4)."
    )


ALGORITHM = Algorithm(
    name="gspo",
    summary="GSPO: GRPO with the length-normalised sequence likelihood ratio, clipped per sequence.",
    build="training.algorithms.gspo.build:build_trainer",
    block=GSPOBlock,
    data_parallel=True,
    pinned_metrics=("reward_mean", "train_accuracy", "clip_frac"),
)
