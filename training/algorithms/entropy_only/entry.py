"""Entropy-only training (1-shot RLVR paper, §4.3): GRPO's loop with no policy loss and no outcome reward,
so the entropy term alone moves the policy."""

from training.algorithms.grpo.entry import RolloutBlock
from training.algorithms.registry import Algorithm

ALGORITHM = Algorithm(
    name="entropy_only",
    summary="Entropy-only: GRPO's loop with the policy loss off and the `none` reward (paper §4.3).",
    build="training.algorithms.entropy_only.build:build_trainer",
    block=RolloutBlock,
    data_parallel=True,
    pinned_metrics=("entropy", "train_accuracy"),
)
