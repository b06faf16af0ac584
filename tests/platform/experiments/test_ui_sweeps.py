"""The sweep page: a submission's runs as a group, cancel-all and retry-failed (web and API), links to its
reports, and links to it from the run list, the run page and the spec page; scoped to the user's teams."""

import json

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from rlab.experiments.models import Run, Sweep
from rlab.experiments.submission import submit_spec
from rlab.teams.models import APIToken
from tests.platform.conftest import logged_in, make_dataset

pytestmark = pytest.mark.django_db

SPEC = """
name: pi-sweep
model: {id: smollm2-135m-instruct}
data: {dataset: numbers}
train: {steps: 40}
eval: {suite: [arith]}
resources: {queue: cpu, gpus: 0}
sweep: {data.examples: [[0], [1], [2]]}
"""


@pytest.fixture
def sweep(team_a, alice) -> Sweep:
    make_dataset(team_a, "numbers")
    return submit_spec(team_a, alice, SPEC)


@pytest.fixture
def foreign_sweep(team_b, bob) -> Sweep:
    make_dataset(team_b, "numbers")
    return submit_spec(team_b, bob, SPEC)


def runs_of(sweep: Sweep) -> list[Run]:
    return list(sweep.runs.order_by("point_index"))


def set_status(run: Run, status: str) -> None:
    finished_at = timezone.now() if status in Run.FINISHED else None
    Run.objects.filter(pk=run.pk).update(status=status, finished_at=finished_at)


def test_sweep_page_lists_its_runs_and_links_its_reports(alice, sweep):
    body = logged_in(alice).get(reverse("experiments:sweep_detail", args=[sweep.pk])).content.decode()
    for run in runs_of(sweep):
        assert reverse("experiments:run_detail", args=[run.pk]) in body
    assert "<code>data.examples=[1]</code>" in body and "3</strong> runs" in body
    assert reverse("results:ablation", args=[sweep.pk]) in body
    assert reverse("results:example_comparison", args=[sweep.pk]) in body
    assert 'hx-trigger="every 3s"' in body and "Cancel all" in body and "Retry failed" not in body


def test_the_1shot_comparison_is_linked_only_for_a_sweep_over_examples(alice, team_a, sweep):
    seeds = submit_spec(team_a, alice, SPEC.replace("data.examples: [[0], [1], [2]]", "train.seed: [1, 2]"))
    body = logged_in(alice).get(reverse("experiments:sweep_detail", args=[seeds.pk])).content.decode()
    assert reverse("results:ablation", args=[seeds.pk]) in body
    assert reverse("results:example_comparison", args=[seeds.pk]) not in body


def test_cancel_all_cancels_queued_runs_at_once_and_flags_running_ones(alice, sweep):
    done, running, queued = runs_of(sweep)
    set_status(done, Run.Status.SUCCEEDED)
    set_status(running, Run.Status.RUNNING)
    response = logged_in(alice).post(reverse("experiments:sweep_cancel", args=[sweep.pk]))
    assert response.url == reverse("experiments:sweep_detail", args=[sweep.pk])
    for run in (done, running, queued):
        run.refresh_from_db()
    assert (done.status, done.cancel_requested) == ("succeeded", False)
    assert (running.status, running.cancel_requested) == ("running", True)
    assert (queued.status, queued.cancel_requested) == ("cancelled", True) and queued.finished_at


def test_retry_queues_failed_and_cancelled_points_as_one_new_sweep(alice, sweep):
    ok, failed, cancelled = runs_of(sweep)
    set_status(ok, Run.Status.SUCCEEDED)
    set_status(failed, Run.Status.FAILED)
    set_status(cancelled, Run.Status.CANCELLED)
    client = logged_in(alice)
    response = client.post(reverse("experiments:sweep_retry", args=[sweep.pk]))
    retry = Sweep.objects.exclude(pk=sweep.pk).get()
    assert response.url == reverse("experiments:sweep_detail", args=[retry.pk])
    retried = runs_of(retry)
    assert [(r.point_index, r.coordinates, r.config, r.status) for r in retried] == [
        (old.point_index, old.coordinates, old.config, "queued") for old in (failed, cancelled)
    ]
    assert retry.spec == sweep.spec and Run.objects.count() == 5
    body = client.get(response.url).content.decode()
    assert "Queued 2 runs again" in body and reverse("experiments:sweep_detail", args=[sweep.pk]) in body
    for run in retried:
        set_status(run, Run.Status.SUCCEEDED)
    client.post(reverse("experiments:sweep_retry", args=[retry.pk]))
    assert Sweep.objects.count() == 2  # nothing left to retry: no empty sweep


