"""`SFTConfig` + `SFTTrainer`: supervised fine-tuning on (prompt, response) pairs, our own small loop.

The recipe is the re-distillation seed's SFT stage (github on1262/deep-reasoning, verl `fsdp_sft_trainer`;
research notes algorithms.md §4.1): completion-only negative log-likelihood, averaged per sequence over its
response tokens and then over the sequences of the batch; AdamW (weight decay 0), cosine schedule without
warm-up, gradient clipping, `epochs` passes over the shuffled examples. The prompt is the example rendered
with the evaluation template, as GRPOTrainer renders it; the response is the example's `demonstration`
followed by EOS (training/algorithms/srft/trainer.py `demonstration_token_ids`). The loop, checkpoints,
resume and callbacks are the base trainer's (training/base_trainer.py). See docs/redistillation.md.
"""

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor
from torch.optim.lr_scheduler import LRScheduler
from transformers import PreTrainedModel, PreTrainedTokenizerBase, get_cosine_schedule_with_warmup

from evaluation.templates import get_template
from training.algorithms.srft.trainer import demonstration_token_ids
from training.base_trainer import StepResult, Trainer, TrainerConfig
from training.batch import RolloutBatch
from training.callbacks import TrainerCallbacks
from training.examples import ExampleKey, ExampleSampler, TrainingExample
from training.losses import aggregate

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SFTConfig(TrainerConfig):
    """Defaults: the re-distillation seed's SFT recipe (notes §4.1), except `batch_size` (32 there). Field
    names are the spec's (`train:`, `algorithm.sft:` / `algorithm.redistill:`)."""

    lr: float = field(default=1e-5, metadata={"help": "AdamW peak learning rate (seed: 1e-5)."})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay (seed: 0)."})
    best_metric: str | None = field(
        default="loss", metadata={"help": "Step metric that picks the best checkpoint to keep."}
    )
    best_mode: str = field(default="min", metadata={"help": "The lowest loss is the best."})
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
    epochs: int = field(default=2, metadata={"help": "Passes over the examples (seed: 2)."})

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("max_length", "batch_size", "epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_tokens_per_micro_batch is not None and self.max_tokens_per_micro_batch < self.max_length:
            raise ValueError(
                f"max_tokens_per_micro_batch {self.max_tokens_per_micro_batch} must hold the longest "
                f"sequence: max_length = {self.max_length}"
            )


def sft_loss(logp: Tensor, mask: Tensor) -> Tensor:
    """Completion-only NLL: the mean of −log p over each sequence's response tokens (`mask` 1), then the
    mean over sequences (verl fsdp_sft_trainer, notes §4.1). A row without response tokens counts 0."""
    return aggregate(-logp, mask, "seq-mean-token-mean")


class SFTTrainer(Trainer):
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
        super().__init__(model, tokenizer, config, callbacks)
        self.config: SFTConfig = config
        self.prompt_ids, self.response_ids = self._tokenize(examples)
        self.sampler = ExampleSampler(examples, config.batch_size, config.seed)
        self.steps_per_epoch = math.ceil(len(examples) / config.batch_size)
        self._start(resume_from)

    @property
    def total_steps(self) -> int:
        return self.config.epochs * self.steps_per_epoch

    def _make_scheduler(self) -> LRScheduler:
        return get_cosine_schedule_with_warmup(self.optimizer, self.config.warmup_steps, self.total_steps)

    def train_step(self) -> StepResult:
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
        lr = self.scheduler.get_last_lr()[0]
        loss_sum = 0.0
        # Micro-batches (train.micro_batch_size / max_tokens_per_micro_batch): each loss scaled by its
        # share of the batch's sequences, so the accumulated gradient is the whole batch's.
        for micro in self.micro_batches(rows, torch.arange(len(rows), device=self.device)):
            part = rows.select(micro)
            with self._autocast():
                logp, _ = self.token_logps(self.policy, part, temperature=1.0)
            loss = sft_loss(logp, part.response_mask) * (len(micro) / len(rows))
            loss.backward()
            loss_sum += float(loss.detach())
        grad_norm = self._optimizer_step()
        self.scheduler.step()
        self.step += 1
        tokens = float(rows.response_lengths.sum())
        seconds = time.perf_counter() - started
        metrics = {
            "epoch": float(batch.epoch),
            "loss": loss_sum,
            "lr": lr,
            "grad_norm": grad_norm,
            "tokens": tokens,
            "tokens_per_second": tokens / seconds,
            "step_seconds": seconds,
        }
        return StepResult(metrics=metrics, epoch=batch.epoch)

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
