"""SFTTrainer: the loss against hand-computed values (prompt and padding masked, per-sequence mean),
exact micro-batching, exact resume, cosine schedule, checkpoints, and learning, on the tiny Llama of
tests/models.py."""

import math
from dataclasses import replace

import pytest
import torch

from evaluation.templates import get_template
from tests.models import make_model
from tests.training.recorder import Recorder
from training.algorithms.sft.trainer import SFTConfig, SFTTrainer, sft_loss
from training.checkpoints import list_checkpoints
from training.examples import TrainingExample

EXAMPLES = [
    TrainingExample("seven", "What is 3 + 4 ?", "7", demonstration="3 + 4 = 7 . \\boxed{ 7 }"),
    TrainingExample("nine", "What is 5 + 4 ?", "9", demonstration="\\boxed{ 9 }"),
    TrainingExample("six", "What is 2 + 4 ?", "6", demonstration="2 + 4 = 6 \\boxed{ 6 }"),
]






def make_config(**overrides: object) -> SFTConfig:
    settings: dict = {
        "template": "one-shot-boxed", "batch_size": 2, "epochs": 2, "lr": 1e-2, "max_length": 64
    }
    return SFTConfig(**{**settings, **overrides})


def _train(tokenizer, config, examples=EXAMPLES, model=None, **kwargs) -> tuple[SFTTrainer, Recorder]:
    recorder = kwargs.pop("callbacks", None) or Recorder()
    trainer = SFTTrainer(model or make_model(), tokenizer, examples, config, callbacks=recorder, **kwargs)
    trainer.train()
    return trainer, recorder


def test_a_token_budget_below_max_length_is_refused():
    with pytest.raises(ValueError, match="must hold the longest sequence: max_length = 64"):
        make_config(max_tokens_per_micro_batch=63)


