"""The training job: a Run's spec → its algorithm's trainer (from the registry) reporting to the ORM.

One job for every algorithm: the registry entry says where the examples come from (workers.inputs) and
names the function that builds the trainer from the validated spec (training/algorithms/<name>/build.py).
Resumes from the run's last complete checkpoint when the run is delivered again (its worker died).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rlab.experiments.models import EpochAccuracy
from training.algorithms import get_algorithm
from workers.evaluation import enqueue_evaluation
from workers.inputs import INPUTS, RunInputs
from workers.model_refs import run_model
from workers.reporting import RunCancelled, RunReporter
from workers.retention import CHECKPOINT_DIR, protected_steps

if TYPE_CHECKING:
    from training.distributed import Distributed

logger = logging.getLogger(__name__)


# One run.log line per step: what a researcher tails (the full metrics are on the run page and in the API).
STEP_LINE_METRICS = (
    ("reward_mean", "reward"),
    ("train_accuracy", "accuracy"),
    ("boxed_ratio", "boxed"),
    ("loss", "loss"),
    ("entropy", "entropy"),
    ("step_seconds", "seconds"),
)


def step_summary(metrics: dict) -> str:
    parts = [
        f"{label} {value:.4g}"
        for key, label in STEP_LINE_METRICS
        if isinstance(value := metrics.get(key), int | float) and not isinstance(value, bool)
    ]
    return ", ".join(parts) or "no metrics"


@dataclass
class DatabaseCallbacks:
    """Reports the trainer's steps, per-example accuracies and checkpoints to the run's rows, queues the
    evaluation of each checkpoint on the spec's schedule, and stops when the run is cancelled."""

    reporter: RunReporter
    total_steps: int

    def on_step(self, step: int, metrics: dict) -> None:
        self.reporter.step_done(step, metrics)
        logger.info("step %d/%d: %s", step, self.total_steps, step_summary(metrics))

    def on_example_accuracy(self, epoch: int, accuracy: dict) -> None:
        EpochAccuracy.record(self.reporter.run, epoch, accuracy)

    def on_checkpoint(self, step: int, path: str, dtype: str) -> None:
        checkpoint = self.reporter.checkpoint_saved(step, path, dtype)
        if step % self.reporter.spec.eval.every == 0 or step == self.total_steps:
            enqueue_evaluation(self.reporter.run, checkpoint)

    def should_stop(self) -> bool:
        try:
            self.reporter.raise_if_cancelled()
        except RunCancelled:
            return True
        return False

    def protected_checkpoints(self) -> set[int]:
        return protected_steps(self.reporter.run)


def _run_inputs(reporter: RunReporter) -> tuple:
    """Where the run resumes from (its last complete checkpoint, if any), its inputs and the model it starts
    from (for `model.id: run:NAME`, that run's checkpoint)."""
    from training.checkpoints import latest_checkpoint

    output_dir = reporter.artifact_dir / CHECKPOINT_DIR
    resume_from = latest_checkpoint(output_dir) if output_dir.exists() else None
    inputs = INPUTS[get_algorithm(reporter.spec.algorithm.name).inputs](reporter)
    return resume_from, inputs, run_model(reporter.run, reporter.artifact_dir)


def training_job(reporter: RunReporter, distributed: Distributed | None = None) -> None:
    """Train the run with its algorithm. `distributed`: this process's rank in a data-parallel run
    (workers.distributed_run); rank 0 alone reads the run's inputs from the database and reports, the
    others get them from it."""
    import torch

    from evaluation.generation.models import load_model_and_tokenizer
    from training.algorithms.configs import TrainerRuntime
    from training.distributed import SINGLE_PROCESS

    ranks = distributed or SINGLE_PROCESS
    spec = reporter.spec
    algorithm = get_algorithm(spec.algorithm.name)
    resume_from, inputs, start = ranks.broadcast_object(_run_inputs(reporter) if ranks.is_main else None)
    inputs: RunInputs
    device = "auto" if ranks.device is None else str(ranks.device)
    model, tokenizer = load_model_and_tokenizer(start.weights, spec.model.dtype, device)
    if ranks.is_main and resume_from is None and spec.eval.base_model:
        enqueue_evaluation(reporter.run)
    callbacks = DatabaseCallbacks(reporter, total_steps=spec.train.steps)
    runtime = TrainerRuntime(
        output_dir=reporter.artifact_dir / CHECKPOINT_DIR,
        on_gpu=torch.cuda.is_available(),
        callbacks=callbacks,
        resume_from=resume_from,
        distributed=ranks,
        template=inputs.template,
    )
    trainer = algorithm.load_build()(spec, model, tokenizer, inputs.examples, runtime)
    try:
        callbacks.total_steps = trainer.total_steps
        if ranks.is_main:
            reporter.set_total_steps(trainer.total_steps)
        if inputs.before_training is not None and resume_from is None:
            inputs.before_training(trainer)
        logger.info(
            "%s on %d example(s), %d steps, %s",
            algorithm.name,
            len(inputs.examples),
            trainer.total_steps,
            f"resuming from {resume_from}" if resume_from else f"from {start.label} ({start.weights})",
        )
        result = trainer.train()
    finally:
        trainer.close()
    if result.stopped:
        raise RunCancelled
