"""training/planner.py: the memory estimate against the peak a real GRPO step reaches on CPU, for the tiny
test model and SmolLM2-135M's shape (random weights: the estimate depends only on the config), and the
arithmetic of its terms by hand.

Measured peak = the bytes of the tensors alive before the second step (weights, AdamW's moments, the
reference: counted from the objects) + the largest net allocation during that step, from torch's CPU
allocator as the profiler reports it ("Total Allocated" of its memory events). The second step is the
steady state: the first creates AdamW's moments, the second holds them while it runs forward and backward.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from training.planner import (
    KNOWN_MODELS,
    ModelShape,
    PlanSettings,
    plan,
)

REPO_ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import json, sys, tempfile
import torch
from torch.profiler import ProfilerActivity, profile
from transformers import LlamaConfig, LlamaForCausalLM
from tests.models import make_tokenizer
from training.algorithms.grpo.config import GRPOConfig
from training.algorithms.grpo.trainer import GRPOTrainer
from training.examples import TrainingExample
from training.losses import LossConfig

shape, rows, response_length, kl_coef = json.loads(sys.argv[1])
torch.manual_seed(0)
tokenizer = make_tokenizer()
model = LlamaForCausalLM(LlamaConfig(max_position_embeddings=512, eos_token_id=1, pad_token_id=0, **shape))
config = GRPOConfig(template="one-shot-boxed", repeat_to_batch=True, batch_size=1, rollouts_per_prompt=rows,
                    max_response_length=response_length, temperature=1.0, lr=1e-3, steps=2,
                    loss=LossConfig(kl_coef=kl_coef))
trainer = GRPOTrainer(model, tokenizer, [TrainingExample("x", "What is 1 + 2 ?", "3")], config)
trainer.train_step()
tensors = [*model.parameters(), *[t for s in trainer.optimizer.state.values() for t in s.values()
                                   if torch.is_tensor(t)]]
if trainer.reference is not None:
    tensors += list(trainer.reference.parameters())
resident = sum(t.numel() * t.element_size() for t in tensors)
with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as profiler:
    trainer.train_step()
with tempfile.NamedTemporaryFile(suffix=".json") as trace:
    profiler.export_chrome_trace(trace.name)
    events = json.load(open(trace.name))["traceEvents"]
step_peak = max(e["args"]["Total Allocated"] for e in events
                if e.get("name") == "[memory]" and e["args"].get("Device Type") == 0)
print("RESULT " + json.dumps({"resident": resident, "step_peak": step_peak,
                              "prompt_tokens": len(trainer.prompt_ids["x"]),
                              "parameters": sum(p.numel() for p in model.parameters())}))
"""

TINY = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 30,
    "tie_word_embeddings": True,
}
SMOLLM2 = {k: v for k, v in KNOWN_MODELS["smollm2-135m-instruct"].items() if k != "attention_bias"}


def measure(shape: dict, rows: int, response_length: int, kl_coef: float) -> dict:
    completed = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps([shape, rows, response_length, kl_coef])],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, completed.stderr[-3000:]
    return json.loads(lines[-1].removeprefix("RESULT "))


def cpu_settings(
    shape: dict, rows: int, prompt_tokens: int, response_length: int, kl_coef: float
) -> PlanSettings:
    return PlanSettings(
        model=ModelShape.from_config(shape),
        on_gpu=False,
        dtype_bytes=4,
        master_weights=False,
        processes=1,
        sequence_length=prompt_tokens + response_length,
        response_length=response_length,
        mini_batch_rows=rows,
        micro_batch_size=None,
        reference=kl_coef > 0,
        rollout_rows=rows,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("shape", "rows", "response_length", "kl_coef"),
    [(TINY, 16, 24, 0.001), (SMOLLM2, 4, 16, 0.0)],
    ids=["tiny", "smollm2-135m"],
)
def test_estimate_is_within_20_percent_of_the_measured_peak(shape, rows, response_length, kl_coef) -> None:
    measured = measure(shape, rows, response_length, kl_coef)
    settings = cpu_settings(shape, rows, measured["prompt_tokens"], response_length, kl_coef)
    assert settings.model.parameters == measured["parameters"]
    result = plan(settings)
    peak = measured["resident"] + measured["step_peak"]
    print(f"estimate {result.peak} measured {peak} ratio {result.peak / peak:.3f}")
    assert 0.8 <= result.peak / peak <= 1.2, (result.peak, peak, result.training_phase)
