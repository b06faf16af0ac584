"""`GSPOConfig`: GSPO's own settings, beside the GRPOConfig its trainer also takes. Torch-free."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class GSPOConfig:
    sequence_clip_low: float = field(
        default=3e-4, metadata={"help": "ε_left: the sequence ratio is clipped below at 1 - ε (paper: 3e-4)."}
    )
    sequence_clip_high: float = field(
        default=4e-4,
        metadata={"help": "ε_right: the sequence ratio is clipped above at 1 + ε (paper: 4e-4)."},
    )

    def __post_init__(self) -> None:
        if not 0 <= self.sequence_clip_low < 1 or self.sequence_clip_high < 0:
            raise ValueError("sequence_clip_low must be in [0, 1) and sequence_clip_high >= 0")
