"""Evaluate one model on a multiple-choice benchmark by log-likelihood: load → pose each question in a
formulation → score every option → acc / acc_norm. Every question is kept with each option's score."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from evaluation.benchmarks import BenchmarkSpec, Problem, get_benchmark, load_benchmark
from evaluation.loglikelihood.formulations import Formulation, get_formulation, gold_index
from evaluation.loglikelihood.metrics import ChoiceScore, ItemScore, score_items
from evaluation.loglikelihood.requests import ChoiceRequest, ContinuationScore


class Scorer(Protocol):
    name: str

    def score(self, requests: list[ChoiceRequest]) -> list[list[ContinuationScore]]: ...


@dataclass(frozen=True)
class LoglikelihoodConfig:
    """`formulation` None: the benchmark's default. `unconditional` also scores each option after the
    BOS/EOS token alone, for acc_mutual_info (one more pass over every option)."""

    formulation: str | None = None
    limit: int | None = None
    data_dir: Path | None = None
    unconditional: bool = False


@dataclass
class LoglikelihoodRun:
    benchmark: BenchmarkSpec
    formulation: Formulation
    problems: list[Problem]
    contexts: list[str] = field(repr=False)
    items: list[ItemScore] = field(repr=False)
    score: ChoiceScore
    unconditional: bool = False

    @property
    def template(self) -> str:
        """What EvalResult.template records: the formulation, so it keys results and leaderboard columns."""
        return self.formulation.id

    @property
    def setup_record(self) -> dict:
        """The settings that identify this evaluation (hashed into EvalResult's key next to the template)."""
        return setup_record(self.formulation)

    def write_items(self, path: Path) -> None:
        """Every question with its context, each option's log-likelihood and the predictions."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as handle:
            for context, item in zip(self.contexts, self.items, strict=True):
                row = {
                    "benchmark": self.benchmark.id,
                    "formulation": self.formulation.id,
                    "context": context,
                    **asdict(item),
                    "pred": item.pred,
                    "pred_norm": item.pred_norm,
                    "pred_mutual_info": item.pred_mutual_info,
                }
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def setup_record(formulation: Formulation) -> dict:
    """What identifies a log-likelihood evaluation in `formulation` besides model, benchmark and template (the
    formulation id): known before any model loads, so a recorded evaluation is found without scoring."""
    return {"mode": "loglikelihood", "formulation": formulation.id, "metric": formulation.primary}


def formulation_for(benchmark: BenchmarkSpec, requested: str | None) -> Formulation:
    formulation_id = requested or benchmark.default_formulation
    if formulation_id is None or formulation_id not in benchmark.formulations:
        supported = ", ".join(benchmark.formulations) or "none: generation only"
        raise ValueError(
            f"benchmark {benchmark.id!r} cannot be scored by log-likelihood as {formulation_id!r} "
            f"(supported: {supported})"
        )
    return get_formulation(formulation_id)


def evaluate_loglikelihood(
    scorer: Scorer, benchmark_id: str, config: LoglikelihoodConfig
) -> LoglikelihoodRun:
    benchmark = get_benchmark(benchmark_id)
    formulation = formulation_for(benchmark, config.formulation)
    problems = load_benchmark(benchmark_id, data_dir=config.data_dir, limit=config.limit)
    golds = [gold_index(problem) for problem in problems]
    contexts = [formulation.context(problem) for problem in problems]
    requests = [
        ChoiceRequest(context, tuple(formulation.continuations(problem)))
        for context, problem in zip(contexts, problems, strict=True)
    ]
    scores = scorer.score(requests)
    unconditional = (
        scorer.score([ChoiceRequest("", r.continuations) for r in requests]) if config.unconditional else None
    )
    items = [
        ItemScore(
            problem_id=problem.id,
            gold=gold,
            choices=tuple(formulation.choices(problem)),
            logprobs=tuple(s.logprob for s in option_scores),
            is_greedy=tuple(s.is_greedy for s in option_scores),
            n_tokens=tuple(s.n_tokens for s in option_scores),
            unconditional=tuple(s.logprob for s in unconditional[i]) if unconditional else None,
        )
        for i, (problem, gold, option_scores) in enumerate(zip(problems, golds, scores, strict=True))
    ]
    score = score_items(items, formulation.primary, [problem.subject for problem in problems])
    return LoglikelihoodRun(benchmark, formulation, problems, contexts, items, score, config.unconditional)
