"""Every URL pattern that takes an id, walked from the URL conf with another team's ids: a new URL is
covered as soon as it is added (issue 14). Each is asked for with GET and POST by a member of another
team (the API with that member's token): 404 or 405, never the object; its owner gets past the lookup,
so the ids are real."""

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from rlab.catalog.models import ImportJob
from rlab.experiments.models import Run
from rlab.experiments.submission import submit_spec
from rlab.teams.models import APIToken
from tests.platform.conftest import logged_in, make_dataset
from tests.platform.results.evaluations import evaluate, make_run, responses_for
from tests.platform.teams.test_views import SPEC

pytestmark = pytest.mark.django_db

ID_IN_ROUTE = re.compile(r"([\w-]+)/<int:(\w+)>")
NOT_FOUND = (404, 405)  # no such object for this user, or not a method the URL answers to


def id_patterns(resolver: URLResolver = None, prefix: str = "", namespace: str = "") -> list[tuple[str, str]]:
    """(name, full route) of every URL pattern with an integer in its route."""
    resolver = resolver or get_resolver()
    found = []
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            found += id_patterns(entry, route, inner)
        elif isinstance(entry, URLPattern) and "<int:" in route:
            found.append((f"{namespace}{entry.name}", route))
    return found


@pytest.fixture
def bobs_ids(team_b, bob, tmp_path) -> dict[str, int]:
    """Team B's objects, by the route segment that names them before their id."""
    dataset = make_dataset(team_b, "private-data")
    run = submit_spec(team_b, bob, SPEC).runs.get()
    evaluation = evaluate(make_run(team_b), None, responses_for(["R", "W"]), tmp_path)
    job = ImportJob.objects.create(
        team=team_b, name="x", filename="x.jsonl", size=1, stored_path="", mapping={}
    )
    return {
        "runs": run.pk,
        "sweeps": run.sweep_id,
        "specs": run.spec_id,
        "datasets": dataset.pk,
        "examples": dataset.examples.first().index,
        "evaluations": evaluation.pk,
        "problems": evaluation.example_results.first().example_id,
        "imports": job.pk,
    }


def url_with(route: str, ids: dict[str, int]) -> str:
    def fill(match: re.Match) -> str:
        segment = match.group(1)
        assert segment in ids, f"no object for '{segment}/<int:{match.group(2)}>': add one to bobs_ids"
        return f"{segment}/{ids[segment]}"

    url = "/" + ID_IN_ROUTE.sub(fill, route)
    assert "<" not in url, f"a route with an id this test cannot fill: {route}"
    return url


def test_the_walk_covers_the_id_taking_urls():
    names = {name for name, _ in id_patterns()}
    assert len(names) >= 22  # the issue's count when it was filed; new ones only add to it
    assert {"catalog:import_detail", "api:run_status", "results:problem"} <= names


def test_no_url_gives_another_teams_object(alice, bob, bobs_ids):
    _, alice_key = APIToken.issue(alice)
    _, bob_key = APIToken.issue(bob)
    stranger, owner = logged_in(alice), logged_in(bob)
    walked = 0
    for name, route in id_patterns():
        if name.startswith("admin:"):
            continue  # the admin takes no integer ids (and is staff only)
        url = url_with(route, bobs_ids)
        api = name.startswith("api:")
        for method in ("get", "post"):
            response = getattr(stranger, method)(url, **_auth(api, alice_key))
            assert response.status_code in NOT_FOUND, (
                f"{method.upper()} {url} ({name}): {response.status_code}"
            )
            walked += 1
        own = owner.get(url, **_auth(api, bob_key))
        if own.status_code == 405:
            own = owner.post(url, **_auth(api, bob_key))
        assert own.status_code not in (404, 500), f"the owner's {url} ({name}): {own.status_code}"
    assert walked >= 2 * 22


def _auth(api: bool, key: str) -> dict:
    return {"headers": {"Authorization": f"Bearer {key}"}} if api else {}


def test_ids_in_query_strings_show_nothing_of_another_team(alice, bobs_ids):
    client = logged_in(alice)
    bobs_run = Run.objects.get(pk=bobs_ids["runs"])
    runs = client.get("/runs/", {"sweep": bobs_ids["sweeps"]})
    assert runs.status_code == 200 and bobs_run.name not in runs.content.decode()
    assert client.get("/specs/new/", {"from": bobs_ids["specs"]}).status_code == 404
    evaluation = bobs_ids["evaluations"]
    assert client.get("/results/compare/", {"a": evaluation, "b": evaluation}).status_code == 404
    assert Client().get("/results/compare/", {"a": evaluation, "b": evaluation}).status_code == 302
