"""A queued run's place in its queue and its estimated wait (rlab.experiments.queue_wait), on the page, in
the API and in `--wait`'s status line."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from rlab.cli.waiting import status_line
from rlab.experiments.api import queue_json, run_json
from rlab.experiments.models import Run
from rlab.experiments.queue_wait import queue_wait
from rlab.teams.models import Team
from tests.platform.conftest import logged_in, make_unqueued_run

pytestmark = pytest.mark.django_db

SPEC = """
name: wait-{}
model: {{id: smollm2-135m-instruct}}
data: {{dataset: numbers, examples: [0]}}
train: {{steps: 40}}
eval: {{suite: [arith]}}
resources: {{queue: cpu, gpus: 0}}
"""


def run_of(team: Team, name: str, **fields) -> Run:
    run = make_unqueued_run(team, SPEC.format(name))
    Run.objects.filter(pk=run.pk).update(**fields)
    run.refresh_from_db()
    return run


def finished(team: Team, name: str, seconds: float, now) -> Run:
    start = now - timedelta(hours=1)
    return run_of(
        team, name, status="succeeded", started_at=start, finished_at=start + timedelta(seconds=seconds)
    )


def test_no_estimate_until_a_run_of_the_queue_has_finished(team_a):
    queued = run_of(team_a, "a")
    wait = queue_wait(queued, timezone.now())
    assert (wait.position, wait.seconds) == (1, None)
    assert "no run of the cpu queue has finished" in wait.basis
    assert queue_wait(run_of(team_a, "b", status="running"), timezone.now()) is None


def test_the_wait_is_the_running_runs_time_left_plus_a_median_run_per_run_ahead(team_a):
    """Hand-computed: finished runs of 100 s, 300 s and 200 s (median 200 s); one run started 50 s ago
    at 25% (its ETA: 50 × 0.75 / 0.25 = 150 s); two runs queued before ours. Wait = (150 + 2 × 200) / 1
    run at once = 550 s."""
    now = timezone.now()
    for name, seconds in (("f1", 100), ("f2", 300), ("f3", 200)):
        finished(team_a, name, seconds, now)
    run_of(team_a, "running", status="running", progress=0.25, started_at=now - timedelta(seconds=50))
    first, second = run_of(team_a, "q1"), run_of(team_a, "q2")
    ours = run_of(team_a, "ours")
    wait = queue_wait(ours, now)
    assert wait.position == 3
    assert wait.seconds == pytest.approx(550, abs=1)
    assert "median duration of the last 3 finished runs of the cpu queue" in wait.basis
    assert queue_wait(first, now).seconds == pytest.approx(150, abs=1)
    # another run at once halves the work per slot; a run of the queue that just started counts its
    # typical duration less what it has run
    run_of(team_a, "running2", status="running", progress=0.0, started_at=now - timedelta(seconds=20))
    assert queue_wait(second, now).seconds == pytest.approx((150 + 180 + 200) / 2, abs=1)


def test_runs_of_the_same_spec_estimate_before_the_queue(team_a):
    now = timezone.now()
    finished(team_a, "other", 1000, now)
    same = finished(team_a, "same", 60, now)
    queued = make_unqueued_run(team_a, SPEC.format("x"))
    Run.objects.filter(pk=queued.pk).update(spec=same.spec)
    run_of(team_a, "ahead")
    Run.objects.filter(pk=queued.pk).update(created_at=timezone.now())
    queued.refresh_from_db()
    wait = queue_wait(queued, now)
    assert wait.seconds == pytest.approx(60, abs=1) and "of this spec" in wait.basis


def test_the_page_the_api_and_the_cli_say_the_estimate(alice, team_a):
    now = timezone.now()
    finished(team_a, "f", 125, now)
    run_of(team_a, "ahead")
    ours = run_of(team_a, "ours")
    body = logged_in(alice).get(reverse("experiments:run_detail", args=[ours.pk])).content.decode()
    assert "number 2 in the cpu queue" in body and "starts in about 2 min 05 s" in body
    shown = run_json(ours) | {"queue_wait": queue_json(ours)}
    assert shown["queue_wait"]["position"] == 2 and shown["queue_wait"]["seconds"] == pytest.approx(125, 1)
    expected = "queued step 0/40 (number 2 in the cpu queue, starts in about 2 min 05 s)"
    assert status_line(shown).endswith(expected)
    assert status_line(run_json(ours) | {"total_steps": 0}) == f"run {ours.pk} {ours.name}: queued step 0/?"
