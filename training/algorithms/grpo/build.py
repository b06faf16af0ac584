"""GRPO's trainer from a validated experiment spec (the registry entry's `build`)."""

from collections.abc import Mapping, Sequence
from typing import Any

from training.algorithms.configs import TrainerRuntime, config_from
from training.algorithms.grpo.config import GRPOConfig
from training.algorithms.grpo.trainer import GRPOTrainer
from training.distributed import SINGLE_PROCESS
from training.examples import TrainingExample
from training.losses import LossConfig


def grpo_config(
    spec: Any, runtime: TrainerRuntime, loss_overrides: Mapping[str, Any] | None = None, **overrides: Any
) -> GRPOConfig:
    """The GRPOConfig a spec means: the algorithm's block, then `train:`, field by field; the loss from
    `loss:`. `overrides` / `loss_overrides` are what an algorithm fixes (entropy-only: no policy loss)."""
    data, train = spec.data, spec.train
    loss = config_from(
        LossConfig, spec.loss, norm_length=train.max_response_length, **dict(loss_overrides or {})
    )
    return config_from(
        GRPOConfig,
        getattr(spec.algorithm, spec.algorithm.name, None),
        train,
        loss=loss,
        template=runtime.template or data.template,
        repeat_to_batch=bool(data.examples) and data.repeat_to_batch,
        rollout_engine="vllm" if runtime.on_gpu else "transformers",
        output_dir=None if runtime.output_dir is None else str(runtime.output_dir),
        best_metric="reward_mean",
        **overrides,
    )


def trainer_options(runtime: TrainerRuntime) -> dict[str, Any]:
    """The keyword arguments every GRPO-family trainer takes from the runtime."""
    return {
        "callbacks": runtime.callbacks,
        "resume_from": runtime.resume_from,
        "distributed": runtime.distributed or SINGLE_PROCESS,
    }


def build_trainer(
    spec: Any, model: Any, tokenizer: Any, examples: Sequence[TrainingExample], runtime: TrainerRuntime
) -> GRPOTrainer:
    return GRPOTrainer(model, tokenizer, examples, grpo_config(spec, runtime), **trainer_options(runtime))
