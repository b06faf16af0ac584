"""Re-distillation: SFT a base model on samples drawn from an RL-trained run's checkpoint
(docs/redistillation.md). The worker samples the source run first (inputs 'source_run'), then trains with
the SFT trainer."""

from pydantic import Field

from training.algorithms.grpo.entry import RewardName
from training.algorithms.registry import Algorithm
from training.algorithms.sft.entry import SFT_TRAIN_DEFAULTS, SFTOptions


class RedistillBlock(SFTOptions):
    source_run: str = Field(description="Name of the RL-trained run of the team whose policy is sampled.")
    source_step: int | None = Field(
        None, ge=0, description="Checkpoint step; default the best-average one, else the latest."
    )
    samples_per_prompt: int = Field(8, ge=1, description="K responses drawn per training prompt.")
    num_samples: int = Field(1000, ge=1, description="N correct samples kept for SFT (seed: 1,000).")
    temperature: float = Field(0.7, ge=0, le=2, description="Sampling temperature (seed: the RL one, 0.7).")
    max_new_tokens: int | None = Field(
        None, ge=1, description="Longest sampled response; default train.max_response_length."
    )
    reward: RewardName = Field(
        "outcome",
        description="What makes a sample correct: outcome = its last \\boxed{} graded (the RL reward); "
        "outcome_lenient = the answer as evaluation extracts it.",
    )
    sample_effect_problems: int = Field(
        0,
        ge=0,
        description="Measure each sample's sample effect (our reconstruction, docs/redistillation.md) "
        "against this many problems of the first eval benchmark; 0 = off.",
    )


ALGORITHM = Algorithm(
    name="redistill",
    summary="Re-distillation: SFT the model on correct samples of another run's checkpoint.",
    build="training.algorithms.sft.build:build_trainer",
    block=RedistillBlock,
    block_required="it names the source run",
    train_defaults=SFT_TRAIN_DEFAULTS,
    fixed_targets=True,
    inputs="source_run",
    needs_data=False,
    pinned_metrics=("loss",),
)
