"""Placing jobs on a worker's GPUs (docs/architecture.md "GPU placement").

A job on the gpu queue of a node with devices takes `resources.gpus` of them (an evaluation takes one) as
`DeviceLease` rows, under a lock on the host's node rows, inside the claim's transaction: two pool processes
(or two workers of one machine) never take the same device. A job that does not fit raises `DevicesBusy`; its
task sends itself again after RLAB_DEVICE_RETRY_SECONDS and frees its pool slot, so smaller jobs behind it
start meanwhile (backfill). Once a run has waited RLAB_BACKFILL_LIMIT_SECONDS, every node that could ever
hold it holds its GPUs back: other jobs start there only while that many stay free.

The job's process (and torchrun's ranks, which inherit its environment) sees only its devices through
CUDA_VISIBLE_DEVICES; a gpu worker runs each task in a fresh pool process (rlab worker sets
--max-tasks-per-child 1), because CUDA reads that variable once per process.
"""

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from rlab.experiments.fleet import GPU_QUEUE, capacity_warning, live_nodes, stale_before
from rlab.experiments.models import DeviceLease, EvalRequest, Run, WorkerNode
from rlab.experiments.submission import EXECUTE_RUN_TASK
from workers.evaluation import EVALUATE_TASK

logger = logging.getLogger(__name__)

CUDA_VISIBLE_DEVICES = "CUDA_VISIBLE_DEVICES"
HELD_BACK_CANDIDATES = 20  # oldest long-waiting runs looked at for one that fits the node


class DevicesBusy(Exception):
    """The job does not fit the node's free devices now; the message says what it waits for."""


def places_devices(node: WorkerNode | None, queue: str) -> bool:
    """Whether jobs from `queue` on `node` are placed on devices. A worker without devices (or none at all,
    e.g. an eager task) runs them as before, unplaced."""
    return node is not None and bool(node.devices) and queue == GPU_QUEUE


def held_back_for(node: WorkerNode) -> Run | None:
    """The run this node holds devices back for: the longest-waiting queued run past the backfill limit
    that the node could ever hold."""
    limit = timezone.now() - timedelta(seconds=settings.RLAB_BACKFILL_LIMIT_SECONDS)
    waiting = Run.objects.filter(
        status=Run.Status.QUEUED, queue__in=node.queues, cancel_requested=False, waiting_since__lt=limit
    ).order_by("waiting_since", "pk")
    total = len(node.devices)
    return next((run for run in waiting[:HELD_BACK_CANDIDATES] if 0 < run.gpus <= total), None)


def take_devices(
    node: WorkerNode, count: int, *, run: Run | None = None, eval_request: EvalRequest | None = None
) -> list[str]:
    """Lease `count` free devices of `node` for the run or evaluation; call inside the claim's transaction.
    Raises DevicesBusy when they are not free (leases of nodes whose heartbeat expired count as free)."""
    if count == 0:
        return []
    hosts_nodes = WorkerNode.objects.select_for_update().filter(host=node.host).order_by("pk")
    expiry = stale_before()
    live = [other.pk for other in hosts_nodes if other.pk == node.pk or other.heartbeat_at >= expiry]
    DeviceLease.objects.filter(host=node.host).exclude(node_id__in=live).delete()
    busy = set(DeviceLease.objects.filter(host=node.host).values_list("device", flat=True))
    free = [device for device in node.device_ids if device not in busy]
    total = len(node.devices)
    if count > total:
        elsewhere = capacity_warning(GPU_QUEUE, count, live_nodes())
        raise DevicesBusy(elsewhere or f"{count} GPUs on one worker; {node.name} has {total}")
    reserved = held_back_for(node)
    keep = reserved.gpus if reserved is not None and reserved.pk != getattr(run, "pk", None) else 0
    if len(free) - keep < count:
        held = f", {keep} held back for {reserved.name}" if keep else ""
        raise DevicesBusy(f"{count} free GPUs; {node.name} has {len(free)} of {total} free{held}")
    taken = free[:count]
    DeviceLease.objects.bulk_create(
        DeviceLease(node=node, host=node.host, device=device, run=run, eval_request=eval_request)
        for device in taken
    )
    return taken


def run_waits(run_id: int, reason: str) -> None:
    """Record what the queued run waits for (its page shows it) and since when; send its task again."""
    from rlab.celery import RUN_PRIORITY

    logger.info("run %s waits for %s", run_id, reason)
    runs = Run.objects.filter(pk=run_id)
    runs.filter(status=Run.Status.QUEUED).update(
        waiting_for=reason[: Run._meta.get_field("waiting_for").max_length],
        waiting_since=Coalesce("waiting_since", timezone.now()),
    )
    _send_again(EXECUTE_RUN_TASK, run_id, runs.values_list("queue", flat=True).get(), RUN_PRIORITY)


def evaluation_waits(request_id: int) -> None:
    from rlab.celery import EVALUATION_PRIORITY

    queue = EvalRequest.objects.values_list("run__queue", flat=True).get(pk=request_id)
    _send_again(EVALUATE_TASK, request_id, queue, EVALUATION_PRIORITY)


def _send_again(task_name: str, object_id: int, queue: str, priority: int) -> None:
    """The task, once more, after RLAB_DEVICE_RETRY_SECONDS; its pool slot is free meanwhile."""
    from rlab.celery import app

    app.send_task(
        task_name,
        args=[object_id],
        queue=queue,
        priority=priority,
        countdown=settings.RLAB_DEVICE_RETRY_SECONDS,
    )


@contextmanager
def on_devices(
    node: WorkerNode | None, *, run: Run | None = None, eval_request: EvalRequest | None = None
) -> Iterator[list[str]]:
    """While the job runs: CUDA_VISIBLE_DEVICES names its leased devices (none for a cpu-queue job on a
    gpu node). Afterwards — success, failure or cancel — its leases are released. Yields the device ids."""
    if node is None or not node.devices:
        yield []
        return
    mine = DeviceLease.objects.filter(node=node).filter(
        Q(run=run) if run is not None else Q(eval_request=eval_request)
    )
    devices = sorted(mine.values_list("device", flat=True), key=node.device_ids.index)
    before = os.environ.get(CUDA_VISIBLE_DEVICES)
    os.environ[CUDA_VISIBLE_DEVICES] = ",".join(devices)
    try:
        yield devices
    finally:
        mine.delete()
        if before is None:
            os.environ.pop(CUDA_VISIBLE_DEVICES, None)
        else:
            os.environ[CUDA_VISIBLE_DEVICES] = before
