"""The sample effect (our reconstruction, training/algorithms/redistill/sample_effect.py) on a hand-computed
case: a model whose next-token distribution is softmax(θ) at every position, θ = (0, 0), so
∇θ log p(y) = onehot(y) − (½, ½)."""

import math
from types import SimpleNamespace

import pytest
import torch

from tests.models import make_model
from training.algorithms.redistill.sample_effect import (
    HeldOutRollouts,
    held_out_gradient,
    sample_effects,
    sample_gradient,
)

PAD = 0


class Unigram(torch.nn.Module):
    """Logits θ at every position, whatever the input: two tokens, 0 and 1. Shaped as the trainer's
    log-prob head reads a causal LM: a decoder (`base_model`) whose hidden state is the constant 1, and an
    LM head whose weight [2, 1] is θ."""

    def __init__(self) -> None:
        super().__init__()
        self.config = SimpleNamespace()
        self.head = torch.nn.Linear(1, 2, bias=False)
        torch.nn.init.zeros_(self.head.weight)

    def base_model(self, input_ids, **kwargs):
        return SimpleNamespace(last_hidden_state=torch.ones(*input_ids.shape, 1))

    def get_output_embeddings(self) -> torch.nn.Linear:
        return self.head


def test_gradients_and_effects_by_hand():
    model = Unigram()
    # g_i of response (0, 0): token-mean of (½, −½) twice = (½, −½)
    assert torch.allclose(sample_gradient(model, [1], [0, 0], PAD), torch.tensor([0.5, -0.5]))
    # one held-out prompt, K = 2: response (0) right, (1) wrong; baseline ½:
    # g_test = ½ [½ (½, −½) − ½ (−½, ½)] = (¼, −¼)
    rollouts = HeldOutRollouts(prompt_ids=[[1]], response_ids=[[[0], [1]]], rewards=[[1.0, 0.0]])
    g_test = held_out_gradient(model, rollouts, PAD)
    assert torch.allclose(g_test, torch.tensor([0.25, -0.25]))
    # e = ⟨(½, −½), (¼, −¼)⟩ = ¼, normalised by ‖g_test‖ = √2/4: 1/√2; a sample of token 1: the opposite
    effects = sample_effects(model, [([1], [0, 0]), ([1], [1])], g_test, PAD)
    assert effects == pytest.approx([1 / math.sqrt(2), -1 / math.sqrt(2)])
    raw = sample_effects(model, [([1], [0, 0])], g_test, PAD, normalize=False)
    assert raw == pytest.approx([0.25])


def test_no_signal_gives_zero_effects():
    model = Unigram()
    all_right = HeldOutRollouts(prompt_ids=[[1]], response_ids=[[[0], [1]]], rewards=[[1.0, 1.0]])
    g_test = held_out_gradient(model, all_right, PAD)
    assert torch.equal(g_test, torch.zeros(2))
    assert sample_effects(model, [([1], [0])], g_test, PAD) == [0.0]


def test_a_sample_like_the_right_rollouts_helps_on_a_real_model():
    torch.manual_seed(0)
    model = make_model()
    rollouts = HeldOutRollouts(
        prompt_ids=[[3, 4, 5]], response_ids=[[[6, 7], [8, 9]]], rewards=[[1.0, 0.0]]
    )
    g_test = held_out_gradient(model, rollouts, PAD)
    right, wrong = sample_effects(model, [([3, 4, 5], [6, 7]), ([3, 4, 5], [8, 9])], g_test, PAD)
    assert right > 0 > wrong
    assert all(p.grad is None for p in model.parameters())  # nothing left behind for an optimizer
