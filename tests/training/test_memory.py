"""Bounded memory per step (docs/training-engine.md, "Memory"): log-probs through the LM head in chunks,
activation checkpointing, micro-batches by rows and by a token budget. Each must leave the update exactly
as it is without it; the peak memory of a step must follow the micro-batch, not the batch."""

import functools
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from tests.models import make_model
from tests.training.recorder import Recorder
from tests.training.scripted import ScriptedEngine, contains_answer
from training.algorithms.grpo.config import GRPOConfig
from training.algorithms.grpo.trainer import GRPOTrainer
from training.batch import RolloutBatch
from training.examples import TrainingExample
from training.logprobs import TokenLogProbs
from training.losses import LossConfig, token_logps_and_entropy
from training.micro_batches import plan_micro_batches
from training.rewards import REWARDS

REPOSITORY = Path(__file__).resolve().parents[2]
CONTAINS_ANSWER = "test-memory-contains-answer"
EXAMPLES = [
    TrainingExample(key, f"What is {a} + {b} ?", str(a + b))
    for key, (a, b) in enumerate([(3, 4), (5, 4), (2, 4), (1, 2)])
]
BASE = GRPOConfig(
    template="one-shot-boxed",
    batch_size=4,
    mini_batch_size=2,
    rollouts_per_prompt=4,
    max_prompt_length=40,
    max_response_length=6,
    temperature=1.0,
    reward=CONTAINS_ANSWER,
    lr=1e-4,
    weight_decay=0.0,
    steps=2,
)
# Mixed aggregation modes (the entropy term's differs from the rest), KL and entropy on: every term must
# get its own micro-batch share for the sum of the micro-batches to be the mini-batch's loss.
LOSSES = {
    "token-mean": LossConfig(kl_coef=0.05, entropy_coeff=-0.01, entropy_aggregation="seq-mean-token-mean"),
    "seq-mean-token-mean": LossConfig(aggregation="seq-mean-token-mean", kl_coef=0.05, entropy_coeff=0.01),
    "sum-norm": LossConfig(aggregation="seq-mean-token-sum-norm", entropy_coeff=0.01, norm_length=6),
}


@pytest.fixture(autouse=True)
def contains_answer_reward(monkeypatch):
    monkeypatch.setitem(REWARDS, CONTAINS_ANSWER, contains_answer)


def _rollout(tokenizer) -> RolloutBatch:
    prompts = [tokenizer(text)["input_ids"] for text in ["What is 3 + 4 ?", "1 + 2 =", "What is 9 ?"]]
    responses = [tokenizer(text)["input_ids"] for text in ["7 . \\ boxed { 7 }", "3", ""]]
    return RolloutBatch.build(prompts, responses, tokenizer.pad_token_id)


@pytest.mark.parametrize("chunk_tokens", [1, 4, 10_000])
def test_chunked_log_probs_equal_those_of_the_full_logits(tokenizer, chunk_tokens):
    batch = _rollout(tokenizer)
    mask = batch.response_mask
    reference_model, chunked_model = make_model(seed=3), make_model(seed=3)
    position_ids = (batch.attention_mask.cumsum(-1) - 1).clamp(min=0)
    logits = reference_model(
        input_ids=batch.input_ids, attention_mask=batch.attention_mask, position_ids=position_ids
    ).logits[:, -batch.response_width - 1 : -1]
    expected = token_logps_and_entropy(logits, batch.response_ids, temperature=0.7)
    got = TokenLogProbs(chunked_model, chunk_tokens)(
        batch.input_ids, batch.attention_mask, batch.response_ids, mask, temperature=0.7
    )
    for value, reference in zip(got, expected, strict=True):
        assert torch.allclose(value * mask, reference * mask, atol=1e-5)
        assert torch.all(value[mask == 0] == 0)
    ((expected[0] * mask).sum() + (expected[1] * mask).sum()).backward()
    ((got[0] * mask).sum() + (got[1] * mask).sum()).backward()
    for (name, p), q in zip(reference_model.named_parameters(), chunked_model.parameters(), strict=True):
        assert torch.allclose(p.grad, q.grad, atol=1e-5), name


def test_activation_checkpointing_gives_the_same_gradients(tokenizer):
    batch = _rollout(tokenizer)
    gradients = []
    for checkpointing in (False, True):
        model = make_model(seed=3)
        model.eval()
        policy = TokenLogProbs(model, 4, activation_checkpointing=checkpointing)
        logp, entropy = policy(
            batch.input_ids, batch.attention_mask, batch.response_ids, batch.response_mask, 1.0
        )
        ((logp + entropy) * batch.response_mask).sum().backward()
        gradients.append([p.grad for p in model.parameters()])
    assert policy.checkpointed_layers and all(
        not m.training
        for m in policy.checkpointed_layers[0].modules()
        if m is not policy.checkpointed_layers[0]
    )
    for plain, checkpointed in zip(*gradients, strict=True):
        assert torch.allclose(plain, checkpointed, atol=1e-6)


