"""Helpers shared by the subcommands."""

from collections.abc import Iterable, Sequence
from pathlib import Path

from rlab.bootstrap import setup_django

INVALID_INPUT = 2
FAILED = 1


class CommandError(Exception):
    """A failure to report as one clear line, with the exit code to use."""

    def __init__(self, message: str, exit_code: int = FAILED):
        super().__init__(message)
        self.exit_code = exit_code


def open_database() -> None:
    """Set Django up and check that the database answers and has every table, so that a fresh or unreachable
    database is one clear line instead of a traceback."""
    setup_django()
    from django.db import DatabaseError, connection
    from django.db.migrations.executor import MigrationExecutor

    name = connection.settings_dict["NAME"]
    try:
        executor = MigrationExecutor(connection)
        unapplied = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise CommandError(f"cannot use the database {name}: {reason}") from None
    if unapplied:
        raise CommandError(
            f"the database {name} is not set up ({len(unapplied)} migrations not applied): "
            "start the server once with `rlab serve`, which applies them"
        )


def print_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """Columns padded to their widest cell, two spaces apart."""
    lines = [tuple(header), *(tuple(row) for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())


def read_text_file(path: str) -> str:
    file = Path(path)
    if not file.is_file():
        raise CommandError(f"{path}: no such file", INVALID_INPUT)
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CommandError(f"{path}: not a UTF-8 text file", INVALID_INPUT) from None
