"""`python -m workers.distributed_run RUN_ID`: one data-parallel process of a run, started by torchrun
(workers/launch.py) with RANK / WORLD_SIZE / LOCAL_RANK in its environment.

Every rank reads the run's row (its config) and runs the algorithm's training job with its rank; inside the
job rank 0 alone reads the examples and reports through the ORM (metrics, checkpoints, evaluations, the
cancel flag), and the other ranks close their database connection before training. Exit status: 0 when
training ended or was cancelled, 1 with a traceback when it failed.
"""

import argparse
import faulthandler
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> int:
    # A rank that dies in native code (SIGABRT, SIGSEGV) prints where in Python it was into run.log.
    faulthandler.enable(all_threads=True)
    parser = argparse.ArgumentParser(prog="python -m workers.distributed_run")
    parser.add_argument("run_id", type=int)
    run_id = parser.parse_args(argv).run_id
    from rlab.bootstrap import setup_django

    setup_django()
    rank = int(os.environ.get("RANK", "0"))
    # After Django's logging set-up, which it replaces: rank 0 logs what a single-process run logs, the other
    # ranks only what goes wrong. The launcher copies these lines into run.log.
    logging.basicConfig(
        level=logging.INFO if rank == 0 else logging.WARNING,
        format=f"[rank {rank}] %(levelname)s %(name)s: %(message)s",
        stream=sys.stdout,
        force=True,
    )
    from django.db import connection

    from rlab.experiments.models import Run
    from training.distributed import close, init_from_env
    from workers.launch import rank_error_path
    from workers.reporting import RunCancelled, RunReporter
    from workers.training_job import training_job

    distributed = init_from_env()
    run = Run.objects.select_related("team").get(pk=run_id)
    try:
        if not distributed.is_main:
            connection.close()
        training_job(RunReporter(run, Path(run.artifact_dir)), distributed)
    except RunCancelled:
        logger.info("run %s stopped: cancelled", run_id)
    except Exception as error:
        # The launcher names the first failing rank's error: torchrun's own report of the ranks it then
        # stopped would otherwise bury it.
        rank_error_path(Path(run.artifact_dir), rank).write_text(f"{type(error).__name__}: {error}")
        raise
    finally:
        close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
