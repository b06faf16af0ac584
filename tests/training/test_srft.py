"""SRFT: each loss part against a hand-computed case, then SRFTTrainer end to end on the tiny Llama of
tests/models.py (29-word tokenizer), with demonstrations that contain the answer."""

import math
from collections.abc import Sequence

import pytest
import torch

from evaluation.generation.base import Completion, SamplingConfig
from tests.models import make_model
from tests.training.recorder import Recorder
from training.advantages import group_advantages
from training.algorithms.grpo.config import GRPOConfig
from training.algorithms.srft.config import SRFTConfig
from training.algorithms.srft.loss import compute_srft_loss, demo_rl_loss, entropy_weight, srft_parts
from training.algorithms.srft.trainer import SRFTTrainer, demonstration_token_ids, with_demonstrations
from training.examples import TrainingExample
from training.losses import LossBatch, LossConfig, token_logps_and_entropy
from training.rewards import REWARDS

CONTAINS_ANSWER = "test-srft-contains-answer"
NO_EXTRAS = LossConfig(kl_coef=0.0, entropy_coeff=0.0)


@pytest.fixture(autouse=True)
def contains_answer_reward(monkeypatch):
    def reward(completion_text: str, gold: str, **kwargs: object) -> float:
        return 1.0 if gold in completion_text.split() else 0.0

    monkeypatch.setitem(REWARDS, CONTAINS_ANSWER, reward)


# ---------------------------------------------------------------------------------------- weights


def test_weights_on_a_known_entropy():
    entropy = torch.full((1, 2), 0.3, requires_grad=True)
    mask = torch.ones(1, 2)
    w_rl = entropy_weight(entropy, mask, 0.1, 1, "token")
    w_sft_code = entropy_weight(entropy, mask, 0.5, 1, "token")
    w_sft_paper = entropy_weight(entropy, mask, 0.5, -1, "token")
    # The notes' orientation values (§3.3): H = 0.3 nat -> 0.135, 0.67 (code), 0.37 (paper).
    assert torch.allclose(w_rl, torch.tensor(0.1 * math.exp(0.3)))
    assert torch.allclose(w_sft_code, torch.tensor(0.5 * math.exp(0.3)))
    assert torch.allclose(w_sft_paper, torch.tensor(0.5 * math.exp(-0.3)))
    assert abs(w_rl[0, 0].item() - 0.135) < 1e-3 and abs(w_sft_paper[0, 0].item() - 0.370) < 1e-3
    assert not w_rl.requires_grad  # stop-gradient


