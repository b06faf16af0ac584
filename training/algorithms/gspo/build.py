"""GSPO's trainer from a validated experiment spec."""

from collections.abc import Sequence
from typing import Any

from training.algorithms.configs import TrainerRuntime, config_from
from training.algorithms.grpo.build import grpo_config, trainer_options
from training.algorithms.gspo.config import GSPOConfig
from training.algorithms.gspo.trainer import GSPO_AGGREGATION, GSPOTrainer
from training.examples import TrainingExample


def build_trainer(
    spec: Any, model: Any, tokenizer: Any, examples: Sequence[TrainingExample], runtime: TrainerRuntime
) -> GSPOTrainer:
    config = grpo_config(spec, runtime, loss_overrides={"aggregation": GSPO_AGGREGATION})
    gspo = config_from(GSPOConfig, spec.algorithm.gspo)
    return GSPOTrainer(model, tokenizer, examples, config, gspo, **trainer_options(runtime))
