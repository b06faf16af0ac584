"""Supervised fine-tuning on each example's demonstration (the re-distillation seed's SFT recipe)."""

from pydantic import Field

from training.algorithms.registry import Algorithm, SpecBlock

# The re-distillation seed's SFT (notes §4.1): lr 1e-5, no weight decay.
SFT_TRAIN_DEFAULTS = {"lr": 1e-5, "weight_decay": 0.0}


class SFTOptions(SpecBlock):
    """The SFT stage (docs/redistillation.md). It also reads train.lr (default 1e-5 for SFT), batch_size
    (sequences per optimizer step), max_prompt_length + max_response_length (max sequence length),
    weight_decay (default 0 for SFT), grad_clip, save_every, keep_last, seed and the memory settings
    (micro_batch_size, max_tokens_per_micro_batch, logprob_chunk_tokens, activation_checkpointing); not
    train.steps."""

    epochs: int = Field(2, ge=1, description="Passes over the SFT data (re-distillation seed: 2).")


class SFTBlock(SFTOptions):
    demonstrations_field: str = Field(
        "solution", description="Example field holding the response to learn (the SFT target)."
    )


ALGORITHM = Algorithm(
    name="sft",
    summary="SFT: completion-only NLL on each example's demonstration.",
    build="training.algorithms.sft.build:build_trainer",
    block=SFTBlock,
    train_defaults=SFT_TRAIN_DEFAULTS,
    fixed_targets=True,
    pinned_metrics=("loss",),
)
