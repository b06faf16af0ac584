"""Re-distillation data: sample K responses per prompt from an RL-trained checkpoint, keep one correct and
terminated response per prompt, shuffle, take N (Chen, Gao & Wu 2025, arXiv 2505.17988; code github
on1262/deep-reasoning `data_preprocess/KK_re_distillation.py`; research notes algorithms.md §4.1, §4.5).

The kept samples are SFT data for the *base* model (training/algorithms/sft/trainer.py). Each carries its
provenance: the example it answers, the source run and checkpoint step, the sampling temperature and which
of the K samples it was. Generation goes through an evaluation backend (transformers on CPU, vLLM on GPU);
correctness is the `outcome` reward (evaluation grading), as GRPO's train accuracy. See
docs/redistillation.md.
"""

import json
import logging
import os
import random
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from evaluation.generation.base import Completion, GenerationBackend, SamplingConfig
from evaluation.templates import ChatTokenizer, get_template
from training.examples import ExampleKey, Gold, TrainingExample
from training.rewards import score_completions

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RedistillConfig:
    """Defaults: re-distill-B of the seed (K&K): samples at the RL temperature 0.7, first correct response
    per prompt, shuffled with seed 0, 1,000 kept; max response 4096 as the seed's generation."""

    template: str = field(
        default="qwen25-math-cot", metadata={"help": "Prompt template id (the source run's training one)."}
    )
    samples_per_prompt: int = field(default=8, metadata={"help": "K: responses sampled per prompt."})
    num_samples: int | None = field(
        default=1000, metadata={"help": "N: samples kept after the shuffle; None keeps every survivor."}
    )
    temperature: float = field(
        default=0.7, metadata={"help": "Sampling temperature (0 = greedy, the seed's re-distill-A)."}
    )
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling cut (1 = off)."})
    max_new_tokens: int = field(default=4096, metadata={"help": "Longer responses are cut and dropped."})
    seed: int = field(default=0, metadata={"help": "Seeds the sampling and the shuffle before taking N."})
    reward: str = field(
        default="outcome",
        metadata={
            "help": "training.rewards name that decides a sample is correct: outcome (its last box, as the "
            "RL reward) or outcome_lenient (the answer as evaluation extracts it)."
        },
    )

    def __post_init__(self) -> None:
        if self.samples_per_prompt < 1 or self.max_new_tokens < 1:
            raise ValueError("samples_per_prompt and max_new_tokens must be >= 1")
        if self.num_samples is not None and self.num_samples < 1:
            raise ValueError(f"num_samples must be >= 1 or None, got {self.num_samples}")


@dataclass(frozen=True)
class Source:
    """The checkpoint the samples come from."""

    run: str
    step: int | None  # None: not a training checkpoint (e.g. a hub model)
    model_ref: str


@dataclass(frozen=True)
class RedistilledSample:
    """One kept response and where it comes from (one JSONL line of redistill/samples.jsonl)."""

    example_key: ExampleKey
    problem: str
    answer: Gold
    response: str
    n_tokens: int
    source_run: str
    source_step: int | None
    source_model: str
    temperature: float
    sample_index: int  # which of the K samples of its prompt (0-based)
    sample_effect: float | None = None  # training/algorithms/redistill/sample_effect.py, when measured


@dataclass(frozen=True)
class RedistillResult:
    samples: list[RedistilledSample]
    prompts: int
    sampled: int
    correct: int  # correct and terminated
    prompts_with_a_correct_sample: int

    @property
    def metrics(self) -> dict[str, float]:
        return {
            "redistill_prompts": float(self.prompts),
            "redistill_sampled": float(self.sampled),
            "redistill_correct_ratio": self.correct / max(self.sampled, 1),
            "redistill_prompts_solved": float(self.prompts_with_a_correct_sample),
            "redistill_kept": float(len(self.samples)),
        }


def first_correct(completions: Sequence[Completion], correct: Sequence[float]) -> int | None:
    """Index of the first completion that is correct and terminated (not cut at max_new_tokens)."""
    for index, (completion, verdict) in enumerate(zip(completions, correct, strict=True)):
        if verdict > 0 and completion.finish_reason == "stop":
            return index
    return None


def redistillation_samples(
    backend: GenerationBackend,
    tokenizer: ChatTokenizer | None,
    examples: Sequence[TrainingExample],
    config: RedistillConfig,
    source: Source,
) -> RedistillResult:
    """Sample K responses per example from `backend` (loaded with the source checkpoint), keep each
    example's first correct and terminated one, shuffle them with `config.seed` and take N. Examples
    without a gold answer cannot be graded and are skipped."""
    graded = [example for example in examples if example.answer is not None]
    if len(graded) < len(examples):
        logger.warning("%d example(s) without a gold answer skipped", len(examples) - len(graded))
    template = get_template(config.template)
    sampling = SamplingConfig.for_template(
        config.template,
        temperature=config.temperature,
        top_p=config.top_p,
        max_new_tokens=config.max_new_tokens,
        n=config.samples_per_prompt,
        seed=config.seed,
    )
    prompts = [template.render(example.as_problem(), tokenizer) for example in graded]
    completions = backend.generate(prompts, sampling) if prompts else []
    kept, correct_count = [], 0
    for example, group in zip(graded, completions, strict=True):
        scores = score_completions(config.reward, [c.text for c in group], [example.answer] * len(group))
        correct_count += sum(s > 0 and c.finish_reason == "stop" for s, c in zip(scores, group, strict=True))
        if (index := first_correct(group, scores)) is not None:
            kept.append(_sample(example, group[index], index, config, source))
    random.Random(config.seed).shuffle(kept)
    return RedistillResult(
        samples=kept[: config.num_samples] if config.num_samples is not None else kept,
        prompts=len(graded),
        sampled=len(graded) * config.samples_per_prompt,
        correct=correct_count,
        prompts_with_a_correct_sample=len(kept),
    )


def _sample(
    example: TrainingExample, completion: Completion, index: int, config: RedistillConfig, source: Source
) -> RedistilledSample:
    return RedistilledSample(
        example_key=example.key,
        problem=example.as_problem().problem,
        answer=example.answer,
        response=completion.text,
        n_tokens=completion.n_tokens,
        source_run=source.run,
        source_step=source.step,
        source_model=source.model_ref,
        temperature=config.temperature,
        sample_index=index,
    )


def sft_examples(
    samples: Sequence[RedistilledSample], examples: Sequence[TrainingExample]
) -> list[TrainingExample]:
    """The SFT data: each sample's example (the prompt, as the source run rendered it) with the sample's
    response as the target (`demonstration`)."""
    by_key = {example.key: example for example in examples}
    missing = [s.example_key for s in samples if s.example_key not in by_key]
    if missing:
        raise ValueError(f"samples of examples that are not in the prompt set: {missing}")
    return [replace(by_key[s.example_key], demonstration=s.response) for s in samples]


def write_samples(path: str | Path, samples: Iterable[RedistilledSample]) -> Path:
    """The samples as JSONL (one object per line), written to a temporary file and renamed into place, so
    that an existing file is always complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".tmp-{path.name}")
    with scratch.open("w", encoding="utf-8") as handle:
        for sample in samples:
            handle.write(json.dumps(asdict(sample), ensure_ascii=False) + "\n")
    os.replace(scratch, path)
    return path


def read_samples(path: str | Path) -> list[RedistilledSample]:
    with Path(path).open(encoding="utf-8") as handle:
        return [RedistilledSample(**json.loads(line)) for line in handle if line.strip()]
