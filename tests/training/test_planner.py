"""training/planner.py: the memory estimate against the peak a real GRPO step reaches on CPU, for the tiny
test model and SmolLM2-135M's shape (random weights: the estimate depends only on the config), and the
arithmetic of its terms by hand.

The measured peak is that of the second step, the steady state (the first creates AdamW's moments, the
second holds them while it runs forward and backward), measured in a child process:
- tiny model ("allocator"): the bytes of the tensors alive before the step (weights, AdamW's moments, the
  reference: counted from the objects) + the largest net allocation during it, from torch's CPU allocator
  as the profiler reports it ("Total Allocated" of its memory events); the process's RSS would be mostly
  libraries at this size.
- SmolLM2-135M ("rss"): the process's peak resident memory above what it held before the model was built
  (profiling its step costs minutes; at 2 GB the libraries' share is small).
"""

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from training.planner import (
    KNOWN_MODELS,
    ModelShape,
    PlanError,
    PlanSettings,
    activation_bytes,
    model_shape,
    parse_size,
    plan,
    training_memory,
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
# live tensors before the step + the allocator's largest net allocation during it
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
peak = resident + max(e["args"]["Total Allocated"] for e in events
                      if e.get("name") == "[memory]" and e["args"].get("Device Type") == 0)
print("RESULT " + json.dumps({"peak": peak, "prompt_tokens": len(trainer.prompt_ids["x"]),
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
    """Measured with torch's CPU allocator (the process's RSS peak also counts what model building left
    resident, so it is not the step's)."""
    measured = measure(shape, rows, response_length, kl_coef)
    settings = cpu_settings(shape, rows, measured["prompt_tokens"], response_length, kl_coef)
    assert settings.model.parameters == measured["parameters"]
    result = plan(settings)
    peak = measured["peak"]
    print(f"estimate {result.peak} measured {peak} ratio {result.peak / peak:.3f}")
    assert 0.8 <= result.peak / peak <= 1.2, (result.peak, peak, result.training_phase)


# ---------------------------------------------------------------- the arithmetic, by hand


def test_parameter_counts_match_the_published_models() -> None:
    # Safetensors totals: Qwen2.5-Math-1.5B 1,543,714,304 (tied head, q/k/v biases); SmolLM2-135M 134,515,008.
    assert model_shape("Qwen/Qwen2.5-Math-1.5B").parameters == 1_543_714_304
    assert model_shape("smollm2-135m-instruct").parameters == 134_515_008


def test_model_shape_reads_a_local_config_and_names_what_it_cannot_size(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({**TINY, "num_key_value_heads": None}))
    shape = model_shape(str(tmp_path))
    assert (shape.num_kv_heads, shape.head_dim) == (4, 8)  # no kv heads: multi-head attention
    with pytest.raises(PlanError, match="cannot size model 'nobody/nothing'"):
        model_shape("nobody/nothing")
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 8}))
    with pytest.raises(PlanError, match="no 'num_attention_heads'"):
        model_shape(str(tmp_path))


def test_parse_size() -> None:
    assert parse_size("80GiB") == parse_size("80G") == 80 * 1024**3
    assert parse_size("80GB") == 80 * 10**9 and parse_size("512MiB") == 512 * 1024**2
    with pytest.raises(PlanError, match="not a size"):
        parse_size("eighty")


def hand_settings(**changes) -> PlanSettings:
    shape = ModelShape.from_config(TINY)
    values = dict(
        model=shape,
        on_gpu=True,
        dtype_bytes=2,
        master_weights=True,
        processes=1,
        sequence_length=10,
        response_length=6,
        mini_batch_rows=8,
        micro_batch_size=4,
        reference=True,
        rollout_rows=8,
        rollout_engine="vllm",
        gpu_memory_utilization=0.5,
    )
    return PlanSettings(**{**values, **changes})


def test_terms_by_hand_one_gpu_and_sharded() -> None:
    s = hand_settings()
    # Layer: q and o 32·32 each, k and v 32·16 each (2 KV heads of 8), MLP 3·32·64, 2 norms of 32 = 9,280;
    # embedding 30·32 = 960 (the head is tied); final norm 32.
    p = 960 + 2 * 9_280 + 32
    assert s.model.parameters == p
    memory = training_memory(s)
    assert memory["weights (fp32 master)"] == 4 * p and memory["gradients"] == 4 * p
    assert memory["optimizer state"] == 8 * p and memory["bf16 weight cache"] == 2 * p
    assert memory["reference model"] == 2 * p
    # Activations: 4 rows × 10 tokens × 2 layers × (2 bytes · (11·32 + 4·64) + 4 bytes · 4·32).
    assert activation_bytes(s, 4) == 4 * 10 * 2 * (2 * (11 * 32 + 4 * 64) + 4 * 4 * 32)
    assert memory["log-prob logits"] == 4 * 4 * (4 * 7) * 30  # 4 fp32 copies × 4 rows·(6+1) tokens × vocab
    sharded = training_memory(hand_settings(processes=4))
    assert sharded["optimizer state"] == 8 * p // 4 and sharded["weights (fp32 master)"] == 4 * p // 4
    assert sharded["gathered weights"] == 2 * (960 + 2 * 9_280) + 4 * 9_280
    checkpointed = hand_settings(activation_checkpointing=True, micro_batch_size=8)
    assert activation_bytes(checkpointed, 8) < activation_bytes(hand_settings(), 8)


def test_vllm_sleeps_through_training_or_stays_in_the_training_phase() -> None:
    device = 1 * 1024**3
    asleep = plan(hand_settings(), device)
    awake = plan(hand_settings(engine_sleeps=False), device)
    assert "vLLM (weights + KV cache)" in asleep.rollout_phase and not any(
        "vLLM" in name for name in asleep.training_phase
    )
    assert awake.training_phase["vLLM (awake)"] == hand_settings().model.kv_bytes_per_token(
        2
    ) * 8 * 10 + 2 * (hand_settings().model.parameters)
    assert asleep.rollout_phase["vLLM (weights + KV cache)"] == device // 2


def test_largest_micro_batch_is_the_largest_that_fits() -> None:
    settings = hand_settings(
        mini_batch_rows=4096, rollout_rows=4096, sequence_length=2048, response_length=1024
    )
    device = 4 * 1024**3
    largest = plan(settings, device).largest_micro_batch
    assert 0 < largest < 4096
    budget = 0.9 * device
    fits = plan(replace(settings, micro_batch_size=largest), device)
    too_many = plan(replace(settings, micro_batch_size=largest + 1), device)
    assert fits.peak <= budget < too_many.peak


@pytest.mark.parametrize(
    ("spec", "checkpointing", "micro_batch_size"),
    [("pi1-1shot", False, 4), ("pi1-1shot", True, 32), ("srft", False, 1), ("srft", True, 16)],
)
def test_paper_specs_fit_eight_80gb_gpus_with_micro_batches(spec, checkpointing, micro_batch_size) -> None:
    """The 1-shot RLVR and SRFT example specs on 8 × 80 GB (FSDP2 over 8 ranks): the micro-batch the docs
    recommend fits, with and without activation checkpointing."""
    from rlab.spec import parse_spec
    from training.planner import settings_from_spec

    path = REPO_ROOT / "examples" / "specs" / f"{spec}.yaml"
    settings = settings_from_spec(parse_spec(path.read_text()))
    assert settings.processes == 8 and settings.sharded and settings.rollout_engine == "vllm"
    chosen = replace(settings, micro_batch_size=micro_batch_size, activation_checkpointing=checkpointing)
    result = plan(chosen, 80 * 1024**3)
    assert result.fits and result.largest_micro_batch >= micro_batch_size
    assert settings.micro_batch_size is not None  # the spec sets one: the whole mini-batch does not fit
    whole = replace(settings, micro_batch_size=None, activation_checkpointing=checkpointing)
    assert not plan(whole, 80 * 1024**3).fits


def test_rlab_plan_prints_the_terms_and_the_largest_micro_batch(capsys) -> None:
    from rlab.cli import main

    spec = str(REPO_ROOT / "examples" / "specs" / "pi1-1shot.yaml")
    assert main(["plan", spec, "--gpu-memory", "80GiB", "--gpus", "8"]) == 0  # its micro-batch of 4 fits
    whole = ["--set", "train.micro_batch_size=null"]
    assert main(["plan", spec, *whole, "--gpu-memory", "80GiB", "--gpus", "8"]) == 1  # the whole mini-batch
    out = capsys.readouterr().out
    assert "8 process(es), FSDP2-sharded" in out and "does NOT fit in 80.00 GiB per device" in out
    assert "largest micro-batch that fits: 4 rows" in out and "vLLM (weights + KV cache)" in out
    assert main(["plan", spec, "--set", "train.batch_size=8", "--set", "train.mini_batch_size=8"]) == 0
    assert main(["plan", spec, "--gpu-memory", "lots"]) == 2
    assert "not a size" in capsys.readouterr().err
