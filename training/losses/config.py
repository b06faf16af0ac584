"""`LossConfig`: which loss terms are on, and their coefficients.

    loss = [policy_loss] * agg(l_PG) + beta * agg(KL) + alpha * agg_H(H)

with agg = `aggregation`, agg_H = `entropy_aggregation`, beta = `kl_coef`, alpha = `entropy_coeff`. The field
names are the experiment spec's `loss:` block's (rlab.spec), which sets them by name
(training.algorithms.configs).

Sign of alpha: the 1-shot RLVR paper's convention, L = L_PG + beta * L_KL + alpha * L_entropy. A NEGATIVE
alpha is an entropy BONUS (minimising the loss raises H); the paper's runs use alpha = -0.001. The seed's
verl fork codes the same objective as `pg_loss - entropy_coeff * entropy` with `entropy_coeff = +0.001`
(verl/trainer/config/ppo_trainer.yaml, verl/workers/actor/dp_actor.py), so verl's entropy_coeff = -alpha;
TRL's `entropy_coef` has verl's sign too.

Weight decay is not a loss term: AdamW applies it (decoupled) in the optimizer step, so it is a trainer
setting (`TrainerConfig.weight_decay`, the spec's `train.weight_decay`), even though the paper's ablation
switches it together with the loss terms.
"""

from dataclasses import dataclass, field

from training.loss_names import AGGREGATION_NAMES, KL_ESTIMATOR_NAMES, NEEDS_NORM_LENGTH


@dataclass(frozen=True)
class LossConfig:
    policy_loss: bool = field(
        default=True,
        metadata={"help": "Include the clipped policy-gradient term. False gives the 'no policy loss' "
                  "ablations (verl fork: pg_loss_coeff = 0)."},
    )
    clip_ratio_low: float = field(
        default=0.2,
        metadata={"help": "eps_low: the ratio is clipped below at 1 - eps_low (verl clip_ratio_low)."},
    )
    clip_ratio_high: float = field(
        default=0.2,
        metadata={"help": "eps_high: the ratio is clipped above at 1 + eps_high (verl clip_ratio_high)."},
    )
    dual_clip_c: float | None = field(
        default=3.0,
        metadata={"help": "Dual-clip bound c > 1 for negative advantages (verl clip_ratio_c; TRL delta). "
                  "None switches it off, as in the 1-shot RLVR verl fork."},
    )
    aggregation: str = field(
        default="token-mean",
        metadata={"help": f"Aggregation of the policy and KL terms: one of {list(AGGREGATION_NAMES)}."},
    )
    entropy_aggregation: str = field(
        default="token-mean",
        metadata={"help": "Aggregation of the entropy term. token-mean matches the seed and TRL; current "
                  "verl uses `aggregation`."},
    )
    norm_length: int | None = field(
        default=None,
        metadata={"help": "Constant L of seq-mean-token-sum-norm (Dr. GRPO): the max response length. "
                  "Required by that mode, ignored by the others."},
    )
    kl_coef: float = field(
        default=0.001, metadata={"help": "beta, coefficient of the KL-to-reference term; 0 switches it off."}
    )
    kl_estimator: str = field(
        default="k3",
        metadata={"help": f"Per-token KL estimator: one of {list(KL_ESTIMATOR_NAMES)} (k3 = low_var_kl)."},
    )
    entropy_coeff: float = field(
        default=-0.001,
        metadata={"help": "alpha in loss = ... + alpha * H (paper convention): negative = entropy bonus "
                  "(-0.001 in the paper), positive = entropy penalty, 0 = off. verl's entropy_coeff is "
                  "-alpha."},
    )
    def __post_init__(self) -> None:
        for name in ("aggregation", "entropy_aggregation"):
            mode = getattr(self, name)
            if mode not in AGGREGATION_NAMES:
                raise ValueError(f"{name}={mode!r} is not one of {list(AGGREGATION_NAMES)}")
            if mode in NEEDS_NORM_LENGTH and (self.norm_length is None or self.norm_length <= 0):
                raise ValueError(f"{name}={mode!r} needs norm_length (the max response length)")
        if self.kl_estimator not in KL_ESTIMATOR_NAMES:
            raise ValueError(f"kl_estimator={self.kl_estimator!r} is not one of {list(KL_ESTIMATOR_NAMES)}")
        if self.dual_clip_c is not None and self.dual_clip_c <= 1.0:
            raise ValueError(f"dual_clip_c must be > 1, got {self.dual_clip_c}")
        if min(self.clip_ratio_low, self.clip_ratio_high, self.kl_coef) < 0:
            raise ValueError("clip ratios and kl_coef must be >= 0")
        if not (self.policy_loss or self.kl_coef or self.entropy_coeff):
            raise ValueError("every loss term is switched off")

