"""What a run's `model.id` means on this worker: a hub id, path or embedded name as it stands, or, for
`run:NAME[@STEP]`, the folder of that checkpoint of another run of the team (SFT→RL).

The resolution is made once per run and kept in the run's artifact folder (`model.json`): the training job,
its resumption after a worker died and the evaluation of the base model all use the same checkpoint, even
if the source run's best-average checkpoint changes later (evaluations still landing).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from rlab.experiments.checkpoint_refs import resolve_run_checkpoint
from rlab.experiments.model_paths import model_path_error
from rlab.experiments.models import Checkpoint, Run
from rlab.spec import parse_run_ref

logger = logging.getLogger(__name__)

RESOLVED_MODEL = "model.json"


class ModelNotAllowed(ValueError):
    """The spec names a local model outside the site's model folders (checked again on the worker)."""


@dataclass(frozen=True)
class ModelRef:
    label: str  # what EvalResult rows and logs call the model: the spec's id, or run:NAME@STEP
    weights: str  # what loaders get: the id itself, or the checkpoint folder


def usable(checkpoint: Checkpoint) -> bool:
    """A checkpoint whose folder is complete on this machine (not pruned, not half-written)."""
    from training.checkpoints import is_complete

    return is_complete(checkpoint.path)


def team_checkpoint(team, name: str, step: int | None) -> Checkpoint:
    """The checkpoint of the team's succeeded run `name` at `step`, or its best-average (else latest) one,
    among those whose folder is there. Raises CheckpointRefError."""
    return resolve_run_checkpoint(team, name, step, usable)


def run_model(run: Run, artifact_dir: Path) -> ModelRef:
    """The model `run` starts from (its spec's `model.id`), resolved once and then read back."""
    model_id = run.config["model"]["id"]
    ref = parse_run_ref(model_id)
    if ref is None:
        if (reason := model_path_error(model_id)) is not None:
            raise ModelNotAllowed(f"model.id: {reason}")
        return ModelRef(model_id, model_id)
    stored = artifact_dir / RESOLVED_MODEL
    if stored.is_file():
        return ModelRef(**json.loads(stored.read_text()))
    checkpoint = team_checkpoint(run.team, ref.name, ref.step)
    resolved = ModelRef(f"run:{ref.name}@{checkpoint.step}", checkpoint.path)
    scratch = stored.with_name(f".tmp-{os.getpid()}-{stored.name}")
    scratch.write_text(json.dumps(asdict(resolved)))
    os.replace(scratch, stored)
    logger.info("model %s is %s (%s)", model_id, resolved.label, resolved.weights)
    return resolved
