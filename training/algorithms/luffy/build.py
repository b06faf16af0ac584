"""LUFFY's trainer: SRFT's, with LUFFY's objective."""

from collections.abc import Sequence
from typing import Any

from training.algorithms.configs import TrainerRuntime
from training.algorithms.grpo.build import grpo_config, trainer_options
from training.algorithms.srft.config import SRFTConfig
from training.algorithms.srft.trainer import SRFTTrainer
from training.examples import TrainingExample


def build_trainer(
    spec: Any, model: Any, tokenizer: Any, examples: Sequence[TrainingExample], runtime: TrainerRuntime
) -> SRFTTrainer:
    srft = SRFTConfig.luffy(spec.algorithm.luffy.demo_shaping_gamma)
    config = grpo_config(spec, runtime)
    return SRFTTrainer(model, tokenizer, examples, config, srft, **trainer_options(runtime))
