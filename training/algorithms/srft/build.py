"""SRFT's trainer from a validated experiment spec."""

from collections.abc import Sequence
from typing import Any

from training.algorithms.configs import TrainerRuntime, config_from
from training.algorithms.grpo.build import grpo_config, trainer_options
from training.algorithms.srft.config import SRFTConfig
from training.algorithms.srft.trainer import SRFTTrainer
from training.examples import TrainingExample


def build_trainer(
    spec: Any, model: Any, tokenizer: Any, examples: Sequence[TrainingExample], runtime: TrainerRuntime
) -> SRFTTrainer:
    srft = config_from(SRFTConfig, spec.algorithm.srft)
    config = grpo_config(spec, runtime)
    return SRFTTrainer(model, tokenizer, examples, config, srft, **trainer_options(runtime))
