"""`--wait`: follow runs until they finish."""

import time

from rlab.experiments.durations import format_duration

POLL_SECONDS = 1.0
FINISHED = ("succeeded", "failed", "cancelled")


def _statuses(run_ids: list[int], server: str | None, token: str | None) -> list[dict]:
    if server:
        from rlab.cli.remote import api_request

        return [api_request("GET", server, f"runs/{run_id}/", token) for run_id in run_ids]
    from rlab.experiments.api import queue_json, run_json
    from rlab.experiments.models import Run

    runs = Run.objects.filter(id__in=run_ids).select_related("team").order_by("id")
    return [run_json(run) | {"queue_wait": queue_json(run)} for run in runs]


def status_line(run: dict) -> str:
    """`run 3 NAME: running step 2/12`; a queued run's place and estimated wait; "?" for a step count the
    job has yet to learn (the SFT algorithms count their steps from the data)."""
    line = f"run {run['id']} {run['name']}: {run['status']} step {run['step']}/{run['total_steps'] or '?'}"
    if wait := run.get("queue_wait"):
        line += f" (number {wait['position']} in the {run['queue']} queue"
        line += (
            f", starts in about {format_duration(wait['seconds'])})" if wait["seconds"] is not None else ")"
        )
    return line


def wait_for_runs(
    run_ids: list[int], server: str | None = None, token: str | None = None, timeout: float | None = None
) -> int:
    """Print status changes until every run has finished; 0 when all succeeded, else 1."""
    seen: dict[int, tuple] = {}
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        runs = _statuses(run_ids, server, token)
        for run in runs:
            state = (
                run["status"],
                run["step"],
                run["total_steps"],
                (run.get("queue_wait") or {}).get("position"),
            )
            if seen.get(run["id"]) != state:
                seen[run["id"]] = state
                print(status_line(run))
        if all(run["status"] in FINISHED for run in runs):
            return 0 if all(run["status"] == "succeeded" for run in runs) else 1
        if deadline is not None and time.monotonic() > deadline:
            print("timed out waiting for the runs")
            return 1
        time.sleep(POLL_SECONDS)
