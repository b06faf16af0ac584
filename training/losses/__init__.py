"""Framework-free loss terms (pure torch): policy loss, aggregation, KL, entropy, and their assembly
(`compute_loss` for GRPO; `with_regularization` adds KL and entropy to any algorithm's own objective)."""

from training.losses.aggregation import AGGREGATIONS, Totals, aggregate, share
from training.losses.compute import LossBatch, LossOutput, compute_loss, with_regularization
from training.losses.config import LossConfig
from training.losses.entropy import entropy_from_logits, token_logps_and_entropy
from training.losses.kl import KL_ESTIMATORS, kl_penalty
from training.losses.policy import policy_loss

__all__ = [
    "AGGREGATIONS",
    "KL_ESTIMATORS",
    "LossBatch",
    "LossConfig",
    "LossOutput",
    "Totals",
    "aggregate",
    "compute_loss",
    "entropy_from_logits",
    "kl_penalty",
    "policy_loss",
    "share",
    "token_logps_and_entropy",
    "with_regularization",
]