def test_loss_is_the_mean_over_sequences_of_each_sequences_token_mean():
    logp = torch.tensor([[-1.0, -3.0, -7.0], [-4.0, -9.0, -9.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    # sequence 1: (1 + 3) / 2 = 2; sequence 2: 4 / 1 = 4; mean 3 (a token mean would give 8/3)
    assert sft_loss(logp, mask).item() == pytest.approx(3.0)


def test_first_step_loss_counts_only_response_tokens(tokenizer):
    """Recompute step 1's loss by hand from full unpadded forward passes: −log p of the response tokens
    (demonstration + EOS) only, averaged per sequence, then over the batch's two sequences of different
    lengths (so the batch is padded on both sides)."""
    config = make_config(batch_size=3, epochs=1)
    model = make_model()
    template = get_template("one-shot-boxed")
    expected = []
    with torch.no_grad():
        for example in EXAMPLES:
            prompt = tokenizer(template.render(example.as_problem(), tokenizer))["input_ids"]
            response = [*tokenizer(example.demonstration, add_special_tokens=False)["input_ids"], 1]
            logits = model(torch.tensor([prompt + response])).logits[0]
            logp = torch.log_softmax(logits, dim=-1)
            nll = [-logp[len(prompt) - 1 + t, token].item() for t, token in enumerate(response)]
            expected.append(sum(nll) / len(nll))
    _, recorder = _train(tokenizer, config, model=model)
    step, metrics = recorder.steps[0]
    assert step == 1
    assert metrics["loss"] == pytest.approx(sum(expected) / 3, abs=1e-5)
    assert metrics["tokens"] == 12 + 6 + 11  # words (\boxed is "\\" + "boxed") + EOS each


@pytest.mark.parametrize(
    "memory",
    # rows of 37-43 tokens: a budget of 64 holds one per micro-batch
    [{"micro_batch_size": 1}, {"max_tokens_per_micro_batch": 64, "logprob_chunk_tokens": 3}],
    ids=["rows", "token-budget"],
)
def test_micro_batches_give_the_same_step(tokenizer, memory):
    # Step 2's loss is computed after step 1's update: equal losses mean equal updates.
    _, whole = _train(tokenizer, make_config(epochs=1))
    _, micro = _train(tokenizer, make_config(epochs=1, **memory))
    assert len(whole.steps) == 2
    for (_, a), (_, b) in zip(whole.steps, micro.steps, strict=True):
        assert b["loss"] == pytest.approx(a["loss"], abs=1e-5)
        assert b["grad_norm"] == pytest.approx(a["grad_norm"], rel=1e-4)


def test_steps_are_epochs_times_batches_with_a_cosine_schedule_and_no_warmup(tokenizer):
    trainer, recorder = _train(tokenizer, make_config(epochs=3))  # 3 examples, batch 2: 2 steps per epoch
    assert trainer.total_steps == 6 and [step for step, _ in recorder.steps] == [1, 2, 3, 4, 5, 6]
    lrs = [metrics["lr"] for _, metrics in recorder.steps]
    assert lrs == pytest.approx([1e-2 * 0.5 * (1 + math.cos(math.pi * k / 6)) for k in range(6)])
    assert [metrics["epoch"] for _, metrics in recorder.steps] == [0, 0, 1, 1, 2, 2]
    names = {"loss", "lr", "grad_norm", "tokens", "tokens_per_second", "step_seconds"}
    assert names <= set(recorder.steps[0][1])


def test_loss_decreases(tokenizer):
    _, recorder = _train(tokenizer, make_config(epochs=15))
    losses = [metrics["loss"] for _, metrics in recorder.steps]
    assert losses[-1] < 0.5 * losses[0], losses


def test_resume_continues_exactly_like_an_uninterrupted_run(tokenizer, tmp_path):
    # Resume from step 1: mid-epoch (the data position), with AdamW moments and the cosine schedule.
    config = make_config(
        epochs=2, weight_decay=0.01, save_every=1, keep_last=10, output_dir=str(tmp_path / "a")
    )
    straight_trainer, straight = _train(tokenizer, config)
    # Only a run's newest checkpoint keeps its resume state: stop one after step 1 and resume from there.
    _train(tokenizer, replace(config, output_dir=str(tmp_path / "half")), callbacks=Recorder(stop_after=1))
    resumed_config = replace(config, output_dir=str(tmp_path / "b"))
    resumed_trainer, resumed = _train(
        tokenizer, resumed_config, resume_from=tmp_path / "half" / "step-00000001"
    )
    assert [step for step, _ in resumed.steps] == [2, 3, 4]
    for (_, expected), (_, got) in zip(straight.steps[1:], resumed.steps, strict=True):
        for name in ("loss", "grad_norm", "lr", "tokens", "epoch"):
            assert got[name] == pytest.approx(expected[name], abs=1e-6), name
    straight_parameters = dict(straight_trainer.model.named_parameters())
    for name, parameter in resumed_trainer.model.named_parameters():
        torch.testing.assert_close(parameter, straight_parameters[name], rtol=0, atol=1e-6, msg=name)


def test_checkpoints_every_n_steps_and_after_the_last(tokenizer, tmp_path):
    config = make_config(epochs=3, save_every=4, output_dir=str(tmp_path))
    _, recorder = _train(tokenizer, config)
    assert [(step, dtype) for step, _, dtype in recorder.checkpoints] == [(4, "float32"), (6, "float32")]
    assert [info.step for info in list_checkpoints(tmp_path)] == [4, 6]


def test_should_stop_is_asked_before_every_step(tokenizer):
    trainer, recorder = _train(tokenizer, make_config(), callbacks=Recorder(stop_after=1))
    assert trainer.step == 1 and len(recorder.steps) == 1


def test_refuses_examples_without_a_response_and_prompts_that_leave_no_room(tokenizer):
    with pytest.raises(ValueError, match="missing for \\['bare'\\]"):
        SFTTrainer(make_model(), tokenizer, [TrainingExample("bare", "What is 1 + 1 ?", "2")], make_config())
    with pytest.raises(ValueError, match="no room for a response"):
        SFTTrainer(make_model(), tokenizer, EXAMPLES, make_config(max_length=3))


def test_a_long_response_is_cut_to_max_length(tokenizer):
    prompt = get_template("one-shot-boxed").render(EXAMPLES[0].as_problem(), tokenizer)
    prompt_length = len(tokenizer(prompt)["input_ids"])
    trainer = SFTTrainer(make_model(), tokenizer, EXAMPLES[:1], make_config(max_length=prompt_length + 3))
    assert len(trainer.response_ids["seven"]) == 3
