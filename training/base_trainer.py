"""`TrainerConfig` + `Trainer`: what every trainer shares (TRL's base trainer/config pair is the model).

The base owns the loop (`train`: ask `should_stop`, run `train_step`, report, checkpoint on schedule),
the optimizer (AdamW over float32 master weights for a bf16/fp16 model, under autocast to the model's own
dtype), the clipped optimizer step, checkpoints (atomic, dtype-true, pruned to `keep_last` besides the best)
and exact resume. An algorithm's trainer subclasses it and provides:

    total_steps           how many steps the run has
    train_step()          one step -> StepResult (its metrics; per-example accuracy when an epoch ended)
    _make_scheduler()     the learning-rate schedule (optional: constant after linear warm-up by default)
    _checkpoint_state() / _load_checkpoint_state(state)   its own state beyond weights, optimizer, sampler

Memory (docs/training-engine.md): forward passes go through `self.policy` (training/logprobs.py: log-probs
through the LM head in chunks, optional activation checkpointing), over micro-batches (`micro_batches`: a
row count and/or a token budget per pass).

Data parallel (`distributed`): the policy is sharded with FSDP2 (training/sharding.py); every rank runs the
loop and the same number of forward/backward passes (`passes`, `idle_pass`); rank 0 alone reports and
decides to stop (its `should_stop` is broadcast); checkpoints are written by all ranks together (each its
shards; rank 0 the gathered Hugging Face folder).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor
from torch.optim import AdamW
from torch.optim.lr_scheduler import LambdaLR, LRScheduler
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from training.batch import RolloutBatch, idle_batch
from training.callbacks import Metrics, NullCallbacks, TrainerCallbacks
from training.checkpoints import (
    SHARDED_STATE,
    check_budget,
    checkpoint_bytes_estimate,
    checkpoint_dtype,
    checkpoint_path,
    load_checkpoint,
    prepare_scratch,
    prune_checkpoints,
    restore_rng_states,
    save_checkpoint,
    scratch_path,
)
from training.distributed import SINGLE_PROCESS, Distributed
from training.examples import ExampleKey, ExampleSampler
from training.logprobs import DEFAULT_CHUNK_TOKENS, TokenLogProbs
from training.micro_batches import plan_micro_batches
from training.optim import clipped_step, master_weights_autocast
from training.sharding import (
    full_parameters,
    full_weights,
    load_sharded_state,
    reshard,
    save_sharded_state,
    shard,
)

logger = logging.getLogger(__name__)


CHECKPOINT_DTYPES = {
    "model": None,
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}


@dataclass(frozen=True)
class TrainerConfig:
    """Optimizer, checkpoint and run settings of every trainer (field names: the spec's `train:` block's)."""

    lr: float = field(default=1e-6, metadata={"help": "AdamW learning rate (peak, after warm-up)."})
    warmup_steps: int = field(
        default=0, metadata={"help": "Linear warm-up over this many steps: lr * min(1, (step + 1) / warmup)."}
    )
    weight_decay: float = field(
        default=0.01, metadata={"help": "AdamW (decoupled) weight decay; part of the paper's loss ablation."}
    )
    adam_betas: tuple[float, float] = field(default=(0.9, 0.999), metadata={"help": "AdamW betas."})
    adam_eps: float = field(default=1e-8, metadata={"help": "AdamW epsilon."})
    grad_clip: float = field(default=1.0, metadata={"help": "Max global gradient norm."})
    fp32_master_weights: bool = field(
        default=True,
        metadata={
            "help": "For a bf16/fp16 model: train float32 copies of its weights, forward passes under "
            "autocast to the model's dtype (verl's FSDP mixed precision). In bf16 itself an update of "
            "lr 1e-6 is below the weights' resolution and is lost. Checkpoints stay in the model's "
            "dtype, with the float32 weights in master/ for an exact resume."
        },
    )
    seed: int = field(
        default=0, metadata={"help": "Seeds the data order, the sampling of every step and torch."}
    )
    output_dir: str | None = field(
        default=None, metadata={"help": "Where checkpoints go (one folder per step); None saves nothing."}
    )
    save_every: int = field(default=20, metadata={"help": "Checkpoint every N steps, and after the last."})
    keep_last: int = field(
        default=3,
        metadata={
            "help": "Checkpoints kept besides the newest, the best, the pinned ones and those whose "
            "evaluation is still to come (so it counts evaluated checkpoints)."
        },
    )
    keep_steps: tuple[int, ...] = field(
        default=(), metadata={"help": "Steps whose checkpoints are never pruned (pinned)."}
    )
    checkpoint_dtype: str = field(
        default="model",
        metadata={
            "help": "dtype of a checkpoint's weights: 'model' (the loaded model's own), 'float32' (the "
            "float32 master weights, as verl saves them) or 'bfloat16' / 'float16'. When it differs from "
            "the model's own, the untrained policy is saved as step 0 too, so that its evaluation goes "
            "through the same path as later checkpoints (1-shot RLVR paper, App. B.6: the stored fp32 "
            "initial checkpoint scores MATH500 39.6 vs 36.0 for the hub bf16 model)."
        },
    )
    disk_budget_gib: float | None = field(
        default=None,
        metadata={
            "help": "Most GiB the run's checkpoints may take; a checkpoint that would pass it fails the run "
            "before it is written. None = no budget."
        },
    )
    best_metric: str | None = field(
        default=None,
        metadata={"help": "Step metric that picks the best checkpoint to keep (e.g. reward_mean)."},
    )
    best_mode: Literal["max", "min"] = field(default="max", metadata={"help": "Whether higher is better."})
    # Memory per step (docs/training-engine.md, "Memory"); none of these changes the update.
    micro_batch_size: int | None = field(
        default=None,
        metadata={
            "help": "Rows per forward/backward pass (responses, or SFT sequences); gradients accumulate over "
            "the micro-batches, each loss scaled by its share of the mini-batch, so the update is the "
            "whole mini-batch's. None = the whole mini-batch."
        },
    )
    max_tokens_per_micro_batch: int | None = field(
        default=None,
        metadata={
            "help": "Dynamic batching: pack micro-batches so that rows × (longest prompt + longest "
            "response) stays within this many tokens (verl ppo_max_token_len_per_gpu). None = off."
        },
    )
    logprob_chunk_tokens: int = field(
        default=DEFAULT_CHUNK_TOKENS,
        metadata={
            "help": "Response positions whose full-vocabulary float32 logits are computed at once "
            "(training/logprobs.py): bounds the LM head's memory to chunk × vocabulary."
        },
    )
    activation_checkpointing: bool = field(
        default=False, metadata={"help": "Recompute each decoder layer in the backward pass."}
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "adam_betas", tuple(self.adam_betas))
        object.__setattr__(self, "keep_steps", tuple(self.keep_steps))
        if self.checkpoint_dtype not in CHECKPOINT_DTYPES:
            raise ValueError(f"checkpoint_dtype must be one of {list(CHECKPOINT_DTYPES)}")
        if self.disk_budget_gib is not None and self.disk_budget_gib <= 0:
            raise ValueError("disk_budget_gib must be > 0 or None")
        for name in ("save_every", "logprob_chunk_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.keep_last < 0:
            raise ValueError(f"keep_last must be >= 0, got {self.keep_last}")
        for name in ("micro_batch_size", "max_tokens_per_micro_batch"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1 or None, got {value}")
        if self.lr <= 0 or self.grad_clip <= 0 or self.warmup_steps < 0 or self.weight_decay < 0:
            raise ValueError("lr and grad_clip must be > 0, warmup_steps and weight_decay >= 0")
        if self.best_mode not in ("max", "min"):
            raise ValueError(f"best_mode must be 'max' or 'min', got {self.best_mode!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TrainResult:
    step: int  # steps done in all (including those before a resume)
    stopped: bool  # should_stop ended the run early
    last_checkpoint: Path | None


EpochAccuracy = dict[ExampleKey, float]


@dataclass(frozen=True)
class StepResult:
    metrics: Metrics
    epoch: int
    epoch_accuracy: EpochAccuracy | None = None  # set when this step finished an epoch


class Trainer:
    """Trains `model` in place, in its own dtype and on its own device. A subclass's __init__ calls
    `super().__init__`, builds what it needs before the optimizer (e.g. a frozen reference copy, which must
    be taken before the float32 upcast), sets `self.sampler`, then calls `self._start(resume_from)`."""

    sampler: ExampleSampler

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        config: TrainerConfig,
        callbacks: TrainerCallbacks | None = None,
        distributed: Distributed = SINGLE_PROCESS,
    ) -> None:
        self.config = config
        self.callbacks = callbacks or NullCallbacks()
        self.distributed = distributed
        self.tokenizer = tokenizer
        self.device = next(model.parameters()).device
        pad = tokenizer.pad_token_id
        self.pad_token_id = pad if pad is not None else tokenizer.eos_token_id
        seed_everything(config.seed)
        model.eval()  # dropout off: the log-probs of an update are those of the sampler (Qwen has none)
        self.model = model
        self.model_dtype = model.dtype
        self.mixed_precision = config.fp32_master_weights and model.dtype in (torch.bfloat16, torch.float16)
        self.sharded = distributed.parallel
        self.step = 0

    def _start(self, resume_from: str | Path | None) -> None:
        """Upcast to float32 master weights where asked, wrap (and shard) the policy, build the optimizer and
        schedule, and resume."""
        config = self.config
        if self.mixed_precision:
            self.model = self.model.float()
        self.policy = self._wrap(self.model, config.activation_checkpointing)
        self.parameters = [p for p in self.policy.parameters() if p.requires_grad]
        self.optimizer = AdamW(
            self.parameters,
            lr=config.lr,
            betas=config.adam_betas,
            eps=config.adam_eps,
            weight_decay=config.weight_decay,
        )
        self.scheduler = self._make_scheduler()
        if resume_from is not None:
            self._resume(Path(resume_from))

    def _wrap(self, model: PreTrainedModel, activation_checkpointing: bool = False) -> TokenLogProbs:
        """`model` behind the chunked log-prob head; sharded over the ranks in data-parallel training (a
        frozen reference model too), computing in the model's own dtype when it trains through float32
        master weights."""
        policy = TokenLogProbs(model, self.config.logprob_chunk_tokens, activation_checkpointing)
        if self.sharded:
            shard(policy, self.distributed, self.model_dtype if self.mixed_precision else None)
            # FSDP2 takes the first module to run forward as its root: the wrapper, before any generation
            # runs the model's own layers.
            self.idle_pass(policy, backward=False)
            reshard(policy)
        return policy

    # ------------------------------------------------------------------ what an algorithm provides

    @property
    def total_steps(self) -> int:
        """The run's number of steps."""
        raise NotImplementedError

    def train_step(self) -> StepResult:
        """One step: its metrics, and every example's accuracy when the step finished an epoch."""
        raise NotImplementedError

    def _make_scheduler(self) -> LRScheduler:
        return LambdaLR(self.optimizer, _warmup(self.config.warmup_steps))

    def _checkpoint_state(self) -> dict[str, Any]:
        return {}

    def _load_checkpoint_state(self, state: dict[str, Any]) -> None:
        pass

    def close(self) -> None:
        """Release what the trainer holds besides the model (a generation engine)."""

    # ------------------------------------------------------------------ run

    def train(self) -> TrainResult:
        """Run steps until `total_steps` are done or `should_stop()` says so (asked before each step)."""
        last_checkpoint = None
        main = self.distributed.is_main
        first = self.step == 0 and self.config.output_dir is not None and self._saves_other_dtype
        if first and (main or self.sharded):
            last_checkpoint = self.save_checkpoint({})  # step 0: the untrained policy as checkpoints store it
        while self.step < self.total_steps:
            if self.distributed.broadcast_flag(main and self.callbacks.should_stop()):
                return TrainResult(step=self.step, stopped=True, last_checkpoint=last_checkpoint)
            result = self.train_step()
            if main:
                self.callbacks.on_step(self.step, result.metrics)
                if result.epoch_accuracy is not None:
                    self.callbacks.on_example_accuracy(result.epoch, result.epoch_accuracy)
            if self._checkpoint_due() and (main or self.sharded):
                last_checkpoint = self.save_checkpoint(result.metrics)
        self.distributed.barrier()
        return TrainResult(step=self.step, stopped=False, last_checkpoint=last_checkpoint)

    def _autocast(self) -> AbstractContextManager:
        # Sharded, FSDP2's mixed precision casts the weights instead.
        return master_weights_autocast(
            self.mixed_precision and not self.sharded, self.device, self.model_dtype
        )

    def _generation(self) -> AbstractContextManager:
        """Around generation from the live policy: its full weights gathered when sharded (every rank
        enters it, with or without prompts of its own)."""
        return full_parameters(self.policy) if self.sharded else nullcontext()

    def _optimizer_step(self) -> float:
        """Clip, step; the pre-clip gradient norm (sharded: of the whole gradient, summed over the ranks
        by FSDP2's reduce-scatter in the backward passes)."""
        return clipped_step(self.optimizer, self.parameters, self.config.grad_clip, self.step + 1)

    # ------------------------------------------------------------------ micro-batches

    def micro_batches(self, batch: RolloutBatch, rows: Tensor) -> list[Tensor]:
        """`rows` of `batch` split by the config's micro_batch_size and max_tokens_per_micro_batch."""
        config = self.config
        return plan_micro_batches(
            rows,
            batch.prompt_lengths,
            batch.response_lengths,
            config.micro_batch_size,
            config.max_tokens_per_micro_batch,
        )

    def passes(self, counts: list[int]) -> list[int]:
        """How many forward (+ backward) passes every rank runs for each of this rank's pass `counts`: the
        most any rank has. Sharded, each pass is a collective, so a rank with fewer runs `idle_pass` for
        the rest; ask before running any of them (this is a collective too)."""
        if not self.sharded:
            return counts
        every = self.distributed.all_gather_object(counts)
        return [max(rank[i] for rank in every) for i in range(len(counts))]

    def idle_pass(self, policy: TokenLogProbs, backward: bool) -> None:
        """A pass on a pad token, with a zero loss: its collectives match the other ranks' passes and every
        gradient it adds is 0."""
        part = idle_batch(self.pad_token_id, self.device)
        with torch.set_grad_enabled(backward), self._autocast():
            logp, entropy = self.token_logps(policy, part, temperature=1.0)
        if backward:
            ((logp.sum() + entropy.sum()) * 0.0).backward()

    def token_logps(
        self, policy: TokenLogProbs, part: RolloutBatch, temperature: float
    ) -> tuple[Tensor, Tensor]:
        """log-probs and entropies [N, T] of `part`'s response tokens under `policy`."""
        return policy(part.input_ids, part.attention_mask, part.response_ids, part.response_mask, temperature)

    # ------------------------------------------------------------------ checkpoints

    def _checkpoint_due(self) -> bool:
        config = self.config
        return config.output_dir is not None and (
            self.step % config.save_every == 0 or self.step == self.total_steps
        )

    @property
    def checkpoint_weights_dtype(self) -> torch.dtype:
        return CHECKPOINT_DTYPES[self.config.checkpoint_dtype] or self.model_dtype

    @property
    def _saves_other_dtype(self) -> bool:
        return self.checkpoint_weights_dtype != self.model_dtype

    def save_checkpoint(self, metrics: Metrics) -> Path:
        """Checkpoint the current step under output_dir (within the disk budget), prune old ones (never one
        whose evaluation is still to come: `callbacks.protected_checkpoints`), report it via on_checkpoint.
        Sharded, every rank calls it: each writes its shards, rank 0 the rest (and returns the path)."""
        config = self.config
        if config.output_dir is None:
            raise ValueError("config.output_dir is not set")
        main = self.distributed.is_main
        if not main and not self.sharded:
            raise RuntimeError(f"rank {self.distributed.rank}: only rank 0 writes checkpoints")
        dtype = self.checkpoint_weights_dtype
        budget = None if config.disk_budget_gib is None else int(config.disk_budget_gib * 1024**3)
        parameters = sum(p.numel() for p in self.model.parameters())
        master = self.model.dtype == torch.float32 and dtype != torch.float32
        estimate = checkpoint_bytes_estimate(parameters, dtype, resume_state=True, master_weights=master)
        check_budget(config.output_dir, estimate, budget, self.step)
        weights = None
        if self.sharded:
            if main:
                prepare_scratch(config.output_dir, self.step)
            self.distributed.barrier()
            save_sharded_state(
                scratch_path(config.output_dir, self.step) / SHARDED_STATE, self.policy, self.optimizer
            )
            weights = full_weights(self.policy)
            if not main:
                self.distributed.barrier()
                return checkpoint_path(config.output_dir, self.step)
        state = {
            "sampler": self.sampler.state_dict(),
            **self._checkpoint_state(),
            "metrics": metrics,
            "config": config.to_dict(),
        }
        path = save_checkpoint(
            config.output_dir,
            self.step,
            self.model,
            self.tokenizer,
            None if self.sharded else self.optimizer,
            self.scheduler,
            state,
            dtype=dtype,
            weights=weights,
            prepared=self.sharded,
        )
        protected = set(config.keep_steps) | set(self.callbacks.protected_checkpoints())
        prune_checkpoints(
            config.output_dir, config.keep_last, config.best_metric, config.best_mode, protected=protected
        )
        if self.sharded:
            self.distributed.barrier()
        self.callbacks.on_checkpoint(self.step, str(path), checkpoint_dtype(path))
        return path

    def _resume(self, path: Path) -> None:
        load_sharded = None
        if self.sharded:
            load_sharded = partial(load_sharded_state, policy=self.policy, optimizer=self.optimizer)
        state = load_checkpoint(path, self.model, self.optimizer, self.scheduler, load_sharded)
        restore_rng_states(path)
        self.step = int(state["step"])
        self.sampler.load_state_dict(state["sampler"])
        self._load_checkpoint_state(state)
        logger.info("resumed from %s at step %d", path, self.step)


def _warmup(steps: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        return 1.0 if steps == 0 else min(1.0, (step + 1) / steps)

    return factor


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