def test_token_budget_packs_rows_longest_first_within_the_budget():
    prompts = torch.tensor([5, 5, 3, 4, 5, 2])
    responses = torch.tensor([1, 6, 2, 6, 3, 1])
    rows = torch.arange(6)
    micros = plan_micro_batches(rows, prompts, responses, max_rows=None, max_tokens=24)
    assert sorted(torch.cat(micros).tolist()) == list(range(6))
    for micro in micros:  # padded size: rows × (longest prompt + longest response)
        assert len(micro) * int(prompts[micro].max() + responses[micro].max()) <= 24
    # lengths 6, 11, 5, 10, 8, 3: [1, 3] pads to 2 × 11; [4, 0, 2] to 3 × (5 + 3); row 5 would make 4 × 8
    assert [m.tolist() for m in micros] == [[1, 3], [4, 0, 2], [5]]
    capped = plan_micro_batches(rows, prompts, responses, max_rows=2, max_tokens=24)
    assert max(len(m) for m in capped) == 2
    assert [m.tolist() for m in plan_micro_batches(rows, prompts, responses, 4, None)] == [
        [0, 1, 2, 3],
        [4, 5],
    ]
    with pytest.raises(ValueError, match="exceeds max_tokens_per_micro_batch=10"):
        plan_micro_batches(rows, prompts, responses, max_rows=None, max_tokens=10)


def test_a_token_budget_below_the_longest_row_is_refused():
    with pytest.raises(ValueError, match="must hold the longest row"):
        replace(BASE, max_tokens_per_micro_batch=45)


@functools.cache
def _whole_batch_run(tokenizer, loss: str) -> tuple[dict[str, torch.Tensor], list[dict]]:
    return _train(tokenizer, replace(BASE, loss=LOSSES[loss]))


def _train(tokenizer, config: GRPOConfig) -> tuple[dict[str, torch.Tensor], list[dict]]:
    recorder = Recorder()
    trainer = GRPOTrainer(
        make_model(seed=1),
        tokenizer,
        EXAMPLES,
        config,
        callbacks=recorder,
        rollout_engine=ScriptedEngine(tokenizer),
    )
    trainer.train()
    return {n: p.detach().clone() for n, p in trainer.model.named_parameters()}, [
        m for _, m in recorder.steps
    ]


ROWS_1 = {"micro_batch_size": 1}
ROWS_3_CHUNKED = {"micro_batch_size": 3, "logprob_chunk_tokens": 2}
TOKEN_BUDGET = {"max_tokens_per_micro_batch": 46}  # the longest row (40 + 6) fits; micro-batches hold 1-3
ROWS_AND_TOKENS = {"micro_batch_size": 2, "max_tokens_per_micro_batch": 60, "activation_checkpointing": True}


@pytest.mark.parametrize(
    ("loss", "memory"),
    [
        ("token-mean", ROWS_1),
        ("token-mean", TOKEN_BUDGET),
        ("token-mean", ROWS_AND_TOKENS),
        ("seq-mean-token-mean", ROWS_3_CHUNKED),
        ("seq-mean-token-mean", TOKEN_BUDGET),
        ("sum-norm", TOKEN_BUDGET),
    ],
    ids=lambda value: value if isinstance(value, str) else "+".join(value),
)
def test_micro_batches_make_the_full_batch_update(tokenizer, loss, memory):
    # Two mini-batches per step and a second step: old log-probs are recomputed, and step 2's losses
    # are taken after step 1's update (equal losses: equal updates).
    config = replace(BASE, loss=LOSSES[loss])
    whole, whole_steps = _whole_batch_run(tokenizer, loss)
    micro, micro_steps = _train(tokenizer, replace(config, **memory))
    for name, value in whole.items():
        assert torch.allclose(micro[name], value, rtol=0, atol=1e-5), name
    assert not torch.equal(whole["model.norm.weight"], make_model(seed=1).model.norm.weight)
    for expected, got in zip(whole_steps, micro_steps, strict=True):
        # (not `loss`: a micro-batch's own loss mixes terms of different modes, so its share-weighted sum is
        # only near the mini-batch's; the loss that is backpropagated is exact)
        for metric in ("pg_loss", "grad_norm", "entropy"):
            assert got[metric] == pytest.approx(expected[metric], rel=1e-5, abs=1e-7), metric


def _peak_rss(rows: int, micro_rows: int) -> float:
    """Peak resident memory (MB) of a fresh process running one training step (memory_probe.py)."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.training.memory_probe", str(rows), str(micro_rows)],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])["peak_mb"]


def test_peak_memory_follows_the_micro_batch_not_the_batch():
    small = _peak_rss(rows=8, micro_rows=8)
    batch_grows = _peak_rss(rows=64, micro_rows=8) - small
    micro_grows = _peak_rss(rows=64, micro_rows=64) - small
    # 64 rows in one pass hold ~8x the activations of 8 rows (hundreds of MB with this probe's sizes);
    # 64 rows in passes of 8 hold those of 8, plus the rollout batch itself (seen: +380 MB and +60 MB).
    assert micro_grows > 150, (small, batch_grows, micro_grows)
    assert batch_grows < micro_grows / 3, (small, batch_grows, micro_grows)
