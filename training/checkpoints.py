"""Training checkpoints: one folder per step, written atomically, loadable as a model and resumable.

Layout of `<directory>/step-00000020/`:

    config.json, model*.safetensors, generation_config.json   save_pretrained, in the model's OWN dtype;
                                                                config.json records it ("dtype")
    tokenizer files                                            so the folder is a model ref for evaluation
    master/model.safetensors   only when the trainer keeps float32 master weights of a bf16/fp16 model:
                               those, for an exact resume (a subfolder, so that loaders never see them)
    sharded/            only from sharded (FSDP2) training: every rank's shards of the float32 weights and
                        of the AdamW state (torch.distributed.checkpoint), for an exact resume on any
                        number of ranks; the weights above are then the gathered full ones
    optimizer.pt        optimizer (unless sharded/) and lr-scheduler state   (torch.save, weights_only loads)
    rng_state.pt        python, numpy, torch (and CUDA) RNG states
                        (master/, optimizer.pt and rng_state.pt are the RESUME STATE: only the newest
                        checkpoint keeps it, `drop_resume_state`; older ones are weights for evaluation)
    trainer_state.json  step, data order, per-example accuracy, the step's metrics, the config
    COMPLETE            written last

Everything is written into `.tmp-step-…` next to the target and renamed into place when complete, so a
process killed mid-save leaves only a `.tmp-` folder, which `latest_checkpoint` ignores and the next save
removes. A save that fails (disk full, no permission) removes its scratch folder and raises
`CheckpointWriteError` naming the checkpoint, with the OS error as its cause. Saving the model's own dtype
matters: the 1-shot RLVR paper (App. B.6) reports that fp32 copies of a bf16 model give different evaluation
scores.
"""

import json
import random
import shutil
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from safetensors.torch import load_file, save_model
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from training.disk import folder_size

PREFIX = "step-"
SCRATCH_PREFIX = ".tmp-"
COMPLETE = "COMPLETE"
TRAINER_STATE = "trainer_state.json"
OPTIMIZER_STATE = "optimizer.pt"
RNG_STATE = "rng_state.pt"
MASTER_WEIGHTS = "master"
SHARDED_STATE = "sharded"


class CheckpointError(RuntimeError):
    """A checkpoint folder is incomplete or does not fit the model it is loaded into."""


class CheckpointWriteError(CheckpointError):
    """Writing a checkpoint failed (full disk, no permission, ...); nothing of it was left in place. `path` is
    the checkpoint's folder; the OS error is the exception's cause (or the cause's context)."""

    def __init__(self, path: Path, error: BaseException) -> None:
        super().__init__(f"could not write the checkpoint {path}: {error}")
        self.path = path


@dataclass(frozen=True)
class CheckpointInfo:
    step: int
    path: Path


class CheckpointBudgetError(CheckpointError):
    """The next checkpoint would take the run's checkpoints past their disk budget: raised before writing."""


def checkpoint_path(directory: str | Path, step: int) -> Path:
    return Path(directory) / f"{PREFIX}{step:08d}"


def scratch_path(directory: str | Path, step: int) -> Path:
    """Where the checkpoint of `step` is written before it is renamed into place."""
    return Path(directory) / f"{SCRATCH_PREFIX}{checkpoint_path(directory, step).name}"


def prepare_scratch(directory: str | Path, step: int) -> Path:
    """An empty scratch folder for `step` (stale ones removed), for parts that several processes write
    (sharded/) before one of them calls `save_checkpoint(..., prepared=True)`."""
    scratch = scratch_path(directory, step)
    try:
        Path(directory).mkdir(parents=True, exist_ok=True)
        _remove_scratch(Path(directory))
        scratch.mkdir()
    except OSError as error:
        raise CheckpointWriteError(checkpoint_path(directory, step), error) from error
    return scratch


