"""Which job executes a run: its algorithm's job in the task's own process, or, when the spec asks for
`resources.processes` > 1, torchrun starting that many data-parallel processes (workers.distributed_run).

torchrun, not `accelerate launch`: our trainer is its own loop on plain torch (no `Accelerator`), so
accelerate's launcher would only forward to torchrun's machinery and add a config file to keep in step.
torchrun ships with torch, picks a free rendezvous port with `--standalone`, sets RANK / WORLD_SIZE /
LOCAL_RANK, and takes every process down when one fails (a rank waiting in a collective would hang).
"""

import ctypes
import logging
import os
import signal
import subprocess
import sys
from collections import deque
from collections.abc import Callable
from functools import partial
from pathlib import Path

import rlab
import workers
from training.algorithms import algorithms, get_algorithm
from workers.reporting import RunCancelled, RunReporter
from workers.training_job import training_job

logger = logging.getLogger(__name__)

Job = Callable[[RunReporter], None]
OUTPUT_TAIL_LINES = 60  # of the processes' output, kept for the run's error message
PR_SET_PDEATHSIG = 1
# Looked up here, not in the forked child: the child of a threaded process (the heartbeat) must not load
# libraries before its exec.
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None


class DataParallelRunFailed(RuntimeError):
    """torchrun exited with an error: a rank failed (its traceback is in the message and in run.log)."""


def job_for(config: dict) -> Job:
    """The job that executes a run with this spec (`Run.config`)."""
    algorithm = get_algorithm(config["algorithm"]["name"])
    processes = config["resources"].get("processes") or 1
    if processes == 1:
        return training_job
    if not algorithm.data_parallel:
        return partial(_single_process_only, algorithm=algorithm.name)
    return partial(launch_data_parallel, processes=processes)


def _single_process_only(reporter: RunReporter, algorithm: str) -> None:
    parallel = sorted(a.name for a in algorithms().values() if a.data_parallel)
    raise ValueError(
        f"resources.processes: algorithm {algorithm!r} trains in one process; "
        f"data parallel is available for {parallel}"
    )


def rank_error_path(artifact_dir: Path, rank: int) -> Path:
    """Where a failing rank leaves its error for the launcher."""
    return artifact_dir / f"rank-{rank}.error"


def first_rank_error(artifact_dir: Path) -> str | None:
    """The error of the rank that failed first (the others usually fail because it did); the error files
    are removed, so that a retry starts clean."""
    paths = sorted(artifact_dir.glob("rank-*.error"), key=lambda path: path.stat().st_mtime)
    errors = [f"{path.stem} failed: {path.read_text()}" for path in paths]
    for path in paths:
        path.unlink()
    return errors[0] if errors else None


def torchrun_command(run_id: int, processes: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={processes}",
        "-m",
        "workers.distributed_run",
        str(run_id),
    ]


def launch_data_parallel(reporter: RunReporter, processes: int) -> None:
    """Run torchrun as a child process, copy its output into run.log line by line, and turn its exit into
    the run's outcome: an error status fails the run; a clean exit with the run's cancel flag set before its
    last step is a cancellation (rank 0 checks the flag before every step and stops all ranks)."""
    command = torchrun_command(reporter.run.pk, processes)
    logger.info("launching %d data-parallel processes: %s", processes, " ".join(command))
    tail: deque[str] = deque(maxlen=OUTPUT_TAIL_LINES)
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_child_environment(),
        preexec_fn=_end_with_parent,
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            tail.append(line.rstrip())
            logger.info("%s", tail[-1])
    first_error = first_rank_error(reporter.artifact_dir)
    if process.returncode:
        output = "\n".join(tail)
        cause = f"{first_error}\n" if first_error else ""
        raise DataParallelRunFailed(
            f"{cause}torchrun exited with status {process.returncode}; its last output:\n{output}"
        )
    run = reporter.run
    run.refresh_from_db(fields=["cancel_requested", "step"])
    if run.cancel_requested and run.step < reporter.config["train"]["steps"]:
        raise RunCancelled


def _child_environment() -> dict[str, str]:
    """The worker's environment, with our packages importable and output unbuffered (streamed to run.log)."""
    roots = [str(Path(module.__file__).resolve().parents[1]) for module in (workers, rlab)]
    path = os.pathsep.join([*roots, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {
        **os.environ,
        "PYTHONPATH": path,
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "rlab.settings"),
    }


def _end_with_parent() -> None:
    """In the child, before exec: a SIGTERM when the worker dies, so torchrun stops its ranks instead of
    training on (and reporting) beside the worker that resumes the run."""
    if _prctl is not None:
        _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
