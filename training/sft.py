"""`SFTConfig` + `SFTTrainer`: supervised fine-tuning on (prompt, response) pairs, our own small loop.

The recipe is the re-distillation seed's SFT stage (github on1262/deep-reasoning, verl `fsdp_sft_trainer`;
research notes algorithms.md §4.1): completion-only negative log-likelihood, averaged per sequence over its
response tokens and then over the sequences of the batch; AdamW (weight decay 0), cosine schedule without
warm-up, gradient clipping, `epochs` passes over the shuffled examples. The prompt is the example rendered
with the evaluation template, as GRPOTrainer renders it; the response is the example's `demonstration`
followed by EOS (training/srft.py `demonstration_token_ids`). Checkpoints, resume and callbacks are
GRPOTrainer's (training/checkpoints.py, training/grpo/callbacks.py). See docs/redistillation.md.
"""

import logging
import math
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.optim import AdamW
from transformers import PreTrainedModel, PreTrainedTokenizerBase, get_cosine_schedule_with_warmup

from evaluation.templates import get_template
from training.checkpoints import (
    checkpoint_dtype,
    load_checkpoint,
    prune_checkpoints,
    restore_rng_states,
    save_checkpoint,
)
from training.examples import ExampleKey, ExampleSampler, TrainingExample
from training.grpo.batch import RolloutBatch, response_logps_and_entropy
from training.grpo.callbacks import Metrics, NullCallbacks, TrainerCallbacks
from training.grpo.trainer import TrainResult, seed_everything
from training.losses import aggregate
from training.optim import clipped_step, master_weights_autocast
from training.srft import demonstration_token_ids

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SFTConfig:
    """Defaults: the re-distillation seed's SFT recipe (notes §4.1), except `batch_size` (32 there)."""

    template: str = field(
        default="qwen25-math-cot",
        metadata={"help": "Prompt template id (evaluation.templates), rendered with the tokenizer."},
    )
    max_length: int = field(
        default=5000,
        metadata={
            "help": "Max prompt + response tokens; a longer response is cut at the end, a prompt that "
            "leaves no room for a response token is refused at start-up (seed: 5000)."
        },
    )
    batch_size: int = field(default=32, metadata={"help": "Sequences per optimizer step (seed: 32)."})
    micro_batch_size: int | None = field(
        default=None,
        metadata={
            "help": "Sequences per forward/backward pass (gradient accumulation, memory only); "
            "None = the whole batch. The loss is exact for any value."
        },
    )
    epochs: int = field(default=2, metadata={"help": "Passes over the examples (seed: 2)."})
    lr: float = field(default=1e-5, metadata={"help": "AdamW peak learning rate (seed: 1e-5)."})
    warmup_steps: int = field(default=0, metadata={"help": "Linear warm-up steps before the cosine decay."})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay (seed: 0)."})
    adam_betas: tuple[float, float] = field(default=(0.9, 0.999), metadata={"help": "AdamW betas."})
    adam_eps: float = field(default=1e-8, metadata={"help": "AdamW epsilon."})
    grad_clip: float = field(default=1.0, metadata={"help": "Max global gradient norm (seed: 1.0)."})
    fp32_master_weights: bool = field(
        default=True,
        metadata={"help": "Train a bf16/fp16 model through float32 weights under autocast (as GRPO)."},
    )
    seed: int = field(default=0, metadata={"help": "Seeds the per-epoch shuffling and torch."})
    output_dir: str | None = field(
        default=None, metadata={"help": "Where checkpoints go (one folder per step); None saves nothing."}
    )
    save_every: int = field(default=20, metadata={"help": "Checkpoint every N steps, and after the last."})
    keep_last: int = field(default=3, metadata={"help": "Checkpoints kept besides the best (lowest loss)."})

    def __post_init__(self) -> None:
        object.__setattr__(self, "adam_betas", tuple(self.adam_betas))
        for name in ("max_length", "batch_size", "epochs", "save_every", "keep_last"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.micro_batch_size is not None and self.micro_batch_size < 1:
            raise ValueError(f"micro_batch_size must be >= 1 or None, got {self.micro_batch_size}")
        if self.lr <= 0 or self.grad_clip <= 0 or self.warmup_steps < 0 or self.weight_decay < 0:
            raise ValueError("lr and grad_clip must be > 0, warmup_steps and weight_decay >= 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sft_loss(logp: Tensor, mask: Tensor) -> Tensor:
    """Completion-only NLL: the mean of −log p over each sequence's response tokens (`mask` 1), then the
    mean over sequences (verl fsdp_sft_trainer, notes §4.1). A row without response tokens counts 0."""
    return aggregate(-logp, mask, "seq-mean-token-mean")


class SFTTrainer:
    """SFT of `model` (in place, in its own dtype and on its own device) on `examples`, each of which must
    carry a `demonstration` (the response to learn). `resume_from`: a checkpoint folder of this run; pass
    the same initial model and examples, and the next step equals the uninterrupted run's."""

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        examples: Sequence[TrainingExample],
        config: SFTConfig,
        callbacks: TrainerCallbacks | None = None,
        resume_from: str | Path | None = None,
    ) -> None:
        missing = [example.key for example in examples if not example.demonstration]
        if missing:
            raise ValueError(f"SFT needs a response (demonstration) for every example; missing for {missing}")
        self.config = config
        self.callbacks = callbacks or NullCallbacks()
        self.tokenizer = tokenizer
        self.device = next(model.parameters()).device
        pad = tokenizer.pad_token_id
        self.pad_token_id = pad if pad is not None else tokenizer.eos_token_id
        seed_everything(config.seed)

        model.eval()  # dropout off, as GRPOTrainer (verl's SFT trains in train mode; Qwen has no dropout)
        self.model_dtype = model.dtype
        self.mixed_precision = config.fp32_master_weights and model.dtype in (torch.bfloat16, torch.float16)
        self.model = model.float() if self.mixed_precision else model
        self.prompt_ids, self.response_ids = self._tokenize(examples)
        self.sampler = ExampleSampler(examples, config.batch_size, config.seed)
        self.steps_per_epoch = math.ceil(len(examples) / config.batch_size)
        self.total_steps = config.epochs * self.steps_per_epoch
        self.parameters = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = AdamW(
            self.parameters,
            lr=config.lr,
            betas=config.adam_betas,
            eps=config.adam_eps,
            weight_decay=config.weight_decay,
        )
        self.scheduler = get_cosine_schedule_with_warmup(
            self.optimizer, config.warmup_steps, self.total_steps
        )
        self.step = 0
        if resume_from is not None:
            self._resume(Path(resume_from))

    # ------------------------------------------------------------------ run

    def train(self) -> TrainResult:
        """Run steps until `epochs` passes are done or `should_stop()` says so (asked before each step)."""
        last_checkpoint = None
        while self.step < self.total_steps:
            if self.callbacks.should_stop():
                return TrainResult(step=self.step, stopped=True, last_checkpoint=last_checkpoint)
            metrics = self.train_step()
            self.callbacks.on_step(self.step, metrics)
            if self._checkpoint_due():
                last_checkpoint = self.save_checkpoint(metrics)
        return TrainResult(step=self.step, stopped=False, last_checkpoint=last_checkpoint)

    def close(self) -> None:
        """Nothing to release (no generation engine); here so that jobs treat every trainer alike."""

    def train_step(self) -> Metrics:
        """One optimizer step on the next batch. Metrics: loss (the batch's per-sequence mean NLL), lr (the
        lr this step used), grad_norm (pre-clip), tokens (response tokens trained on), tokens_per_second,
        step_seconds, epoch."""
        started = time.perf_counter()
        batch = self.sampler.next_batch()
        keys = [example.key for example in batch.examples]
        rows = RolloutBatch.build(
            [self.prompt_ids[key] for key in keys],
            [self.response_ids[key] for key in keys],
            self.pad_token_id,
            self.device,
        )
        micro_rows = self.config.micro_batch_size or len(rows)
        lr = self.scheduler.get_last_lr()[0]
        loss_sum = 0.0
        for micro in torch.arange(len(rows), device=self.device).split(micro_rows):
            part = rows.select(micro)
            with self._autocast():
                logp, _ = response_logps_and_entropy(self.model, part, temperature=1.0)
            loss = sft_loss(logp, part.response_mask) * (len(micro) / len(rows))
            loss.backward()
            loss_sum += float(loss.detach())
        grad_norm = self._optimizer_step()
        self.scheduler.step()
        self.step += 1
        tokens = float(rows.response_lengths.sum())
        seconds = time.perf_counter() - started
        return {
            "epoch": float(batch.epoch),
            "loss": loss_sum,
            "lr": lr,
            "grad_norm": grad_norm,
            "tokens": tokens,
            "tokens_per_second": tokens / seconds,
            "step_seconds": seconds,
        }

    # ------------------------------------------------------------------ parts

    def _tokenize(
        self, examples: Sequence[TrainingExample]
    ) -> tuple[dict[ExampleKey, list[int]], dict[ExampleKey, list[int]]]:
        """Prompt ids as the generation backends tokenise a rendered prompt; response ids = the
        demonstration + EOS, cut so that prompt + response fit in max_length."""
        template, limit = get_template(self.config.template), self.config.max_length
        prompts, responses, too_long, cut = {}, {}, {}, 0
        for example in examples:
            text = template.render(example.as_problem(), self.tokenizer)
            prompt = self.tokenizer(text, add_special_tokens=True)["input_ids"]
            if len(prompt) >= limit:
                too_long[example.key] = len(prompt)
            response = demonstration_token_ids(self.tokenizer, str(example.demonstration), limit)
            cut += len(prompt) + len(response) > limit
            prompts[example.key], responses[example.key] = prompt, response[: max(limit - len(prompt), 0)]
        if too_long:
            raise ValueError(
                f"prompts leaving no room for a response within max_length={limit} tokens "
                f"(example: length): {too_long}"
            )
        if cut:
            logger.warning("%d of %d responses cut to fit max_length=%d", cut, len(examples), limit)
        return prompts, responses

    def _autocast(self) -> AbstractContextManager:
        return master_weights_autocast(self.mixed_precision, self.device, self.model_dtype)

    def _optimizer_step(self) -> float:
        return clipped_step(self.optimizer, self.parameters, self.config.grad_clip, self.step + 1)

    # ------------------------------------------------------------------ checkpoints

    def _checkpoint_due(self) -> bool:
        config = self.config
        return config.output_dir is not None and (
            self.step % config.save_every == 0 or self.step == self.total_steps
        )

    def save_checkpoint(self, metrics: Metrics) -> Path:
        """Checkpoint the current step under output_dir, prune old ones, report it via on_checkpoint."""
        if self.config.output_dir is None:
            raise ValueError("config.output_dir is not set")
        state = {"sampler": self.sampler.state_dict(), "metrics": metrics, "config": self.config.to_dict()}
        path = save_checkpoint(
            self.config.output_dir,
            self.step,
            self.model,
            self.tokenizer,
            self.optimizer,
            self.scheduler,
            state,
            dtype=self.model_dtype,
        )
        prune_checkpoints(self.config.output_dir, self.config.keep_last, "loss", "min")
        self.callbacks.on_checkpoint(self.step, str(path), checkpoint_dtype(path))
        return path

    def _resume(self, path: Path) -> None:
        state = load_checkpoint(path, self.model, self.optimizer, self.scheduler)
        restore_rng_states(path)
        self.step = int(state["step"])
        self.sampler.load_state_dict(state["sampler"])
        logger.info("resumed from %s at step %d", path, self.step)
