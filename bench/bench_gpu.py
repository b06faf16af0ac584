"""GPU benchmark (`make bench-gpu`): vLLM decode rate against the memory-bandwidth limit, one GRPO step with
micro-batches and the colocated vLLM engine, and the planner's memory estimate against the measured peak.

Fits in 8 minutes on one H100 with no downloads: the models are random-initialised from real configs
(training.planner.KNOWN_MODELS: Qwen2.5-Math-1.5B, and Qwen2.5-Math-7B for decoding when it fits beside
nothing else) with a synthetic word-level tokenizer as large as the model's vocabulary, so every sampled id
decodes. Random weights almost never sample EOS: responses run to their full length, which is what the
throughputs count.

1. Decode: the GRPO trainer's own engine generates `--decode-tokens` tokens for 64 and 256 prompts; tokens/s
   against the bandwidth limit batch / ((vLLM weights + the batch's KV at mean length) / bandwidth), the
   bytes one decode step must read.
2. GRPO step: `GRPOTrainer` (vLLM engine, sleep mode, micro-batches of `--micro-batch-size` rows, KL
   reference), one warm-up step (AdamW's moments appear) and one timed step: step seconds and response
   tokens/s.
3. Planner: `training.planner` for the same settings (its peak: the larger of the rollout phase, with vLLM's
   reservation, and the training phase) against `torch.cuda.max_memory_allocated` over the timed step.
   Whether vLLM's sleep-mode pool shows in torch's allocator statistics depends on the vLLM version: the
   results keep both phases of the estimate, so either reading can be compared.

With a GPU the results are appended to docs/benchmarks.md. `--dry-run` runs the same path on CPU with a tiny
config, the transformers engine and a few tokens (tests/test_bench_gpu_dry_run.py); it appends nothing.

    .venv/bin/python bench/bench_gpu.py              # on a GPU machine with vLLM (the [gpu] extra)
    .venv/bin/python bench/bench_gpu.py --dry-run    # CPU smoke run
"""

import argparse
import datetime
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedTokenizerFast

from evaluation.generation.base import SamplingConfig
from tests.models import CHAT_TEMPLATE, WORDS
from training.algorithms.grpo.config import GRPOConfig
from training.algorithms.grpo.trainer import GRPOTrainer
from training.examples import TrainingExample
from training.losses import LossConfig
from training.planner import KNOWN_MODELS, ModelShape, PlanSettings, format_bytes, plan

BENCHMARKS_DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
# HBM bandwidth by device name (vendor data sheets), for the decode limit; --bandwidth overrides it.
BANDWIDTH = {
    "H100 SXM": 3.35e12,
    "H100 80GB HBM3": 3.35e12,
    "H100 PCIe": 2.0e12,
    "H200": 4.8e12,
    "A100": 2.0e12,
}
TINY = {
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "intermediate_size": 128,
    "vocab_size": 512,
    "tie_word_embeddings": True,
    "attention_bias": True,
}


@dataclass
class Results:
    device: str
    model: str
    decode: list[dict] = field(default_factory=list)
    grpo: dict = field(default_factory=dict)
    planner: dict = field(default_factory=dict)


