"""Evaluating a run's base model or one of its checkpoints on the spec's suite, into EvalResult rows.

Engines stay warm per worker process: evaluating checkpoint after checkpoint of one run reloads only
the weights where the backend can (vLLM), instead of building a new engine each time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction

from rlab.catalog.seeding import benchmark_dataset
from rlab.experiments.models import Checkpoint, EvalRequest, Run
from rlab.results.models import EvalResult, overlap_note
from rlab.spec import SpecV1
from workers.artifacts import writing
from workers.model_refs import run_model

if TYPE_CHECKING:
    from evaluation.loglikelihood import LoglikelihoodRun
    from evaluation.runner import BenchmarkRun

logger = logging.getLogger(__name__)

EVALUATE_TASK = "workers.tasks.evaluate_model"


def enqueue_evaluation(run: Run, checkpoint: Checkpoint | None = None) -> EvalRequest:
    """Ask for the evaluation of the run's base model (no checkpoint) or a checkpoint: one EvalRequest per
    target, its task sent (ahead of queued training runs) while it is queued."""
    request = EvalRequest.ask(run, checkpoint)
    if request.status == EvalRequest.Status.QUEUED:
        send_evaluation(request)
    return request


def send_evaluation(request: EvalRequest) -> None:
    from rlab.celery import EVALUATION_PRIORITY, app

    queue = request.run.queue
    transaction.on_commit(
        lambda: app.send_task(EVALUATE_TASK, args=[request.pk], queue=queue, priority=EVALUATION_PRIORITY)
    )


def eval_config_from_spec(spec: SpecV1, training: tuple = ()):
    """The spec's evaluation settings; `training`: the fingerprints of the run's training examples."""
    from evaluation.runner import EvalConfig

    block, sampling = spec.eval, spec.eval.sampling
    return EvalConfig(
        benchmarks=tuple(block.suite),
        template=block.template,
        templates=dict(block.templates),
        limit=block.limit,
        n=sampling.n,
        temperature=sampling.temperature,
        top_p=sampling.top_p,
        max_new_tokens=sampling.max_new_tokens,
        seed=sampling.seed,
        training=tuple(training),
        data_dir=Path(settings.RLAB_DATA_DIR),
        training_overlap=block.training_overlap,
    )


def backend_name(requested: str) -> str:
    """`auto` = vLLM where a GPU and the [gpu] extra are there, transformers elsewhere."""
    if requested != "auto":
        return requested
    import importlib.util

    import torch

    return "vllm" if torch.cuda.is_available() and importlib.util.find_spec("vllm") else "transformers"


@dataclass
class WarmEngine:
    key: tuple[str, str, str]
    backend: object
    weights: str


_warm: WarmEngine | None = None


def warm_backend(name: str, family_ref: str, weights_ref: str, dtype: str):
    """The process's engine for `family_ref`, switched to `weights_ref` (a checkpoint of it)."""
    global _warm
    from evaluation.generation.base import create_backend

    key = (name, family_ref, dtype)
    if _warm is not None and _warm.key == key and _warm.weights == weights_ref:
        return _warm.backend
    if _warm is not None and _warm.key == key and hasattr(_warm.backend, "load_weights"):
        _warm.backend.load_weights(weights_ref)
        _warm.weights = weights_ref
        return _warm.backend
    if _warm is not None:
        _warm.backend.close()
        _warm = None
    backend = create_backend(name, weights_ref, dtype)
    _warm = WarmEngine(key, backend, weights_ref)
    return backend


def backend_tokenizer(backend, model_ref: str):
    if (tokenizer := getattr(backend, "tokenizer", None)) is not None:
        return tokenizer
    from transformers import AutoTokenizer

    from evaluation.generation.models import pretrained_path, resolve_model

    return AutoTokenizer.from_pretrained(pretrained_path(resolve_model(model_ref)))


def _metrics(score) -> dict:
    return {
        "pass_at_k": {str(k): v for k, v in score.pass_at_k.items()},
        "maj_at_k": {str(k): v for k, v in score.maj_at_k.items()},
        "by_level": score.by_level,
        "length_mean": score.length.mean,
        "length_max": score.length.max,
        "boxed_ratio": score.boxed_ratio,
        "truncation_ratio": score.truncation_ratio,
        "repetition_ratio": score.repetition_ratio,
        "reflection_words": score.reflection_words,
    }


