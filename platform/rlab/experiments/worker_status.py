"""Which queues a live worker consumes right now, so that the spec editor can say when runs sent to a queue
would wait for a worker that is not there (a gpu-queue spec on a box with no GPU worker)."""

import time
from dataclasses import dataclass

from rlab.celery import QUEUES, app

INSPECT_TIMEOUT_SECONDS = 0.5  # how long the broadcast waits for workers' replies (it always waits this long)
CACHE_SECONDS = 15.0  # the editor checks on every edit: ask the workers at most this often per process


@dataclass
class _Seen:
    at: float
    queues: frozenset[str]


_seen: _Seen | None = None


def _ask_workers() -> frozenset[str]:
    """The queues that the workers answering a 0.5 s `active_queues` broadcast consume (none when no worker
    answers, including when the broker cannot be reached)."""
    replies = app.control.inspect(timeout=INSPECT_TIMEOUT_SECONDS).active_queues() or {}
    return frozenset(queue["name"] for queues in replies.values() for queue in queues or [])


def listening_queues(now: float | None = None) -> frozenset[str]:
    global _seen
    now = time.monotonic() if now is None else now
    if _seen is None or now - _seen.at > CACHE_SECONDS:
        _seen = _Seen(now, _ask_workers())
    return _seen.queues


def forget() -> None:
    """Ask the workers again next time (tests start and stop workers)."""
    global _seen
    _seen = None


def queue_note(queue: str) -> str:
    """What the editor says about `queue`: nothing when a worker listens on it (or it is no queue at all,
    which the spec's validation reports)."""
    if queue not in QUEUES or queue in listening_queues():
        return ""
    return (
        f"No live worker listens on the {queue} queue (none answered within {INSPECT_TIMEOUT_SECONDS} s): "
        f"runs launched now wait until one starts (`rlab worker --queue {queue}`)"
        + (", or set resources.queue to cpu." if queue != "cpu" else ".")
    )
