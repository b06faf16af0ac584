"""Evaluate one model on a suite of benchmarks: load → prompt → generate → extract → grade → score.

The engine (a generation backend) is passed in, so a worker evaluating many checkpoints of one run keeps it
warm. Every sample is kept with its extracted answer and verdict, for the JSONL artifact and for the
per-example results.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from evaluation.benchmarks import BenchmarkSpec, Problem, get_benchmark, load_benchmark
from evaluation.fingerprints import BenchmarkIndex, Fingerprint
from evaluation.generation.base import GenerationBackend, Progress, SamplingConfig
from evaluation.grading import GradePair, extract_answer, grade_batch
from evaluation.metrics import BenchmarkScore, SampleOutcome, score_benchmark
from evaluation.templates import get_template, render_prompt
from evaluation.voting import MAX_SAMPLES, answer_votes


@dataclass(frozen=True)
class EvalConfig:
    """What to evaluate and how; None means the benchmark's own default (template, k, temperature, …).

    The prompt template of a benchmark: `templates[benchmark]` if given, else `template` if given, else the
    benchmark's own (maths: qwen25-math-cot; multiple choice: mc-cot, which asks for the letter).

    `training`: fingerprints of the evaluated model's training examples. A benchmark problem one of them holds
    (evaluation.fingerprints) is left out of the evaluation (`training_overlap` "exclude") or evaluated and
    listed (`"flag"`)."""

    benchmarks: tuple[str, ...]
    template: str | None = None
    templates: Mapping[str, str] = field(default_factory=dict)
    limit: int | None = None
    n: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_new_tokens: int | None = None
    seed: int = 0
    data_dir: Path | None = None
    pass_ks: tuple[int, ...] = (1,)
    training: tuple[Fingerprint, ...] = ()
    training_overlap: Literal["exclude", "flag"] = "exclude"


@dataclass(frozen=True)
class SampleResult:
    problem_id: str
    sample_index: int
    text: str
    n_tokens: int
    finish_reason: str
    extracted: str | None
    correct: bool


@dataclass
class BenchmarkRun:
    """One benchmark evaluated: its problems, every sample per problem (same order) and the score.

    `loaded`: the benchmark's first problems as loaded (its source positions are their indexes); `problems`
    are those evaluated, at positions `indices`; `overlap` holds the positions of the problems that are among
    the model's training examples (left out under "exclude", evaluated under "flag")."""

    benchmark: BenchmarkSpec
    template: str
    sampling: SamplingConfig
    problems: list[Problem]
    samples: list[list[SampleResult]]
    score: BenchmarkScore
    prompts: list[str] = field(repr=False, default_factory=list)
    loaded: list[Problem] = field(repr=False, default_factory=list)
    indices: list[int] = field(default_factory=list)
    overlap: TrainingOverlap | None = None

    @property
    def sampling_record(self) -> dict:
        """The sampling settings that identify this evaluation (hashed into EvalResult's key), with the
        problems left out as training problems when there are any."""
        return sampling_record(self.sampling, self.overlap)

    def write_samples(self, path: Path) -> None:
        """Every sample with its prompt, extracted answer and verdict, one JSON object per line."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as handle:
            for problem, prompt, samples in zip(self.problems, self.prompts, self.samples, strict=True):
                for sample in samples:
                    row = {
                        "benchmark": self.benchmark.id,
                        "gold": problem.answer,
                        "prompt": prompt,
                        **asdict(sample),
                    }
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")


@dataclass(frozen=True)
class TrainingOverlap:
    """The benchmark problems (source positions and ids) among the model's training examples, and what the
    evaluation did with them."""

    mode: Literal["exclude", "flag"]
    positions: tuple[int, ...]
    ids: tuple[str, ...]
    kinds: tuple[str, ...]  # "exact" or "near", per problem

    def record(self) -> dict:
        return {
            "mode": self.mode,
            "count": len(self.ids),
            "problems": list(self.ids),
            "kinds": list(self.kinds),
        }


def training_overlap(problems: Sequence[Problem], config: EvalConfig) -> TrainingOverlap | None:
    """Which of the loaded problems the training examples hold (None when no training examples are given)."""
    if not config.training:
        return None
    index = BenchmarkIndex((i, Fingerprint.of(p.problem)) for i, p in enumerate(problems))
    found = index.matched_by(config.training)
    positions = tuple(sorted(found))
    return TrainingOverlap(
        config.training_overlap,
        positions,
        tuple(problems[i].id for i in positions),
        tuple(found[i] for i in positions),
    )


def sampling_record(sampling: SamplingConfig, overlap: TrainingOverlap | None = None) -> dict:
    """What identifies an evaluation besides model, benchmark and template: the sampling settings, and the
    problems left out as training problems (so a base model's row is per excluded set and its checkpoints
    compare with it on the same problems)."""
    keys = ("temperature", "top_p", "max_new_tokens", "n", "seed")
    record = {key: getattr(sampling, key) for key in keys}
    if overlap is not None and overlap.mode == "exclude" and overlap.ids:
        record["excluded_training_problems"] = list(overlap.ids)
    return record


@dataclass(frozen=True)
class EvalSetup:
    """How one benchmark is evaluated under a config: what identifies its result besides the model."""

    benchmark: BenchmarkSpec
    template: str
    sampling: SamplingConfig
    overlap: TrainingOverlap | None = None

    @property
    def sampling_record(self) -> dict:
        return sampling_record(self.sampling, self.overlap)


def setup_for(benchmark_id: str, config: EvalConfig, problems: Sequence[Problem] | None = None) -> EvalSetup:
    """The template, sampling and training overlap a benchmark is evaluated with (known before any model is
    loaded). `problems`: the benchmark's loaded problems, read here only when needed for the overlap."""
    benchmark = get_benchmark(benchmark_id)
    template_id = config.templates.get(benchmark_id) or config.template or benchmark.default_template
    template = get_template(template_id)
    if problems is None and config.training:
        problems = load_benchmark(benchmark_id, data_dir=config.data_dir, limit=config.limit)
    overlap = training_overlap(problems, config) if problems is not None else None
    return EvalSetup(benchmark, template.id, sampling_for(benchmark, template.stop, config), overlap)


