"""The SFT trainer from a validated experiment spec (SFT and re-distillation)."""

from collections.abc import Sequence
from typing import Any

from training.algorithms.configs import TrainerRuntime, config_from
from training.algorithms.sft.trainer import SFTConfig, SFTTrainer
from training.examples import TrainingExample


def sft_config(spec: Any, runtime: TrainerRuntime) -> SFTConfig:
    """The algorithm's block (epochs), then `train:` (memory settings included); max_length = prompt +
    response."""
    train = spec.train
    return config_from(
        SFTConfig,
        getattr(spec.algorithm, spec.algorithm.name),
        train,
        template=runtime.template or spec.data.template,
        max_length=train.max_prompt_length + train.max_response_length,
        output_dir=None if runtime.output_dir is None else str(runtime.output_dir),
    )


def build_trainer(
    spec: Any, model: Any, tokenizer: Any, examples: Sequence[TrainingExample], runtime: TrainerRuntime
) -> SFTTrainer:
    config = sft_config(spec, runtime)
    return SFTTrainer(
        model, tokenizer, examples, config, callbacks=runtime.callbacks, resume_from=runtime.resume_from
    )
