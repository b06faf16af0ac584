"""What every trainer's optimizer step shares: autocast to the model's own dtype when training it through
float32 master weights, and a clipped step that skips a non-finite gradient."""

import logging
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext

import torch
from torch.optim import Optimizer

logger = logging.getLogger(__name__)


def master_weights_autocast(
    mixed_precision: bool, device: torch.device, model_dtype: torch.dtype
) -> AbstractContextManager:
    """Autocast to `model_dtype` when a bf16/fp16 model trains through float32 weights, else nothing."""
    return torch.autocast(device.type, dtype=model_dtype) if mixed_precision else nullcontext()


def clipped_step(
    optimizer: Optimizer, parameters: Sequence[torch.nn.Parameter], grad_clip: float, step: int
) -> float:
    """Clip the gradients to `grad_clip`, step unless their norm is not finite (then warn and skip), zero
    them; returns the pre-clip norm. `step` is the number of the step, for the warning."""
    grad_norm = torch.nn.utils.clip_grad_norm_(parameters, grad_clip)
    if torch.isfinite(grad_norm):
        optimizer.step()
    else:
        logger.warning("step %d: gradient norm is %s; optimizer step skipped", step, grad_norm)
    optimizer.zero_grad(set_to_none=True)
    return float(grad_norm)
