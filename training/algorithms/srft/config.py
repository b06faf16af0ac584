"""`SRFTConfig`: the SRFT objective's own settings (Fu et al. 2025; docs/srft.md), beside the GRPOConfig its
trainer also takes. Field names are the spec's `algorithm.srft:` block's. Torch-free."""

from dataclasses import dataclass, field
from typing import Literal

EntropyScope = Literal["token", "batch_mean"]
ENTROPY_SCOPES = ("token", "batch_mean")


@dataclass(frozen=True)
class SRFTConfig:
    sft_weight_scale: float = field(
        default=0.5,
        metadata={"help": "Scale of w_SFT = scale · sg(exp(sign · H)) on the demonstration NLL "
                  "(paper Eq. 8: 0.5; released code: sft_loss_coef = -0.5 with a subtraction, net +0.5)."},
    )
    sft_entropy_sign: Literal[-1, 1] = field(
        default=1,
        metadata={"help": "Sign of H in w_SFT: +1 = exp(+H) as the released code (notes §3.2, default of "
                  "the notes' srft_code preset); -1 = exp(-H) as the paper's Eq. 8 (srft_paper)."},
    )
    rl_positive_weight_scale: float = field(
        default=0.1,
        metadata={"help": "Scale of w_RL = scale · sg(exp(H)) on the policy-gradient loss of self-rollouts "
                  "with advantage > 0 (paper Eq. 12 and code: 0.1)."},
    )
    rl_positive_entropy_weight: bool = field(
        default=True,
        metadata={"help": "Weight positive self-rollouts by w_RL (SRFT). False = plain policy gradient on "
                  "every self-rollout, as LUFFY (notes §2.1); rl_positive_weight_scale is then unused."},
    )
    demo_shaping_gamma: float | None = field(
        default=0.1,
        metadata={"help": "γ of the demonstration RL term -A·p/(p+γ) (LUFFY policy shaping, kept by the "
                  "SRFT code). None = paper Eq. 10: -A·p (importance ratio p/π_β with π_β := 1, no clip)."},
    )
    entropy_scope: EntropyScope = field(
        default="token",
        metadata={"help": "H in the weights: 'token' = each token's own entropy (default; what a per-token "
                  "entropy tensor gives); 'batch_mean' = the mean entropy over the weighted tokens of the "
                  "micro-batch (demonstration tokens for w_SFT, positive tokens for w_RL)."},
    )
    demonstrations_per_prompt: int = field(
        default=1,
        metadata={"help": "Demonstrations added to each prompt's group (G + this many rows; LUFFY/SRFT: 1). "
                  "Only 1 is supported (one TrainingExample.demonstration)."},
    )

    def __post_init__(self) -> None:
        if self.sft_entropy_sign not in (-1, 1):
            raise ValueError(f"sft_entropy_sign must be -1 or 1, got {self.sft_entropy_sign}")
        if self.entropy_scope not in ENTROPY_SCOPES:
            raise ValueError(f"entropy_scope={self.entropy_scope!r} is not one of {ENTROPY_SCOPES}")
        if self.sft_weight_scale < 0 or self.rl_positive_weight_scale < 0:
            raise ValueError("sft_weight_scale and rl_positive_weight_scale must be >= 0")
        if self.demo_shaping_gamma is not None and self.demo_shaping_gamma <= 0:
            raise ValueError("demo_shaping_gamma must be > 0 or None")
        if self.demonstrations_per_prompt != 1:
            raise ValueError("only demonstrations_per_prompt = 1 is supported")

    @classmethod
    def luffy(cls, demo_shaping_gamma: float = 0.1) -> "SRFTConfig":
        """LUFFY's mixed-policy objective (notes §2.1) as an SRFT configuration: no SFT term, plain policy
        gradient on every self-rollout, -A·p/(p+γ) on the demonstration."""
        return cls(
            sft_weight_scale=0.0, rl_positive_entropy_weight=False, demo_shaping_gamma=demo_shaping_gamma
        )
