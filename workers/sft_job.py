"""The SFT and re-distillation jobs: a Run's spec → SFT data → SFTTrainer reporting to the ORM.

`sft`: the spec's dataset, each example's `demonstrations_field` as the response to learn.
`redistill`: sample the source run's checkpoint on the prompts (the spec's `data` block when given, else
the source run's own training prompts), keep the first correct and terminated response per prompt
(training/redistill.py), write them to `redistill/samples.jsonl`, then SFT the spec's model on them.
Both resume from the run's last checkpoint; a re-distillation whose samples file exists reuses it.
See docs/redistillation.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path

from rlab.experiments.checkpoint_refs import finished_run, run_checkpoint
from rlab.experiments.models import Run
from workers.evaluation import backend_name, backend_tokenizer, enqueue_evaluation
from workers.model_refs import run_model, usable
from workers.reporting import RunCancelled, RunReporter
from workers.training_job import CHECKPOINT_DIR, DatabaseCallbacks, training_examples

logger = logging.getLogger(__name__)

SAMPLES_FILE = Path("redistill") / "samples.jsonl"


class RedistillError(RuntimeError):
    """The source run gave no usable SFT data."""


def sft_config(config: dict, output_dir: Path, template: str):
    """The spec's SFT settings: the algorithm block (epochs, micro-batch) and the train block."""
    from training.sft import SFTConfig

    train = config["train"]
    block = config["algorithm"][config["algorithm"]["name"]]
    return SFTConfig(
        template=template,
        max_length=train["max_prompt_length"] + train["max_response_length"],
        batch_size=train["batch_size"],
        micro_batch_size=block["micro_batch_size"],
        epochs=block["epochs"],
        lr=train["lr"],
        weight_decay=train["weight_decay"],
        grad_clip=train["grad_clip"],
        seed=train["seed"],
        output_dir=str(output_dir),
        save_every=train["save_every"],
        keep_last=train["keep_last"],
    )


def train_sft(
    reporter: RunReporter, examples: list, template: str, before_training: Callable | None = None
) -> None:
    """SFT of the run's model on `examples` (each with its response as `demonstration`); `before_training`
    gets the trainer before its first step (not on a resume)."""
    from evaluation.generation.models import load_model_and_tokenizer
    from training.checkpoints import latest_checkpoint
    from training.sft import SFTTrainer

    config = reporter.config
    output_dir = reporter.artifact_dir / CHECKPOINT_DIR
    resume_from = latest_checkpoint(output_dir) if output_dir.exists() else None
    model, tokenizer = load_model_and_tokenizer(
        run_model(reporter.run, reporter.artifact_dir).weights, config["model"]["dtype"]
    )
    if resume_from is None and config["eval"]["base_model"]:
        enqueue_evaluation(reporter.run)
    callbacks = DatabaseCallbacks(reporter)
    trainer = SFTTrainer(
        model,
        tokenizer,
        examples,
        sft_config(config, output_dir, template),
        callbacks=callbacks,
        resume_from=resume_from,
    )
    if before_training is not None and resume_from is None:
        before_training(trainer)
    callbacks.total_steps = trainer.total_steps
    reporter.set_total_steps(trainer.total_steps)
    logger.info(
        "SFT on %d example(s), %d steps, %s",
        len(examples),
        trainer.total_steps,
        f"resuming from {resume_from}" if resume_from else "from the start",
    )
    if trainer.train().stopped:
        raise RunCancelled


def sft_job(reporter: RunReporter) -> None:
    train_sft(reporter, training_examples(reporter), reporter.config["data"]["template"])


def redistill_prompts(reporter: RunReporter, source: Run) -> tuple[list, str]:
    """The prompts to sample and their template: the spec's data block, else the source run's."""
    if reporter.config["data"] is not None:
        return training_examples(reporter), reporter.config["data"]["template"]
    # A reporter for the source run, read only: training_examples reads its data block and team.
    source_reporter = RunReporter(source, Path(source.artifact_dir))
    return training_examples(source_reporter), source.config["data"]["template"]


