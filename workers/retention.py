"""Which of a run's checkpoints stay on disk, decided once for the trainer and for the evaluation tasks.

Kept: the newest while training may resume from it (only it keeps optimizer and RNG state), every
checkpoint whose evaluation is still open (an EvalRequest queued or running), the pinned ones
(`train.keep_steps`, and the run's best-average checkpoint by its evaluations), the trainer's best by its
step metric, and the `train.keep_last` newest of the rest. The trainer prunes after each checkpoint it
writes (asking `DatabaseCallbacks.protected_checkpoints`); once training has succeeded, the run task prunes
as it finishes and every evaluation task after it records (while training runs, its trainer is the only one
that deletes). A succeeded run resumes no more: its newest checkpoint loses its resume state, and stays only
if it is pinned, best or among keep_last.
"""

import logging
from pathlib import Path

from rlab.experiments.models import EvalRequest, Run
from rlab.spec import SpecV1

CHECKPOINT_DIR = "checkpoints"
logger = logging.getLogger(__name__)


def open_evaluation_steps(run: Run) -> set[int]:
    open_requests = EvalRequest.objects.filter(run=run, status__in=EvalRequest.OPEN, checkpoint__isnull=False)
    return set(open_requests.values_list("checkpoint__step", flat=True))


def protected_steps(run: Run) -> set[int]:
    """Steps whose checkpoints must stay: open evaluations, train.keep_steps and the best-average one (read
    afresh into `run.best_step`: an evaluation may just have moved it)."""
    pinned = set(SpecV1.model_validate(run.config).train.keep_steps)
    run.refresh_from_db(fields=["best_step"])
    best = run.best_step
    return open_evaluation_steps(run) | pinned | ({best} if best is not None else set())


TRAINING_SUCCEEDED = (Run.Status.EVALUATING, Run.Status.SUCCEEDED)


def prune_finished_training(run: Run) -> list[Path]:
    """Prune a run whose training is over (evaluating or finished) after an evaluation is recorded."""
    run.refresh_from_db(fields=["status"])
    if run.status in (Run.Status.QUEUED, Run.Status.RUNNING):
        return []
    return prune_run_checkpoints(run, training_succeeded=run.status in TRAINING_SUCCEEDED)


def prune_run_checkpoints(run: Run, training_succeeded: bool) -> list[Path]:
    """Prune the run's checkpoints by the rules above; the newest is kept for a resume (with its resume
    state) unless `training_succeeded`. A failure to prune leaves the checkpoints where they are and says
    so in the run's log: it must not fail a run or an evaluation that has succeeded."""
    try:
        return _prune(run, training_succeeded)
    except Exception:
        logger.exception("run %s: its checkpoints could not be pruned; they stay on disk", run.name)
        return []


def _prune(run: Run, training_succeeded: bool) -> list[Path]:
    from training.checkpoints import list_checkpoints, prune_checkpoints, read_trainer_state

    if not run.artifact_dir:
        return []
    directory = Path(run.artifact_dir) / CHECKPOINT_DIR
    checkpoints = list_checkpoints(directory)  # resumable or not: a succeeded run's have no resume state
    if not checkpoints:
        return []
    config = read_trainer_state(checkpoints[-1].path).get("config", {})
    protected = protected_steps(run)
    # The trainer's best by its step metric stands in for the best-average checkpoint until evaluations
    # name one; a succeeded run whose evaluations did keeps that one alone.
    evaluated = training_succeeded and run.best_step is not None
    return prune_checkpoints(
        directory,
        SpecV1.model_validate(run.config).train.keep_last,
        None if evaluated else config.get("best_metric"),
        config.get("best_mode", "max"),
        protected=protected,
        keep_newest=not training_succeeded,
    )
