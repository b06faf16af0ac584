"""GRPOTrainer on a tiny random Llama (hidden 32, 2 layers) with a 29-word tokenizer built offline.

The learnable task: reward 1 when the response contains the gold answer's token. A random policy does so
in about 1 of 8 rollouts, so groups have signal from the first step and a few steps make it likely.
"""

from collections.abc import Sequence
from dataclasses import replace

import pytest
import torch

from evaluation.generation.base import Completion, SamplingConfig
from tests.models import make_model
from tests.training.loss_ablations import ABLATIONS
from tests.training.recorder import Recorder
from training.algorithms.grpo.config import GRPOConfig
from training.algorithms.grpo.trainer import GRPOTrainer
from training.batch import RolloutBatch, response_logps_and_entropy
from training.callbacks import TrainerCallbacks
from training.examples import TrainingExample
from training.losses import LossConfig
from training.rewards import REWARDS
from training.rollouts import TransformersRolloutEngine, create_rollout_engine

CONTAINS_ANSWER = "test-contains-answer"
STEP_METRICS = {
    "reward_mean",
    "train_accuracy",
    "entropy",
    "response_length_mean",
    "response_length_max",
    "clipped_ratio",
    "kl",
    "clip_frac",
    "pg_loss",
    "grad_norm",
    "lr",
    "tokens_per_second",
    "step_seconds",
    "loss",
    "boxed_ratio",
    "epoch",
}


def _contains_answer(completion_text: str, gold: str, **kwargs: object) -> float:
    return 1.0 if gold in completion_text.split() else 0.0


@pytest.fixture(autouse=True)
def contains_answer_reward(monkeypatch):
    """The test reward, registered for each test only (the registry's own tests check its names)."""
    monkeypatch.setitem(REWARDS, CONTAINS_ANSWER, _contains_answer)






def make_config(**overrides: object) -> GRPOConfig:
    settings: dict = {
        "template": "one-shot-boxed",
        "batch_size": 2,
        "rollouts_per_prompt": 8,
        "max_response_length": 6,
        "temperature": 1.0,
        "reward": CONTAINS_ANSWER,
        "lr": 1e-2,
        "steps": 3,
        "weight_decay": 0.0,
        "loss": LossConfig(kl_coef=0.0, entropy_coeff=0.0),
    }
    return GRPOConfig(**{**settings, **overrides})


EXAMPLES = [
    TrainingExample("seven", "What is 3 + 4 ?", "7"),
    TrainingExample("nine", "What is 5 + 4 ?", "9"),
    TrainingExample("six", "What is 2 + 4 ?", "6"),
]






def _train(tokenizer, config, examples=EXAMPLES[:2], model=None, **kwargs) -> tuple[GRPOTrainer, Recorder]:
    recorder = Recorder()
    trainer = GRPOTrainer(model or make_model(), tokenizer, examples, config, callbacks=recorder, **kwargs)
    trainer.train()
    return trainer, recorder


def test_reward_rises_on_a_learnable_task(tokenizer):
    _, recorder = _train(tokenizer, make_config(repeat_to_batch=True, steps=20))
    rewards = [metrics["reward_mean"] for _, metrics in recorder.steps]
    assert sum(rewards[-4:]) / 4 > sum(rewards[:4]) / 4 + 0.3, rewards


def test_every_step_reports_the_metrics(tokenizer):
    config = make_config(repeat_to_batch=True, steps=2, loss=LossConfig())
    _, recorder = _train(tokenizer, config)
    assert [step for step, _ in recorder.steps] == [1, 2]
    for _, metrics in recorder.steps:
        assert metrics.keys() >= STEP_METRICS
        assert all(isinstance(value, float) for value in metrics.values()), metrics
        assert metrics["lr"] == 1e-2 and metrics["clipped_ratio"] <= 1.0
        assert metrics["response_length_max"] <= 6 and metrics["clip_frac"] == 0.0  # on-policy: ratio 1


def test_kl_is_none_without_a_reference(tokenizer):
    trainer, recorder = _train(tokenizer, make_config(repeat_to_batch=True, steps=1))
    assert trainer.reference is None and recorder.steps[0][1]["kl"] is None


def test_one_shot_training_reports_the_example_accuracy_every_step(tokenizer):
    trainer, recorder = _train(tokenizer, make_config(repeat_to_batch=True, steps=3), examples=EXAMPLES[:1])
    assert [(epoch, list(accuracy)) for epoch, accuracy in recorder.accuracy] == [
        (0, ["seven"]),
        (1, ["seven"]),
        (2, ["seven"]),
    ]
    assert trainer.accuracy_history["seven"] == [accuracy["seven"] for _, accuracy in recorder.accuracy]
    assert [metrics["train_accuracy"] for _, metrics in recorder.steps] == trainer.accuracy_history["seven"]


