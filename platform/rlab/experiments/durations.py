"""Time left and durations as the pages and the CLI say them; free of Django so the CLI's remote mode can
use them."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rlab.experiments.models import Run

RUNNING = "running"  # Run.Status.RUNNING


def eta_seconds(run: Run, now: datetime) -> float | None:
    """Time left at the rate so far; None unless the run is running and part-way."""
    if run.status != RUNNING or run.started_at is None or not 0 < run.progress < 1:
        return None
    elapsed = (now - run.started_at).total_seconds()
    return elapsed * (1 - run.progress) / run.progress


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = max(int(seconds), 0)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
