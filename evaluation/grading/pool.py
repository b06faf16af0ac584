"""A pool of grading worker processes with a hard wall-clock limit per task.

Workers are plain subprocesses (`python -m evaluation.grading.worker`) exchanging JSON lines over
pipes rather than multiprocessing children: they can be started from Celery prefork workers (which
are daemonic and may not have multiprocessing children, celery/celery#1709), they never re-import the
caller's __main__, and one stuck in sympy can be killed on its own. A task whose worker times out or
dies counts as "not equal" and the worker is replaced; tasks queued behind it go to other workers.
No signals are used, so any thread may grade.
"""

import atexit
import contextlib
import json
import os
import selectors
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass


class GradingPoolError(RuntimeError):
    """Workers cannot be started (broken environment), as opposed to a failing task."""


@dataclass(frozen=True)
class PoolConfig:
    workers: int = max(1, min(4, os.cpu_count() or 1))
    memory_limit_mb: int = 2048  # per worker address-space cap; 0 disables it
    start_timeout_s: float = 120.0  # importing sympy on a slow, busy machine


MAX_START_FAILURES = 3  # in a row, with no worker becoming ready in between
# Tasks queued in a worker's pipe so it never waits for the parent between (often sub-millisecond) tasks.
# Unread bytes stay far below the pipe buffer, so writing never blocks on a stuck worker.
PIPELINE_DEPTH = 4
PIPELINE_BYTES = 16_384
Task = tuple[str, object, str]  # (kind, prepared gold, pred)


