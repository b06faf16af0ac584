"""`rlab eval --model M --suite math500,aime24 …`: evaluate a model and print a per-benchmark table."""

import argparse
import sys
import time
from pathlib import Path

from rlab.cli.common import INVALID_INPUT, CommandError


def _format_table(runs) -> str:
    header = f"{'benchmark':<16}{'n':>6}{'k':>4}{'avg@k':>9}{'pass@k':>9}{'boxed':>8}{'trunc':>8}{'len':>8}"
    lines = [header, "-" * len(header)]
    for run in runs:
        score, k = run.score, run.sampling.n
        pass_k = score.pass_at_k.get(k, score.pass_at_k.get(1, score.avg_at_k))
        lines.append(
            f"{run.benchmark.id:<16}{score.n_problems:>6}{k:>4}{100 * score.avg_at_k:>8.1f}%"
            f"{100 * pass_k:>8.1f}%{100 * score.boxed_ratio:>7.1f}%{100 * score.truncation_ratio:>7.1f}%"
            f"{score.length.mean:>8.1f}"
        )
        for title, breakdown in (("subject", score.by_subject), ("level", score.by_level)):
            for key, value in sorted(breakdown.items()):
                lines.append(f"  {title} {key:<28}{100 * value:>6.1f}%")
    if runs:
        average = sum(r.score.avg_at_k for r in runs) / len(runs)
        lines.append(f"{'average':<26}{100 * average:>9.1f}%")
    return "\n".join(lines)


def _check_before_loading(config) -> list:
    """Every benchmark's setup (template, sampling), and whether its data is here: an unknown benchmark or
    template, or missing data, is refused before the model is loaded (minutes on a large model)."""
    from huggingface_hub import constants

    from evaluation.benchmarks import UnknownBenchmark
    from evaluation.benchmarks.loader import _resolve_data_dir, unavailable_reason
    from evaluation.runner import setup_for
    from evaluation.templates import UnknownTemplate

    if not config.benchmarks:
        raise CommandError("--suite names no benchmark", INVALID_INPUT)
    try:
        setups = [setup_for(benchmark, config) for benchmark in config.benchmarks]
    except (UnknownBenchmark, UnknownTemplate) as error:
        raise CommandError(str(error), INVALID_INPUT) from None
    data_dir = _resolve_data_dir(config.data_dir)
    missing = [
        reason
        for benchmark in config.benchmarks
        if (reason := unavailable_reason(benchmark, data_dir, not constants.HF_HUB_OFFLINE)) is not None
    ]
    if missing:
        raise CommandError("; ".join(missing) + " (give --data-dir)", INVALID_INPUT)
    return setups


def _data_source(benchmark, data_dir: Path | None) -> str:
    if benchmark.generate is not None:
        return "generated"
    if data_dir is not None and benchmark.local_stem is not None:
        found = sorted(data_dir.glob(f"{benchmark.local_stem}.*"))
        if found:
            return str(found[0])
    return f"hub {benchmark.hub.path}" if benchmark.hub is not None else "?"


def _header(args: argparse.Namespace, setups: list, data_dir: Path | None) -> str:
    lines = [f"model {args.model} ({args.backend}, dtype {args.dtype})"]
    for setup in setups:
        s = setup.sampling
        lines.append(
            f"  {setup.benchmark.id:<14} template {setup.template}, temperature {s.temperature}, "
            f"top_p {s.top_p}, max {s.max_new_tokens} new tokens, n {s.n}, seed {s.seed}; "
            f"data: {_data_source(setup.benchmark, data_dir)}"
        )
    return "\n".join(lines)


class ProgressBar:
    """One line per benchmark, redrawn in place on a terminal (plain lines elsewhere)."""

    WIDTH = 30

    def __init__(self, label: str, stream=sys.stderr) -> None:
        self.label, self.stream, self.started = label, stream, time.monotonic()
        self.interactive = stream.isatty()
        self.shown = -1

    def __call__(self, done: int, total: int) -> None:
        percent = 100 * done // max(total, 1)
        if not self.interactive and percent < self.shown + 10 and done < total:
            return  # a log file gets a line per 10 %
        self.shown = percent
        filled = self.WIDTH * done // max(total, 1)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        seconds = time.monotonic() - self.started
        text = f"{self.label} [{bar}] {done}/{total} samples, {seconds:.0f} s"
        prefix, end = ("\r", "") if self.interactive else ("", "\n")
        print(prefix + text, end=end, file=self.stream)
        if self.interactive and done >= total:
            print(file=self.stream)
        self.stream.flush()


def _run(args: argparse.Namespace) -> int:
    from evaluation.benchmarks import BenchmarkUnavailable
    from evaluation.benchmarks.loader import _resolve_data_dir
    from evaluation.generation.base import create_backend
    from evaluation.generation.models import ModelResolutionError
    from evaluation.runner import EvalConfig, evaluate_benchmark

    config = EvalConfig(
        benchmarks=tuple(b.strip() for b in args.suite.split(",") if b.strip()),
        template=args.template,
        limit=args.limit,
        n=args.n,
        temperature=args.temperature,
        max_new_tokens=args.max_new_tokens,
        seed=args.seed,
        data_dir=Path(args.data_dir) if args.data_dir else None,
        pass_ks=(1, args.n or 1),
    )
    setups = _check_before_loading(config)
    print(_header(args, setups, _resolve_data_dir(config.data_dir)), flush=True)
    try:
        backend = create_backend(args.backend, args.model, args.dtype)
    except (ModelResolutionError, ValueError) as error:
        raise CommandError(str(error), INVALID_INPUT) from None
    tokenizer = getattr(backend, "tokenizer", None)
    total = len(config.benchmarks)
    try:
        runs = [
            evaluate_benchmark(backend, tokenizer, b, config, ProgressBar(f"[{i}/{total}] {b}"))
            for i, b in enumerate(config.benchmarks, start=1)
        ]
    except BenchmarkUnavailable as error:
        raise CommandError(str(error), INVALID_INPUT) from None
    finally:
        backend.close()
    print(_format_table(runs))
    if args.out:
        for run in runs:
            run.write_samples(Path(args.out) / f"{run.benchmark.id}.jsonl")
        print(f"samples written to {args.out}/")
    return 0


class Eval:
    @staticmethod
    def register(subparsers) -> None:
        parser = subparsers.add_parser("eval", help="evaluate a model on benchmarks and print a table")
        parser.add_argument(
            "--model", required=True, help="hub id, local path, .gguf or smollm2-135m-instruct"
        )
        parser.add_argument(
            "--suite", required=True, help="benchmark ids, comma-separated (e.g. math500,arith)"
        )
        parser.add_argument("--template", help="prompt template (default: each benchmark's own)")
        parser.add_argument("--backend", default="transformers", help="transformers or vllm")
        parser.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"])
        parser.add_argument("--limit", type=int, help="first N problems of each benchmark")
        parser.add_argument("--n", type=int, help="samples per problem (default: the benchmark's avg@k)")
        parser.add_argument("--temperature", type=float)
        parser.add_argument("--max-new-tokens", type=int)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--data-dir", help="folder with benchmarks/<id>/test.jsonl (default RLAB_DATA_DIR)"
        )
        parser.add_argument("--out", help="write every sample with its verdict to OUT/<benchmark>.jsonl")
        parser.set_defaults(run=_run)
