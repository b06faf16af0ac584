"""Imports of large uploads by a worker: the web request stores the file and queues a task; the worker
imports it all or nothing (rlab.catalog.importing) and the import's page shows its progress meanwhile.

The rows are saved in one database transaction, which the web process cannot see into; so the worker
writes its progress to a small file beside the stored upload (the folder that web and workers share).
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from pathlib import Path

from django.conf import settings
from django.core.files.move import file_move_safe
from django.core.files.uploadedfile import TemporaryUploadedFile, UploadedFile
from django.db import transaction
from django.utils import timezone

from rlab.catalog.importing import MAX_ERRORS_SHOWN, FieldMapping, ImportFailed, import_dataset
from rlab.catalog.models import ImportJob

logger = logging.getLogger(__name__)

IMPORT_TASK = "workers.import_tasks.import_upload"
UPLOAD_SUBDIR = "uploads"


def upload_dir() -> Path:
    return Path(settings.RLAB_DATA_DIR) / UPLOAD_SUBDIR


def imports_in_background(upload: UploadedFile) -> bool:
    return upload.size > settings.RLAB_INLINE_IMPORT_BYTES


def _progress_file(job: ImportJob) -> Path:
    return Path(job.stored_path + ".progress")


def read_progress(job: ImportJob) -> float:
    """The share of the file the worker has read (0 to 1); 0 before it starts, 1 once finished."""
    if job.is_finished:
        return 1.0
    try:
        return float(_progress_file(job).read_text())
    except (OSError, ValueError):  # not written yet, or being replaced
        return 0.0


def _write_progress(job: ImportJob, fraction: float) -> None:
    target = _progress_file(job)
    partial = target.with_name(target.name + ".tmp")
    partial.write_text(f"{fraction:.4f}")
    os.replace(partial, target)  # the page never reads a half-written number


def _store(upload: UploadedFile) -> Path:
    folder = upload_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{uuid.uuid4().hex}{Path(upload.name).suffix.lower()}"
    if isinstance(upload, TemporaryUploadedFile):  # already on disk: moved, not copied, where it can be
        file_move_safe(upload.temporary_file_path(), target)
        return target
    upload.seek(0)
    with open(target, "wb") as stored:
        shutil.copyfileobj(upload, stored, 1024 * 1024)
    return target


def queue_import(
    *, team, user, upload: UploadedFile, name: str, mapping: FieldMapping, licence_note: str = ""
) -> ImportJob:
    """Store the upload and queue its import; the task is sent once the job's row is committed."""
    from rlab.celery import app

    stored = _store(upload)
    job = ImportJob.objects.create(
        team=team,
        created_by=user,
        name=name,
        filename=Path(upload.name).name,
        size=upload.size,
        stored_path=str(stored),
        mapping=vars(mapping),
        licence_note=licence_note,
    )
    transaction.on_commit(lambda: app.send_task(IMPORT_TASK, args=[job.pk], queue="cpu"))
    return job


def run_import(job_id: int) -> str:
    """The worker's side: import the stored file, record how it ended, delete the stored copy.

    A job whose worker died mid-import is delivered again (late acknowledgement) while still running:
    its transaction was rolled back with the worker, so it starts over."""
    claimed = ImportJob.objects.filter(
        pk=job_id, status__in=[ImportJob.Status.QUEUED, ImportJob.Status.RUNNING]
    ).update(status=ImportJob.Status.RUNNING)
    if not claimed:
        return "skipped"
    job = ImportJob.objects.select_related("team", "created_by").get(pk=job_id)
    stored = Path(job.stored_path)
    outcome: dict = {"status": ImportJob.Status.FAILED}
    try:
        dataset = import_dataset(
            team=job.team,
            name=job.name,
            filename=job.filename,
            data=stored,
            mapping=FieldMapping(**job.mapping),
            user=job.created_by,
            licence_note=job.licence_note,
            progress=lambda fraction: _write_progress(job, fraction),
        )
    except ImportFailed as failed:
        outcome["row_errors"] = [[e.line, e.message] for e in failed.errors[:MAX_ERRORS_SHOWN]]
        outcome["n_errors"] = failed.total
    except FileNotFoundError:
        outcome["row_errors"] = [[0, "the stored upload is gone (was the folder shared with the worker?)"]]
        outcome["n_errors"] = 1
    except Exception as error:
        logger.exception("import %s of %s failed", job.pk, job.filename)
        outcome["row_errors"] = [[0, f"the import stopped with an internal error: {error}"]]
        outcome["n_errors"] = 1
    else:
        outcome = {"status": ImportJob.Status.SUCCEEDED, "dataset": dataset}
    ImportJob.objects.filter(pk=job.pk).update(finished_at=timezone.now(), **outcome)
    for path in (stored, _progress_file(job)):
        path.unlink(missing_ok=True)
    return outcome["status"]