def save_checkpoint(
    directory: str | Path,
    step: int,
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    optimizer: Optimizer | None,
    scheduler: LRScheduler,
    trainer_state: dict[str, Any],
    dtype: torch.dtype | None = None,
    weights: dict[str, torch.Tensor] | None = None,
    prepared: bool = False,
) -> Path:
    """Write the checkpoint of `step` under `directory` and return its path. `trainer_state` must be
    JSON-serialisable; it is stored with `step` added. `dtype`: the dtype the model files are written in
    when `model` holds float32 master weights of a model of that dtype (they go to master/ as well).

    Sharded training: `weights` are the model's gathered full weights (written instead of
    `model.state_dict()`), `optimizer` is None (its state is in sharded/) and `prepared` says that the
    scratch folder (`prepare_scratch`) already holds sharded/."""
    directory = Path(directory)
    target = checkpoint_path(directory, step)
    scratch = scratch_path(directory, step)
    try:
        if not prepared:
            directory.mkdir(parents=True, exist_ok=True)
            _remove_scratch(directory)
        if weights is not None:
            _save_as(model, dtype or model.dtype, scratch, weights)
        elif dtype is None or dtype == model.dtype:
            model.save_pretrained(scratch)
        else:
            _save_as(model, dtype, scratch, model.state_dict())
            (scratch / MASTER_WEIGHTS).mkdir()
            save_model(model, str(scratch / MASTER_WEIGHTS / "model.safetensors"))
        tokenizer.save_pretrained(scratch)
        _torch_save(
            {
                "optimizer": None if optimizer is None else optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
            },
            scratch / OPTIMIZER_STATE,
        )
        _torch_save(_rng_states(), scratch / RNG_STATE)
        (scratch / TRAINER_STATE).write_text(json.dumps({**trainer_state, "step": step}, indent=1))
        (scratch / COMPLETE).write_text(f"{step}\n")
        _replace(scratch, target)
    except Exception as error:
        raise CheckpointWriteError(target, error) from error
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def _torch_save(obj: Any, path: Path) -> None:
    # Through a Python file: a failed write then raises the OSError (errno: disk full, ...) rather than only
    # torch's "unexpected pos" from its own writer.
    with path.open("wb") as handle:
        torch.save(obj, handle)


def _save_as(
    model: PreTrainedModel, dtype: torch.dtype, folder: Path, weights: dict[str, torch.Tensor]
) -> None:
    """save_pretrained of `model` with `weights` cast to `dtype`, tied tensors kept shared, and config.json
    saying so (save_pretrained records the dtype of the model object, here the master weights')."""
    cast: dict[int, torch.Tensor] = {}
    state = {}
    for name, tensor in weights.items():
        if tensor.data_ptr() not in cast:
            cast[tensor.data_ptr()] = tensor.detach().to(dtype)
        state[name] = cast[tensor.data_ptr()]
    model.save_pretrained(folder, state_dict=state)
    config_file = folder / "config.json"
    config = json.loads(config_file.read_text())
    config["dtype"] = str(dtype).removeprefix("torch.")
    config_file.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def _replace(source: Path, target: Path) -> None:
    # A step written again (a run resumed from an earlier checkpoint) replaces its old folder. Between the
    # two renames the old folder sits under a scratch name: a crash there loses it, never half of it.
    if target.exists():
        old = target.with_name(f"{SCRATCH_PREFIX}old-{target.name}")
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
        source.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        source.rename(target)


def _remove_scratch(directory: Path) -> None:
    for path in directory.glob(f"{SCRATCH_PREFIX}*"):
        shutil.rmtree(path, ignore_errors=True)


def is_complete(path: str | Path) -> bool:
    return (Path(path) / COMPLETE).is_file()


