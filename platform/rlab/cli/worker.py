"""`rlab worker --queue gpu`: a Celery worker for one or more queues, registered as a worker node.

A gpu worker runs as many jobs at once as it has devices (RLAB_GPUS, else what nvidia-smi lists), each on its
own GPUs (workers.placement), each in a fresh pool process; a worker without devices runs one job at a time.
"""

import argparse
import os

from rlab.bootstrap import setup_django
from rlab.cli.common import INVALID_INPUT, CommandError


def worker_argv(queues: list[str], concurrency: int, fresh_process_per_task: bool = False) -> list[str]:
    """Celery's worker arguments; every worker also consumes the scheduler's `maintenance` queue.
    `fresh_process_per_task`: CUDA reads CUDA_VISIBLE_DEVICES once per process, so a process that ran a
    job on some GPUs must not run the next job on others."""
    from rlab.celery import MAINTENANCE_QUEUE, app

    names = list(dict.fromkeys([*queues, MAINTENANCE_QUEUE]))
    argv = ["worker", "-Q", ",".join(names), "-c", str(concurrency), "--prefetch-multiplier", "1"]
    argv += ["-l", "INFO"]
    if fresh_process_per_task:
        argv += ["--max-tasks-per-child", "1"]
    if app.conf.broker_url.startswith("filesystem"):
        # The filesystem transport has no broadcast: run without the cluster chatter that needs it.
        argv += ["--pool", "solo", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    return argv


class Worker:
    @staticmethod
    def register(subparsers) -> None:
        parser = subparsers.add_parser("worker", help="run a Celery worker")
        parser.add_argument("--queue", default="gpu,cpu", help="queues to consume, comma-separated")
        parser.add_argument(
            "--concurrency",
            type=int,
            help="jobs at once (default: one per device of a gpu worker, else 1)",
        )
        parser.set_defaults(run=Worker.run)

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        # Progress bars (model loading, shard writing) would fill each run's log with redrawn lines.
        os.environ.setdefault("TQDM_DISABLE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        setup_django()
        from rlab.celery import app
        from workers.devices import DeviceSettingError
        from workers.node import install, register_node

        queues = [name.strip() for name in args.queue.split(",") if name.strip()]
        try:
            node = register_node(queues)
        except DeviceSettingError as error:
            raise CommandError(str(error), INVALID_INPUT) from None
        devices = len(node.devices)
        concurrency = args.concurrency or max(devices, 1)
        print(f"worker {node.name}: queues {args.queue}, {devices} device(s), {concurrency} job(s) at once")
        install(app)
        app.worker_main(worker_argv(queues, concurrency, fresh_process_per_task=devices > 0))
        return 0
