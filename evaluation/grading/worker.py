"""Pool worker: one JSON task a line on stdin ({"kind", "gold", "pred", "precision"}), "1"/"0" a line out."""

import json
import os
import sys
import threading
import time


def _limit_memory(megabytes: int) -> None:
    """Cap the address space so a runaway sympy evaluation raises MemoryError instead of swapping."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (megabytes << 20, megabytes << 20))
    except (ImportError, ValueError, OSError):  # not available on this platform
        pass


def _exit_with_parent() -> None:
    """Die within a second of the parent, even in the middle of a long sympy computation."""
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(1)


def main() -> None:
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # stray prints from libraries must not corrupt the protocol
    if len(sys.argv) > 1 and int(sys.argv[1]) > 0:
        _limit_memory(int(sys.argv[1]))
    from evaluation.grading.registry import get_grader
    from evaluation.grading.symbolic import warm_up

    warm_up()
    os.dup2(devnull, 2)
    channel.write("ready\n")
    for line in iter(sys.stdin.readline, ""):
        task = json.loads(line)
        try:
            equal = get_grader(task["kind"]).full(task["gold"], task["pred"], task.get("precision"))
        except Exception:  # includes MemoryError and RecursionError: a failed check is "not equal"
            equal = False
        channel.write("1\n" if equal else "0\n")


if __name__ == "__main__":
    main()