def test_batch_mean_scope_uses_the_mean_entropy_of_the_masked_tokens():
    entropy = torch.tensor([[0.2, 0.4, 9.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    weight = entropy_weight(entropy, mask, 0.1, 1, "batch_mean")
    assert torch.allclose(weight, torch.full((1, 3), 0.1 * math.exp(0.3)))


# ---------------------------------------------------------------------------------------- SFT part


def test_sft_loss_on_a_known_distribution():
    # p = (1/2, 1/4, 1/4): H = 1.5 ln 2; the demonstration token is token 0, -log p = ln 2.
    logits = torch.log(torch.tensor([[[0.5, 0.25, 0.25]]])).requires_grad_()
    logp, entropy = token_logps_and_entropy(logits, torch.tensor([[0]]))
    assert torch.allclose(entropy, torch.tensor([[1.5 * math.log(2)]]))
    batch = LossBatch(old_logp=logp.detach(), advantages=torch.tensor([0.0]), mask=torch.ones(1, 1))
    srft = SRFTConfig(demo_shaping_gamma=None)
    output = compute_srft_loss(logp, entropy, batch, torch.tensor([True]), NO_EXTRAS, srft)
    w_sft = 0.5 * math.exp(1.5 * math.log(2))  # code preset: exp(+H) = 2^1.5
    assert output.metrics["w_sft"] == pytest.approx(w_sft)
    assert output.metrics["sft_nll"] == pytest.approx(math.log(2))
    assert output.metrics["sft_loss"] == pytest.approx(w_sft * math.log(2))
    assert output.loss.item() == pytest.approx(w_sft * math.log(2))  # A = 0: the demo RL part is 0
    output.loss.backward()
    # The weight is a constant: d(w·(-log p_0))/dz = w·(p - onehot(0)); no gradient through H.
    expected = w_sft * (torch.tensor([0.5, 0.25, 0.25]) - torch.tensor([1.0, 0.0, 0.0]))
    assert torch.allclose(logits.grad[0, 0], expected, atol=1e-6)

    paper = compute_srft_loss(logp.detach(), entropy, batch, torch.tensor([True]), NO_EXTRAS,
                              SRFTConfig(sft_entropy_sign=-1))
    assert paper.metrics["w_sft"] == pytest.approx(0.5 * 2 ** -1.5)


# ---------------------------------------------------------------------------------------- demo RL and group


def test_demo_rl_loss_with_and_without_shaping():
    logp = torch.log(torch.tensor([[0.4]]))
    advantages = torch.tensor([2.0])
    assert demo_rl_loss(logp, advantages, 0.1).item() == pytest.approx(-2.0 * 0.4 / 0.5)
    assert demo_rl_loss(logp, advantages, None).item() == pytest.approx(-2.0 * 0.4)


def test_group_advantage_includes_the_demonstration():
    # G = 3 rollouts rewarded (0, 0, 1) plus a correct demonstration: group (0, 0, 1, 1),
    # mean 1/2, unbiased std sqrt(1/3): A = ±(1/2)·sqrt(3).
    rewards = with_demonstrations([0.0, 0.0, 1.0, 1.0, 1.0, 1.0], [1.0, 0.0], 3)
    assert rewards == [0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0]
    advantages = group_advantages(torch.tensor(rewards), 4)
    half_root3 = 0.5 * math.sqrt(3)
    assert torch.allclose(advantages[:4], torch.tensor([-1, -1, 1, 1]) * half_root3, atol=1e-5)
    # second group (1, 1, 1, wrong demo): mean 3/4, std 1/2 -> rollouts 1/2, demo -3/2.
    assert torch.allclose(advantages[4:], torch.tensor([0.5, 0.5, 0.5, -1.5]), atol=1e-5)
    no_std = group_advantages(torch.tensor(rewards), 4, normalize_by_std=False)
    assert torch.allclose(no_std[:4], torch.tensor([-0.5, -0.5, 0.5, 0.5]))


# ---------------------------------------------------------------------------------------- split and total


def _three_rows() -> tuple[torch.Tensor, torch.Tensor, LossBatch, torch.Tensor]:
    """Rows: demonstration (A = 0.5), positive rollout (A = 1), negative rollout (A = -1); 2 tokens each,
    the last row's second token padding."""
    logp = torch.log(torch.tensor([[0.4, 0.5], [0.2, 0.8], [0.3, 0.9]])).requires_grad_()
    entropy = torch.tensor([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], requires_grad=True)
    batch = LossBatch(
        old_logp=logp.detach(),
        advantages=torch.tensor([0.5, 1.0, -1.0]),
        mask=torch.tensor([[1.0, 1.0], [1.0, 1.0], [1.0, 0.0]]),
    )
    return logp, entropy, batch, torch.tensor([True, False, False])


def test_positive_and_negative_self_rollouts_are_split():
    logp, entropy, batch, is_demo = _three_rows()
    parts, _ = srft_parts(logp, entropy, batch, is_demo, NO_EXTRAS, SRFTConfig())
    # On-policy ratio 1: l_PG = -A. Positive row: -1 · 0.1·exp(H); negative row: +1 on its one token.
    expected_positive = torch.tensor([[0.0, 0.0], [-0.1 * math.exp(0.3), -0.1 * math.exp(0.4)], [0.0, 0.0]])
    assert torch.allclose(parts.rl_positive, expected_positive)
    assert torch.equal(parts.rl_negative, torch.tensor([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0]]))
    expected_demo_rl = torch.tensor([[-0.5 * 0.4 / 0.5, -0.5 * 0.5 / 0.6], [0.0, 0.0], [0.0, 0.0]])
    assert torch.allclose(parts.demo_rl, expected_demo_rl)
    expected_sft = torch.tensor([[0.5 * math.exp(0.1) * -math.log(0.4), 0.5 * math.exp(0.2) * -math.log(0.5)],
                                 [0.0, 0.0], [0.0, 0.0]])
    assert torch.allclose(parts.sft, expected_sft)


def test_total_is_the_sum_of_the_parts():
    logp, entropy, batch, is_demo = _three_rows()
    loss_config = LossConfig(kl_coef=0.0, entropy_coeff=-0.001)
    output = compute_srft_loss(logp, entropy, batch, is_demo, loss_config, SRFTConfig())
    m = output.metrics
    parts = m["sft_loss"] + m["demo_rl_loss"] + m["rl_positive_loss"] + m["rl_negative_loss"]
    assert m["pg_loss"] == pytest.approx(parts)
    mean_entropy = (0.1 + 0.2 + 0.3 + 0.4 + 0.5) / 5
    assert m["entropy"] == pytest.approx(mean_entropy)
    assert output.loss.item() == pytest.approx(parts - 0.001 * mean_entropy)
    # token-mean over the 5 valid tokens, by hand:
    sft = 0.5 * (math.exp(0.1) * -math.log(0.4) + math.exp(0.2) * -math.log(0.5))
    demo_rl = -0.5 * (0.4 / 0.5 + 0.5 / 0.6)
    positive = -0.1 * (math.exp(0.3) + math.exp(0.4))
    assert m["sft_loss"] == pytest.approx(sft / 5)
    assert m["demo_rl_loss"] == pytest.approx(demo_rl / 5)
    assert m["rl_positive_loss"] == pytest.approx(positive / 5)
    assert m["rl_negative_loss"] == pytest.approx(1 / 5)
    assert m["w_rl"] == pytest.approx(0.1 * (math.exp(0.3) + math.exp(0.4)) / 2)
    output.loss.backward()
    # Only the entropy bonus reaches the entropy (the weights are detached): -0.001 / 5 per valid token.
    assert torch.allclose(entropy.grad, -0.001 / 5 * batch.mask)


def test_luffy_preset_has_plain_policy_gradient_and_shaped_demonstrations():
    logp, entropy, batch, is_demo = _three_rows()
    parts, _ = srft_parts(logp, entropy, batch, is_demo, NO_EXTRAS, SRFTConfig.luffy())
    # On-policy ratio 1: the positive row's tokens get -A = -1 each, unweighted; no SFT part.
    assert torch.equal(parts.rl_positive, torch.tensor([[0.0, 0.0], [-1.0, -1.0], [0.0, 0.0]]))
    assert torch.equal(parts.sft, torch.zeros(3, 2))
    expected_demo_rl = torch.tensor([[-0.5 * 0.4 / 0.5, -0.5 * 0.5 / 0.6], [0.0, 0.0], [0.0, 0.0]])
    assert torch.allclose(parts.demo_rl, expected_demo_rl)
    output = compute_srft_loss(logp, entropy, batch, is_demo, NO_EXTRAS, SRFTConfig.luffy())
    assert output.loss.item() == pytest.approx((-0.5 * (0.4 / 0.5 + 0.5 / 0.6) - 2.0 + 1.0) / 5)
    # LUFFY has no SFT term and no entropy weighting: its metrics do not pretend to (no constant-0 charts).
    assert not {"sft_loss", "w_sft", "w_rl"} & set(output.metrics) and "demo_rl_loss" in output.metrics


def test_config_validation():
    with pytest.raises(ValueError):
        SRFTConfig(sft_entropy_sign=0)
    with pytest.raises(ValueError):
        SRFTConfig(entropy_scope="sequence")
    with pytest.raises(ValueError):
        SRFTConfig(demo_shaping_gamma=0.0)
    with pytest.raises(ValueError):
        SRFTConfig(demonstrations_per_prompt=2)


# ---------------------------------------------------------------------------------------- trainer

EXAMPLES = [
    TrainingExample("seven", "What is 3 + 4 ?", "7", demonstration="\\boxed{ 7 }"),
    TrainingExample("nine", "What is 5 + 4 ?", "9", demonstration="\\boxed{ 9 }"),
]


class ScriptedEngine:
    """Answers "7 7" to every prompt: the "seven" group is all correct, the "nine" group all wrong."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def generate(self, prompts: Sequence[str], sampling: SamplingConfig) -> list[list[Completion]]:
        ids = tuple(self.tokenizer("7 7", add_special_tokens=False)["input_ids"])
        completion = Completion(text="7 7", n_tokens=len(ids), finish_reason="length", token_ids=ids)
        return [[completion] * sampling.n for _ in prompts]

    def sync_weights(self) -> None:
        pass

    def close(self) -> None:
        pass


def make_config(**overrides: object) -> GRPOConfig:
    settings: dict = {
        "template": "one-shot-boxed",
        "batch_size": 2,
        "rollouts_per_prompt": 4,
        "max_response_length": 6,
        "reward": CONTAINS_ANSWER,
        "lr": 1e-2,
        "steps": 4,
        "weight_decay": 0.0,
        "loss": LossConfig(kl_coef=0.0),
    }
    return GRPOConfig(**{**settings, **overrides})




def test_demonstration_tokens_end_with_eos(tokenizer):
    ids = demonstration_token_ids(tokenizer, "\\boxed{ 7 }", 10)
    assert tokenizer.convert_ids_to_tokens(ids) == ["\\", "boxed", "{", "7", "}", "<eos>"]
    assert len(demonstration_token_ids(tokenizer, "\\boxed{ 7 }", 3)) == 3


def test_examples_without_a_demonstration_are_refused(tokenizer):
    with pytest.raises(ValueError, match="demonstration"):
        SRFTTrainer(make_model(), tokenizer, [TrainingExample("a", "What is 1 + 1 ?", "2")], make_config())


def test_srft_trains_on_demonstrations_and_reports_its_metrics(tokenizer):
    recorder = Recorder()
    trainer = SRFTTrainer(make_model(), tokenizer, EXAMPLES, make_config(repeat_to_batch=True),
                          SRFTConfig(), callbacks=recorder)
    trainer.train()
    assert trainer.rows_per_prompt == 5 and len(recorder.steps) == 4
    expected = {"sft_loss", "sft_nll", "w_sft", "w_rl", "demo_advantage_mean", "demo_reward_mean",
                "demo_rl_loss", "rl_positive_loss", "rl_negative_loss", "pg_loss", "loss", "entropy",
                "reward_mean", "train_accuracy", "grad_norm", "clip_frac"}
    for _, metrics in recorder.steps:
        assert metrics.keys() >= expected
        assert metrics["kl"] is None  # no reference policy (kl_coef = 0, as SRFT)
        assert all(isinstance(value, float) for name, value in metrics.items() if name != "kl"), metrics
        assert metrics["demo_reward_mean"] == 1.0 and metrics["demo_advantage_mean"] >= 0.0
        assert metrics["w_sft"] > 0.5  # code preset: 0.5·exp(+H) with H > 0
        assert metrics["sft_loss"] > 0.0 and metrics["grad_norm"] > 0.0
    # The SFT term imitates the demonstrations: their NLL falls.
    nll = [metrics["sft_nll"] for _, metrics in recorder.steps]
    assert nll[-1] < nll[0], nll


def test_demonstration_joins_the_group_advantage(tokenizer):
    # "seven": rollouts right, demo right -> all equal, A = 0. "nine": rollouts wrong (0), demo right (1):
    # group (0, 0, 0, 0, 1), mean 1/5, std sqrt(1/5) -> demo A = (4/5)/sqrt(1/5) = 4/sqrt(5).
    recorder = Recorder()
    trainer = SRFTTrainer(make_model(), tokenizer, EXAMPLES, make_config(steps=1), SRFTConfig(),
                          callbacks=recorder, rollout_engine=ScriptedEngine(tokenizer))
    trainer.train()
    _, metrics = recorder.steps[0]
    assert trainer.is_demo.tolist() == [False] * 4 + [True] + [False] * 4 + [True]
    assert metrics["reward_mean"] == 0.5  # self-rollouts only
    demo_advantages = sorted([0.0, 4 / math.sqrt(5)])
    assert metrics["demo_advantage_mean"] == pytest.approx(sum(demo_advantages) / 2, rel=1e-5)


def test_mini_batches_keep_each_group_with_its_demonstration(tokenizer):
    config = make_config(steps=2, mini_batch_size=1, micro_batch_size=3, ppo_epochs=2)
    assert not config.on_policy
    recorder = Recorder()
    trainer = SRFTTrainer(make_model(), tokenizer, EXAMPLES, config, callbacks=recorder)
    trainer.train()
    # mini-batches of 1 prompt = 5 rows (4 rollouts + demo); later updates see ratios away from 1.
    assert all(metrics["ratio_mean"] != 1.0 and metrics["w_sft"] > 0 for _, metrics in recorder.steps)
