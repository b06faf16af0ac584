"""Entropy-only's trainer: GRPO with the policy loss off and the `none` reward."""

from collections.abc import Sequence
from typing import Any

from training.algorithms.configs import TrainerRuntime
from training.algorithms.grpo.build import grpo_config, trainer_options
from training.algorithms.grpo.trainer import GRPOTrainer
from training.examples import TrainingExample


def build_trainer(
    spec: Any, model: Any, tokenizer: Any, examples: Sequence[TrainingExample], runtime: TrainerRuntime
) -> GRPOTrainer:
    config = grpo_config(spec, runtime, loss_overrides={"policy_loss": False}, reward="none")
    return GRPOTrainer(model, tokenizer, examples, config, **trainer_options(runtime))
