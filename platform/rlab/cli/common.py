"""Helpers shared by the subcommands."""

from pathlib import Path

INVALID_INPUT = 2
FAILED = 1


class CommandError(Exception):
    """A failure to report as one clear line, with the exit code to use."""

    def __init__(self, message: str, exit_code: int = FAILED):
        super().__init__(message)
        self.exit_code = exit_code


def read_text_file(path: str) -> str:
    file = Path(path)
    if not file.is_file():
        raise CommandError(f"{path}: no such file", INVALID_INPUT)
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CommandError(f"{path}: not a UTF-8 text file", INVALID_INPUT) from None
