"""`GRPOTrainer`: the GRPO loop on plain torch, reusing the loss, reward, template and generation code.

One step (verl semantics, docs/training-engine.md):
  1. next rollout batch of prompts (ExampleSampler), rendered with the evaluation template;
  2. G responses per prompt from the rollout engine, sampled with a seed derived from (seed, step);
  3. rewards (REWARDS registry) and, separately, outcome correctness (train_accuracy, per-example accuracy);
  4. group advantages (std-normalised, or Dr. GRPO);
  5. log π_old (only when not on-policy) and log π_ref (only when kl_coef > 0), no grad;
  6. ppo_epochs passes over mini-batches: forward, compute_loss, backward (micro-batches), clip, AdamW step;
  7. lr scheduler step, weights to the rollout engine, metrics.
The loop, optimizer, master weights, checkpoints and resume are the base trainer's (training/base_trainer.py).
Data parallel (`distributed`, launched by torchrun): the policy (and reference) are sharded with FSDP2; each
rank generates and trains on its share of every mini-batch's prompts, gradients are summed over the ranks
with each rank's loss scaled by its share of the global mini-batch, so the update is the single-process
update on the same rollouts; rank 0 alone reports and decides to stop (docs/distributed.md).
"""

import copy
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from evaluation.generation.base import Completion, SamplingConfig
from evaluation.metrics import boxed_ratio, truncation_ratio
from evaluation.templates import get_template
from training.advantages import group_advantages
from training.algorithms.grpo.config import GRPOConfig
from training.algorithms.grpo.ranks import RankRollouts, in_batch_order, sum_over_ranks
from training.base_trainer import EpochAccuracy, StepResult, Trainer
from training.batch import RolloutBatch
from training.callbacks import Metrics, TrainerCallbacks
from training.distributed import SINGLE_PROCESS, Distributed, mini_batch_shares
from training.examples import ExampleBatch, ExampleKey, ExampleSampler, TrainingExample
from training.logprobs import TokenLogProbs
from training.losses import LossBatch, LossOutput, Totals, compute_loss, share
from training.rewards import Gold, score_completions
from training.rollouts import RolloutEngine, TransformersRolloutEngine, create_rollout_engine
from training.sharding import reshard

logger = logging.getLogger(__name__)

RANK_SEED_STRIDE = 1_000_000_007  # rank r samples step k with seed·1000003 + k + r·stride