class _Worker:
    def __init__(self, config: PoolConfig) -> None:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(path for path in sys.path if path))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "evaluation.grading.worker", str(config.memory_limit_mb)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self.buffer = b""
        self.ready = False
        self.inflight: deque[tuple[int, int]] = deque()  # (task index, payload size), oldest first
        self.deadline = time.monotonic() + config.start_timeout_s  # start-up, then the oldest task's

    @property
    def waited_on(self) -> bool:
        return bool(self.inflight) or not self.ready

    def can_take(self, size: int) -> bool:
        if not self.ready or len(self.inflight) >= PIPELINE_DEPTH:
            return False
        return not self.inflight or sum(queued for _, queued in self.inflight) + size <= PIPELINE_BYTES

    def send(self, index: int, payload: bytes, timeout_s: float) -> bool:
        """Queue a task; False if the worker has died."""
        assert self.proc.stdin is not None
        if self.proc.poll() is not None:
            return False
        try:
            self.proc.stdin.write(payload)
            self.proc.stdin.flush()
        except OSError:
            return False
        if not self.inflight:
            self.deadline = time.monotonic() + timeout_s
        self.inflight.append((index, len(payload)))
        return True

    def read_lines(self) -> list[str] | None:
        """Complete lines received so far, or None at end of file (the worker died)."""
        assert self.proc.stdout is not None
        data = os.read(self.proc.stdout.fileno(), 65536)
        if not data:
            return None
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        return [line.decode() for line in lines]

    def stop(self, kill: bool) -> None:
        if kill:
            self.proc.kill()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class GradingPool:
    """Runs Grader.full() calls in worker processes; reuse one pool for many batches, then close()."""

    def __init__(self, config: PoolConfig | None = None) -> None:
        self.config = config or PoolConfig()
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._workers: list[_Worker] = []
        self._selector = selectors.DefaultSelector()
        self._closed = False
        self._start_failures = 0
        for _ in range(self.config.workers):
            self._spawn()

    def __enter__(self) -> "GradingPool":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def worker_pids(self) -> list[int]:
        return [worker.proc.pid for worker in self._workers]

    def wait_ready(self) -> None:
        """Block until every worker has started (before timing runs, or when a service boots)."""
        with self._lock:
            self._check_usable()
            while not all(worker.ready for worker in self._workers):
                self._step(deque(), [], 0.0)

    def run(self, tasks: Sequence[Task], timeout_s: float, precision: int | None = None) -> list[bool]:
        """Grader.full(gold, pred, precision) of each (kind, gold, pred); False on a timeout or crash."""
        with self._lock:
            self._check_usable()
            results = [False] * len(tasks)
            payloads = [
                (json.dumps({"kind": k, "gold": g, "pred": p, "precision": precision}) + "\n").encode()
                for k, g, p in tasks
            ]
            queue, remaining = deque(range(len(tasks))), len(tasks)
            while remaining:
                for worker in list(self._workers):
                    while queue and worker.can_take(len(payloads[queue[0]])):
                        if not worker.send(queue[0], payloads[queue[0]], timeout_s):
                            remaining -= self._replace(worker, queue, kill=False)  # died while idle
                            break
                        queue.popleft()
                remaining -= self._step(queue, results, timeout_s)
            return results

    def _step(self, queue: deque[int], results: list[bool], timeout_s: float) -> int:
        """Wait for worker output or the next deadline; returns how many tasks finished."""
        finished = 0
        deadlines = [worker.deadline for worker in self._workers if worker.waited_on]
        for key, _ in self._selector.select(timeout=max(0.0, min(deadlines, default=1.0) - time.monotonic())):
            worker = key.data
            lines = worker.read_lines()
            if lines is None:
                finished += self._replace(worker, queue, kill=False)
                continue
            for line in lines:
                if line == "ready":
                    worker.ready, self._start_failures = True, 0
                elif worker.inflight:
                    results[worker.inflight.popleft()[0]] = line == "1"
                    worker.deadline = time.monotonic() + timeout_s  # the next queued task starts now
                    finished += 1
        now = time.monotonic()
        for worker in [w for w in self._workers if w.waited_on and w.deadline < now]:
            finished += self._replace(worker, queue, kill=True)
        return finished

    def _replace(self, worker: _Worker, queue: deque[int], kill: bool) -> int:
        """Retire a dead or overdue worker and start another. Its current task counts as finished
        (False); the tasks queued behind it go back to the front of the queue. Returns 1 or 0."""
        if not worker.ready:
            self._start_failures += 1
            if self._start_failures >= MAX_START_FAILURES:
                self.close()
                raise GradingPoolError("grading workers keep failing to start (check the worker stderr)")
        current = worker.inflight.popleft() if worker.inflight else None
        queue.extendleft(index for index, _ in reversed(worker.inflight))
        self._retire(worker, kill)
        self._spawn()
        return int(current is not None)

    def _check_usable(self) -> None:
        if self._closed:
            raise GradingPoolError("the grading pool is closed")
        if os.getpid() != self._pid:  # forked: the workers belong to the parent, leave them alone
            self._pid = os.getpid()
            self._selector = selectors.DefaultSelector()
            self._workers = []
            for _ in range(self.config.workers):
                self._spawn()

    def _spawn(self) -> None:
        worker = _Worker(self.config)
        assert worker.proc.stdout is not None
        self._selector.register(worker.proc.stdout, selectors.EVENT_READ, worker)
        self._workers.append(worker)

    def _retire(self, worker: _Worker, kill: bool) -> None:
        assert worker.proc.stdout is not None
        self._selector.unregister(worker.proc.stdout)
        self._workers.remove(worker)
        worker.stop(kill)

    def close(self) -> None:
        """Stop all workers (idempotent); idle workers exit on end of input."""
        self._closed = True
        if os.getpid() != self._pid:
            return
        for worker in list(self._workers):
            self._retire(worker, kill=bool(worker.inflight))


_default: GradingPool | None = None
_default_lock = threading.Lock()


def default_pool() -> GradingPool:
    """The process-wide pool, started on first use and closed at interpreter exit."""
    global _default
    with _default_lock:
        if _default is None or _default._closed:
            _default = GradingPool()
            atexit.register(_default.close)
        return _default


def close_default_pool() -> None:
    with _default_lock:
        if _default is not None:
            _default.close()
