"""The GRPO job: a Run's spec → training examples, a GRPOConfig and a trainer that reports to the ORM.

Resumes from the run's last complete checkpoint when the run is delivered again (its worker died).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rlab.catalog.models import Dataset
from rlab.catalog.rankings import resolve_examples
from rlab.catalog.variants import label_noise_variant
from rlab.experiments.models import EpochAccuracy
from workers.evaluation import enqueue_evaluation
from workers.model_refs import run_model
from workers.reporting import RunCancelled, RunReporter

if TYPE_CHECKING:
    from training.distributed import Distributed

logger = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoints"


def training_dataset(reporter: RunReporter) -> Dataset:
    """The spec's dataset, or its label-noise variant when the spec asks for one."""
    data = reporter.config["data"]
    team = reporter.run.team
    dataset = Dataset.objects.named_for(team, data["dataset"])
    if dataset is None:
        raise Dataset.DoesNotExist(f"no dataset named {data['dataset']!r} for team {team.slug}")
    noise = data.get("label_noise")
    if noise and noise["fraction"] > 0:
        dataset = label_noise_variant(dataset, noise["fraction"], noise["seed"], team=team)
        logger.info("training on label-noise variant %s (%s)", dataset.name, dataset.derivation)
    return dataset


def training_examples(reporter: RunReporter) -> list:
    from evaluation.benchmarks import Problem
    from training.examples import TrainingExample

    data = reporter.config["data"]
    dataset = training_dataset(reporter)
    rows = (
        resolve_examples(dataset, data["examples"], data["ranking"])
        if data["examples"]
        else list(dataset.examples.order_by("index"))
    )
    algorithm = reporter.config["algorithm"]
    field = (algorithm.get(algorithm["name"]) or {}).get("demonstrations_field")
    return [
        TrainingExample(
            key=row.index,
            answer=row.answer,
            problem=Problem(
                id=str(row.index),
                problem=row.problem,
                answer=row.answer,
                choices=row.choices,
                subject=row.subject or None,
                level=row.level or None,
            ),
            demonstration=demonstration(row, field) if field else None,
        )
        for row in rows
    ]


def demonstration(example, field: str) -> str:
    """An example's reference solution: the `solution` column, or a field kept in its metadata."""
    text = example.solution if field == "solution" else example.metadata.get(field)
    if not text:
        raise ValueError(
            f"example {example.index} has no demonstration in {field!r} (SRFT needs one for each)"
        )
    return str(text)


def grpo_config(config: dict, output_dir: Path, on_gpu: bool):
    from training.grpo.config import GRPOConfig
    from training.losses import LossConfig

    loss, train, data = config["loss"], config["train"], config["data"]
    algorithm = config["algorithm"]
    grpo = algorithm.get(algorithm["name"]) or {}
    entropy_only = algorithm["name"] == "entropy_only"
    return GRPOConfig(
        template=data["template"],
        repeat_to_batch=bool(data["examples"]) and data["repeat_to_batch"],
        batch_size=train["batch_size"],
        mini_batch_size=train["mini_batch_size"],
        max_prompt_length=train["max_prompt_length"],
        max_response_length=train["max_response_length"],
        rollouts_per_prompt=grpo.get("rollouts_per_prompt", 8),
        temperature=grpo.get("temperature", 0.6),
        top_p=grpo.get("top_p", 1.0),
        rollout_engine="vllm" if on_gpu else "transformers",
        reward="none" if entropy_only else grpo.get("reward", "outcome"),
        normalize_advantage_by_std=grpo.get("normalize_advantage_by_std", True),
        loss=LossConfig(
            use_policy_loss=loss["policy_loss"] and not entropy_only,
            clip_ratio_low=loss["clip_ratio_low"],
            clip_ratio_high=loss["clip_ratio_high"],
            dual_clip_c=loss["dual_clip_c"],
            agg_mode=loss["aggregation"],
            norm_length=train["max_response_length"],
            kl_coef=loss["kl_coef"],
            kl_estimator=loss["kl_estimator"],
            entropy_coeff=loss["entropy_coeff"],
            weight_decay=train["weight_decay"],
        ),
        ppo_epochs=grpo.get("ppo_epochs", 1),
        lr=train["lr"],
        grad_clip=train["grad_clip"],
        steps=train["steps"],
        seed=train["seed"],
        output_dir=str(output_dir),
        save_every=train["save_every"],
        keep_last=train["keep_last"],
        best_metric="reward_mean",
    )


