"""The Celery task that imports a large upload (rlab.catalog.background); sent by name from the web app."""

from celery import shared_task

from rlab.catalog.background import IMPORT_TASK, run_import


@shared_task(name=IMPORT_TASK)
def import_upload(job_id: int) -> str:
    return run_import(job_id)
