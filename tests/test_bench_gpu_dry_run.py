"""`bench/bench_gpu.py --dry-run`: the GPU benchmark's whole path (decode rate, a GRPO step with
micro-batches, the planner's estimate) on CPU with a tiny config and a few tokens; it must not touch
docs/benchmarks.md, which only a run on a GPU appends to."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_bench_gpu_dry_run_measures_every_part_on_cpu() -> None:
    doc = REPO_ROOT / "docs" / "benchmarks.md"
    before = doc.read_bytes()
    environment = {**os.environ, "PYTHONPATH": f"{REPO_ROOT / 'platform'}{os.pathsep}{REPO_ROOT}"}
    completed = subprocess.run(
        [sys.executable, "bench/bench_gpu.py", "--dry-run"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    line = next(line for line in completed.stdout.splitlines() if line.startswith("RESULT "))
    results = json.loads(line.removeprefix("RESULT "))
    assert results["device"] == "cpu"
    assert [row["batch"] for row in results["decode"]] == [2, 4]
    assert all(row["tokens"] > 0 and row["tokens_per_second"] > 0 for row in results["decode"])
    assert results["grpo"]["step_seconds"] > 0 and results["grpo"]["tokens_per_second"] > 0
    phase = results["planner"]["training_phase"]
    assert results["planner"]["estimate_bytes"] >= sum(phase.values()) > 0
    assert {"weights", "optimizer state", "gradients", "activations", "reference model"} <= set(phase)
    assert doc.read_bytes() == before


def test_bench_gpu_without_a_gpu_says_to_use_dry_run() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is here: the real benchmark would run")
    environment = {**os.environ, "PYTHONPATH": f"{REPO_ROOT / 'platform'}{os.pathsep}{REPO_ROOT}"}
    completed = subprocess.run(
        [sys.executable, "bench/bench_gpu.py"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode != 0
    assert "no CUDA GPU here; run with --dry-run" in completed.stderr