@dataclass
class DatabaseCallbacks:
    """Reports the trainer's steps, per-example accuracies and checkpoints to the run's rows, queues the
    evaluation of each checkpoint on the spec's schedule, and stops when the run is cancelled."""

    reporter: RunReporter
    total_steps: int | None = None  # the run's last step, when it is not train.steps (SFT: epochs)

    def on_step(self, step: int, metrics: dict) -> None:
        self.reporter.step_done(step, metrics)

    def on_example_accuracy(self, epoch: int, accuracy: dict) -> None:
        EpochAccuracy.record(self.reporter.run, epoch, accuracy)

    def on_checkpoint(self, step: int, path: str, dtype: str) -> None:
        checkpoint = self.reporter.checkpoint_saved(step, path, dtype)
        total = self.total_steps or self.reporter.config["train"]["steps"]
        if step % self.reporter.config["eval"]["every"] == 0 or step == total:
            enqueue_evaluation(self.reporter.run, checkpoint)

    def should_stop(self) -> bool:
        try:
            self.reporter.raise_if_cancelled()
        except RunCancelled:
            return True
        return False


def _grpo_trainer(config: dict):
    from training.grpo.trainer import GRPOTrainer

    return GRPOTrainer


def _srft_trainer(config: dict):
    from functools import partial

    from training.losses import SRFTConfig
    from training.srft import SRFTTrainer

    block = config["algorithm"]["srft"]
    srft = SRFTConfig(
        sft_weight_scale=block["sft_weight_scale"],
        sft_entropy_sign=block["sft_entropy_sign"],
        rl_positive_weight_scale=block["rl_positive_weight_scale"],
        demo_shaping_gamma=block["demo_shaping_gamma"],
        entropy_scope=block["entropy_scope"],
    )
    return partial(SRFTTrainer, srft=srft)


def _luffy_trainer(config: dict):
    from functools import partial

    from training.losses import SRFTConfig
    from training.srft import SRFTTrainer

    gamma = config["algorithm"]["luffy"]["demo_shaping_gamma"]
    return partial(SRFTTrainer, srft=SRFTConfig.luffy(gamma))


def _run_inputs(reporter: RunReporter, output_dir: Path) -> tuple[Path | None, list, str]:
    """Where the run resumes from (its last complete checkpoint, if any), its examples and its weights."""
    from training.checkpoints import latest_checkpoint

    resume_from = latest_checkpoint(output_dir) if output_dir.exists() else None
    return resume_from, training_examples(reporter), run_model(reporter.run, reporter.artifact_dir).weights


def training_job(trainer_class_for):
    """A job that trains with the trainer `trainer_class_for(config)` names (GRPO or one of its variants)."""

    def job(reporter: RunReporter, distributed: Distributed | None = None) -> None:
        """`distributed`: this process's rank in a data-parallel run (workers.distributed_run); rank 0
        alone reads the run's inputs from the database and reports, the others get them from it."""
        import torch

        from evaluation.generation.models import load_model_and_tokenizer
        from training.distributed import SINGLE_PROCESS

        ranks = distributed or SINGLE_PROCESS
        config = reporter.config
        output_dir = reporter.artifact_dir / CHECKPOINT_DIR
        resume_from, examples, weights = ranks.broadcast_object(
            _run_inputs(reporter, output_dir) if ranks.is_main else None
        )
        device = "auto" if ranks.device is None else str(ranks.device)
        model, tokenizer = load_model_and_tokenizer(weights, config["model"]["dtype"], device)
        if ranks.is_main:
            reporter.set_total_steps(config["train"]["steps"])
            if resume_from is None and config["eval"]["base_model"]:
                enqueue_evaluation(reporter.run)
        logger.info(
            "%s on %d example(s) of %s, %s",
            config["algorithm"]["name"].upper(),
            len(examples),
            config["data"]["dataset"],
            f"resuming from {resume_from}" if resume_from else "from the base model",
        )
        trainer = trainer_class_for(config)(
            model,
            tokenizer,
            examples,
            grpo_config(config, output_dir, torch.cuda.is_available()),
            callbacks=DatabaseCallbacks(reporter),
            resume_from=resume_from,
            distributed=ranks,
        )
        try:
            result = trainer.train()
        finally:
            trainer.close()
        if result.stopped:
            raise RunCancelled

    return job


grpo_job = training_job(_grpo_trainer)
srft_job = training_job(_srft_trainer)
luffy_job = training_job(_luffy_trainer)
