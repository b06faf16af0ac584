"""Log-likelihood multiple choice: our scorer (prefix-cached, evaluation.loglikelihood) against
lm-evaluation-harness's HFLM on the same model folder, the same questions and the same CPU threads, in one
process. Both score ARC-Easy and ARC-Challenge in the cloze formulation (the harness builds its requests
from its own arc task config pointed at our local files) and report acc / acc_norm, so the scores can be
read next to the published 0-shot harness numbers.

    PYTHONPATH=. .venv/bin/python bench/bench_loglikelihood.py [--limit N] [--batch-size 16] \\
        [--data-dir ../shared/data] [--threads 2]

Without --limit it runs the full test sets (1,172 + 2,376 questions). Items/s counts questions over the
wall time of scoring alone (model loading excluded), and over the process's CPU time (the steadier figure
on a machine shared with other work); ratio = ours / harness.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from evaluation.generation.models import pretrained_path  # noqa: E402
from evaluation.loglikelihood import LoglikelihoodConfig, evaluate_loglikelihood  # noqa: E402
from evaluation.loglikelihood.scoring import ScorerOptions, TransformersScorer  # noqa: E402
from tests.evaluation.loglikelihood.harness import harness_task_results  # noqa: E402

SETS = ("arc_easy", "arc_challenge")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--limit", type=int, default=None, help="questions per set (default: all)")
    parser.add_argument("--batch-size", type=int, default=16, help="the harness's batch size")
    parser.add_argument("--data-dir", type=Path, default=REPO_ROOT.parent / "shared" / "data")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from lm_eval.models.huggingface import HFLM

    folder = pretrained_path(args.model)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    scorer = TransformersScorer(model, AutoTokenizer.from_pretrained(folder), ScorerOptions())
    harness = HFLM(pretrained=folder, device="cpu", batch_size=args.batch_size, dtype="float32")
    print(f"model {args.model} ({folder}), float32, {args.threads} threads, harness batch {args.batch_size}")
    totals = {"ours": [0, 0.0, 0.0], "harness": [0, 0.0, 0.0]}
    for benchmark in SETS:
        start, cpu_start = time.perf_counter(), time.process_time()
        ours = evaluate_loglikelihood(
            scorer, benchmark, LoglikelihoodConfig("ll-cloze", limit=args.limit, data_dir=args.data_dir)
        )
        ours_seconds, ours_cpu = time.perf_counter() - start, time.process_time() - cpu_start
        data_file = str(args.data_dir / "benchmarks" / benchmark / "test.jsonl")
        start, cpu_start = time.perf_counter(), time.process_time()
        theirs = harness_task_results(harness, benchmark, data_file, args.limit)
        harness_seconds, harness_cpu = time.perf_counter() - start, time.process_time() - cpu_start
        n = len(ours.items)
        agree = sum(
            o.pred == t["pred"] and o.pred_norm == t["pred_norm"]
            for o, t in zip(ours.items, theirs, strict=True)
        )
        for name, seconds, cpu in (
            ("ours", ours_seconds, ours_cpu),
            ("harness", harness_seconds, harness_cpu),
        ):
            totals[name][0] += n
            totals[name][1] += seconds
            totals[name][2] += cpu
        harness_acc = sum(t["acc"] for t in theirs) / n
        harness_norm = sum(t["acc_norm"] for t in theirs) / n
        print(
            f"{benchmark}: n={n}  ours acc {ours.score.accuracy['acc'] * 100:.1f} "
            f"(±{ours.score.stderr['acc'] * 100:.1f}) acc_norm {ours.score.accuracy['acc_norm'] * 100:.1f} "
            f"(±{ours.score.stderr['acc_norm'] * 100:.1f})  harness acc {harness_acc * 100:.1f} "
            f"acc_norm {harness_norm * 100:.1f}  same choices {agree}/{n}  "
            f"ours {n / ours_seconds:.2f} items/s ({n / ours_cpu:.2f} per CPU-s), "
            f"harness {n / harness_seconds:.2f} items/s ({n / harness_cpu:.2f} per CPU-s)"
        )
    ours_rate, ours_cpu_rate = totals["ours"][0] / totals["ours"][1], totals["ours"][0] / totals["ours"][2]
    harness_rate = totals["harness"][0] / totals["harness"][1]
    harness_cpu_rate = totals["harness"][0] / totals["harness"][2]
    print(
        f"all: ours {ours_rate:.2f} items/s, harness {harness_rate:.2f} items/s, "
        f"ratio {ours_rate / harness_rate:.2f} (per CPU-second: ratio {ours_cpu_rate / harness_cpu_rate:.2f})"
    )


if __name__ == "__main__":
    main()