def planned_setups(spec: SpecV1, training: tuple = ()) -> dict[str, tuple[str, str]]:
    """benchmark → (template, sampling hash) the spec evaluates it with, training problems left out: what,
    with the model, identifies a result. Known before any model loads, so a recorded evaluation is found
    without generating. A benchmark in log-likelihood mode is recorded with its default formulation as the
    template and the formulation's setup record (evaluate_loglikelihood_benchmark, record_loglikelihood)."""
    from evaluation.benchmarks import get_benchmark
    from evaluation.loglikelihood.runner import formulation_for, setup_record
    from evaluation.runner import setup_for

    config = eval_config_from_spec(spec, training)
    planned = {}
    for benchmark in config.benchmarks:
        if spec.eval.mode_of(benchmark) == "loglikelihood":
            formulation = formulation_for(get_benchmark(benchmark), None)
            planned[benchmark] = (formulation.id, EvalResult.hash_sampling(setup_record(formulation)))
        else:
            setup = setup_for(benchmark, config)
            planned[benchmark] = (setup.template, EvalResult.hash_sampling(setup.sampling_record))
    return planned


def training_fingerprints(run: Run) -> tuple:
    """Fingerprints of what the run (and the run its model comes from) trained on."""
    from rlab.experiments.training_data import training_data

    return tuple(training_data(run).fingerprints())


def recorded_benchmarks(run: Run, checkpoint_id: int | None, model_ref: str) -> set[str]:
    """The run's benchmarks recorded already for this model or checkpoint with the spec's own template and
    sampling (a base model evaluated with other settings for another run does not count)."""
    setups = planned_setups(SpecV1.model_validate(run.config), training_fingerprints(run))
    target = EvalResult.make_target_key(run.team_id, model_ref, checkpoint_id)
    recorded = EvalResult.objects.filter(target_key=target).values_list(
        "benchmark__key", "template", "sampling_hash"
    )
    return {name for name, template, hashed in recorded if setups.get(name) == (template, hashed)}


def _record(run: Run, checkpoint: Checkpoint | None, model_ref: str, dataset, **fields) -> EvalResult:
    """EvalResult.record for `run`'s evaluation of its base model or `checkpoint` on `dataset`'s benchmark."""
    return EvalResult.record(
        team=run.team,
        run=run,
        checkpoint=checkpoint,
        model_ref=model_ref,
        benchmark=dataset.benchmarks.get(),
        **fields,
    )


def record_outcome(
    run: Run, checkpoint: Checkpoint | None, model_ref: str, outcome: BenchmarkRun, samples_path: Path
) -> EvalResult:
    """Store one benchmark's evaluation (an evaluation.runner BenchmarkRun whose samples were written to
    `samples_path`) as an EvalResult with one ExampleResult per problem: an idempotent upsert."""
    dataset = benchmark_dataset(outcome.benchmark.id, outcome.loaded)
    examples = {e.index: e for e in dataset.examples.filter(index__in=outcome.indices)}
    metrics = _metrics(outcome.score)
    if outcome.overlap is not None:
        metrics["training_overlap"] = outcome.overlap.record()
    return _record(
        run,
        checkpoint,
        model_ref,
        dataset,
        template=outcome.template,
        sampling=outcome.sampling_record,
        n=outcome.score.n_problems,
        k=outcome.sampling.n,
        score=outcome.score.avg_at_k,
        per_subject=outcome.score.by_subject,
        metrics=metrics,
        samples_path=str(samples_path),
        examples=[
            {
                "example": examples[index],
                "samples": len(group),
                "correct": sum(s.correct for s in group),
                "mean_length": sum(s.n_tokens for s in group) / len(group),
                "extracted_answers": [s.extracted for s in group],
            }
            for index, group in zip(outcome.indices, outcome.samples, strict=True)
        ],
    )


