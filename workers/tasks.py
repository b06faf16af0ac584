"""Celery tasks. `execute_run` is sent by name from the web app and the CLI."""

import logging
import os

from celery import Task, shared_task
from celery.signals import task_prerun
from django.db import close_old_connections, transaction
from django.utils import timezone

from rlab.experiments.models import EvalRequest, Run
from rlab.experiments.submission import EXECUTE_RUN_TASK, enqueue_run
from workers.artifacts import ArtifactError, StorageError, prepare_artifact_dir, run_log, storage_failure
from workers.claim import claim_evaluation, claim_run, stale_before, worker_name
from workers.evaluation import EVALUATE_TASK, evaluate_model, send_evaluation
from workers.heartbeat import Heartbeat
from workers.launch import job_for
from workers.node import current_node
from workers.placement import CUDA_VISIBLE_DEVICES, DevicesBusy, evaluation_waits, on_devices, run_waits
from workers.reporting import RunCancelled, RunReporter
from workers.retention import prune_finished_training, prune_run_checkpoints

logger = logging.getLogger(__name__)


@task_prerun.connect
def _reuse_or_replace_connections(sender: Task, **kwargs: object) -> None:
    """Django's request-start step for a task: drop connections past CONN_MAX_AGE or broken, and health-check
    the kept one at its first query (settings: persistent connections, CELERY_DB_REUSE_MAX)."""
    if not getattr(sender.request, "is_eager", False):
        close_old_connections()


ERROR_MESSAGE_CHARS = 500  # of an error as the run page shows it; run.log and the worker's log have the rest


def short_error(exc: BaseException) -> str:
    """What a user sees of an unexpected error: its type and message, cut short; never a traceback (with
    the server's paths), which stays in run.log."""
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= ERROR_MESSAGE_CHARS else text[: ERROR_MESSAGE_CHARS - 1] + "…"


def _finish(run: Run, status: str, error: str = "") -> None:
    """Record how the run's training ended; a success whose evaluations are still open is `evaluating`."""
    now = timezone.now()
    with transaction.atomic():
        Run.objects.select_for_update().filter(pk=run.pk).first()
        if status == Run.Status.SUCCEEDED and run.eval_requests.filter(status__in=EvalRequest.OPEN).exists():
            status = Run.Status.EVALUATING
        Run.objects.filter(pk=run.pk).update(status=status, error=error, finished_at=now, heartbeat_at=now)


def settle_run(run_id: int) -> None:
    """An evaluating run whose evaluations are all recorded (or failed) has succeeded."""
    with transaction.atomic():
        run = Run.objects.select_for_update().filter(pk=run_id, status=Run.Status.EVALUATING).first()
        if run is not None and not run.eval_requests.filter(status__in=EvalRequest.OPEN).exists():
            Run.objects.filter(pk=run_id).update(status=Run.Status.SUCCEEDED, finished_at=timezone.now())


@shared_task(name=EXECUTE_RUN_TASK)
def execute_run(run_id: int) -> str:
    """Claim the run (and its GPUs), execute its algorithm's job and record how it ended. Returns the final
    status, or `waiting` when its GPUs are busy: the task then comes back later (workers.placement)."""
    node = current_node()
    try:
        run = claim_run(run_id, worker_name(), node)
    except DevicesBusy as busy:
        run_waits(run_id, str(busy))
        return "waiting"
    if run is None:
        logger.info("run %s is not claimable (taken, finished or cancelled); skipping", run_id)
        return "skipped"
    with on_devices(node, run=run):
        return _execute_claimed(run)


def _execute_claimed(run: Run) -> str:
    try:
        artifact_dir = prepare_artifact_dir(run)
    except ArtifactError as error:
        _finish(run, Run.Status.FAILED, str(error))
        return Run.Status.FAILED
    job = job_for(run.config)
    with run_log(artifact_dir) as log, Heartbeat(Run.objects.filter(pk=run.pk, status=Run.Status.RUNNING)):
        logger.info("run %s (attempt %d) started on %s", run.name, run.attempts, run.worker)
        if CUDA_VISIBLE_DEVICES in os.environ:
            logger.info("run %s: %s=%s", run.name, CUDA_VISIBLE_DEVICES, os.environ[CUDA_VISIBLE_DEVICES])
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
                logger.exception("run %s failed", run.name)  # the traceback goes to run.log
                error = short_error(exc)
        else:
            status, error = Run.Status.SUCCEEDED, ""
            # Before the run says so (what it leaves on disk is final then), and into its log.
            prune_run_checkpoints(run, training_succeeded=True)
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


@shared_task(name="workers.tasks.requeue_stale_evaluations")
def requeue_stale_evaluations() -> list[int]:
    """Send again the evaluations whose worker stopped sending heartbeats (killed during the evaluation):
    the next worker claims them, and the broker's own late re-delivery finds them taken or done."""
    stale = list(
        EvalRequest.objects.filter(status=EvalRequest.Status.RUNNING, heartbeat_at__lt=stale_before())
        .select_related("run")
    )
    for request in stale:
        logger.warning("evaluation %s: silent since %s; sending it again", request, request.heartbeat_at)
        send_evaluation(request)
    return [request.pk for request in stale]


@shared_task(name=EVALUATE_TASK)
def evaluate_model_task(request_id: int) -> int:
    """Evaluate what one EvalRequest asks for (a run's base model or a checkpoint); returns the number of new
    results. A request that is done, failed or taken by a live worker is skipped."""
    node = current_node()
    try:
        request = claim_evaluation(request_id, worker_name(), node)
    except DevicesBusy:
        evaluation_waits(request_id)
        return 0
    if request is None:
        return 0
    with on_devices(node, eval_request=request):
        return _evaluate_claimed(request)


def _evaluate_claimed(request: EvalRequest) -> int:
    run, checkpoint = request.run, request.checkpoint
    try:
        artifact_dir = prepare_artifact_dir(run)
    except ArtifactError as error:
        _end_evaluation(request, str(error))
        fail_run(run, str(error))
        return 0
    count, error = 0, ""
    with run_log(artifact_dir), Heartbeat(EvalRequest.objects.filter(pk=request.pk)):
        try:
            count = len(evaluate_model(run, checkpoint, artifact_dir))
        except StorageError as exc:
            error = str(exc)
            fail_run(run, error)
        except Exception as exc:
            logger.exception("evaluation %s failed", request)
            error = short_error(exc)
        _end_evaluation(request, error)  # in the log's reach: pruning may have something to say
    return count


def _end_evaluation(request: EvalRequest, error: str) -> None:
    """Mark the request done (or failed with a short message), prune what its checkpoint's evaluation no
    longer needs once training is over, then settle its run (so a succeeded run's disk is final)."""
    status = EvalRequest.Status.FAILED if error else EvalRequest.Status.DONE
    EvalRequest.objects.filter(pk=request.pk).update(status=status, error=error, finished_at=timezone.now())
    if not error:
        prune_finished_training(request.run)
    settle_run(request.run_id)


def fail_run(run: Run, message: str) -> None:
    """A file of the run could not be written: a finished run turns failed, a running one gets the message
    and stops after its current step (execute_run then finishes it as failed)."""
    logger.error("run %s: %s", run.name, message)
    now = timezone.now()
    Run.objects.filter(pk=run.pk, status__in=(Run.Status.SUCCEEDED, Run.Status.EVALUATING)).update(
        status=Run.Status.FAILED, error=message, finished_at=now
    )
    unfinished = Run.objects.filter(pk=run.pk).exclude(status__in=Run.FINISHED)
    unfinished.update(error=message, cancel_requested=True)
