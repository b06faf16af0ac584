"""The read-only JSON API (docs/api.md) with two teams on PostgreSQL: each token sees its own team's rows
only, another team's ids answer 404, lists page, and CSV exports read back with the csv module."""

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse

from rlab.experiments.models import Run, TrainMetric
from rlab.results.models import EvalResult
from rlab.teams.models import APIToken, Team
from tests.platform.conftest import make_member, make_unqueued_run
from tests.platform.results.evaluations import RUN_SPEC, evaluate, make_run, responses_for
from tests.platform.results.test_results_pages import evaluate as record_scores
from tests.platform.results.test_results_pages import make_sweep

pytestmark = pytest.mark.django_db


def client_of(user) -> Client:
    _, key = APIToken.issue(user)
    return Client(headers={"Authorization": f"Bearer {key}"})


def tagged_run(team: Team, tag: str) -> Run:
    return make_unqueued_run(team, RUN_SPEC + f"tags: [{tag}]\n")


@pytest.fixture
def world(team_a, team_b, alice, bob, tmp_path):
    """Each team: a run with metrics, a checkpoint evaluated problem by problem, and the base model's
    evaluation; team A also a second (tagged, failed) run and a two-point sweep with scores."""
    runs = {}
    for team in (team_a, team_b):
        run = make_run(team)
        for step in range(1, 4):
            TrainMetric.record(run, step, {"reward_mean": step / 10, "kl": 0.01 * step})
        base = evaluate(run, None, responses_for(["RW", "WW", "RR"]), tmp_path / team.slug)
        trained = evaluate(run, 20, responses_for(["RR", "RW", "RR"]), tmp_path / team.slug)
        runs[team.slug] = {"run": run, "base": base, "trained": trained}
    tagged = tagged_run(team_a, "ablation")
    Run.objects.filter(pk=tagged.pk).update(status=Run.Status.FAILED)
    sweep = make_sweep(team_a, [{"train.lr": 1e-6}, {"train.lr": 2e-6}], name="lr")
    for run, score in zip(sweep.runs.order_by("point_index"), (0.4, 0.5), strict=True):
        record_scores(team_a, run, 10, {"math500": score})
    clients = {"alice": client_of(alice), "bob": client_of(bob)}
    return clients | {"tagged": tagged, "sweep": sweep, "tmp": tmp_path, **runs}


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_every_read_endpoint_needs_a_token(world):
    run = world["team-a"]["run"]
    for url in (
        reverse("api:run_list"),
        reverse("api:run_metrics", args=[run.pk]),
        reverse("api:evaluation_list"),
        reverse("api:leaderboard"),
        reverse("api:sweep_list"),
    ):
        response = Client().get(url)
        assert response.status_code == 401 and "API token" in response.json()["error"], url


def test_run_list_shows_only_the_token_owners_team_and_filters(world):
    a_runs = set(Run.objects.filter(team__slug="team-a").values_list("pk", flat=True))
    assert ids(world["alice"].get(reverse("api:run_list"))) == a_runs
    assert ids(world["bob"].get(reverse("api:run_list"))) == {world["team-b"]["run"].pk}
    url = reverse("api:run_list")
    assert ids(world["alice"].get(url, {"tag": "ablation"})) == {world["tagged"].pk}
    assert ids(world["alice"].get(url, {"status": "failed"})) == {world["tagged"].pk}
    sweep = world["sweep"]
    assert ids(world["alice"].get(url, {"sweep": sweep.pk})) == set(sweep.runs.values_list("pk", flat=True))
    assert ids(world["alice"].get(url, {"sweep": world["team-b"]["run"].sweep_id})) == set()
    assert world["alice"].get(url, {"team": "team-b"}).status_code == 404
    bad = world["alice"].get(url, {"status": "done"})
    assert bad.status_code == 400 and "status must be one of" in bad.json()["error"]