def record_loglikelihood(
    run: Run, checkpoint: Checkpoint | None, model_ref: str, outcome: LoglikelihoodRun, items_path: Path
) -> EvalResult:
    """Store a log-likelihood evaluation: the formulation is its template (so it never shares a key or a
    leaderboard column with generated answers), the score its primary metric, one ExampleResult per
    question with the chosen option's letter."""
    from evaluation.templates import LETTERS

    dataset = benchmark_dataset(outcome.benchmark.id, outcome.problems)
    examples = {e.index: e for e in dataset.examples.filter(index__lt=len(outcome.problems))}
    primary = outcome.score.primary
    return _record(
        run,
        checkpoint,
        model_ref,
        dataset,
        template=outcome.template,
        sampling=outcome.setup_record,
        n=outcome.score.n_problems,
        k=1,
        score=outcome.score.value,
        per_subject=outcome.score.by_subject,
        metrics={"loglikelihood": outcome.score.accuracy, "stderr": outcome.score.stderr, "primary": primary},
        samples_path=str(items_path),
        examples=[
            {
                "example": examples[i],
                "samples": 1,
                "correct": int(item.correct(primary)),
                "mean_length": sum(item.n_tokens) / len(item.n_tokens),
                "extracted_answers": [LETTERS[item.pred_norm if primary == "acc_norm" else item.pred]],
            }
            for i, item in enumerate(outcome.items)
        ],
    )


def evaluate_loglikelihood_benchmark(backend, tokenizer, run: Run, benchmark_id: str) -> LoglikelihoodRun:
    from evaluation.loglikelihood import LoglikelihoodConfig, evaluate_loglikelihood
    from evaluation.loglikelihood.backends import scorer_for

    config = LoglikelihoodConfig(limit=run.config["eval"]["limit"], data_dir=Path(settings.RLAB_DATA_DIR))
    return evaluate_loglikelihood(scorer_for(backend, tokenizer), benchmark_id, config)


def evaluate_model(run: Run, checkpoint: Checkpoint | None, artifact_dir: Path) -> list[EvalResult]:
    """Evaluate the base model (checkpoint None) or a checkpoint of `run` on its spec's suite.

    Benchmarks already recorded for this model, template and sampling are skipped, so the base model is
    evaluated once per team, model, template and sampling, and a re-delivered task writes nothing twice.
    """
    from evaluation.runner import evaluate_benchmark

    spec = SpecV1.model_validate(run.config)
    model = run_model(run, artifact_dir)
    model_ref = model.label
    eval_config = eval_config_from_spec(spec, training_fingerprints(run))
    done = recorded_benchmarks(run, checkpoint.id if checkpoint else None, model_ref)
    todo = [b for b in eval_config.benchmarks if b not in done]
    if not todo:
        return []
    weights = checkpoint.path if checkpoint else model.weights
    backend = warm_backend(backend_name(spec.eval.backend), model_ref, weights, spec.model.dtype)
    tokenizer = backend_tokenizer(backend, weights)
    label = f"step-{checkpoint.step}" if checkpoint else "base"
    results = []
    for benchmark_id in todo:
        if spec.eval.mode_of(benchmark_id) == "loglikelihood":
            scored = evaluate_loglikelihood_benchmark(backend, tokenizer, run, benchmark_id)
            items_path = artifact_dir / "evals" / label / f"{benchmark_id}.{scored.template}.jsonl"
            with writing(items_path):
                scored.write_items(items_path)
            results.append(record_loglikelihood(run, checkpoint, model_ref, scored, items_path))
            logger.info(
                "run %s %s: %s %s = %.3f", run.name, label, benchmark_id, scored.template, scored.score.value
            )
            continue
        outcome = evaluate_benchmark(backend, tokenizer, benchmark_id, eval_config)
        samples_path = artifact_dir / "evals" / label / f"{benchmark_id}.jsonl"
        with writing(samples_path):
            outcome.write_samples(samples_path)
        results.append(record_outcome(run, checkpoint, model_ref, outcome, samples_path))
        logger.info(
            "run %s %s: %s avg@%d = %.3f on %d problem(s)%s",
            run.name,
            label,
            benchmark_id,
            outcome.sampling.n,
            outcome.score.avg_at_k,
            outcome.score.n_problems,
            overlap_note(outcome.overlap.record()) if outcome.overlap else "",
        )
    return results
