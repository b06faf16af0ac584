"""Evaluating a run's base model or one of its checkpoints on the spec's suite, into EvalResult rows.

Engines stay warm per worker process: evaluating checkpoint after checkpoint of one run reloads only
the weights where the backend can (vLLM), instead of building a new engine each time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rlab.catalog.seeding import benchmark_dataset
from rlab.experiments.models import Checkpoint, Run
from rlab.results.models import EvalResult
from rlab.spec import parse_run_ref
from workers.artifacts import writing
from workers.model_refs import run_model

if TYPE_CHECKING:
    from evaluation.loglikelihood import LoglikelihoodRun
    from evaluation.runner import BenchmarkRun

logger = logging.getLogger(__name__)

EVALUATE_TASK = "workers.tasks.evaluate_model"


def enqueue_evaluation(run: Run, checkpoint: Checkpoint | None = None) -> None:
    from rlab.celery import app

    app.send_task(EVALUATE_TASK, args=[run.id, checkpoint.id if checkpoint else None], queue=run.queue)


def eval_config_from_spec(config: dict):
    from evaluation.runner import EvalConfig

    block, sampling = config["eval"], config["eval"]["sampling"]
    return EvalConfig(
        benchmarks=tuple(block["suite"]),
        template=block["template"],
        limit=block["limit"],
        n=sampling["n"],
        temperature=sampling["temperature"],
        top_p=sampling["top_p"],
        max_new_tokens=sampling["max_new_tokens"],
        seed=sampling["seed"],
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
        "by_level": score.by_level,
        "length_mean": score.length.mean,
        "length_max": score.length.max,
        "boxed_ratio": score.boxed_ratio,
        "truncation_ratio": score.truncation_ratio,
        "repetition_ratio": score.repetition_ratio,
        "reflection_words": score.reflection_words,
    }


def _already_done(run: Run, checkpoint_id: int | None, model_ref: str) -> set[str]:
    target = EvalResult.make_target_key(run.team_id, model_ref, checkpoint_id)
    return set(EvalResult.objects.filter(target_key=target).values_list("benchmark__key", flat=True))


def all_recorded(run: Run, checkpoint_id: int | None) -> bool:
    """Whether the run's whole suite is recorded already for the checkpoint (or the base model): a repeated
    or re-delivered task's exit, decided before any folder, log or model is touched. A base model named
    `run:NAME[@STEP]` is known only once resolved in the run's folder, so it is never decided here."""
    model_id = run.config["model"]["id"]
    if checkpoint_id is None and parse_run_ref(model_id) is not None:
        return False
    return set(run.config["eval"]["suite"]) <= _already_done(run, checkpoint_id, model_id)


def record_outcome(
    run: Run, checkpoint: Checkpoint | None, model_ref: str, outcome: BenchmarkRun, samples_path: Path
) -> EvalResult:
    """Store one benchmark's evaluation (an evaluation.runner BenchmarkRun whose samples were written to
    `samples_path`) as an EvalResult with one ExampleResult per problem: an idempotent upsert."""
    dataset = benchmark_dataset(outcome.benchmark.id, outcome.problems)
    examples = {e.index: e for e in dataset.examples.filter(index__lt=len(outcome.problems))}
    return EvalResult.record(
        team=run.team,
        run=run,
        checkpoint=checkpoint,
        model_ref=model_ref,
        benchmark=dataset.benchmarks.get(),
        template=outcome.template,
        sampling=outcome.sampling_record,
        n=outcome.score.n_problems,
        k=outcome.sampling.n,
        score=outcome.score.avg_at_k,
        per_subject=outcome.score.by_subject,
        metrics=_metrics(outcome.score),
        samples_path=str(samples_path),
        examples=[
            {
                "example": examples[i],
                "samples": len(group),
                "correct": sum(s.correct for s in group),
                "mean_length": sum(s.n_tokens for s in group) / len(group),
                "extracted_answers": [s.extracted for s in group],
            }
            for i, group in enumerate(outcome.samples)
        ],
    )


def eval_mode(config: dict, benchmark_id: str) -> str:
    """The spec's eval.mode for one benchmark (configs from before the field generate)."""
    mode = config["eval"].get("mode", "generate")
    return mode if isinstance(mode, str) else mode.get(benchmark_id, "generate")


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
    return EvalResult.record(
        team=run.team,
        run=run,
        checkpoint=checkpoint,
        model_ref=model_ref,
        benchmark=dataset.benchmarks.get(),
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

    config = LoglikelihoodConfig(limit=run.config["eval"]["limit"])
    return evaluate_loglikelihood(scorer_for(backend, tokenizer), benchmark_id, config)


def evaluate_model(run: Run, checkpoint: Checkpoint | None, artifact_dir: Path) -> list[EvalResult]:
    """Evaluate the base model (checkpoint None) or a checkpoint of `run` on its spec's suite.

    Benchmarks already recorded for this model, template and sampling are skipped, so the base model is
    evaluated once per team and a re-delivered task writes nothing twice.
    """
    from evaluation.runner import evaluate_benchmark

    config = run.config
    model = run_model(run, artifact_dir)
    model_ref = model.label
    eval_config = eval_config_from_spec(config)
    done = _already_done(run, checkpoint.id if checkpoint else None, model_ref)
    todo = [b for b in eval_config.benchmarks if b not in done]
    if not todo:
        return []
    weights = checkpoint.path if checkpoint else model.weights
    backend = warm_backend(
        backend_name(config["eval"]["backend"]), model_ref, weights, config["model"]["dtype"]
    )
    tokenizer = backend_tokenizer(backend, weights)
    label = f"step-{checkpoint.step}" if checkpoint else "base"
    results = []
    for benchmark_id in todo:
        if eval_mode(config, benchmark_id) == "loglikelihood":
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
            "run %s %s: %s avg@%d = %.3f",
            run.name,
            label,
            benchmark_id,
            outcome.sampling.n,
            outcome.score.avg_at_k,
        )
    return results