def test_run_list_pages(world):
    url = reverse("api:run_list")
    first = world["alice"].get(url, {"page_size": 2}).json()
    assert first["count"] == 4 and first["pages"] == 2 and len(first["results"]) == 2
    second = world["alice"].get(first["next"]).json()
    assert second["next"] is None and {r["id"] for r in first["results"] + second["results"]} == set(
        Run.objects.filter(team__slug="team-a").values_list("pk", flat=True)
    )
    assert world["alice"].get(url, {"page": 3, "page_size": 2}).status_code == 404
    assert world["alice"].get(url, {"page_size": 501}).status_code == 400
    assert world["alice"].get(url, {"page": "x"}).status_code == 400


def test_other_teams_ids_answer_404_as_json(world):
    b = world["team-b"]
    for url in (
        reverse("api:run_status", args=[b["run"].pk]),
        reverse("api:run_metrics", args=[b["run"].pk]),
        reverse("api:run_checkpoints", args=[b["run"].pk]),
        reverse("api:sweep_detail", args=[b["run"].sweep_id]),
        reverse("api:ablation", args=[b["run"].sweep_id]),
        reverse("api:evaluation_detail", args=[b["trained"].pk]),
        reverse("api:evaluation_problems", args=[b["trained"].pk]),
    ):
        response = world["alice"].get(url)
        assert response.status_code == 404 and "error" in response.json(), url
    compare = world["alice"].get(
        reverse("api:evaluation_problems", args=[world["team-a"]["trained"].pk]), {"b": b["base"].pk}
    )
    assert compare.status_code == 404


