"""This worker as a `WorkerNode` row: registered by `rlab worker` before Celery starts, kept alive by a
heartbeat on the worker's own timer (main process, so it beats while every pool process trains), removed on
a clean shutdown. A worker killed with -9 leaves its row; once its heartbeat expires its device leases no
longer count (workers.placement)."""

import logging
import os
import socket
from importlib import metadata

from celery import Celery, bootsteps
from celery.signals import worker_shutdown
from django.conf import settings
from django.db import connection
from django.utils import timezone

from rlab.experiments.fleet import GPU_QUEUE, LOST_NODES_SHOWN_FOR
from rlab.experiments.models import WorkerNode
from workers.claim import package_versions
from workers.devices import machine_devices

logger = logging.getLogger(__name__)

# The node's name, inherited by the pool processes the worker forks.
NODE_ENV = "RLAB_WORKER_NODE"


def _version() -> str:
    try:
        return metadata.version("rlvr-lab")
    except metadata.PackageNotFoundError:
        return "unknown"


def register_node(queues: list[str]) -> WorkerNode:
    """The row of this worker (this process); a gpu worker reports its devices (settings.RLAB_GPUS). Rows of
    workers lost for longer than the fleet page shows them go."""
    devices = machine_devices(settings.RLAB_GPUS) if GPU_QUEUE in queues else []
    WorkerNode.objects.filter(heartbeat_at__lt=timezone.now() - LOST_NODES_SHOWN_FOR).delete()
    name = f"{socket.gethostname()}:{os.getpid()}"
    node, _ = WorkerNode.objects.update_or_create(
        name=name,
        defaults={
            "host": socket.gethostname(),
            "queues": queues,
            "devices": [device.as_json() for device in devices],
            "versions": {"rlab": _version(), **package_versions()},
            "heartbeat_at": timezone.now(),
        },
    )
    os.environ[NODE_ENV] = name
    connection.close()  # the pool processes fork from this one: they must not share its connection
    return node


def current_node() -> WorkerNode | None:
    """The node of the worker this process belongs to; None outside `rlab worker` (e.g. eager tasks)."""
    name = os.environ.get(NODE_ENV)
    return WorkerNode.objects.filter(name=name).first() if name else None


def beat_node() -> None:
    name = os.environ.get(NODE_ENV)
    try:
        if not WorkerNode.objects.filter(name=name).update(heartbeat_at=timezone.now()):
            logger.warning("worker node %s has no row any more; its jobs cannot take devices", name)
    except Exception:
        logger.exception("worker node %s: heartbeat failed", name)
    finally:
        connection.close()


class NodeHeartbeat(bootsteps.StartStopStep):
    """Beats the node's row every RLAB_HEARTBEAT_SECONDS on the worker's timer."""

    requires = ("celery.worker.components:Timer",)

    def __init__(self, worker, **kwargs) -> None:
        super().__init__(worker, **kwargs)
        self.timer_entry = None

    def start(self, worker) -> None:
        self.timer_entry = worker.timer.call_repeatedly(settings.RLAB_HEARTBEAT_SECONDS, beat_node)

    def stop(self, worker) -> None:
        if self.timer_entry is not None:
            self.timer_entry.cancel()


def _remove_node(**kwargs: object) -> None:
    """A clean shutdown: the node and its leases go (its jobs have ended)."""
    if name := os.environ.get(NODE_ENV):
        WorkerNode.objects.filter(name=name).delete()
        connection.close()


def install(app: Celery) -> None:
    """Called by `rlab worker` before the worker starts."""
    app.steps["worker"].add(NodeHeartbeat)
    worker_shutdown.connect(_remove_node, weak=False)
