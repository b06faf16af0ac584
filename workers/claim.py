"""Claiming a run for one worker under a row lock, so two workers never execute the same run."""

import os
import socket
from functools import cache
from importlib import metadata

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from rlab.experiments.fleet import stale_before
from rlab.experiments.models import EvalRequest, Run, WorkerNode
from workers.placement import places_devices, take_devices

RECORDED_PACKAGES = ("torch", "transformers", "trl", "vllm", "accelerate")


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@cache
def package_versions() -> dict[str, str]:
    """The recorded packages' versions, read once per worker process (a new package needs a restart)."""
    versions = {}
    for name in RECORDED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def claim_run(run_id: int, worker: str, node: WorkerNode | None = None) -> Run | None:
    """Mark the run `running` for `worker` and return it; None if it is not (or no longer) claimable.

    Claimable: queued, or running with a stale heartbeat (its worker died). The row lock makes the check
    and the update one step, so of two workers racing for a run exactly one gets it. On a `node` with
    devices a gpu run also leases its GPUs in the same transaction (workers.placement.DevicesBusy when they
    are not free: the run stays as it was).
    """
    now = timezone.now()
    with transaction.atomic():
        run = (
            Run.objects.select_for_update()
            .filter(pk=run_id)
            .filter(
                Q(status=Run.Status.QUEUED) | Q(status=Run.Status.RUNNING, heartbeat_at__lt=stale_before())
            )
            .first()
        )
        if run is None:
            return None
        if run.cancel_requested:
            run.status, run.finished_at = Run.Status.CANCELLED, now
            run.save(update_fields=["status", "finished_at"])
            return None
        if places_devices(node, run.queue):
            take_devices(node, run.gpus, run=run)
        run.waiting_for, run.waiting_since = "", None
        run.status = Run.Status.RUNNING
        run.worker = worker
        run.attempts += 1
        run.started_at = run.started_at or now
        run.heartbeat_at = now
        run.versions = dict(package_versions())
        run.save(
            update_fields=[
                *("status", "worker", "attempts", "started_at", "heartbeat_at", "versions"),
                *("waiting_for", "waiting_since"),
            ]
        )
    return run


def claim_evaluation(request_id: int, worker: str, node: WorkerNode | None = None) -> EvalRequest | None:
    """Mark the evaluation request `running` for `worker` and return it (with its run and checkpoint); None
    if it is done, failed, gone, or running under a worker whose heartbeat is fresh. Of two workers given the
    same request (a re-delivered message, a re-sent stale one) exactly one evaluates it. On a `node` with
    devices an evaluation of a gpu run leases one GPU (DevicesBusy when none is free)."""
    now = timezone.now()
    with transaction.atomic():
        request = (
            EvalRequest.objects.select_for_update()
            .filter(pk=request_id)
            .filter(
                Q(status=EvalRequest.Status.QUEUED)
                | Q(status=EvalRequest.Status.RUNNING, heartbeat_at__lt=stale_before())
            )
            .first()
        )
        if request is None:
            return None
        if places_devices(node, request.run.queue):
            take_devices(node, 1, eval_request=request)
        request.status = EvalRequest.Status.RUNNING
        request.worker = worker
        request.attempts += 1
        request.started_at = request.started_at or now
        request.heartbeat_at = now
        request.save(update_fields=["status", "worker", "attempts", "started_at", "heartbeat_at"])
    return EvalRequest.objects.select_related("run__team", "checkpoint").get(pk=request_id)
