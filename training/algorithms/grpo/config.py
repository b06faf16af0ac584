"""`GRPOConfig`: everything a `GRPOTrainer` run needs besides the model and the examples.

Defaults are the 1-shot RLVR recipe (github ypwang61/One-Shot-RLVR, scripts/train/training_1.5b_pi1_r128.sh;
see docs/training-loss.md §3 and docs/training-engine.md), except where a field says otherwise.
Batch sizes count prompts, as verl's `data.train_batch_size` and `ppo_mini_batch_size` do. Field names are
the spec's (`train:`, `algorithm.grpo:`, `data.template`), which sets them by name
(training.algorithms.configs).
"""

from dataclasses import dataclass, field
from typing import Any

from training.base_trainer import TrainerConfig
from training.losses.config import LossConfig


@dataclass(frozen=True)
class GRPOConfig(TrainerConfig):
    # Data and prompts
    template: str = field(
        default="qwen25-math-cot",
        metadata={"help": "Prompt template id (evaluation.templates), rendered with the tokenizer."},
    )
    repeat_to_batch: bool = field(
        default=False,
        metadata={
            "help": "1-shot/few-shot: repeat the examples to fill one rollout batch, so every step "
            "is an epoch. False: full-dataset training, shuffled every epoch."
        },
    )
    batch_size: int = field(
        default=128, metadata={"help": "Prompts per rollout batch (verl data.train_batch_size)."}
    )
    mini_batch_size: int | None = field(
        default=None,
        metadata={
            "help": "Prompts per optimizer step (verl ppo_mini_batch_size); must divide batch_size. "
            "None = batch_size: one optimizer step per rollout batch, fully on-policy."
        },
    )
    max_prompt_length: int = field(
        default=1024, metadata={"help": "Prompts longer than this (in tokens) are refused at start-up."}
    )
    max_response_length: int = field(
        default=3072, metadata={"help": "Max new tokens per rollout; longer ones are cut (finish 'length')."}
    )
    # Rollouts
    rollouts_per_prompt: int = field(default=8, metadata={"help": "G: responses sampled per prompt."})
    temperature: float = field(
        default=0.6,
        metadata={"help": "Sampling temperature; the training log-probs and entropies use the same one."},
    )
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling cut (1 = off)."})
    top_k: int = field(default=0, metadata={"help": "Top-k sampling cut (0 = off)."})
    rollout_engine: str = field(
        default="transformers",
        metadata={"help": "training.rollouts.ROLLOUT_ENGINES name: 'transformers' (live policy) or 'vllm'."},
    )
    rollout_options: dict[str, Any] = field(
        default_factory=dict,
        metadata={"help": "Rollout engine options (TransformersOptions fields, or vllm.LLM arguments)."},
    )
    rollout_gpu_memory_utilization: float = field(
        default=0.3, metadata={"help": "vLLM engine: share of the GPU it reserves for weights and KV cache."}
    )
    rollout_tensor_parallel_size: int = field(
        default=1, metadata={"help": "vLLM engine: GPUs (consecutive ranks) one engine spans."}
    )
    rollout_sleep: bool = field(
        default=True,
        metadata={"help": "vLLM engine: sleep (level 1) while the trainer runs, where vLLM can."},
    )
    # Reward and advantages
    reward: str = field(default="outcome", metadata={"help": "training.rewards.REWARDS name."})
    normalize_advantage_by_std: bool = field(
        default=True, metadata={"help": "Divide group-centred rewards by the group std; False = Dr. GRPO."}
    )
    # Loss and updates
    loss: LossConfig = field(
        default_factory=LossConfig,
        metadata={"help": "Loss terms (clip, KL, entropy, aggregation)."},
    )
    ppo_epochs: int = field(default=1, metadata={"help": "Passes over each rollout batch (verl ppo_epochs)."})
    # Run
    steps: int = field(default=500, metadata={"help": "Training steps (rollout batches) in all."})

    def __post_init__(self) -> None:
        super().__post_init__()
        positive = (
            "batch_size",
            "max_prompt_length",
            "max_response_length",
            "rollouts_per_prompt",
            "ppo_epochs",
            "steps",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.mini_batch_size is not None and self.mini_batch_size < 1:
            raise ValueError(f"mini_batch_size must be >= 1 or None, got {self.mini_batch_size}")
        longest = self.max_prompt_length + self.max_response_length
        if self.max_tokens_per_micro_batch is not None and self.max_tokens_per_micro_batch < longest:
            raise ValueError(
                f"max_tokens_per_micro_batch {self.max_tokens_per_micro_batch} must hold the longest row: "
                f"max_prompt_length + max_response_length = {longest}"
            )
        if self.batch_size % self.mini_batch_prompts:
            raise ValueError(
                f"mini_batch_size {self.mini_batch_size} must divide batch_size {self.batch_size}"
            )
        if self.temperature <= 0:
            raise ValueError("GRPO samples: temperature must be > 0")

    @property
    def rollout_engine_options(self) -> dict[str, Any]:
        """The engine's options: the vLLM fields above (for `vllm`), then `rollout_options`."""
        if self.rollout_engine != "vllm":
            return dict(self.rollout_options)
        return {
            "gpu_memory_utilization": self.rollout_gpu_memory_utilization,
            "tensor_parallel_size": self.rollout_tensor_parallel_size,
            "sleep": self.rollout_sleep,
            **self.rollout_options,
        }

    @property
    def mini_batch_prompts(self) -> int:
        return self.mini_batch_size or self.batch_size

    @property
    def on_policy(self) -> bool:
        """One optimizer step per rollout batch: the sampling policy is the one being updated, so old
        log-probs need no extra forward pass (they are the current ones, detached)."""
        return self.ppo_epochs == 1 and self.mini_batch_prompts == self.batch_size
