"""Each run's files live under RLAB_ARTIFACT_DIR/<team>/<run>/: checkpoints, samples and run.log.

A write that fails for want of space or rights (disk full, quota, permission denied, read-only file system,
the file-size limit) fails the run with a message naming the path and the cause (`storage_failure`), not a
traceback."""

import errno
import logging
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from rlab.experiments.models import Run

LOG_NAME = "run.log"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

STORAGE_CAUSES = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "read-only file system",
    errno.EFBIG: "file too large (file-size limit)",
}
# Libraries that write through their own I/O (safetensors, torch) report the OS error only in their text.
_ERRNO_IN_TEXT = re.compile(r"os error (\d+)|\[Errno (\d+)\]")


class ArtifactError(RuntimeError):
    """The run's artifact folder cannot be created or written (permissions, full disk)."""


def _chain(error: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def _storage_errno(error: BaseException) -> int | None:
    if isinstance(error, OSError) and error.errno in STORAGE_CAUSES:
        return error.errno
    match = _ERRNO_IN_TEXT.search(str(error))
    code = int(match.group(1) or match.group(2)) if match else None
    return code if code in STORAGE_CAUSES else None


def storage_failure(error: BaseException, path: Path | None = None) -> str | None:
    """'disk full: cannot write <path> (No space left on device)' when `error` (or what caused it) is a
    storage error, else None. The path: `path`, else the first one the chain names (an OSError's filename,
    a CheckpointWriteError's checkpoint)."""
    code = None
    for link in _chain(error):
        path = path or getattr(link, "filename", None) or getattr(link, "path", None)
        code = code or _storage_errno(link)
    if code is None:
        return None
    where = f" {path}" if path else ""
    return f"{STORAGE_CAUSES[code]}: cannot write{where} ({errno.errorcode[code]}: {os.strerror(code)})"


class StorageError(ArtifactError):
    """A run's file could not be written for want of space or rights; the message says which and why."""


@contextmanager
def writing(path: Path) -> Iterator[Path]:
    """Turn a storage error while writing `path` into a StorageError naming it."""
    try:
        yield path
    except Exception as error:
        if (message := storage_failure(error, path)) is None:
            raise
        raise StorageError(message) from error


def run_artifact_dir(run: Run) -> Path:
    return Path(settings.RLAB_ARTIFACT_DIR) / run.team.slug / run.name


def prepare_artifact_dir(run: Run) -> Path:
    directory = run_artifact_dir(run)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / LOG_NAME).touch()
    except OSError as error:
        raise ArtifactError(
            storage_failure(error, directory)
            or f"cannot write the run's artifacts under {directory}: {error.strerror}"
        ) from error
    if run.artifact_dir != str(directory):
        Run.objects.filter(pk=run.pk).update(artifact_dir=str(directory))
        run.artifact_dir = str(directory)
    return directory


class RunLogHandler(logging.FileHandler):
    """The run's log file. A record that cannot be written (full disk) is kept in `failure` once, instead of
    a traceback on stderr for every record; the task fails the run with it."""

    failure: str | None = None

    def handleError(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        if self.failure is None and error is not None:
            self.failure = storage_failure(error, Path(self.baseFilename)) or (
                f"cannot write {self.baseFilename}: {error}"
            )


@contextmanager
def run_log(directory: Path) -> Iterator[RunLogHandler]:
    """Copy every log record emitted while the job runs into the run's run.log (appending on resume)."""
    handler = RunLogHandler(directory / LOG_NAME, encoding="utf-8")
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    previous_level = root.level
    root.setLevel(min(previous_level, logging.INFO) if previous_level else logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
        try:
            handler.close()
        except OSError as error:  # the last records could not be flushed
            handler.failure = handler.failure or storage_failure(error, directory / LOG_NAME)
