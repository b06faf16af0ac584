"""The 1-shot RLVR paper's loss ablation (its Table 5 rows, research notes) as LossConfigs. Weight decay,
which the paper switches with them, is a trainer setting (TrainerConfig.weight_decay): "pg-only" and "pg+wd"
differ only there."""

from dataclasses import replace

from training.losses import LossConfig

FULL = LossConfig()
ABLATIONS: dict[str, LossConfig] = {
    "pg-only": replace(FULL, kl_coef=0.0, entropy_coeff=0.0),
    "pg+wd": replace(FULL, kl_coef=0.0, entropy_coeff=0.0),
    "pg+wd+kl": replace(FULL, entropy_coeff=0.0),
    "full": FULL,
    "entropy-only": replace(FULL, policy_loss=False, kl_coef=0.0),
    "no-policy-loss": replace(FULL, policy_loss=False),
}