def sampling_for(
    benchmark: BenchmarkSpec, template_stop: Sequence[str], config: EvalConfig
) -> SamplingConfig:
    def pick(override, default):
        return default if override is None else override

    return SamplingConfig(
        temperature=pick(config.temperature, benchmark.sampling.temperature),
        top_p=pick(config.top_p, benchmark.sampling.top_p),
        max_new_tokens=pick(config.max_new_tokens, benchmark.sampling.max_new_tokens),
        n=pick(config.n, benchmark.repeats),
        seed=config.seed,
        stop=tuple(template_stop),
    )


def evaluate_benchmark(
    backend: GenerationBackend,
    tokenizer,
    benchmark_id: str,
    config: EvalConfig,
    progress: Progress | None = None,
) -> BenchmarkRun:
    loaded = load_benchmark(benchmark_id, data_dir=config.data_dir, limit=config.limit)
    setup = setup_for(benchmark_id, config, loaded)
    benchmark, sampling, overlap = setup.benchmark, setup.sampling, setup.overlap
    left_out = set(overlap.positions) if overlap is not None and overlap.mode == "exclude" else set()
    indices = [i for i in range(len(loaded)) if i not in left_out]
    problems = [loaded[i] for i in indices]
    if not problems:
        raise ValueError(
            f"all {len(loaded)} problem(s) of {benchmark_id} evaluated are among the training examples: "
            "nothing is left to evaluate (eval.training_overlap: flag evaluates them anyway)"
        )
    prompts = [render_prompt(setup.template, problem, tokenizer) for problem in problems]
    # Only with a progress callback: rollout engines standing in for a backend take no third argument.
    extra = () if progress is None else (progress,)
    completions = backend.generate(prompts, sampling, *extra)

    extracted = [[extract_answer(c.text, benchmark.grader) for c in group] for group in completions]
    pairs = [
        GradePair(problem.answer, answer, benchmark.grader)
        for problem, answers in zip(problems, extracted, strict=True)
        for answer in answers
    ]
    verdicts = iter(grade_batch(pairs))
    samples = [
        [
            SampleResult(problem.id, i, c.text, c.n_tokens, c.finish_reason, answer, next(verdicts))
            for i, (c, answer) in enumerate(zip(group, answers, strict=True))
        ]
        for problem, group, answers in zip(problems, completions, extracted, strict=True)
    ]
    outcomes = [
        SampleOutcome(s.problem_id, s.correct, s.text, s.n_tokens, s.finish_reason)
        for group in samples
        for s in group
    ]
    # maj@k from 2 samples a problem on: with one, it is avg@1.
    votes = (
        answer_votes(extracted, [[s.correct for s in group] for group in samples], benchmark.grader)
        if 2 <= sampling.n <= MAX_SAMPLES
        else ()
    )
    pass_ks = tuple(k for k in config.pass_ks if k <= sampling.n)
    score = score_benchmark(outcomes, problems, pass_ks=pass_ks, votes=votes)
    return BenchmarkRun(
        benchmark, setup.template, sampling, problems, samples, score, prompts, loaded, indices, overlap
    )


def evaluate(backend: GenerationBackend, tokenizer, config: EvalConfig) -> list[BenchmarkRun]:
    return [
        evaluate_benchmark(backend, tokenizer, benchmark_id, config) for benchmark_id in config.benchmarks
    ]
