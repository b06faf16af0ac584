"""Every page and API call checks team membership; CSRF is on; pages need a login."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from rlab.experiments.models import Run
from rlab.experiments.submission import submit_spec
from rlab.teams.models import APIToken
from tests.platform.conftest import logged_in, make_dataset

pytestmark = pytest.mark.django_db

SPEC = """
name: private-work
model: {id: smollm2-135m-instruct}
data: {dataset: private-data, examples: [0]}
eval: {suite: [arith]}
resources: {queue: cpu, gpus: 0}
"""


@pytest.fixture
def bobs_objects(team_b, bob):
    dataset = make_dataset(team_b, "private-data")
    run = submit_spec(team_b, bob, SPEC).runs.get()
    return {"run": run, "spec": run.spec, "dataset": dataset}


def private_urls(objects) -> list[tuple[str, str]]:
    return [
        ("get", reverse("experiments:run_detail", args=[objects["run"].pk])),
        ("post", reverse("experiments:run_cancel", args=[objects["run"].pk])),
        ("get", reverse("experiments:spec_detail", args=[objects["spec"].pk])),
        ("get", reverse("catalog:dataset_detail", args=[objects["dataset"].pk])),
    ]


def test_owner_sees_every_private_page(bob, bobs_objects):
    client = logged_in(bob)
    for method, url in private_urls(bobs_objects):
        response = getattr(client, method)(url)
        assert response.status_code in (200, 302), url


def test_other_team_gets_404_on_every_private_url(alice, bobs_objects):
    client = logged_in(alice)
    for method, url in private_urls(bobs_objects):
        assert getattr(client, method)(url).status_code == 404, url
    assert not Run.objects.get().cancel_requested


def test_lists_show_only_own_team(alice, bob, bobs_objects):
    client = logged_in(alice)
    assert bobs_objects["run"].name not in client.get(reverse("experiments:run_list")).content.decode()
    assert "private-data" not in client.get(reverse("catalog:dataset_list")).content.decode()
    assert "private-work" not in client.get(reverse("experiments:spec_list")).content.decode()
    own = logged_in(bob)
    assert bobs_objects["run"].name in own.get(reverse("experiments:run_list")).content.decode()


def test_team_switcher_refuses_foreign_team(alice, team_b):
    response = logged_in(alice).post(reverse("teams:switch"), {"team": team_b.pk})
    assert response.status_code == 404


@pytest.mark.parametrize(
    "name", ["experiments:run_list", "experiments:spec_list", "catalog:dataset_list", "teams:tokens"]
)
def test_pages_need_login(name):
    response = Client().get(reverse(name))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_csrf_is_enforced_on_forms(bob, bobs_objects):
    client = logged_in(bob, enforce_csrf_checks=True)
    response = client.post(reverse("experiments:run_cancel", args=[bobs_objects["run"].pk]))
    assert response.status_code == 403
    assert not Run.objects.get().cancel_requested


def test_cancel_marks_the_run(bob, bobs_objects):
    logged_in(bob).post(reverse("experiments:run_cancel", args=[bobs_objects["run"].pk]))
    assert Run.objects.get().cancel_requested


def test_htmx_request_gets_the_status_partial(bob, bobs_objects):
    url = reverse("experiments:run_detail", args=[bobs_objects["run"].pk])
    response = logged_in(bob).get(url, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert 'id="run-status"' in body and "<html" not in body


def test_api_needs_a_valid_token(bobs_objects):
    url = reverse("api:run_status", args=[bobs_objects["run"].pk])
    assert Client().get(url).status_code == 401
    assert Client().get(url, headers={"Authorization": "Bearer rlab_wrong"}).status_code == 401


def test_api_run_status_is_team_scoped(alice, bob, bobs_objects):
    url = reverse("api:run_status", args=[bobs_objects["run"].pk])
    _, alice_key = APIToken.issue(alice)
    _, bob_key = APIToken.issue(bob)
    assert Client().get(url, headers={"Authorization": f"Bearer {alice_key}"}).status_code == 404
    response = Client().get(url, headers={"Authorization": f"Bearer {bob_key}"})
    assert response.status_code == 200 and response.json()["status"] == "queued"


def test_api_submit_reports_field_errors(bob, team_b):
    _, key = APIToken.issue(bob)
    response = Client().post(
        reverse("api:submit"),
        json.dumps({"yaml": "name: x\nmodel: {id: a/b}\ntrain: {lr: 0}"}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 400
    assert {"path": "train.lr", "message": "must be greater than 0"} in response.json()["errors"]


def test_api_submit_into_a_foreign_team_is_404(alice, team_b, bobs_objects):
    _, key = APIToken.issue(alice)
    response = Client().post(
        reverse("api:submit"),
        json.dumps({"yaml": SPEC, "team": "team-b"}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 404
    assert Run.objects.count() == 1


def test_token_is_stored_hashed(alice):
    token, key = APIToken.issue(alice)
    assert key not in (token.key_hash, token.key_prefix) and APIToken.authenticate(key) == alice
