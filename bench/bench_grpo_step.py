"""Seconds per GRPO step on CPU: our GRPOTrainer against TRL's GRPOTrainer on the same configuration.

Both start from the same saved weights, get the same rendered prompts (arith problems in the
`one-shot-boxed` template), G, lengths, learning rate, weight decay, clip, KL (beta 0.001, k3 without
TRL's bias correction) and entropy bonus (0.001), sample with HF `generate` and take one optimizer step per
rollout batch. Runs alternate (ours, TRL, ours, TRL, ...) so that load from other users of the machine
hits both; the first step of every run is a warm-up and is not counted. A step is the wall time between
consecutive end-of-step callbacks.

    .venv/bin/python bench/bench_grpo_step.py                  # tiny random Llama (hidden 64, 2 layers)
    .venv/bin/python bench/bench_grpo_step.py --model smollm2  # SmolLM2-135M-Instruct (a few minutes)
"""

import argparse
import logging
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM, TrainerCallback
from transformers.trainer_callback import PrinterCallback
from transformers.utils import logging as transformers_logging
from trl import GRPOConfig as TRLConfig
from trl import GRPOTrainer as TRLTrainer

from evaluation.benchmarks import load_benchmark
from evaluation.generation.models import pretrained_path
from evaluation.templates import render_prompt
from training.algorithms.grpo.config import GRPOConfig
from training.algorithms.grpo.trainer import GRPOTrainer
from training.callbacks import NullCallbacks
from training.examples import TrainingExample
from training.losses import LossConfig
from training.rewards import score_completions

SMOLLM2 = "smollm2-135m-instruct"
PROMPTS, GROUP, LR, BETA, ENTROPY, WEIGHT_DECAY, TEMPERATURE = 2, 4, 1e-6, 0.001, 0.001, 0.01, 0.7
RESPONSE_LENGTH = {"tiny": 32, "smollm2": 64}


def build_model_dir(kind: str, directory: Path) -> Path:
    """Weights both trainers start from: the tiny model is built here, SmolLM2 is its safetensors copy."""
    source = pretrained_path(SMOLLM2)
    if kind == "smollm2":
        return Path(source)
    tokenizer = AutoTokenizer.from_pretrained(source)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


class StepClock:
    """Wall time between consecutive step ends; the first interval starts when the clock is started."""

    def __init__(self) -> None:
        self.marks = [time.perf_counter()]
        self.lengths: list[float] = []

    def tick(self, response_length: float | None = None) -> None:
        self.marks.append(time.perf_counter())
        if response_length is not None:
            self.lengths.append(response_length)

    def steps(self) -> list[float]:
        return [b - a for a, b in zip(self.marks, self.marks[1:], strict=False)][1:]  # drop warm-up


def run_ours(model_dir: Path, examples: list[TrainingExample], steps: int, length: int) -> StepClock:
    clock = StepClock()

    class Tick(NullCallbacks):
        def on_step(self, step, metrics):
            clock.tick(metrics["response_length_mean"])

    config = GRPOConfig(
        template="one-shot-boxed",
        repeat_to_batch=True,
        batch_size=PROMPTS,
        rollouts_per_prompt=GROUP,
        max_response_length=length,
        temperature=TEMPERATURE,
        reward="outcome",
        lr=LR,
        steps=steps,
        loss=LossConfig(kl_coef=BETA, entropy_coeff=-ENTROPY, weight_decay=WEIGHT_DECAY),
    )
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    clock.marks = [time.perf_counter()]
    GRPOTrainer(model, tokenizer, examples, config, callbacks=Tick()).train()
    return clock


def run_trl(model_dir: Path, prompts: list[str], answers: list[str], steps: int, length: int) -> StepClock:
    clock = StepClock()

    class Tick(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            clock.tick()

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "completions/mean_length" in logs:
                clock.lengths.append(float(logs["completions/mean_length"]))

    def outcome(completions: list[str], answer: list[str], **kwargs: object) -> list[float]:
        return score_completions("outcome", completions, answer)

    with tempfile.TemporaryDirectory() as output_dir:
        args = TRLConfig(
            output_dir=output_dir,
            use_cpu=True,
            bf16=False,
            report_to="none",
            save_strategy="no",
            logging_steps=1,
            disable_tqdm=True,
            gradient_checkpointing=False,
            seed=0,
            max_steps=steps,
            per_device_train_batch_size=PROMPTS * GROUP,
            num_generations=GROUP,
            max_completion_length=length,
            temperature=TEMPERATURE,
            learning_rate=LR,
            lr_scheduler_type="constant",
            weight_decay=WEIGHT_DECAY,
            max_grad_norm=1.0,
            beta=BETA,
            use_bias_correction_kl=False,
            entropy_coef=ENTROPY,
            loss_type="dapo",
            epsilon=0.2,
            delta=3.0,
            scale_rewards="group",
        )
        trainer = TRLTrainer(
            model=str(model_dir),
            reward_funcs=[outcome],
            args=args,
            train_dataset=Dataset.from_dict({"prompt": prompts, "answer": answers}),
            processing_class=AutoTokenizer.from_pretrained(model_dir),
            callbacks=[Tick()],
        )
        trainer.remove_callback(PrinterCallback)  # the per-step log dicts
        clock.marks = [time.perf_counter()]
        trainer.train()
    return clock


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(RESPONSE_LENGTH), default="tiny")
    parser.add_argument("--steps", type=int, default=None, help="steps per run (default 6 tiny, 3 smollm2)")
    parser.add_argument("--runs", type=int, default=2, help="runs of each trainer, alternating")
    args = parser.parse_args()
    steps = args.steps or (6 if args.model == "tiny" else 3)
    length = RESPONSE_LENGTH[args.model]
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    transformers_logging.disable_progress_bar()

    problems = load_benchmark("arith")[:PROMPTS]
    examples = [TrainingExample.from_problem(problem) for problem in problems]
    with tempfile.TemporaryDirectory() as scratch:
        model_dir = build_model_dir(args.model, Path(scratch))
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        prompts = [render_prompt("one-shot-boxed", problem, tokenizer) for problem in problems]
        answers = [str(problem.answer) for problem in problems]
        runners: dict[str, Callable[[], StepClock]] = {
            "ours": lambda: run_ours(model_dir, examples, steps, length),
            "trl": lambda: run_trl(model_dir, prompts, answers, steps, length),
        }
        timings: dict[str, list[float]] = {name: [] for name in runners}
        lengths: dict[str, list[float]] = {name: [] for name in runners}
        for _ in range(args.runs):
            for name, run in runners.items():
                clock = run()
                timings[name] += clock.steps()
                lengths[name] += clock.lengths

    print(
        f"model {args.model}, {PROMPTS} prompts x G={GROUP}, <= {length} new tokens, "
        f"{torch.get_num_threads()} threads, {args.runs} runs x {steps - 1} timed steps each"
    )
    for name, values in timings.items():
        extra = f", mean response {statistics.mean(lengths[name]):.1f} tokens" if lengths[name] else ""
        print(
            f"{name:5s} median {statistics.median(values):6.3f} s/step  (min {min(values):.3f}, "
            f"max {max(values):.3f}{extra})"
        )
    ratio = statistics.median(timings["ours"]) / statistics.median(timings["trl"])
    print(f"ours / TRL = {ratio:.3f}x  (goal <= 1.05x)")


if __name__ == "__main__":
    main()
