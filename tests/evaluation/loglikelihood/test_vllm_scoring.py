"""The vLLM scorer (prompt log-probs), run for real in its own venv (.venv-vllm, scripts/vllm_env.sh), against
the transformers scorer on the same ARC questions in both formulations. Both run SmolLM2-135M in float32 on
CPU, so they differ only in the order of floating-point sums: each option's log-likelihood within 1e-3
(1.3e-4 measured), greediness and token counts identical."""

import json
import os
import subprocess
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from evaluation.benchmarks import load_benchmark
from evaluation.generation.models import pretrained_path
from evaluation.loglikelihood.formulations import FORMULATIONS
from evaluation.loglikelihood.requests import ChoiceRequest
from evaluation.loglikelihood.scoring import TransformersScorer

REPO_ROOT = Path(__file__).resolve().parents[3]
VLLM_PYTHON = REPO_ROOT / ".venv-vllm" / "bin" / "python"

pytestmark = pytest.mark.slow


def test_vllm_prompt_logprobs_match_the_transformers_scorer(smollm2_installed, shared_data, tmp_path):
    if not VLLM_PYTHON.exists():
        pytest.skip("needs .venv-vllm (scripts/vllm_env.sh)")
    folder = pretrained_path("smollm2-135m-instruct")
    problems = load_benchmark("arc_challenge", data_dir=shared_data, limit=4)
    requests = [
        ChoiceRequest(f.context(p), tuple(f.continuations(p)))
        for f in FORMULATIONS.values()
        for p in problems
    ]
    request_file, out_file = tmp_path / "requests.json", tmp_path / "scores.json"
    request_file.write_text(
        json.dumps([{"context": r.context, "continuations": r.continuations} for r in requests])
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "VLLM_CPU_KVCACHE_SPACE": "1"}
    command = [str(VLLM_PYTHON), "-m", "evaluation.loglikelihood", "--backend", "vllm", "--model", folder]
    command += ["--dtype", "float32", "--requests", str(request_file), "--out", str(out_file)]
    subprocess.run(command, env=env, cwd=REPO_ROOT, check=True, timeout=900)
    theirs = json.loads(out_file.read_text())

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    ours = TransformersScorer(model, AutoTokenizer.from_pretrained(folder)).score(requests)
    for request, mine, vllm in zip(requests, ours, theirs, strict=True):
        assert len(vllm) == len(request.continuations)
        for a, b in zip(mine, vllm, strict=True):
            assert a.logprob == pytest.approx(b["logprob"], abs=1e-3)
            assert (a.is_greedy, a.n_tokens) == (b["is_greedy"], b["n_tokens"])