def list_checkpoints(directory: str | Path) -> list[CheckpointInfo]:
    """The complete checkpoints under `directory`, oldest first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = []
    for path in directory.glob(f"{PREFIX}*"):
        suffix = path.name.removeprefix(PREFIX)
        if suffix.isdigit() and is_complete(path):
            found.append(CheckpointInfo(step=int(suffix), path=path))
    return sorted(found, key=lambda info: info.step)


def latest_checkpoint(directory: str | Path) -> Path | None:
    """The complete checkpoint with the highest step that a run can resume from (it has its resume state),
    or None."""
    resumable = [info for info in list_checkpoints(directory) if has_resume_state(info.path)]
    return resumable[-1].path if resumable else None


def has_resume_state(path: str | Path) -> bool:
    return (Path(path) / OPTIMIZER_STATE).is_file()


def drop_resume_state(path: str | Path) -> int:
    """Delete a checkpoint's optimizer, RNG, master-weight and sharded-state files (what only a resume
    needs), keeping its weights for evaluation; returns the bytes freed."""
    path = Path(path)
    freed = 0
    for name in (OPTIMIZER_STATE, RNG_STATE):
        if (file := path / name).is_file():
            freed += file.stat().st_size
            file.unlink()
    for folder in (path / MASTER_WEIGHTS, path / SHARDED_STATE):
        if folder.is_dir():
            freed += folder_size(folder)
            shutil.rmtree(folder)
    return freed


def checkpoint_bytes_estimate(
    parameters: int, weights_dtype: torch.dtype, resume_state: bool, master_weights: bool
) -> int:
    """Bytes one checkpoint of a model with `parameters` parameters takes: its weights in `weights_dtype`,
    and with `resume_state` AdamW's two float32 moments (+ the float32 master weights when they are kept
    beside weights of another dtype). Tokenizer and JSON files are small beside them and not counted."""
    size = parameters * torch.finfo(weights_dtype).bits // 8
    if resume_state:
        size += parameters * 4 * (2 + int(master_weights))
    return size


def check_budget(directory: str | Path, next_bytes: int, budget_bytes: int | None, step: int) -> None:
    """CheckpointBudgetError when the checkpoints under `directory` and `next_bytes` exceed the budget."""
    if budget_bytes is None:
        return
    used = folder_size(directory)
    if used + next_bytes > budget_bytes:
        gib = 1024**3
        raise CheckpointBudgetError(
            f"the checkpoint of step {step} needs about {next_bytes / gib:.2f} GiB, and this run's "
            f"checkpoints already use {used / gib:.2f} GiB of their {budget_bytes / gib:.2f} GiB budget "
            "(train.disk_budget_gib): raise the budget, lower train.keep_last, or save less often"
        )


def read_trainer_state(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not is_complete(path):
        raise CheckpointError(f"{path} is not a complete checkpoint (no {COMPLETE} marker)")
    return json.loads((path / TRAINER_STATE).read_text())


def checkpoint_dtype(path: str | Path) -> str:
    """The weights' dtype as config.json records it ("bfloat16", "float32", ...)."""
    config = json.loads((Path(path) / "config.json").read_text())
    dtype = config.get("dtype") or config.get("torch_dtype")
    if dtype is None:
        raise CheckpointError(f"{path}/config.json records no dtype")
    return str(dtype)


def load_checkpoint(
    path: str | Path,
    model: PreTrainedModel,
    optimizer: Optimizer,
    scheduler: LRScheduler,
    load_sharded: Callable[[Path], None] | None = None,
) -> dict[str, Any]:
    """Load weights (the float32 master weights where the checkpoint has them), optimizer and scheduler
    state of the checkpoint at `path` into the live objects and return its trainer state. RNG states are
    restored separately (`restore_rng_states`). A sharded trainer passes `load_sharded`, which loads the
    weights and optimizer state from the checkpoint's sharded/ folder."""
    path = Path(path)
    trainer_state = read_trainer_state(path)
    sharded = path / SHARDED_STATE
    if sharded.is_dir() and load_sharded is None:
        raise CheckpointError(f"{path} is from sharded training: resume it with resources.processes > 1")
    if load_sharded is not None and not sharded.is_dir():
        raise CheckpointError(f"{path} is from one-process training: resume it with resources.processes 1")
    states = torch.load(path / OPTIMIZER_STATE, map_location="cpu", weights_only=True)
    if load_sharded is not None:
        load_sharded(sharded)
    else:
        master = path / MASTER_WEIGHTS
        load_model_weights(model, master if master.is_dir() else path)
        optimizer.load_state_dict(states["optimizer"])
    scheduler.load_state_dict(states["scheduler"])
    return trainer_state


