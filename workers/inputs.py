"""Where a run's training examples come from, by the registry entry's `inputs`:

dataset     the spec's data block: the catalog dataset (or its label-noise variant), the examples it names
            (π ranks or indices) or all of them, each with its demonstration where the algorithm uses one;
source_run  re-distillation: sample the source run's checkpoint on the prompts (the spec's data block when
            given, else the source run's own training prompts), keep the first correct and terminated
            response per prompt (training/algorithms/redistill/sampling.py), written to
            `redistill/samples.jsonl` and reused on a resume; the template is the prompts' own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from rlab.catalog.models import Dataset
from rlab.catalog.rankings import resolve_examples
from rlab.catalog.variants import label_noise_variant
from rlab.experiments.checkpoint_refs import finished_run, run_checkpoint
from rlab.experiments.models import Run
from workers.evaluation import backend_name, backend_tokenizer, eval_config_from_spec
from workers.model_refs import usable
from workers.reporting import RunReporter

logger = logging.getLogger(__name__)

SAMPLES_FILE = Path("redistill") / "samples.jsonl"


class RedistillError(RuntimeError):
    """The source run gave no usable SFT data."""


@dataclass
class RunInputs:
    examples: list
    template: str | None = None  # the prompts' template when not the spec's data.template
    before_training: Callable[[Any], None] | None = None  # given the trainer before its first step


def training_dataset(reporter: RunReporter) -> Dataset:
    """The spec's dataset, or its label-noise variant when the spec asks for one."""
    data = reporter.spec.data
    team = reporter.run.team
    dataset = Dataset.objects.named_for(team, data.dataset)
    if dataset is None:
        raise Dataset.DoesNotExist(f"no dataset named {data.dataset!r} for team {team.slug}")
    noise = data.label_noise
    if noise and noise.fraction > 0:
        dataset = label_noise_variant(dataset, noise.fraction, noise.seed, team=team, scope=noise.scope)
        logger.info("training on label-noise variant %s (%s)", dataset.name, dataset.derivation)
    return dataset


def training_examples(reporter: RunReporter) -> list:
    from evaluation.benchmarks import Problem
    from training.examples import TrainingExample

    spec = reporter.spec
    data = spec.data
    dataset = training_dataset(reporter)
    rows = (
        resolve_examples(dataset, data.examples, data.ranking)
        if data.examples
        else list(dataset.examples.order_by("index"))
    )
    field = getattr(getattr(spec.algorithm, spec.algorithm.name, None), "demonstrations_field", None)
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
            f"example {example.index} has no demonstration in {field!r} (this algorithm needs one for each)"
        )
    return str(text)


def dataset_inputs(reporter: RunReporter) -> RunInputs:
    return RunInputs(training_examples(reporter))


def redistill_prompts(reporter: RunReporter, source: Run) -> tuple[list, str]:
    """The prompts to sample and their template: the spec's data block, else the source run's."""
    if reporter.spec.data is not None:
        return training_examples(reporter), reporter.spec.data.template
    # A reporter for the source run, read only: training_examples reads its data block and team.
    source_reporter = RunReporter(source, Path(source.artifact_dir))
    return training_examples(source_reporter), source_reporter.spec.data.template


def sample_source(reporter: RunReporter, source_run: Run, prompts: list, template: str) -> list:
    """Sample the source checkpoint (redistill.source_step, else best-average, else latest)."""
    from evaluation.generation.base import create_backend
    from training.algorithms.configs import config_from
    from training.algorithms.redistill.sampling import RedistillConfig, Source, redistillation_samples

    spec = reporter.spec
    block = spec.algorithm.redistill
    checkpoint = run_checkpoint(source_run, block.source_step, usable)
    redistill = config_from(
        RedistillConfig,
        block,
        spec.train,
        template=template,
        max_new_tokens=block.max_new_tokens or spec.train.max_response_length,
    )
    source = Source(run=block.source_run, step=checkpoint.step, model_ref=checkpoint.path)
    logger.info("sampling %d prompt(s) × %d from %s", len(prompts), redistill.samples_per_prompt, source)
    backend = create_backend(backend_name(spec.eval.backend), checkpoint.path, spec.model.dtype)
    try:
        tokenizer = backend_tokenizer(backend, checkpoint.path)
        result = redistillation_samples(backend, tokenizer, prompts, redistill, source)
    finally:
        backend.close()
    logger.info("re-distillation samples: %s", result.metrics)
    return result.samples


def source_run_inputs(reporter: RunReporter) -> RunInputs:
    from training.algorithms.redistill.sampling import read_samples, sft_examples, write_samples

    block = reporter.spec.algorithm.redistill
    source = finished_run(reporter.run.team, block.source_run)
    prompts, template = redistill_prompts(reporter, source)
    path = reporter.artifact_dir / SAMPLES_FILE
    if path.is_file():
        samples = read_samples(path)
        logger.info("reusing %d re-distillation samples from %s", len(samples), path)
    else:
        samples = sample_source(reporter, source, prompts, template)
        if not samples:
            raise RedistillError(
                f"no correct and terminated response from run {block.source_run!r} on "
                f"{len(prompts)} prompt(s): nothing to distil"
            )
        write_samples(path, samples)
    measure = None
    if block.sample_effect_problems and any(s.sample_effect is None for s in samples):
        measure = partial(store_sample_effects, reporter, samples, path)
    return RunInputs(sft_examples(samples, prompts), template, measure)


def store_sample_effects(reporter: RunReporter, samples: list, path: Path, trainer) -> None:
    """Each sample's sample effect on the base model (the trainer's, before any step), measured on the
    first eval benchmark's first problems that are not among the samples' own, written into the samples
    file."""
    from evaluation.benchmarks import load_benchmark
    from evaluation.runner import setup_for
    from training.algorithms.redistill.sample_effect import (
        SampleEffectConfig,
        held_out_gradient,
        held_out_rollouts,
        sample_effects,
    )
    from training.algorithms.redistill.sampling import write_samples

    spec = reporter.spec
    block, evaluation = spec.algorithm.redistill, spec.eval
    wanted, trained_on = block.sample_effect_problems, {s.problem for s in samples}
    candidates = load_benchmark(evaluation.suite[0], limit=wanted + len(trained_on))
    problems = [p for p in candidates if p.problem not in trained_on][:wanted]  # held out: not trained on
    measure = SampleEffectConfig(
        template=setup_for(evaluation.suite[0], eval_config_from_spec(spec)).template,
        rollouts_per_prompt=max(block.samples_per_prompt, 2),
        temperature=block.temperature or 1.0,  # greedy K samples would be identical: no signal
        max_new_tokens=block.max_new_tokens or spec.train.max_response_length,
        seed=spec.train.seed,
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
        len(problems), evaluation.suite[0], correct, len(problems) * measure.rollouts_per_prompt,
        sum(effects) / len(effects), min(effects), max(effects),
    )


INPUTS: dict[str, Callable[[RunReporter], RunInputs]] = {
    "dataset": dataset_inputs,
    "source_run": source_run_inputs,
}
