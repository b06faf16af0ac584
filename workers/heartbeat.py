"""A background heartbeat: a run (or an evaluation) inside one long step still shows its worker is alive."""

import threading
from types import TracebackType

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone


class Heartbeat:
    """Writes `heartbeat_at` of `rows` (e.g. the running run) every `interval` seconds while the `with`
    block runs."""

    def __init__(self, rows: QuerySet, interval: float | None = None):
        self.rows = rows
        self.interval = interval or settings.RLAB_HEARTBEAT_SECONDS
        self._stop = threading.Event()
        name = f"heartbeat-{rows.model.__name__}"
        self._thread = threading.Thread(target=self._beat, name=name, daemon=True)

    def _beat(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                self.rows.update(heartbeat_at=timezone.now())
        finally:
            connection.close()  # this thread's own database connection

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)