def test_full_dataset_accuracy_covers_every_example_each_epoch(tokenizer):
    # 3 examples, batch 2: epochs are steps (1, 2) and (3, 4).
    trainer, recorder = _train(tokenizer, make_config(steps=4), examples=EXAMPLES)
    assert [epoch for epoch, _ in recorder.accuracy] == [0, 1]
    assert all(set(accuracy) == {"seven", "nine", "six"} for _, accuracy in recorder.accuracy)
    assert all(len(history) == 2 for history in trainer.accuracy_history.values())


class ScriptedEngine:
    """Answers "7 7" to everything: the group of the example whose answer is 7 is all correct, the
    other all wrong."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def generate(self, prompts: Sequence[str], sampling: SamplingConfig) -> list[list[Completion]]:
        return [[self._completion("7 7") for _ in range(sampling.n)] for _ in prompts]

    def _completion(self, text: str) -> Completion:
        ids = tuple(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        return Completion(text=text, n_tokens=len(ids), finish_reason="length", token_ids=ids)

    def sync_weights(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_all_correct_and_all_wrong_groups_give_no_policy_gradient(tokenizer):
    model = make_model()
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    config = make_config(repeat_to_batch=False, steps=1, loss=ABLATIONS["pg-only"])
    trainer, recorder = _train(
        tokenizer, config, examples=EXAMPLES[:2], model=model, rollout_engine=ScriptedEngine(tokenizer)
    )
    metrics = recorder.steps[0][1]
    assert metrics["reward_mean"] == 0.5
    assert metrics["pg_loss"] == 0.0 and metrics["grad_norm"] == 0.0
    for name, parameter in trainer.model.named_parameters():
        assert torch.equal(parameter, before[name]), name


@pytest.mark.parametrize("ablation", ["pg-only", "entropy-only", "no-policy-loss", "full"])
def test_loss_ablations_train(tokenizer, ablation):
    reward = "none" if ablation == "entropy-only" else CONTAINS_ANSWER
    trainer, recorder = _train(
        tokenizer, make_config(repeat_to_batch=True, steps=2, reward=reward, loss=ABLATIONS[ablation])
    )
    assert (trainer.reference is not None) == (ABLATIONS[ablation].kl_coef > 0)
    for _, metrics in recorder.steps:
        assert metrics["grad_norm"] > 0  # entropy-only: no reward signal, the entropy term still moves it
        assert (metrics["kl"] is not None) == (ABLATIONS[ablation].kl_coef > 0)


def test_several_mini_batches_and_ppo_epochs_recompute_old_logps(tokenizer):
    config = make_config(repeat_to_batch=True, steps=2, mini_batch_size=1, micro_batch_size=3, ppo_epochs=2)
    assert not config.on_policy
    _, recorder = _train(tokenizer, config)
    # Four optimizer steps per rollout batch: the later ones see a ratio that moved away from 1.
    assert all(metrics["ratio_mean"] != 1.0 for _, metrics in recorder.steps)


def test_should_stop_is_asked_between_steps(tokenizer):
    recorder = Recorder(stop_after=2)
    trainer = GRPOTrainer(
        make_model(), tokenizer, EXAMPLES[:2], make_config(repeat_to_batch=True, steps=5), callbacks=recorder
    )
    result = trainer.train()
    assert result.stopped and result.step == 2 == trainer.step
    assert len(recorder.steps) == 2


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_resume_continues_exactly_like_an_uninterrupted_run(tokenizer, tmp_path, dtype):
    # Full dataset (3 examples, batch 2: the data order and the epoch's counts cross the checkpoint), two
    # optimizer steps per rollout batch, KL to the reference, entropy bonus, weight decay and lr warm-up;
    # bf16: float32 master weights, checkpoint files in bf16.
    config = make_config(
        steps=3, mini_batch_size=1, warmup_steps=3, loss=LossConfig(), save_every=2, keep_last=1
    )
    straight_trainer, straight = _train(tokenizer, config, examples=EXAMPLES, model=make_model(dtype=dtype))

    interrupted = replace(config, steps=2, output_dir=str(tmp_path))
    _train(tokenizer, interrupted, examples=EXAMPLES, model=make_model(dtype=dtype))
    checkpoint = tmp_path / "step-00000002"
    resumed_trainer, resumed = _train(
        tokenizer, config, examples=EXAMPLES, resume_from=checkpoint, model=make_model(dtype=dtype)
    )

    assert [step for step, _ in resumed.steps] == [3]
    expected, got = straight.steps[2][1], resumed.steps[0][1]
    for name in ("loss", "pg_loss", "kl", "entropy", "reward_mean", "grad_norm", "lr"):
        assert got[name] == pytest.approx(expected[name], abs=1e-6), name
    straight_parameters = dict(straight_trainer.model.named_parameters())
    for name, parameter in resumed_trainer.model.named_parameters():
        torch.testing.assert_close(parameter, straight_parameters[name], rtol=0, atol=1e-6, msg=name)
    assert resumed_trainer.accuracy_history == straight_trainer.accuracy_history


@pytest.mark.parametrize("master_weights", [True, False])
def test_fp32_master_weights_keep_updates_below_bf16_resolution(tokenizer, master_weights):
    model = make_model(dtype=torch.bfloat16)
    before = {name: p.detach().float().clone() for name, p in model.named_parameters()}
    config = make_config(repeat_to_batch=True, steps=1, lr=1e-6, fp32_master_weights=master_weights)
    trainer, _ = _train(tokenizer, config, model=model)
    after = dict(trainer.model.named_parameters())
    changed = [float((after[name].detach().float() != old).float().mean()) for name, old in before.items()]
    share = sum(changed) / len(changed)
    # In bf16 a 1e-6 step is below the spacing of all but the tiniest weights and rounds away.
    assert share > 0.5 if master_weights else share < 0.05, share


def test_checkpoints_every_n_steps_and_after_the_last(tokenizer, tmp_path):
    config = make_config(repeat_to_batch=True, steps=5, save_every=2, keep_last=2, output_dir=str(tmp_path))
    _, recorder = _train(tokenizer, config)
    assert [(step, dtype) for step, _, dtype in recorder.checkpoints] == [
        (2, "float32"),
        (4, "float32"),
        (5, "float32"),
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-00000004", "step-00000005"]


def test_recomputed_logps_equal_the_samplers(tokenizer):
    model = make_model().eval()
    prompts = ["user : What is 3 + 4 ? assistant :", "What is 1 ?"]  # different lengths: left padding
    engine = TransformersRolloutEngine(model, tokenizer)
    sampling = SamplingConfig(temperature=1.0, n=3, max_new_tokens=8, seed=1, logprobs=True)
    completions = engine.generate(prompts, sampling)
    prompt_ids = [tokenizer(p)["input_ids"] for p in prompts]
    pairs = [(prompt_ids[i], c) for i in range(2) for c in completions[i]]
    batch = RolloutBatch.build([p for p, _ in pairs], [c.token_ids for _, c in pairs], tokenizer.pad_token_id)
    with torch.no_grad():
        logp, _ = response_logps_and_entropy(model, batch, temperature=1.0)
        trimmed, _ = response_logps_and_entropy(model, batch.select(torch.tensor([3, 4])), temperature=1.0)
    for row, (_, completion) in enumerate(pairs):
        torch.testing.assert_close(
            logp[row, : completion.n_tokens], torch.tensor(completion.logprobs), rtol=0, atol=1e-5
        )
    torch.testing.assert_close(trimmed, logp[3:5, : trimmed.shape[1]], rtol=0, atol=1e-5)
    assert batch.response_mask.sum(dim=1).tolist() == [c.n_tokens for _, c in pairs]


def test_too_long_prompts_are_refused(tokenizer):
    with pytest.raises(ValueError, match="max_prompt_length"):
        GRPOTrainer(make_model(), tokenizer, EXAMPLES, make_config(max_prompt_length=10))


def test_config_validation():
    with pytest.raises(ValueError, match="must divide"):
        make_config(batch_size=4, mini_batch_size=3)
    with pytest.raises(ValueError, match="temperature"):
        make_config(temperature=0.0)
    assert make_config(batch_size=4).on_policy and not make_config(batch_size=4, mini_batch_size=2).on_policy


def test_rollout_engines_by_name(tokenizer):
    engine = create_rollout_engine("transformers", make_model(), tokenizer, {"max_batch_size": 4})
    assert isinstance(engine, TransformersRolloutEngine) and engine.backend.options.max_batch_size == 4
    with pytest.raises(ValueError, match="unknown rollout engine"):
        create_rollout_engine("nope", make_model(), tokenizer)
    assert isinstance(Recorder(), TrainerCallbacks)