def test_metrics_as_json_pages_and_as_a_wide_csv(world):
    run = world["team-a"]["run"]
    body = world["alice"].get(reverse("api:run_metrics", args=[run.pk])).json()
    assert [row["step"] for row in body["results"]] == [1, 2, 3]
    assert body["results"][1]["values"] == {"reward_mean": 0.2, "kl": 0.02}
    response = world["alice"].get(reverse("api:run_metrics", args=[run.pk]), {"format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["step"], float(r["reward_mean"]), float(r["kl"])) for r in rows] == [
        ("1", 0.1, 0.01),
        ("2", 0.2, 0.02),
        ("3", 0.3, 0.03),
    ]


def test_checkpoints_carry_their_evaluations(world):
    a = world["team-a"]
    body = world["alice"].get(reverse("api:run_checkpoints", args=[a["run"].pk])).json()
    (checkpoint,) = body["results"]
    assert checkpoint["step"] == 20
    assert checkpoint["evaluations"] == [
        {"id": a["trained"].pk, "benchmark": "arith", "score": a["trained"].score, "n": 3}
    ]


def test_evaluations_list_detail_and_problems(world):
    a = world["team-a"]
    listed = world["alice"].get(reverse("api:evaluation_list"), {"run": a["run"].pk})
    assert ids(listed) == {a["base"].pk, a["trained"].pk}
    assert ids(world["alice"].get(reverse("api:evaluation_list"))) == set(
        EvalResult.objects.filter(team__slug="team-a").values_list("pk", flat=True)
    )
    base_only = world["alice"].get(reverse("api:evaluation_list"), {"base": "1", "run": a["run"].pk})
    assert ids(base_only) == {a["base"].pk}
    detail = world["alice"].get(reverse("api:evaluation_detail", args=[a["trained"].pk])).json()
    assert detail["checkpoint_step"] == 20 and detail["benchmark"] == "arith"
    # trained RR, RW, RR against base RW, WW, RR: at least half right is "right" (drilldown's rule)
    url = reverse("api:evaluation_problems", args=[a["base"].pk])
    problems = world["alice"].get(url, {"b": a["trained"].pk}).json()
    assert problems["kinds"] == {"right-wrong": 0, "wrong-right": 1, "both-right": 2, "both-wrong": 0}
    first = problems["results"][0]
    assert (first["a"]["correct"], first["a"]["samples"], first["b"]["correct"]) == (1, 2, 2)
    assert [r["correct"] for r in first["b"]["responses"]] == [True, True]
    only_flips = world["alice"].get(url, {"b": a["trained"].pk, "kind": "wrong-right"}).json()
    assert [r["index"] for r in only_flips["results"]] == [1]
    exported = world["alice"].get(url, {"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(b"".join(exported.streaming_content).decode())))
    assert [(r["kind"], r["a_correct"], r["a_samples"]) for r in rows] == [
        ("right", "1", "2"),
        ("wrong", "0", "2"),
        ("right", "2", "2"),
    ]


def test_leaderboards_and_sweep_reports(world):
    board = world["alice"].get(reverse("api:leaderboard")).json()
    run_ids = {row["run"] for row in board["rows"] if row["run"]}
    assert run_ids == {world["team-a"]["run"].pk, *world["sweep"].runs.values_list("pk", flat=True)}
    assert world["alice"].get(reverse("api:leaderboard"), {"team": "team-b"}).status_code == 404
    csv_text = world["alice"].get(reverse("api:leaderboard"), {"format": "csv"}).content.decode()
    assert csv_text.splitlines()[0].startswith("row,run,step")
    ablation = world["alice"].get(reverse("api:ablation", args=[world["sweep"].pk])).json()
    assert [row["cells"]["math500"]["score"] for row in ablation["rows"]] == [0.4, 0.5]
    assert [row["cells"]["math500"]["delta"] for row in ablation["rows"]] == [0.0, 0.1]
    not_examples = world["alice"].get(reverse("api:example_comparison", args=[world["sweep"].pk]))
    assert not_examples.status_code == 400 and "data.examples" in not_examples.json()["error"]


def test_a_member_of_two_teams_names_one_for_the_team_leaderboard(world, team_a, team_b):
    carol = make_member("carol", team_a)
    team_b.memberships.create(user=carol)
    client = client_of(carol)
    refused = client.get(reverse("api:leaderboard"))
    assert refused.status_code == 400 and "team-a, team-b" in refused.json()["error"]
    assert client.get(reverse("api:leaderboard"), {"team": "team-b"}).status_code == 200


def test_global_leaderboard_gives_ids_of_own_runs_only(world):
    b_run = world["team-b"]["run"]
    Run.objects.filter(pk__in=[b_run.pk, world["team-a"]["run"].pk]).update(published=True)
    rows = world["alice"].get(reverse("api:global_leaderboard")).json()["rows"]
    by_name = {row["run_name"]: row for row in rows if row["run_name"]}
    assert by_name[b_run.name]["run"] is None and by_name[b_run.name]["team"] == "Team B"
    assert all(cell["evaluation"] is None for cell in by_name[b_run.name]["cells"].values())
    assert by_name[world["team-a"]["run"].name]["run"] == world["team-a"]["run"].pk


def test_sweeps_list_and_detail(world):
    sweeps = world["alice"].get(reverse("api:sweep_list")).json()["results"]
    own = Run.objects.filter(team__slug="team-a").values_list("sweep_id", flat=True)
    assert {s["id"] for s in sweeps} == set(own)
    detail = world["alice"].get(reverse("api:sweep_detail", args=[world["sweep"].pk])).json()
    assert detail["run_count"] == 2 and detail["succeeded"] == 2 and len(detail["runs"]) == 2


def test_list_queries_do_not_grow_with_the_rows(world, django_assert_max_num_queries):
    """Token check, count and one page query (plus the checkpoints' evaluations), however many rows."""
    run = world["team-a"]["run"]
    for step in range(30, 90, 10):
        evaluate(run, step, responses_for(["RR"]), world["tmp"])
    for url in (reverse("api:run_list"), reverse("api:evaluation_list"), reverse("api:sweep_list")):
        with django_assert_max_num_queries(5):
            assert world["alice"].get(url).status_code == 200, url
    with django_assert_max_num_queries(6):
        body = world["alice"].get(reverse("api:run_checkpoints", args=[run.pk])).json()
    assert len(body["results"]) == 7 and all(c["evaluations"] for c in body["results"])
