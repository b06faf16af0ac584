"""`rlab worker --queue gpu`: a Celery worker for one or more queues."""

import argparse
import os

from rlab.bootstrap import setup_django

# One training run per GPU worker process: a second task must not start on a busy GPU.
DEFAULT_CONCURRENCY = 1


def worker_argv(queues: str, concurrency: int, beat: bool = False) -> list[str]:
    from rlab.celery import app
    from rlab.paths import VAR_DIR

    argv = ["worker", "-Q", queues, "-c", str(concurrency), "--prefetch-multiplier", "1", "-l", "INFO"]
    if beat:
        argv += ["--beat", "--schedule", str(VAR_DIR / "celerybeat-schedule")]
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
        parser.add_argument(
            "--beat",
            action="store_true",
            help="also run the scheduler that re-queues runs whose worker died (one per site)",
        )
        parser.set_defaults(run=Worker.run)

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        # Progress bars (model loading, shard writing) would fill each run's log with redrawn lines.
        os.environ.setdefault("TQDM_DISABLE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        setup_django()
        from rlab.celery import app

        app.worker_main(worker_argv(args.queue, args.concurrency, args.beat))
        return 0
