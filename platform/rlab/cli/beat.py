"""`rlab beat`: the site's one scheduler, a process of its own.

It sends the periodic checks (runs and evaluations whose worker died, settings.CELERY_BEAT_SCHEDULE) to the
`maintenance` queue, which every worker consumes beside its own, with an expiry of one check interval, so
that checks never wait behind training runs nor pile up. Exactly one may run per site: it holds a lock for
its lifetime (a PostgreSQL advisory lock, or a file lock on the embedded SQLite site) and a second one
exits with a message.
"""

import argparse
import fcntl
from collections.abc import Iterator
from contextlib import contextmanager

from rlab.bootstrap import setup_django
from rlab.cli.common import CommandError

ADVISORY_LOCK_KEY = 0x726C6162  # "rlab"


@contextmanager
def scheduler_lock() -> Iterator[None]:
    """Held while the scheduler runs; CommandError when another scheduler holds it."""
    from django.db import connection

    from rlab.paths import VAR_DIR

    taken = CommandError("another `rlab beat` already runs for this site; exactly one scheduler may run")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
            if not cursor.fetchone()[0]:
                raise taken
        yield  # the session's lock goes with its connection, which lives as long as this process
        return
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    with (VAR_DIR / "beat.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise taken from None
        yield


def beat_argv() -> list[str]:
    from rlab.paths import VAR_DIR

    return ["beat", "-l", "INFO", "--schedule", str(VAR_DIR / "celerybeat-schedule")]


class Beat:
    @staticmethod
    def register(subparsers) -> None:
        parser = subparsers.add_parser(
            "beat", help="run the scheduler that re-sends the work of dead workers (one per site)"
        )
        parser.set_defaults(run=Beat.run)

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        setup_django()
        from rlab.celery import app, ensure_broker_folders

        with scheduler_lock():
            ensure_broker_folders()
            app.start(beat_argv())
        return 0
