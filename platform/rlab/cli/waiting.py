"""`--wait`: follow runs until they finish."""

import time

POLL_SECONDS = 1.0
FINISHED = ("succeeded", "failed", "cancelled")


def _statuses(run_ids: list[int], server: str | None, token: str | None) -> list[dict]:
    if server:
        from rlab.cli.remote import api_request

        return [api_request("GET", server, f"runs/{run_id}/", token) for run_id in run_ids]
    from rlab.experiments.api import run_json
    from rlab.experiments.models import Run

    return [run_json(run) for run in Run.objects.filter(id__in=run_ids).select_related("team").order_by("id")]


def wait_for_runs(
    run_ids: list[int], server: str | None = None, token: str | None = None, timeout: float | None = None
) -> int:
    """Print status changes until every run has finished; 0 when all succeeded, else 1."""
    seen: dict[int, tuple] = {}
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        runs = _statuses(run_ids, server, token)
        for run in runs:
            state = (run["status"], run["step"])
            if seen.get(run["id"]) != state:
                seen[run["id"]] = state
                print(
                    f"run {run['id']} {run['name']}: {run['status']} step {run['step']}/{run['total_steps']}"
                )
        if all(run["status"] in FINISHED for run in runs):
            return 0 if all(run["status"] == "succeeded" for run in runs) else 1
        if deadline is not None and time.monotonic() > deadline:
            print("timed out waiting for the runs")
            return 1
        time.sleep(POLL_SECONDS)
