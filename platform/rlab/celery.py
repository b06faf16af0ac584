"""The Celery app. Workers import `workers.tasks`; the web process only sends tasks by name."""

import os
from pathlib import Path

from celery import Celery
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rlab.settings")

MAINTENANCE_QUEUE = "maintenance"  # the scheduler's checks (rlab beat); every worker consumes it
QUEUES = ("gpu", "cpu", MAINTENANCE_QUEUE)
# Message priorities on one queue (Redis: 0 is served first; kombu's steps are 0, 3, 6, 9): a checkpoint's
# evaluation goes ahead of training runs that were queued before it, and runs keep their FIFO order among
# themselves. The filesystem transport of `make demo` has no priorities.
EVALUATION_PRIORITY = 0
RUN_PRIORITY = 6

app = Celery("rlab", include=["workers.tasks", "workers.import_tasks"])
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    # Each queue gets its own direct exchange; otherwise Celery binds them all to the default queue's.
    task_queues=[Queue(name, Exchange(name, type="direct"), routing_key=name) for name in QUEUES],
    task_default_queue="cpu",
    # A run is acknowledged only when its task returns, so a killed worker's run is delivered again.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


def ensure_broker_folders() -> None:
    """The filesystem transport needs its folders before the first message."""
    options = app.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "control_folder"):
        if folder := options.get(key):
            Path(folder).mkdir(parents=True, exist_ok=True)


ensure_broker_folders()