def test_finished_sweep_stops_polling_and_offers_retry(alice, sweep):
    for run in runs_of(sweep):
        set_status(run, Run.Status.FAILED)
    url = reverse("experiments:sweep_detail", args=[sweep.pk])
    partial = logged_in(alice).get(url, headers={"HX-Request": "true"}).content.decode()
    assert partial.startswith('<div id="sweep-runs"') and "<html" not in partial
    assert "hx-trigger" not in partial and "Retry failed/cancelled" in partial and "Cancel all" not in partial


def test_run_list_run_page_and_spec_page_link_the_sweep(alice, sweep):
    client = logged_in(alice)
    url = reverse("experiments:sweep_detail", args=[sweep.pk])
    run = runs_of(sweep)[0]
    assert url in client.get(reverse("experiments:run_list")).content.decode()
    assert url in client.get(reverse("experiments:run_detail", args=[run.pk])).content.decode()
    assert url in client.get(reverse("experiments:spec_detail", args=[sweep.spec_id])).content.decode()


def test_sweep_page_queries_stay_bounded(alice, team_a, sweep, django_assert_max_num_queries):
    seeds = ", ".join(map(str, range(60)))
    big = submit_spec(team_a, alice, SPEC.replace("data.examples: [[0], [1], [2]]", f"train.seed: [{seeds}]"))
    client = logged_in(alice)
    with django_assert_max_num_queries(9):
        response = client.get(reverse("experiments:sweep_detail", args=[big.pk]))
    assert len(response.context["runs"]) == 60
    with django_assert_max_num_queries(7):
        client.get(reverse("experiments:sweep_detail", args=[big.pk]), headers={"HX-Request": "true"})


SWEEP_URLS = [
    ("get", "experiments:sweep_detail"),
    ("post", "experiments:sweep_cancel"),
    ("post", "experiments:sweep_retry"),
]


def test_another_teams_sweep_is_404_everywhere(alice, foreign_sweep):
    set_status(runs_of(foreign_sweep)[0], Run.Status.FAILED)
    client = logged_in(alice)
    for method, name in SWEEP_URLS:
        assert getattr(client, method)(reverse(name, args=[foreign_sweep.pk])).status_code == 404, name
    assert Sweep.objects.count() == 1 and not Run.objects.filter(cancel_requested=True).exists()


@pytest.mark.parametrize(("method", "name"), SWEEP_URLS)
def test_sweep_pages_need_login(sweep, method, name):
    response = getattr(Client(), method)(reverse(name, args=[sweep.pk]))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_sweep_buttons_need_csrf(alice, sweep):
    set_status(runs_of(sweep)[0], Run.Status.FAILED)
    client = logged_in(alice, enforce_csrf_checks=True)
    for name in ("experiments:sweep_cancel", "experiments:sweep_retry"):
        assert client.post(reverse(name, args=[sweep.pk])).status_code == 403, name
    assert Sweep.objects.count() == 1 and not Run.objects.filter(cancel_requested=True).exists()


def api_post(url: str, key: str | None):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return Client(enforce_csrf_checks=True).post(url, headers=headers)


def test_api_cancels_and_retries_a_sweep(alice, sweep):
    _, key = APIToken.issue(alice)
    response = api_post(reverse("api:sweep_cancel", args=[sweep.pk]), key)
    assert response.status_code == 200 and response.json()["cancelled"] == 3
    assert [r["status"] for r in response.json()["runs"]] == ["cancelled"] * 3
    response = api_post(reverse("api:sweep_retry", args=[sweep.pk]), key)
    body = response.json()
    assert response.status_code == 201 and body["retry_of"] == sweep.pk
    assert [r["status"] for r in body["runs"]] == ["queued"] * 3 and body[
        "url"
    ] == f"/sweeps/{body['sweep']}/"
    retry_again = api_post(reverse("api:sweep_retry", args=[body["sweep"]]), key)
    assert retry_again.status_code == 409
    assert "no failed or cancelled run" in json.loads(retry_again.content)["error"]


def test_api_sweep_actions_need_a_token_of_the_team(alice, bob, foreign_sweep):
    _, alice_key = APIToken.issue(alice)
    for name in ("api:sweep_cancel", "api:sweep_retry"):
        url = reverse(name, args=[foreign_sweep.pk])
        assert api_post(url, None).status_code == 401
        assert api_post(url, alice_key).status_code == 404
    assert not Run.objects.filter(cancel_requested=True).exists() and Sweep.objects.count() == 1
