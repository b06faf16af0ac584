"""The evaluation runner and `rlab eval` end to end on a tiny real model and real benchmark files."""

import json
import subprocess
import sys

from evaluation.generation.transformers_backend import TransformersBackend
from evaluation.runner import EvalConfig, evaluate


def test_runner_keeps_every_sample_with_its_verdict(tiny_model_dir, shared_data, tmp_path):
    backend = TransformersBackend.from_ref(tiny_model_dir, "float32", device="cpu")
    config = EvalConfig(benchmarks=("math500", "aime24"), limit=3, max_new_tokens=4, data_dir=shared_data)
    math500, aime24 = evaluate(backend, backend.tokenizer, config)
    assert (math500.score.n_problems, math500.sampling.n, math500.sampling.temperature) == (3, 1, 0.0)
    assert (aime24.sampling.n, aime24.sampling.temperature) == (8, 0.6)  # the paper's avg@8 default
    assert [len(group) for group in aime24.samples] == [8, 8, 8]
    assert set(math500.score.by_subject) == {p.subject for p in math500.problems}
    math500.write_samples(tmp_path / "math500.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "math500.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and {"gold", "prompt", "text", "extracted", "correct"} <= rows[0].keys()
    assert rows[0]["gold"] == math500.problems[0].answer
    assert "Please reason step by step" in rows[0]["prompt"]  # math500's default: qwen25-math-cot


def rlab(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rlab.cli", *args], capture_output=True, text=True, timeout=300
    )


def test_rlab_eval_prints_a_table_per_benchmark(tiny_model_dir, shared_data):
    result = rlab(
        "eval",
        "--model",
        tiny_model_dir,
        "--suite",
        "math500,arith",
        "--limit",
        "4",
        "--max-new-tokens",
        "4",
        "--data-dir",
        str(shared_data),
    )
    assert result.returncode == 0, result.stderr
    header, table = result.stdout.split("\nbenchmark ", 1)
    # First what is evaluated how: the model, then each benchmark's template, sampling and data source.
    assert header.startswith(f"model {tiny_model_dir}")
    assert "math500        template qwen25-math-cot" in header
    assert f"data: {shared_data / 'benchmarks' / 'math500'}" in header and "arith" in header
    lines = ("benchmark " + table).splitlines()
    assert lines[0].split() == ["benchmark", "n", "k", "avg@k", "pass@k", "boxed", "trunc", "len"]
    assert any(line.startswith("math500") and line.split()[1] == "4" for line in lines)
    assert any(line.strip().startswith("level ") for line in lines)
    assert lines[-1].startswith("average")


def test_rlab_eval_rejects_unknown_benchmarks_and_models(tiny_model_dir):
    unknown = rlab("eval", "--model", tiny_model_dir, "--suite", "math5000", "--limit", "1")
    assert unknown.returncode == 2 and "unknown benchmark 'math5000'" in unknown.stderr
    missing = rlab("eval", "--model", "./no/such/model", "--suite", "arith")
    assert missing.returncode == 2 and "./no/such/model" in missing.stderr


def test_training_problems_are_left_out_or_flagged(tiny_model_dir):
    from evaluation.benchmarks import load_benchmark
    from evaluation.fingerprints import Fingerprint

    backend = TransformersBackend.from_ref(tiny_model_dir, "float32", device="cpu")
    trained_on = (Fingerprint.of(load_benchmark("arith", limit=4)[3].problem),)
    config = EvalConfig(benchmarks=("arith",), limit=4, max_new_tokens=2, training=trained_on)
    (excluded,) = evaluate(backend, backend.tokenizer, config)
    assert excluded.indices == [0, 1, 2] and excluded.score.n_problems == 3
    assert excluded.overlap.record() == {
        "mode": "exclude",
        "count": 1,
        "problems": ["arith-0003"],
        "kinds": ["exact"],
    }
    assert excluded.sampling_record["excluded_training_problems"] == ["arith-0003"]
    flag = EvalConfig(**{**config.__dict__, "training_overlap": "flag"})
    (flagged,) = evaluate(backend, backend.tokenizer, flag)
    assert flagged.indices == [0, 1, 2, 3] and flagged.overlap.positions == (3,)
    assert "excluded_training_problems" not in flagged.sampling_record