def synthetic_tokenizer(vocab_size: int) -> PreTrainedTokenizerFast:
    """The test models' word-level tokenizer (tests/models.py) grown to `vocab_size` ids with filler words."""
    vocab = {word: i for i, word in enumerate(WORDS + [f"t{i}" for i in range(vocab_size - len(WORDS))])}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>"
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def random_model(config_fields: dict, tokenizer: PreTrainedTokenizerFast, dtype: torch.dtype, device: str):
    config = AutoConfig.for_model(
        "qwen2",
        **{k: v for k, v in config_fields.items() if k != "attention_bias"},
        max_position_embeddings=4096,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(0)
    with torch.device(device):
        return AutoModelForCausalLM.from_config(config, dtype=dtype)


def prompts(count: int) -> list[str]:
    return [f"What is {i % 10} + {i // 10 % 10} ?" for i in range(count)]


def bandwidth_of(device_name: str, override: float | None) -> float | None:
    if override:
        return override
    return next((value for key, value in BANDWIDTH.items() if key in device_name), None)


def measure_decode(
    engine, tokenizer, batch: int, tokens: int, settings: PlanSettings, bandwidth: float | None
) -> dict:
    """Tokens/s of sampling `tokens` tokens for each of `batch` prompts, and the bandwidth limit of that
    batch (the weights and the batch's KV at its mean length, read once per decode step)."""
    sampling = SamplingConfig(temperature=1.0, max_new_tokens=tokens, seed=0)
    prompt_tokens = sum(len(tokenizer(p)["input_ids"]) for p in prompts(batch)) / batch
    started = time.perf_counter()
    completions = engine.generate(prompts(batch), sampling)
    seconds = time.perf_counter() - started
    generated = sum(c.n_tokens for per_prompt in completions for c in per_prompt)
    row = {"batch": batch, "tokens": generated, "seconds": seconds, "tokens_per_second": generated / seconds}
    if bandwidth:
        mean_length = prompt_tokens + tokens / 2
        step_bytes = 2 * settings.model.parameters + batch * mean_length * settings.model.kv_bytes_per_token(
            2
        )
        row["limit_tokens_per_second"] = batch * bandwidth / step_bytes
        row["share_of_limit"] = row["tokens_per_second"] / row["limit_tokens_per_second"]
    return row


def run(args: argparse.Namespace) -> Results:
    on_gpu = not args.dry_run
    if on_gpu and not torch.cuda.is_available():
        raise SystemExit("bench_gpu: no CUDA GPU here; run with --dry-run for the CPU smoke run")
    device = "cuda" if on_gpu else "cpu"
    name = "tiny (dry run)" if args.dry_run else args.model
    config_fields = TINY if args.dry_run else KNOWN_MODELS[args.model]
    tokenizer = synthetic_tokenizer(config_fields["vocab_size"])
    dtype = torch.bfloat16 if on_gpu else torch.float32
    model = random_model(config_fields, tokenizer, dtype, device)
    results = Results(device=torch.cuda.get_device_name() if on_gpu else "cpu", model=name)

    config = GRPOConfig(
        template="one-shot-boxed",
        repeat_to_batch=True,
        batch_size=args.prompts,
        rollouts_per_prompt=args.group,
        micro_batch_size=args.micro_batch_size,
        max_prompt_length=64,
        max_response_length=args.response_tokens,
        temperature=1.0,
        reward="format",
        lr=1e-6,
        steps=2,
        loss=LossConfig(kl_coef=0.001),
        rollout_engine="vllm" if on_gpu else "transformers",
        rollout_options={"max_model_len": 64 + max(args.response_tokens, args.decode_tokens)}
        if on_gpu
        else {},
    )
    examples = [TrainingExample(i, f"What is {i} + 1 ?", str(i + 1)) for i in range(args.prompts)]
    trainer = GRPOTrainer(model, tokenizer, examples, config)
    settings = PlanSettings(
        model=ModelShape.from_config(config_fields),
        on_gpu=on_gpu,
        dtype_bytes=2 if on_gpu else 4,
        master_weights=on_gpu,
        processes=1,
        sequence_length=max(len(ids) for ids in trainer.prompt_ids.values()) + args.response_tokens,
        response_length=args.response_tokens,
        mini_batch_rows=args.prompts * args.group,
        micro_batch_size=args.micro_batch_size,
        reference=True,
        rollout_rows=args.prompts * args.group,
        rollout_engine=config.rollout_engine,
        gpu_memory_utilization=config.rollout_gpu_memory_utilization,
    )
    bandwidth = bandwidth_of(results.device, args.bandwidth) if on_gpu else None
    for batch in args.decode_batches:
        results.decode.append(
            measure_decode(trainer.rollouts, tokenizer, batch, args.decode_tokens, settings, bandwidth)
        )

    trainer.train_step()  # warm-up: AdamW's moments are created here
    if on_gpu:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    step = trainer.train_step()
    metrics = step.metrics
    results.grpo = {
        key: metrics[key]
        for key in ("step_seconds", "generation_seconds", "tokens_per_second", "response_length_mean")
        if key in metrics
    }
    estimate = plan(settings, torch.cuda.get_device_properties(0).total_memory if on_gpu else None)
    results.planner = {
        "estimate_bytes": estimate.peak,
        "rollout_phase": estimate.rollout_phase,
        "training_phase": estimate.training_phase,
        "measured_bytes": torch.cuda.max_memory_allocated() if on_gpu else None,
    }
    if on_gpu:
        results.planner["estimate_over_measured"] = estimate.peak / results.planner["measured_bytes"]
    trainer.close()
    return results


def markdown(results: Results, args: argparse.Namespace) -> str:
    today = datetime.date.today().isoformat()
    lines = [
        f"## {today} — bench_gpu.py on {results.device}, {results.model} (random weights)",
        "",
        "| decode batch | tokens/s | bandwidth limit tokens/s | share of limit |",
        "|---|---|---|---|",
    ]
    for row in results.decode:
        limit = row.get("limit_tokens_per_second")
        share = row.get("share_of_limit")
        lines.append(
            f"| {row['batch']} | {row['tokens_per_second']:.0f} | {limit:.0f} | {share:.0%} |"
            if limit
            else f"| {row['batch']} | {row['tokens_per_second']:.0f} | — | — |"
        )
    grpo, planner = results.grpo, results.planner
    lines += [
        "",
        f"GRPO step ({args.prompts} prompts × G {args.group}, {args.response_tokens} response tokens, "
        f"micro-batch {args.micro_batch_size} rows, KL reference, colocated vLLM with sleep): "
        f"{grpo.get('step_seconds', 0):.1f} s a step ({grpo.get('generation_seconds', 0):.1f} s generating), "
        f"{grpo.get('tokens_per_second', 0):.0f} response tokens/s.",
        f"Planner: {format_bytes(planner['estimate_bytes'])} estimated, "
        f"{format_bytes(planner['measured_bytes'])} measured (torch.cuda.max_memory_allocated of the step): "
        f"ratio {planner['estimate_over_measured']:.2f}.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dry-run", action="store_true", help="CPU, tiny config, a few tokens; appends nothing"
    )
    parser.add_argument("--model", default="Qwen/Qwen2.5-Math-1.5B", choices=sorted(KNOWN_MODELS))
    parser.add_argument(
        "--bandwidth", type=float, help="memory bandwidth in bytes/s (default: by device name)"
    )
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--response-tokens", type=int, default=1024)
    parser.add_argument("--micro-batch-size", type=int, default=16)
    parser.add_argument("--decode-tokens", type=int, default=256)
    parser.add_argument("--decode-batches", type=int, nargs="+", default=[64, 256])
    args = parser.parse_args()
    if args.dry_run:
        args.prompts, args.group, args.response_tokens, args.micro_batch_size = 2, 2, 4, 2
        args.decode_tokens, args.decode_batches = 4, [2, 4]
    started = time.perf_counter()
    results = run(args)
    print("RESULT " + json.dumps(asdict(results), default=str))
    print(f"bench_gpu: {time.perf_counter() - started:.0f} s")
    if not args.dry_run:
        with BENCHMARKS_DOC.open("a", encoding="utf-8") as doc:
            doc.write("\n" + markdown(results, args))
        print(f"appended to {BENCHMARKS_DOC}")


if __name__ == "__main__":
    main()