def load_model_weights(model: PreTrainedModel, path: str | Path) -> None:
    """Copy the safetensors weights of a save_pretrained folder into `model` in place."""
    files = sorted(Path(path).glob("*.safetensors"))
    if not files:
        raise CheckpointError(f"{path} holds no safetensors weights")
    state: dict[str, torch.Tensor] = {}
    for file in files:
        state.update(load_file(file))
    missing, unexpected = model.load_state_dict(state, strict=False)
    # save_pretrained leaves out tied copies (lm_head tied to the embedding): such a key is missing from
    # the file but shares its storage with a loaded parameter.
    current = model.state_dict()
    loaded_storage = {current[name].data_ptr() for name in state if name in current}
    untied = [name for name in missing if current[name].data_ptr() not in loaded_storage]
    if unexpected or untied:
        raise CheckpointError(f"{path} does not fit the model: missing {untied}, unexpected {unexpected}")


def _rng_states() -> dict[str, Any]:
    name, keys, position, has_gauss, cached = np.random.get_state()
    states: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": (name, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, cached),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(path: str | Path) -> None:
    states = torch.load(Path(path) / RNG_STATE, weights_only=True)
    random.setstate(states["python"])
    name, keys, position, has_gauss, cached = states["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), position, has_gauss, cached))
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def prune_checkpoints(
    directory: str | Path,
    keep_last: int,
    best_metric: str | None = None,
    mode: Literal["max", "min"] = "max",
    protected: Collection[int] = (),
    keep_newest: bool = True,
) -> list[Path]:
    """Delete complete checkpoints except: the newest while training may still resume from it
    (`keep_newest`); the `protected` steps (an evaluation still needs them, or they are pinned); the
    `keep_last` newest of the others (so keep_last counts checkpoints whose evaluations are done); and,
    with `best_metric`, the one whose recorded step metrics are best by that key (the earliest on ties).
    Only the newest kept for a resume keeps its resume state (optimizer, RNG, master weights): the others,
    and every checkpoint once training is over, keep their weights only. Returns the deleted paths."""
    if keep_last < 0:
        raise ValueError(f"keep_last must be >= 0, got {keep_last}")
    if mode not in ("max", "min"):
        raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
    checkpoints = list_checkpoints(directory)
    if not checkpoints:
        return []
    unprotected = [info for info in checkpoints if info.step not in protected]
    keep = {info.path for info in checkpoints if info.step in protected}
    keep |= {checkpoints[-1].path} if keep_newest else set()
    keep |= {info.path for info in unprotected[max(0, len(unprotected) - keep_last) :]}
    if best_metric is not None:
        scored = [
            (value, info.path)
            for info in checkpoints
            if (value := read_trainer_state(info.path).get("metrics", {}).get(best_metric)) is not None
        ]
        if scored:
            sign = 1.0 if mode == "max" else -1.0
            keep.add(max(scored, key=lambda item: sign * item[0])[1])
    removed = [info.path for info in checkpoints if info.path not in keep]
    for path in removed:
        # Drop the marker first: a crash mid-delete must not leave a folder that still looks complete.
        (path / COMPLETE).unlink(missing_ok=True)
        shutil.rmtree(path, ignore_errors=True)
    for info in checkpoints if not keep_newest else checkpoints[:-1]:
        if info.path in keep:
            drop_resume_state(info.path)
    return removed
