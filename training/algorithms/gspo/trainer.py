"""`GSPOTrainer`: GRPOTrainer with GSPO's sequence-level policy loss; KL and entropy terms as in GRPO."""

from collections.abc import Sequence
from typing import Any

from torch import Tensor

from training.algorithms.grpo.config import GRPOConfig
from training.algorithms.grpo.trainer import GRPOTrainer
from training.algorithms.gspo.config import GSPOConfig
from training.algorithms.gspo.loss import gspo_policy_loss
from training.examples import TrainingExample
from training.losses import LossBatch, LossOutput, aggregate, with_regularization

# GSPO averages each sequence's loss over its tokens, then over sequences (paper Eq. 5).
GSPO_AGGREGATION = "seq-mean-token-mean"


class GSPOTrainer(GRPOTrainer):
    """GSPO on `examples`; `config.loss.aggregation` must be seq-mean-token-mean (the build sets it), so that
    micro-batches are weighted as the objective's mean over sequences."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        examples: Sequence[TrainingExample],
        config: GRPOConfig,
        gspo: GSPOConfig | None = None,
        **kwargs: Any,
    ) -> None:
        if config.loss.aggregation != GSPO_AGGREGATION:
            raise ValueError(f"GSPO needs loss aggregation {GSPO_AGGREGATION}, not {config.loss.aggregation}")
        self.gspo = gspo or GSPOConfig()
        super().__init__(model, tokenizer, examples, config, **kwargs)

    def _loss(self, logp: Tensor, entropy: Tensor, batch: LossBatch, rows: Tensor) -> LossOutput:
        per_token, metrics = gspo_policy_loss(
            logp, batch.old_logp, batch.advantages, batch.mask,
            self.gspo.sequence_clip_low, self.gspo.sequence_clip_high,
        )
        pg = aggregate(per_token, batch.mask, GSPO_AGGREGATION)
        metrics["pg_loss"] = pg.item()
        loss = self.config.loss
        return with_regularization([pg] if loss.policy_loss else [], metrics, logp, entropy, batch, loss)
