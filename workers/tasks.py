"""Celery tasks. `execute_run` is sent by name from the web app and the CLI."""

import logging
import traceback

from celery import Task, shared_task
from celery.signals import task_prerun
from django.db import close_old_connections
from django.utils import timezone

from rlab.experiments.models import Checkpoint, Run
from rlab.experiments.submission import EXECUTE_RUN_TASK, enqueue_run
from workers.artifacts import ArtifactError, StorageError, prepare_artifact_dir, run_log, storage_failure
from workers.claim import claim_run, stale_before, worker_name
from workers.evaluation import EVALUATE_TASK, all_recorded, evaluate_model
from workers.heartbeat import Heartbeat
from workers.launch import job_for
from workers.reporting import RunCancelled, RunReporter

logger = logging.getLogger(__name__)


@task_prerun.connect
def _reuse_or_replace_connections(sender: Task, **kwargs: object) -> None:
    """Django's request-start step for a task: drop connections past CONN_MAX_AGE or broken, and health-check
    the kept one at its first query (settings: persistent connections, CELERY_DB_REUSE_MAX)."""
    if not getattr(sender.request, "is_eager", False):
        close_old_connections()


def _finish(run: Run, status: str, error: str = "") -> None:
    now = timezone.now()
    Run.objects.filter(pk=run.pk).update(status=status, error=error, finished_at=now, heartbeat_at=now)


@shared_task(name=EXECUTE_RUN_TASK)
def execute_run(run_id: int) -> str:
    """Claim the run, execute its algorithm's job and record how it ended. Returns the final status."""
    run = claim_run(run_id, worker_name())
    if run is None:
        logger.info("run %s is not claimable (taken, finished or cancelled); skipping", run_id)
        return "skipped"
    try:
        artifact_dir = prepare_artifact_dir(run)
    except ArtifactError as error:
        _finish(run, Run.Status.FAILED, str(error))
        return Run.Status.FAILED
    job = job_for(run.config)
    with run_log(artifact_dir) as log, Heartbeat(run.pk):
        logger.info("run %s (attempt %d) started on %s", run.name, run.attempts, run.worker)
        try:
            job(RunReporter(run, artifact_dir))
        except RunCancelled:
            # An evaluation that could not write its samples stops the run too, leaving its message.
            error = Run.objects.values_list("error", flat=True).get(pk=run.pk)
            status = Run.Status.FAILED if error else Run.Status.CANCELLED
        except Exception as exc:
            status, error = Run.Status.FAILED, storage_failure(exc)
            if error:
                logger.error("run %s failed: %s", run.name, error)
            else:
                logger.exception("run %s failed", run.name)
                error = traceback.format_exc()
        else:
            status, error = Run.Status.SUCCEEDED, ""
        logger.info("run %s %s", run.name, status)
    if log.failure and status == Run.Status.SUCCEEDED:
        status, error = Run.Status.FAILED, log.failure
    _finish(run, status, error)
    return status


@shared_task(name="workers.tasks.requeue_stale_runs")
def requeue_stale_runs() -> list[int]:
    """Send the runs whose worker stopped sending heartbeats to the queue again; they resume there."""
    stale = list(Run.objects.filter(status=Run.Status.RUNNING, heartbeat_at__lt=stale_before()))
    for run in stale:
        logger.warning("run %s: no heartbeat since %s; queueing it again", run.name, run.heartbeat_at)
        enqueue_run(run)
    return [run.pk for run in stale]


@shared_task(name=EVALUATE_TASK)
def evaluate_model_task(run_id: int, checkpoint_id: int | None = None) -> int:
    """Evaluate a run's base model (no checkpoint) or one checkpoint; returns the number of new results."""
    run = Run.objects.select_related("team").filter(pk=run_id).first()
    if run is not None and all_recorded(run, checkpoint_id):
        return 0
    checkpoint = Checkpoint.objects.filter(pk=checkpoint_id, run=run).first() if checkpoint_id else None
    if run is None or (checkpoint_id and checkpoint is None):
        logger.info("run %s or checkpoint %s no longer exists; nothing to evaluate", run_id, checkpoint_id)
        return 0
    try:
        artifact_dir = prepare_artifact_dir(run)
    except ArtifactError as error:
        fail_run(run, str(error))
        return 0
    with run_log(artifact_dir):
        try:
            return len(evaluate_model(run, checkpoint, artifact_dir))
        except StorageError as error:
            fail_run(run, str(error))
            return 0


def fail_run(run: Run, message: str) -> None:
    """A file of the run could not be written: a finished run turns failed, a running one gets the message
    and stops after its current step (execute_run then finishes it as failed)."""
    logger.error("run %s: %s", run.name, message)
    now = timezone.now()
    Run.objects.filter(pk=run.pk, status=Run.Status.SUCCEEDED).update(
        status=Run.Status.FAILED, error=message, finished_at=now
    )
    unfinished = Run.objects.filter(pk=run.pk).exclude(status__in=Run.FINISHED)
    unfinished.update(error=message, cancel_requested=True)
