"""Which checkpoint a spec means when it names another run of the team: `model.id: run:NAME[@STEP]`
(SFT→RL) and `algorithm.redistill.source_run` / `source_step` (re-distillation).

The run must have succeeded. Without a step the run's best-average checkpoint (Run.best_step, which
rlab.results.bests keeps whenever one of its checkpoints is evaluated) is taken if it is usable, else its
latest usable one. Pure ORM: the web process checks names at submission; workers pass `usable` to skip
checkpoints whose folder was pruned or is not reachable.
"""

from collections.abc import Callable

from rlab.experiments.models import Checkpoint, Run


class CheckpointRefError(LookupError):
    """The named run or checkpoint does not exist, or is not usable yet."""


def finished_run(team, name: str) -> Run:
    """The team's run called `name`, which must have succeeded."""
    run = Run.objects.filter(team=team, name=name).first()
    if run is None:
        raise CheckpointRefError(f"no run named {name!r} in team {team.slug}")
    if run.status != Run.Status.SUCCEEDED:
        raise CheckpointRefError(f"run {name!r} is {run.status}; only a succeeded run can be used")
    return run


def run_checkpoint(
    run: Run, step: int | None = None, usable: Callable[[Checkpoint], bool] = lambda checkpoint: True
) -> Checkpoint:
    """The checkpoint of `run` at `step`, or (no step) its best-average checkpoint if usable, else its latest
    usable one."""
    checkpoints = {c.step: c for c in run.checkpoints.order_by("step") if usable(c)}
    if step is not None:
        if step not in checkpoints:
            known = ", ".join(map(str, checkpoints)) or "none"
            raise CheckpointRefError(
                f"run {run.name!r} has no usable checkpoint at step {step} (has: {known})"
            )
        return checkpoints[step]
    if not checkpoints:
        raise CheckpointRefError(f"run {run.name!r} has no usable checkpoint")
    if run.best_step in checkpoints:
        return checkpoints[run.best_step]
    return checkpoints[max(checkpoints)]


def resolve_run_checkpoint(
    team, name: str, step: int | None = None, usable: Callable[[Checkpoint], bool] = lambda c: True
) -> Checkpoint:
    return run_checkpoint(finished_run(team, name), step, usable)
