"""What the run and sweep pages' buttons (and the API) do: cancelling runs and retrying finished ones."""

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from rlab.experiments.models import Run, Sweep
from rlab.experiments.submission import enqueue_run, planned_steps, run_name

UNSUCCESSFUL = (Run.Status.FAILED, Run.Status.CANCELLED)


class NotRetryable(ValueError):
    """Only a finished run can be run again."""


def cancel_runs(runs: QuerySet[Run]) -> int:
    """Cancel the unfinished runs among `runs`; returns how many. Running ones stop after their current
    step (their worker checks `cancel_requested`); queued ones are cancelled at once, and a worker that
    claims one later skips it. The flag goes first, so a run claimed between the two updates still stops."""
    unfinished = runs.exclude(status__in=(*Run.FINISHED, Run.Status.EVALUATING))  # training is over
    with transaction.atomic():
        count = unfinished.update(cancel_requested=True)
        unfinished.filter(status=Run.Status.QUEUED).update(
            status=Run.Status.CANCELLED, finished_at=timezone.now()
        )
    return count


def cancel_sweep(sweep: Sweep) -> int:
    """Cancel every unfinished run of the sweep; returns how many."""
    return cancel_runs(sweep.runs.all())


def _requeue(runs: list[Run], sweep: Sweep) -> list[Run]:
    """New queued runs of the same spec points (same point index, coordinates and config) in `sweep`."""
    retries = [
        Run.objects.create(
            team=run.team,
            spec=run.spec,
            sweep=sweep,
            point_index=run.point_index,
            name=run_name(run.spec, sweep, run.point_index),
            coordinates=run.coordinates,
            config=run.config,
            queue=run.queue,
            total_steps=planned_steps(run.config),
        )
        for run in runs
    ]
    transaction.on_commit(lambda: [enqueue_run(retry) for retry in retries])
    return retries


@transaction.atomic
def retry_run(run: Run, user) -> Run:
    """Queue the run's sweep point again as a new sweep of one run (the spec stays the same, so results of the
    retry sit beside the original's)."""
    if not run.is_finished:
        raise NotRetryable(f"{run.name} is still {run.status}; cancel it first or wait for it to finish")
    sweep = Sweep.objects.create(team=run.team, spec=run.spec, created_by=user)
    return _requeue([run], sweep)[0]


@transaction.atomic
def retry_sweep(sweep: Sweep, user) -> Sweep | None:
    """Queue every failed or cancelled run of `sweep` again, all in ONE new sweep of the same spec (None when
    there is nothing to retry). Each retry keeps its point index, coordinates and config, so the new sweep's
    ablation and 1-shot comparison reports compare exactly those points, and their results sit beside the
    original sweep's in the leaderboard."""
    failed = list(sweep.runs.filter(status__in=UNSUCCESSFUL).select_related("team", "spec"))
    if not failed:
        return None
    retry = Sweep.objects.create(team=sweep.team, spec=sweep.spec, created_by=user)
    _requeue(failed, retry)
    return retry
