"""How long a queued run may wait: its place in its queue (runs are taken first in, first out) and an
estimate from how long finished runs took.

The estimate is deliberately simple and says what it rests on: the median duration of the last
RECENT_RUNS successful runs of the same spec (else of the same queue) stands for every run ahead; the runs
already running finish at their own pace (their ETA), and as many runs as run now at once (at least one)
share the queue.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from rlab.experiments.durations import eta_seconds
from rlab.experiments.models import Run

RECENT_RUNS = 20


@dataclass(frozen=True)
class Typical:
    seconds: float  # the median duration
    runs: int  # of how many finished runs
    scope: str  # "this spec" or "the cpu queue"


@dataclass(frozen=True)
class QueueWait:
    position: int  # 1: the next run its queue hands out
    seconds: float | None  # the estimated wait; None where no run has finished to estimate from
    basis: str  # what the estimate rests on, for the page


def typical_duration(finished: QuerySet[Run], scope: str) -> Typical | None:
    """The median duration of the newest RECENT_RUNS runs among `finished` (None if there are none)."""
    rows = finished.order_by("-finished_at").values_list("started_at", "finished_at")[:RECENT_RUNS]
    durations = [(end - start).total_seconds() for start, end in rows]
    if not durations:
        return None
    return Typical(statistics.median(durations), len(durations), scope)


def time_left(run: Run, typical: float, now: datetime) -> float:
    """A running run's time left: from its own rate once it has made progress, else the typical duration
    less what it has run."""
    if (eta := eta_seconds(run, now)) is not None:
        return eta
    elapsed = (now - run.started_at).total_seconds() if run.started_at else 0.0
    return max(typical - elapsed, 0.0)


def queue_wait(run: Run, now: datetime) -> QueueWait | None:
    """Where a queued run stands and about how long until a worker takes it; None unless it is queued."""
    if run.status != Run.Status.QUEUED:
        return None
    same_queue = Run.objects.filter(queue=run.queue)
    ahead = same_queue.filter(status=Run.Status.QUEUED, created_at__lt=run.created_at).count()
    finished = same_queue.filter(
        status=Run.Status.SUCCEEDED, started_at__isnull=False, finished_at__isnull=False
    )
    typical = typical_duration(finished.filter(spec_id=run.spec_id), "this spec") or typical_duration(
        finished, f"the {run.queue} queue"
    )
    if typical is None:
        return QueueWait(
            ahead + 1, None, f"no run of the {run.queue} queue has finished yet to estimate from"
        )
    running = list(same_queue.filter(status=Run.Status.RUNNING).only("started_at", "progress", "status"))
    slots = max(1, len(running))
    work = sum(time_left(other, typical.seconds, now) for other in running) + ahead * typical.seconds
    basis = (
        f"median duration of the last {typical.runs} finished run{'s' if typical.runs != 1 else ''} of "
        f"{typical.scope} for each run ahead, shared by {slots} run{'s' if slots != 1 else ''} at once"
    )
    return QueueWait(ahead + 1, work / slots, basis)
