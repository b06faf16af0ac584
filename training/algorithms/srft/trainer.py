"""`SRFTTrainer`: GRPOTrainer with SRFT's demonstrations (Fu et al. 2025; docs/srft.md).

Differences from a GRPO step:
  - each prompt's group is its G self-rollouts followed by its demonstration (G + 1 rows), the
    demonstration scored by the same reward and included in the group advantage;
  - the loss is `compute_srft_loss`: entropy-weighted SFT + off-policy RL on the demonstration rows,
    positive self-rollouts weighted by w_RL, negative ones plain PG.
Step metrics and the per-example accuracy stay those of the self-rollouts; demo_reward_mean and
demo_advantage_mean describe the demonstrations.
"""

from collections.abc import Sequence
from typing import TypeVar

import numpy as np
import torch
from torch import Tensor
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from evaluation.generation.base import Completion
from training.advantages import group_advantages
from training.algorithms.grpo.config import GRPOConfig
from training.algorithms.grpo.trainer import GRPOTrainer
from training.algorithms.srft.config import SRFTConfig
from training.algorithms.srft.loss import compute_srft_loss
from training.batch import RolloutBatch
from training.callbacks import Metrics
from training.examples import TrainingExample
from training.losses import LossBatch, LossOutput
from training.rewards import score_completions

Row = TypeVar("Row")


def demonstration_token_ids(
    tokenizer: PreTrainedTokenizerBase, demonstration: str, max_length: int
) -> list[int]:
    """The demonstration as response tokens: its text without special tokens, then EOS (notes §2.2: a
    demonstration ends the response; nothing is generated after it), cut to `max_length`."""
    ids = tokenizer(demonstration, add_special_tokens=False)["input_ids"]
    if tokenizer.eos_token_id is not None:
        ids = [*ids, tokenizer.eos_token_id]
    return ids[:max_length]


def with_demonstrations(rows: Sequence[Row], demos: Sequence[Row], group: int) -> list[Row]:
    """Rows laid out group by group (`group` per prompt) with each prompt's demonstration appended."""
    if len(rows) != group * len(demos):
        raise ValueError(f"{len(rows)} rows are not {len(demos)} groups of {group}")
    return [row for i, demo in enumerate(demos) for row in (*rows[i * group : (i + 1) * group], demo)]


class SRFTTrainer(GRPOTrainer):
    """SRFT on `examples`, every one of which must carry a `demonstration`. See GRPOTrainer for the rest."""

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        examples: Sequence[TrainingExample],
        config: GRPOConfig,
        srft: SRFTConfig | None = None,
        **kwargs: object,
    ) -> None:
        missing = [example.key for example in examples if example.demonstration is None]
        if missing:
            raise ValueError(f"SRFT needs a demonstration for every example; missing for {missing}")
        self.srft = srft or SRFTConfig()
        self.demonstrations = {e.key: str(e.demonstration) for e in examples}
        self.demonstration_ids = {
            key: demonstration_token_ids(tokenizer, text, config.max_response_length)
            for key, text in self.demonstrations.items()
        }
        self.is_demo = torch.zeros(0, dtype=torch.bool)
        super().__init__(model, tokenizer, examples, config, **kwargs)

    @property
    def rows_per_prompt(self) -> int:
        return self.config.rollouts_per_prompt + self.srft.demonstrations_per_prompt

    def _build_rollout(
        self, examples: list[TrainingExample], completions: list[Completion], rewards: list[float]
    ) -> tuple[RolloutBatch, Tensor, Metrics]:
        config, group = self.config, self.config.rollouts_per_prompt
        prompts = examples[::group]
        demo_rewards = score_completions(
            config.reward, [self.demonstrations[e.key] for e in prompts], [e.answer for e in prompts]
        )
        all_rewards = with_demonstrations(rewards, demo_rewards, group)
        advantages = group_advantages(
            torch.tensor(all_rewards, device=self.device), self.rows_per_prompt,
            config.normalize_advantage_by_std,
        )
        responses = with_demonstrations(
            [c.token_ids[: config.max_response_length] for c in completions],
            [self.demonstration_ids[e.key] for e in prompts],
            group,
        )
        rollout = RolloutBatch.build(
            [self.prompt_ids[e.key] for e in with_demonstrations(examples, prompts, group)],
            responses,
            self.pad_token_id,
            self.device,
        )
        demo_rows = with_demonstrations([False] * len(completions), [True] * len(prompts), group)
        self.is_demo = torch.tensor(demo_rows, device=self.device)
        metrics: Metrics = {
            "demo_reward_mean": float(np.mean(demo_rewards)),
            "demo_advantage_mean": float(advantages[self.is_demo].mean()),
        }
        return rollout, advantages, metrics

    def _loss(self, logp: Tensor, entropy: Tensor, batch: LossBatch, rows: Tensor) -> LossOutput:
        return compute_srft_loss(logp, entropy, batch, self.is_demo[rows], self.config.loss, self.srft)