def sample_source(reporter: RunReporter, source_run: Run, prompts: list, template: str) -> list:
    """Sample the source checkpoint (redistill.source_step, else best-average, else latest)."""
    from evaluation.generation.base import create_backend
    from training.redistill import RedistillConfig, Source, redistillation_samples

    config = reporter.config
    block = config["algorithm"]["redistill"]
    checkpoint = run_checkpoint(source_run, block["source_step"], usable)
    redistill = RedistillConfig(
        template=template,
        samples_per_prompt=block["samples_per_prompt"],
        num_samples=block["num_samples"],
        temperature=block["temperature"],
        max_new_tokens=block["max_new_tokens"] or config["train"]["max_response_length"],
        seed=config["train"]["seed"],
    )
    source = Source(run=block["source_run"], step=checkpoint.step, model_ref=checkpoint.path)
    logger.info("sampling %d prompt(s) × %d from %s", len(prompts), redistill.samples_per_prompt, source)
    backend = create_backend(
        backend_name(config["eval"]["backend"]), checkpoint.path, config["model"]["dtype"]
    )
    try:
        tokenizer = backend_tokenizer(backend, checkpoint.path)
        result = redistillation_samples(backend, tokenizer, prompts, redistill, source)
    finally:
        backend.close()
    logger.info("re-distillation samples: %s", result.metrics)
    return result.samples


def redistill_job(reporter: RunReporter) -> None:
    from training.redistill import read_samples, sft_examples, write_samples

    block = reporter.config["algorithm"]["redistill"]
    source = finished_run(reporter.run.team, block["source_run"])
    prompts, template = redistill_prompts(reporter, source)
    path = reporter.artifact_dir / SAMPLES_FILE
    if path.is_file():
        samples = read_samples(path)
        logger.info("reusing %d re-distillation samples from %s", len(samples), path)
    else:
        samples = sample_source(reporter, source, prompts, template)
        if not samples:
            raise RedistillError(
                f"no correct and terminated response from run {block['source_run']!r} on "
                f"{len(prompts)} prompt(s): nothing to distil"
            )
        write_samples(path, samples)
    measure = None
    if block["sample_effect_problems"] and any(s.sample_effect is None for s in samples):
        measure = partial(store_sample_effects, reporter, samples, path)
    train_sft(reporter, sft_examples(samples, prompts), template, before_training=measure)


def store_sample_effects(reporter: RunReporter, samples: list, path: Path, trainer) -> None:
    """Each sample's sample effect on the base model (the trainer's, before any step), measured on the
    first eval benchmark's first problems that are not among the samples' own, written into the samples
    file."""
    from evaluation.benchmarks import load_benchmark
    from training.redistill import write_samples
    from training.sample_effect import (
        SampleEffectConfig,
        held_out_gradient,
        held_out_rollouts,
        sample_effects,
    )

    config = reporter.config
    block, evaluation = config["algorithm"]["redistill"], config["eval"]
    wanted, trained_on = block["sample_effect_problems"], {s.problem for s in samples}
    candidates = load_benchmark(evaluation["suite"][0], limit=wanted + len(trained_on))
    problems = [p for p in candidates if p.problem not in trained_on][:wanted]  # held out: not trained on
    measure = SampleEffectConfig(
        template=evaluation["template"],
        rollouts_per_prompt=max(block["samples_per_prompt"], 2),
        temperature=block["temperature"] or 1.0,  # greedy K samples would be identical: no signal
        max_new_tokens=block["max_new_tokens"] or config["train"]["max_response_length"],
        seed=config["train"]["seed"],
    )
    rollouts = held_out_rollouts(trainer.model, trainer.tokenizer, problems, measure)
    g_test = held_out_gradient(trainer.model, rollouts, trainer.pad_token_id)
    pairs = [(trainer.prompt_ids[s.example_key], trainer.response_ids[s.example_key]) for s in samples]
    effects = sample_effects(trainer.model, pairs, g_test, trainer.pad_token_id, measure.normalize)
    samples[:] = [replace(s, sample_effect=e) for s, e in zip(samples, effects, strict=True)]
    write_samples(path, samples)
    correct = sum(r > 0 for group in rollouts.rewards for r in group)
    logger.info(
        "sample effect on %d held-out problem(s) of %s (%d of %d rollouts correct): mean %.4g, min %.4g, "
        "max %.4g",
        len(problems), evaluation["suite"][0], correct, len(problems) * measure.rollouts_per_prompt,
        sum(effects) / len(effects), min(effects), max(effects),
    )
