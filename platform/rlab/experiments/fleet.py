"""The fleet as the site sees it: which worker nodes are alive, which GPUs they have and who holds them,
what waits in each queue, and whether any live worker can ever take a run (capacity warnings)."""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from rlab.experiments.models import DeviceLease, EvalRequest, Run, WorkerNode

GPU_QUEUE = "gpu"
QUEUES = ("gpu", "cpu")
# Nodes that stopped beating stay on the fleet page (as lost) this long, then drop off it.
LOST_NODES_SHOWN_FOR = timedelta(days=1)


def stale_before() -> datetime:
    """A run, evaluation or worker node whose last heartbeat is older than this has lost its worker."""
    return timezone.now() - timedelta(seconds=settings.RLAB_STALE_AFTER_SECONDS)


def live_nodes() -> list[WorkerNode]:
    return list(WorkerNode.objects.filter(heartbeat_at__gte=stale_before()))


def capacity_warning(queue: str, gpus: int, nodes: list[WorkerNode]) -> str:
    """Why no live worker in `nodes` can take a run on `queue` asking for `gpus`; "" when one can. A gpu
    worker that reports no devices runs gpu jobs unplaced (a laptop, `make demo`), so it takes any."""
    on_queue = [node for node in nodes if queue in node.queues]
    if not on_queue:
        return f"no live worker takes the {queue} queue; the run waits until one starts"
    if queue != GPU_QUEUE or not gpus or any(not node.devices for node in on_queue):
        return ""
    largest = max(len(node.devices) for node in on_queue)
    if largest < gpus:
        return f"no worker can take {gpus} GPUs; the largest has {largest}"
    return ""


def capacity_warnings(needs: Iterable[tuple[str, int]]) -> list[str]:
    """The distinct capacity warnings of runs needing (queue, gpus) — a sweep's, or a spec's points — for
    the CLI, the editor and the API."""
    nodes = live_nodes()
    warnings = (capacity_warning(queue, gpus, nodes) for queue, gpus in needs)
    return list(dict.fromkeys(warning for warning in warnings if warning))


def sweep_warnings(runs: Iterable[Run]) -> list[str]:
    return capacity_warnings((run.queue, run.gpus) for run in runs)


def waiting_note(run: Run) -> str:
    """What a queued run waits for, for its page: what the last worker that tried it said, else capacity."""
    if run.status != Run.Status.QUEUED:
        return ""
    return run.waiting_for or capacity_warning(run.queue, run.gpus, live_nodes())


@dataclass
class DeviceView:
    id: str
    model: str
    memory_mb: int | None
    lease: DeviceLease | None = None
    visible: bool = False  # the holder belongs to one of the viewer's teams (its name and link are shown)

    @property
    def run(self) -> Run | None:
        """The run that holds the device, training or being evaluated."""
        if self.lease is None:
            return None
        return self.lease.run or self.lease.eval_request.run

    def as_json(self) -> dict:
        holder = None
        if self.lease is not None:
            run = self.run
            holder = {"kind": "evaluation" if self.lease.eval_request_id else "run"}
            if self.visible:
                holder |= {"run": run.id, "name": run.name, "url": f"/runs/{run.id}/"}
                if self.lease.eval_request_id:
                    holder["target"] = self.lease.eval_request.target
            holder["since"] = self.lease.acquired_at.isoformat()
        return {"id": self.id, "model": self.model, "memory_mb": self.memory_mb, "held_by": holder}


@dataclass
class NodeView:
    node: WorkerNode
    live: bool
    devices: list[DeviceView] = field(default_factory=list)

    @property
    def free(self) -> int:
        return sum(device.lease is None for device in self.devices) if self.live else 0

    def as_json(self) -> dict:
        node = self.node
        return {
            "name": node.name,
            "host": node.host,
            "queues": node.queues,
            "live": self.live,
            "heartbeat_at": node.heartbeat_at.isoformat(),
            "started_at": node.started_at.isoformat(),
            "versions": node.versions,
            "devices": [device.as_json() for device in self.devices],
            "free_devices": self.free,
        }


@dataclass
class Fleet:
    nodes: list[NodeView]
    queued_runs: dict[str, int]
    queued_evaluations: dict[str, int]

    @property
    def queues(self) -> dict[str, dict[str, int]]:
        return {
            queue: {"runs": self.queued_runs[queue], "evaluations": self.queued_evaluations[queue]}
            for queue in QUEUES
        }

    def as_json(self) -> dict:
        return {"workers": [node.as_json() for node in self.nodes], "queues": self.queues}


def fleet_for(user) -> Fleet:
    """Every node seen within LOST_NODES_SHOWN_FOR, its devices and their holders (named only for runs of
    `user`'s teams), and what waits in each queue (counts over every team)."""
    expiry = stale_before()
    nodes = WorkerNode.objects.filter(heartbeat_at__gte=timezone.now() - LOST_NODES_SHOWN_FOR)
    leases = DeviceLease.objects.filter(node__in=nodes).select_related("run", "eval_request__run")
    held = {(lease.node_id, lease.device): lease for lease in leases}
    holders = {lease.run_id or lease.eval_request.run_id for lease in leases}
    visible_runs = set(Run.objects.visible_to(user).filter(pk__in=holders).values_list("pk", flat=True))
    views = []
    for node in nodes:
        live = node.heartbeat_at >= expiry
        devices = []
        for device in node.devices:
            view = DeviceView(device["id"], device["model"], device["memory_mb"])
            view.lease = held.get((node.pk, device["id"])) if live else None
            view.visible = view.run is not None and view.run.pk in visible_runs
            devices.append(view)
        views.append(NodeView(node, live, devices))
    views.sort(key=lambda view: (not view.live, view.node.host, view.node.name))
    runs = Counter(Run.objects.filter(status=Run.Status.QUEUED).values_list("queue", flat=True))
    evaluations = Counter(
        EvalRequest.objects.filter(status=EvalRequest.Status.QUEUED).values_list("run__queue", flat=True)
    )
    return Fleet(
        views,
        {queue: runs.get(queue, 0) for queue in QUEUES},
        {queue: evaluations.get(queue, 0) for queue in QUEUES},
    )
