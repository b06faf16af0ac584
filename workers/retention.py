"""Which of a run's checkpoints stay on disk, decided once for the trainer and for the evaluation tasks.

Kept: the newest (a resume starts there, and only it keeps optimizer and RNG state), every checkpoint whose
evaluation is still open (an EvalRequest queued or running), the pinned ones (`train.keep_steps`, and the
run's best-average checkpoint by its evaluations), the trainer's best by its step metric, and the
`train.keep_last` newest of the rest. The trainer prunes after each checkpoint it writes (asking
`DatabaseCallbacks.protected_checkpoints`); an evaluation task prunes after it records, once the run's
training is over (while it runs, its trainer is the only one that deletes).
"""

from pathlib import Path

from rlab.experiments.models import EvalRequest, Run
from rlab.spec import SpecV1

CHECKPOINT_DIR = "checkpoints"


def open_evaluation_steps(run: Run) -> set[int]:
    open_requests = EvalRequest.objects.filter(run=run, status__in=EvalRequest.OPEN, checkpoint__isnull=False)
    return set(open_requests.values_list("checkpoint__step", flat=True))


def protected_steps(run: Run) -> set[int]:
    """Steps whose checkpoints must stay: open evaluations, train.keep_steps and the best-average one."""
    pinned = set(SpecV1.model_validate(run.config).train.keep_steps)
    best = Run.objects.values_list("best_step", flat=True).get(pk=run.pk)
    return open_evaluation_steps(run) | pinned | ({best} if best is not None else set())


def prune_after_evaluation(run: Run) -> list[Path]:
    """Prune a run whose training is over (evaluating or finished) now that an evaluation is recorded."""
    from training.checkpoints import latest_checkpoint, prune_checkpoints, read_trainer_state

    run.refresh_from_db(fields=["status"])
    if run.status in (Run.Status.QUEUED, Run.Status.RUNNING) or not run.artifact_dir:
        return []
    directory = Path(run.artifact_dir) / CHECKPOINT_DIR
    newest = latest_checkpoint(directory)
    if newest is None:
        return []
    config = read_trainer_state(newest).get("config", {})
    return prune_checkpoints(
        directory,
        SpecV1.model_validate(run.config).train.keep_last,
        config.get("best_metric"),
        config.get("best_mode", "max"),
        protected=protected_steps(run),
    )
