"""Evaluations built by the real code from given responses: a replaying generation backend answers each
prompt with the responses a test chose; the evaluation runner extracts, grades and scores them and writes
the samples file; the worker's record_outcome stores them with one ExampleResult per problem
(test_drilldown.py also drills into an evaluation of a tiny model that the worker code recorded)."""

from collections.abc import Iterable, Sequence
from pathlib import Path

from evaluation.benchmarks import Problem, load_benchmark
from evaluation.generation.base import Completion, SamplingConfig
from evaluation.runner import EvalConfig, evaluate_benchmark
from rlab.experiments.models import Checkpoint, Run
from rlab.results.models import EvalResult
from rlab.teams.models import Team
from tests.platform.conftest import make_unqueued_run
from workers.evaluation import record_outcome

TEMPLATE = "qwen25-math-cot"  # a literal prompt: no tokenizer needed
RUN_SPEC = """
name: drill
model: {id: smollm2-135m-instruct}
data: {dataset: numbers, examples: [0]}
train: {steps: 40}
eval: {suite: [arith]}
resources: {queue: cpu, gpus: 0}
"""


class Replay:
    """A generation backend that answers the i-th prompt with `responses[i]` (one text per sample)."""

    def __init__(self, responses: Sequence[Sequence[str]]) -> None:
        self.responses = responses

    def generate(self, prompts: Sequence[str], sampling: SamplingConfig) -> list[list[Completion]]:
        assert len(prompts) == len(self.responses)
        assert all(len(texts) == sampling.n for texts in self.responses)
        return [[Completion(text, len(text.split()), "stop") for text in texts] for texts in self.responses]

    def close(self) -> None:
        pass


def problems(benchmark: str, count: int, data_dir: Path | None = None) -> list[Problem]:
    return load_benchmark(benchmark, data_dir=data_dir, limit=count)


def right(problem: Problem) -> str:
    return f"Working it out carefully, the answer is \\boxed{{{problem.answer}}}."


def wrong(problem: Problem) -> str:
    return f"I am not sure; maybe \\boxed{{{problem.answer} + 1000}}."


def responses_for(
    pattern: Sequence[str], benchmark: str = "arith", data_dir: Path | None = None
) -> list[list[str]]:
    """One string per problem, one letter per sample: R a right response, W a wrong one."""
    found = problems(benchmark, len(pattern), data_dir)
    return [
        [right(p) if mark == "R" else wrong(p) for mark in marks]
        for p, marks in zip(found, pattern, strict=True)
    ]


def make_run(team: Team) -> Run:
    return make_unqueued_run(team, RUN_SPEC)


def evaluate(
    run: Run,
    step: int | None,
    responses: Sequence[Sequence[str]],
    artifact_dir: Path,
    benchmark: str = "arith",
    data_dir: Path | None = None,
) -> EvalResult:
    """The evaluation of `run`'s base model (step None) or of its checkpoint at `step`, answering with
    `responses`; its samples file goes where the worker writes it under `artifact_dir`."""
    checkpoint = None if step is None else Checkpoint.record(run, step, f"/ckpt/{run.pk}/{step}")
    config = EvalConfig(
        benchmarks=(benchmark,),
        template=TEMPLATE,
        limit=len(responses),
        n=len(responses[0]),
        data_dir=data_dir,
    )
    outcome = evaluate_benchmark(Replay(responses), None, benchmark, config)
    label = "base" if step is None else f"step-{step}"
    samples_path = artifact_dir / "evals" / label / f"{benchmark}.jsonl"
    outcome.write_samples(samples_path)
    return record_outcome(run, checkpoint, run.config["model"]["id"], outcome, samples_path)


def one_sample(right: Iterable[int], count: int) -> list[str]:
    """A pattern for responses_for: one sample for each of `count` problems, right on those in `right`."""
    chosen = set(right)
    return ["R" if i in chosen else "W" for i in range(count)]


def evaluate_seed_sweep(team: Team, sweep, artifact_dir: Path, base: list[str], points: dict) -> None:
    """Evaluations of a sweep's runs (one checkpoint each, step 10) and of their base model: `points` maps
    each run's point index to its pattern (see responses_for), `base` is the base model's."""
    runs = list(sweep.runs.order_by("point_index"))
    evaluate(runs[0], None, responses_for(base), artifact_dir / "base")
    for run in runs:
        evaluate(run, 10, responses_for(points[run.point_index]), artifact_dir / run.name)


# Six arith problems (k = 2) at checkpoints 10, 20, 30 and 40: learned at 20, forgotten, unstable, always
# right, never right, learned at 30 (one of two samples right counts as right).
GRID_STEPS = (10, 20, 30, 40)
GRID_PATTERNS = {
    10: ["WW", "RR", "RR", "RR", "WW", "WW"],
    20: ["RR", "RR", "WW", "RR", "WW", "WW"],
    30: ["RR", "WW", "RR", "RR", "WW", "RW"],
    40: ["RR", "WW", "RR", "RR", "WW", "RW"],
}


def evaluate_grid_run(team: Team, artifact_dir: Path, run: Run | None = None) -> Run:
    """A run (default a new one of RUN_SPEC) with four evaluated checkpoints (GRID_PATTERNS) and its base
    model's evaluation."""
    run = run or make_run(team)
    evaluate(run, None, responses_for(["RR", "WW", "WW", "RW", "WW", "WW"]), artifact_dir)
    for step in GRID_STEPS:
        evaluate(run, step, responses_for(GRID_PATTERNS[step]), artifact_dir)
    return run
