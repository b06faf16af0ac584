"""`rlab worker --queue gpu`: a Celery worker for one or more queues."""

import argparse
import os

from rlab.bootstrap import setup_django

# One training run per GPU worker process: a second task must not start on a busy GPU.
DEFAULT_CONCURRENCY = 1


def worker_argv(queues: str, concurrency: int) -> list[str]:
    """Celery's worker arguments; every worker also consumes the scheduler's `maintenance` queue."""
    from rlab.celery import MAINTENANCE_QUEUE, app

    names = list(dict.fromkeys([*queues.split(","), MAINTENANCE_QUEUE]))
    argv = ["worker", "-Q", ",".join(names), "-c", str(concurrency), "--prefetch-multiplier", "1"]
    argv += ["-l", "INFO"]
    if app.conf.broker_url.startswith("filesystem"):
        # The filesystem transport has no broadcast: run without the cluster chatter that needs it.
        argv += ["--pool", "solo", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    return argv


class Worker:
    @staticmethod
    def register(subparsers) -> None:
        parser = subparsers.add_parser("worker", help="run a Celery worker")
        parser.add_argument("--queue", default="gpu,cpu", help="queues to consume, comma-separated")
        parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
        parser.set_defaults(run=Worker.run)

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        # Progress bars (model loading, shard writing) would fill each run's log with redrawn lines.
        os.environ.setdefault("TQDM_DISABLE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        setup_django()
        from rlab.celery import app

        app.worker_main(worker_argv(args.queue, args.concurrency))
        return 0
