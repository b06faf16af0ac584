"""Re-distillation sampling: first correct and terminated response per prompt, seeded shuffle and cap, and
provenance, on the tiny Llama of tests/models.py made to answer "\\boxed{ 7 }" by a short SFT."""

import pytest

from evaluation.generation.base import Completion
from evaluation.generation.transformers_backend import TransformersBackend
from tests.models import make_model
from training.algorithms.redistill.sampling import (
    RedistillConfig,
    Source,
    first_correct,
    read_samples,
    redistillation_samples,
    sft_examples,
    write_samples,
)
from training.algorithms.sft.trainer import SFTConfig, SFTTrainer
from training.examples import TrainingExample

SOURCE = Source(run="rl-run", step=20, model_ref="/runs/rl-run/step-00000020")
SEVENS = [TrainingExample(f"q{i}", f"What is {i} + {7 - i} ?", "7") for i in range(1, 6)]
NINE = TrainingExample("nine", "What is 5 + 4 ?", "9")


# The word-level tiny model decodes a box as "\\ boxed { 7 }", which is no \\boxed{} to the seeds' reward:
# its samples are judged as evaluation reads answers.
LENIENT = "outcome_lenient"


def completion(text: str, finish: str = "stop") -> Completion:
    return Completion(text=text, n_tokens=len(text.split()), finish_reason=finish)




@pytest.fixture(scope="module")
def sevens_model(tokenizer):
    """The tiny model after SFT on '\\boxed{ 7 }' for every prompt: greedy, it answers 7 to anything."""
    model = make_model()
    examples = [TrainingExample(e.key, e.problem, e.answer, demonstration="\\boxed{ 7 }") for e in SEVENS]
    config = SFTConfig(template="one-shot-boxed", batch_size=5, epochs=40, lr=1e-2, max_length=64)
    SFTTrainer(model, tokenizer, examples, config).train()
    return model


def test_first_correct_skips_wrong_and_truncated_responses():
    group = [completion("\\boxed{6}"), completion("\\boxed{7}", "length"), completion("\\boxed{7}")]
    assert first_correct(group, [0.0, 1.0, 1.0]) == 2
    assert first_correct(group[:2], [0.0, 1.0]) is None


def test_keeps_one_correct_terminated_sample_per_prompt_with_provenance(tokenizer, sevens_model, tmp_path):
    backend = TransformersBackend(sevens_model, tokenizer)
    config = RedistillConfig(
        template="one-shot-boxed",
        samples_per_prompt=1,
        num_samples=None,
        temperature=0.0,
        max_new_tokens=8,
        reward=LENIENT,
    )
    result = redistillation_samples(backend, tokenizer, [*SEVENS, NINE], config, SOURCE)
    assert sorted(s.example_key for s in result.samples) == [e.key for e in SEVENS]  # "nine" is wrong
    sample = result.samples[0]
    assert sample.response == "\\ boxed { 7 }" and sample.answer == "7"  # word-level decoding
    assert (sample.source_run, sample.source_step, sample.source_model) == ("rl-run", 20, SOURCE.model_ref)
    assert (sample.temperature, sample.sample_index) == (0.0, 0)
    assert result.metrics["redistill_correct_ratio"] == pytest.approx(5 / 6)
    assert result.metrics["redistill_kept"] == 5

    path = write_samples(tmp_path / "redistill" / "samples.jsonl", result.samples)
    assert read_samples(path) == result.samples
    sft = sft_examples(result.samples, [*SEVENS, NINE])
    assert [e.demonstration for e in sft] == [sample.response] * 5
    assert [e.key for e in sft] == [s.example_key for s in result.samples]


def test_a_correct_answer_cut_at_max_new_tokens_is_dropped(tokenizer, sevens_model):
    backend = TransformersBackend(sevens_model, tokenizer)
    # "\\boxed{ 7 }" is 5 tokens; with 5 new tokens the EOS after it is not generated.
    config = RedistillConfig(
        template="one-shot-boxed", samples_per_prompt=1, temperature=0.0, max_new_tokens=5, reward=LENIENT
    )
    result = redistillation_samples(backend, tokenizer, SEVENS, config, SOURCE)
    assert result.samples == [] and result.correct == 0


def test_the_shuffle_is_seeded_and_n_caps_the_set(tokenizer, sevens_model):
    backend = TransformersBackend(sevens_model, tokenizer)
    config = RedistillConfig(
        template="one-shot-boxed", samples_per_prompt=2, num_samples=3, max_new_tokens=8, reward=LENIENT
    )
    first = redistillation_samples(backend, tokenizer, SEVENS, config, SOURCE)
    again = redistillation_samples(backend, tokenizer, SEVENS, config, SOURCE)
    assert len(first.samples) == 3 and first.samples == again.samples
    other = redistillation_samples(backend, tokenizer, SEVENS, RedistillConfig(
        template="one-shot-boxed", samples_per_prompt=2, num_samples=None, max_new_tokens=8, seed=1,
        reward=LENIENT,
    ), SOURCE)
    assert len(other.samples) == first.prompts_with_a_correct_sample