class GRPOTrainer(Trainer):
    """GRPO on `examples` for `model` (trained in place, in its own dtype and on its own device).

    With `resume_from` (a checkpoint folder) pass the same initial model and examples as the original
    run: the reference policy is a copy of `model` taken before the checkpoint's weights are loaded, and
    the next step then equals the uninterrupted run's. With `fp32_master_weights` a bf16/fp16 model is
    upcast in place to float32 (`model_dtype` keeps its own dtype, the one checkpoints are written in).
    With `distributed` (one of several data-parallel processes) every rank builds the trainer from the same
    model, examples, config and `resume_from`; batch_size and mini_batch_size must be divisible by the
    number of processes.
    """

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        examples: Sequence[TrainingExample],
        config: GRPOConfig,
        callbacks: TrainerCallbacks | None = None,
        resume_from: str | Path | None = None,
        rollout_engine: RolloutEngine | None = None,
        distributed: Distributed = SINGLE_PROCESS,
    ) -> None:
        distributed.require_divisible(config.batch_size, "batch_size")
        distributed.require_divisible(config.mini_batch_prompts, "mini_batch_size")
        super().__init__(model, tokenizer, config, callbacks, distributed)
        self.config: GRPOConfig = config
        reference = _frozen_copy(model) if config.loss.kl_coef > 0 else None
        self.sampler = ExampleSampler(examples, config.batch_size, config.seed, config.repeat_to_batch)
        self.prompt_texts, self.prompt_ids = self._render_prompts(examples)
        # Before the float32 upcast: a vLLM engine copies the policy in the model's own dtype.
        self.rollouts = rollout_engine or create_rollout_engine(
            config.rollout_engine, model, tokenizer, config.rollout_engine_options
        )
        self.epoch_counts: dict[ExampleKey, list[float]] = {}  # key -> [correct, rollouts] this epoch
        self.accuracy_history: dict[ExampleKey, list[float]] = {}  # key -> accuracy per finished epoch
        self._start(resume_from)
        # Sharded like the policy (a frozen copy in the model's own dtype; no optimizer state).
        self.reference = None if reference is None else self._wrap(reference)

    # ------------------------------------------------------------------ run

    @property
    def total_steps(self) -> int:
        return self.config.steps

    def close(self) -> None:
        self.rollouts.close()

    def train_step(self) -> StepResult:
        """One rollout batch and its updates. Metrics: reward_mean, train_accuracy (share of rollouts the
        outcome grader accepts, whatever the training reward), boxed_ratio, entropy (per-token mean over the
        step's responses), response_length_mean/max, clipped_ratio (finish 'length'), loss, pg_loss, kl (None
        without a reference), clip_frac, dual_clip_frac, ratio_mean, approx_kl (means over the step's
        optimizer steps), grad_norm (pre-clip, mean over them), lr, tokens_per_second (response tokens per
        second of the step), step_seconds, generation_seconds, epoch. Data parallel: over every rank's
        rollouts (generation_seconds the slowest rank's)."""
        config, group = self.config, self.config.rollouts_per_prompt
        started = time.perf_counter()
        batch = self.sampler.next_batch()
        shares = mini_batch_shares(
            len(batch.examples), config.mini_batch_prompts, self.distributed.rank, self.distributed.world_size
        )
        mine = [index for share in shares for index in share]
        prompts = [batch.examples[index] for index in mine]
        examples = [example for example in prompts for _ in range(group)]
        # A rank may have no prompts in a last, partial batch; it still takes part in every collective.
        with self._rollout_weights():
            completions = [c for per_prompt in self._generate(prompts) for c in per_prompt] if prompts else []
        generation_seconds = time.perf_counter() - started

        texts = [completion.text for completion in completions]
        golds = [example.answer for example in examples]
        rewards = score_completions(config.reward, texts, golds)
        correct = rewards if config.reward == "outcome" else _outcome(texts, golds)
        rollout, advantages, rollout_metrics = (
            self._build_rollout(examples, completions, rewards) if prompts else (None, None, {})
        )
        lr = self.scheduler.get_last_lr()[0]
        update_metrics = self._update(rollout, advantages, shares, len(batch.examples))
        self.scheduler.step()
        self.rollouts.sync_weights()
        self.step += 1
        every = self.distributed.all_gather_object(
            RankRollouts(
                prompts=mine,
                texts=texts,
                lengths=[completion.n_tokens for completion in completions],
                finish_reasons=[completion.finish_reason for completion in completions],
                rewards=rewards,
                correct=correct,
                extra_metrics=rollout_metrics,
                generation_seconds=generation_seconds,
            )
        )
        gathered = in_batch_order(every, group)
        examples = [example for example in batch.examples for _ in range(group)]
        epoch_accuracy = self._record_accuracy(batch, examples, gathered.correct)

        step_seconds = time.perf_counter() - started
        metrics: Metrics = {
            "epoch": float(batch.epoch),
            "reward_mean": float(np.mean(gathered.rewards)),
            "train_accuracy": float(np.mean(gathered.correct)),
            "boxed_ratio": boxed_ratio(gathered.texts),
            "response_length_mean": float(np.mean(gathered.lengths)),
            "response_length_max": float(max(gathered.lengths)),
            "clipped_ratio": truncation_ratio(gathered.finish_reasons),
            "kl": None,
            **gathered.extra_metrics,
            **update_metrics,
            "lr": lr,
            "tokens_per_second": sum(gathered.lengths) / step_seconds,
            "step_seconds": step_seconds,
            "generation_seconds": gathered.generation_seconds,
        }
        return StepResult(metrics=metrics, epoch=batch.epoch, epoch_accuracy=epoch_accuracy)

    # ------------------------------------------------------------------ step parts

    def _render_prompts(
        self, examples: Sequence[TrainingExample]
    ) -> tuple[dict[ExampleKey, str], dict[ExampleKey, list[int]]]:
        template = get_template(self.config.template)
        texts = {example.key: template.render(example.as_problem(), self.tokenizer) for example in examples}
        # Tokenised as the generation backends tokenise a text prompt (special tokens included).
        ids = {key: self.tokenizer(text, add_special_tokens=True)["input_ids"] for key, text in texts.items()}
        too_long = {key: len(i) for key, i in ids.items() if len(i) > self.config.max_prompt_length}
        if too_long:
            raise ValueError(
                f"prompts longer than max_prompt_length={self.config.max_prompt_length} tokens "
                f"(example: length): {too_long}"
            )
        return texts, ids

    def _generate(self, examples: Sequence[TrainingExample]) -> list[list[Completion]]:
        config = self.config
        sampling = SamplingConfig.for_template(
            config.template,
            temperature=config.temperature,
            top_p=config.top_p,
            top_k=config.top_k,
            max_new_tokens=config.max_response_length,
            n=config.rollouts_per_prompt,
            # A seed per step makes the rollouts of step k depend only on (seed, k, weights): a resumed run
            # samples exactly what the uninterrupted one did. Ranks sample independently (a 1-shot batch
            # repeats one prompt: the same seed on every rank would draw the same responses).
            seed=config.seed * 1_000_003 + self.step + self.distributed.rank * RANK_SEED_STRIDE,
        )
        prompts = [self.prompt_texts[example.key] for example in examples]
        with self._autocast():
            return self.rollouts.generate(prompts, sampling)

    def _rollout_weights(self) -> AbstractContextManager:
        """The transformers engine samples from the live policy: sharded, its full weights are gathered
        for the generation. A vLLM engine holds its own copy."""
        return self._generation() if isinstance(self.rollouts, TransformersRolloutEngine) else nullcontext()

    def _build_rollout(
        self, examples: list[TrainingExample], completions: list[Completion], rewards: list[float]
    ) -> tuple[RolloutBatch, Tensor, Metrics]:
        """The padded rollout batch to train on (`rows_per_prompt` rows per prompt, contiguous), its
        advantages and extra step metrics. A hook: subclasses may add rows (SRFT's demonstrations)."""
        config = self.config
        advantages = group_advantages(
            torch.tensor(rewards, device=self.device), config.rollouts_per_prompt,
            config.normalize_advantage_by_std,
        )
        rollout = RolloutBatch.build(
            [self.prompt_ids[example.key] for example in examples],
            [completion.token_ids[: config.max_response_length] for completion in completions],
            self.pad_token_id,
            self.device,
        )
        return rollout, advantages, {}

    @property
    def rows_per_prompt(self) -> int:
        """Rows of the rollout batch per prompt (G for GRPO)."""
        return self.config.rollouts_per_prompt

    def _loss(self, logp: Tensor, entropy: Tensor, batch: LossBatch, rows: Tensor) -> LossOutput:
        """The loss of the micro-batch `rows` of the rollout batch. A hook for other algorithms."""
        return compute_loss(logp, batch, self.config.loss, entropy=entropy)

    def _update(
        self, rollout: RolloutBatch | None, advantages: Tensor | None, shares: list[range], batch_prompts: int
    ) -> dict[str, float]:
        """ppo_epochs passes over this rank's `shares` of the global mini-batches (mini_batch_shares of a
        batch of `batch_prompts` prompts; a single process's shares are the whole mini-batches). `rollout`
        is None on a rank without prompts this step: it only joins the collectives.

        Each mini-batch runs in micro-batches (train.micro_batch_size, train.max_tokens_per_micro_batch);
        every micro-batch's loss is scaled by its share of the global mini-batch (`Totals`: responses and
        response tokens over all ranks), so the summed gradients are those of the mini-batch's loss."""
        config, rows = self.config, self.rows_per_prompt
        sizes = [len(share) * rows for share in shares]
        minis = torch.arange(sum(sizes), device=self.device).split(sizes)
        plans = [self.micro_batches(rollout, mini) if len(mini) else [] for mini in minis]
        passes = self.passes([len(micros) for micros in plans])
        totals = self._totals(rollout, minis)
        old_logp = ref_logp = None
        if not config.on_policy:
            old_logp = self._logps(self.policy, rollout, plans)
        if self.reference is not None:
            ref_logp = self._logps(self.reference, rollout, plans)

        updates: list[dict[str, float]] = []
        entropy_sum, token_count = 0.0, 0.0
        for epoch in range(config.ppo_epochs):
            for k, micros in enumerate(plans):
                sums: dict[str, float] = defaultdict(float)
                for micro in micros:
                    part = rollout.select(micro)
                    with self._autocast():
                        logp, entropy = self.token_logps(self.policy, part, config.temperature)
                    width = part.response_width
                    loss_batch = LossBatch(
                        old_logp=logp.detach() if old_logp is None else old_logp[micro, :width],
                        advantages=advantages[micro],
                        mask=part.response_mask,
                        ref_logp=None if ref_logp is None else ref_logp[micro, :width],
                        totals=totals[k],
                    )
                    output = self._loss(logp, entropy, loss_batch, micro)
                    output.loss.backward()
                    weight = share(part.response_mask, config.loss.aggregation, totals[k])
                    for name, value in output.metrics.items():
                        sums[name] += weight * value
                    if epoch == 0:
                        entropy_sum += float((entropy.detach() * part.response_mask).sum())
                        token_count += float(part.response_mask.sum())
                for _ in range(passes[k] - len(micros)):
                    self.idle_pass(self.policy, backward=True)
                sums["grad_norm"] = self._optimizer_step()
                updates.append(sums)
        updates, entropy_sum, token_count = sum_over_ranks(
            self.distributed.all_gather_object((updates, entropy_sum, token_count))
        )
        metrics = {name: float(np.mean([update[name] for update in updates])) for name in updates[0]}
        metrics["entropy"] = entropy_sum / max(token_count, 1.0)
        return metrics

    def _totals(self, rollout: RolloutBatch | None, minis: Sequence[Tensor]) -> list[Totals]:
        """Responses and response tokens of each global mini-batch, over all ranks."""
        counts = [
            [float(len(mini)), float(rollout.response_mask[mini].sum()) if len(mini) else 0.0]
            for mini in minis
        ]
        local = torch.tensor(counts, dtype=torch.float64, device=self.device)
        summed = self.distributed.all_reduce_sum(local)
        return [Totals(rows=rows, tokens=tokens) for rows, tokens in summed.tolist()]

    @torch.no_grad()
    def _logps(
        self, policy: TokenLogProbs, rollout: RolloutBatch | None, plans: list[list[Tensor]]
    ) -> Tensor | None:
        """log-probs [N, T] of the rollout's response tokens under `policy` (old or reference), in the
        update's micro-batches."""
        micros = [micro for plan in plans for micro in plan]
        (passes,) = self.passes([len(micros)])
        logps = None if rollout is None else torch.zeros(rollout.response_ids.shape, device=self.device)
        for micro in micros:
            part = rollout.select(micro)
            with self._autocast():
                logp, _ = self.token_logps(policy, part, self.config.temperature)
            logps[micro, : part.response_width] = logp
        for _ in range(passes - len(micros)):
            self.idle_pass(policy, backward=False)
        reshard(policy)  # sharded, the root would keep its full weights until a backward that never comes
        return logps

    def _record_accuracy(
        self, batch: ExampleBatch, examples: list[TrainingExample], correct: list[float]
    ) -> EpochAccuracy | None:
        for example, verdict in zip(examples, correct, strict=True):
            counts = self.epoch_counts.setdefault(example.key, [0.0, 0.0])
            counts[0] += verdict
            counts[1] += 1
        if not batch.ends_epoch:
            return None
        accuracy = {key: hits / total for key, (hits, total) in self.epoch_counts.items()}
        for key, value in accuracy.items():
            self.accuracy_history.setdefault(key, []).append(value)
        self.epoch_counts = {}
        return accuracy

    # ------------------------------------------------------------------ checkpoints

    def _checkpoint_state(self) -> dict[str, Any]:
        return {
            "epoch_counts": [[key, hits, total] for key, (hits, total) in self.epoch_counts.items()],
            "accuracy_history": [[key, values] for key, values in self.accuracy_history.items()],
        }

    def _load_checkpoint_state(self, state: dict[str, Any]) -> None:
        self.epoch_counts = {key: [hits, total] for key, hits, total in state["epoch_counts"]}
        self.accuracy_history = {key: list(values) for key, values in state["accuracy_history"]}

    def _resume(self, path: Path) -> None:
        super()._resume(path)
        self.rollouts.sync_weights()


def _outcome(texts: list[str], golds: list[Gold]) -> list[float]:
    """Outcome correctness; a rollout of an example without a gold answer counts as wrong."""
    graded = [i for i, gold in enumerate(golds) if gold is not None]
    scores = score_completions("outcome", [texts[i] for i in graded], [golds[i] for i in graded])
    correct = [0.0] * len(texts)
    for i, score in zip(graded, scores, strict=True):
        correct[i] = score
    return correct


def _frozen_copy(model: PreTrainedModel) -> PreTrainedModel:
    reference = copy.deepcopy(model)
    reference.requires_grad_(False)
    return reference
