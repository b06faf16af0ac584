"""Publishing runs and the global leaderboard: who may publish (page and API, CSRF), what the global board
shows and never leaks, the links of leaderboard cells to per-problem results, paging, and query counts that
do not grow with the number of runs."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from rlab.experiments.models import Run
from rlab.results import reports
from rlab.results.models import EvalResult
from rlab.teams.models import APIToken, Team
from tests.platform.conftest import PASSWORD, logged_in
from tests.platform.results.test_results_pages import MODEL, evaluate, make_sweep

GLOBAL = reverse("results:global_leaderboard")
TEAM = reverse("results:leaderboard")


def publish_url(run: Run) -> str:
    return reverse("experiments:run_publish", args=[run.pk])


def evaluation_url(result: EvalResult) -> str:
    return reverse("results:evaluation", args=[result.pk])


def result_of(run: Run, step: int | None, benchmark: str) -> EvalResult:
    return EvalResult.objects.get(run=run, checkpoint__step=step, benchmark__key=benchmark)


def base_result(team: Team, model: str, benchmark: str) -> EvalResult:
    return EvalResult.objects.get(
        team=team, checkpoint__isnull=True, model_ref=model, benchmark__key=benchmark
    )


# ---------------------------------------------------------------- publishing


@pytest.fixture
def alices_run(team_a) -> Run:
    run = make_sweep(team_a, [{}], name="mine").runs.get()
    evaluate(team_a, run, 10, {"math500": 0.6, "aime24": 0.2})
    return run


@pytest.mark.django_db
def test_members_publish_and_withdraw_from_the_run_page(alice, alices_run):
    client = logged_in(alice)
    run_page = reverse("experiments:run_detail", args=[alices_run.pk])
    page = client.get(run_page).content.decode()
    assert f'action="{publish_url(alices_run)}"' in page and ">Publish<" in page
    response = client.post(publish_url(alices_run), {"published": "1"})
    assert response.status_code == 302 and response.url == run_page
    alices_run.refresh_from_db()
    first_published_at = alices_run.published_at
    assert alices_run.published and first_published_at is not None
    client.post(publish_url(alices_run), {"published": "1"})  # publishing again keeps the first time
    alices_run.refresh_from_db()
    assert alices_run.published_at == first_published_at
    assert ">Unpublish<" in client.get(run_page).content.decode()
    client.post(publish_url(alices_run), {"published": "0"})
    alices_run.refresh_from_db()
    assert not alices_run.published and alices_run.published_at is None


@pytest.mark.django_db
def test_publishing_needs_membership_post_login_and_csrf(alice, bob, alices_run):
    assert logged_in(bob).post(publish_url(alices_run), {"published": "1"}).status_code == 404
    assert logged_in(alice).get(publish_url(alices_run)).status_code == 405
    anonymous = Client().post(publish_url(alices_run), {"published": "1"})
    assert anonymous.status_code == 302 and anonymous.url.startswith(reverse("login"))
    no_token = Client(enforce_csrf_checks=True)
    assert no_token.login(username=alice.username, password=PASSWORD)
    assert no_token.post(publish_url(alices_run), {"published": "1"}).status_code == 403
    alices_run.refresh_from_db()
    assert not alices_run.published


@pytest.mark.django_db
def test_api_publishes_runs_of_ones_team_only(alice, bob, alices_run):
    url = reverse("api:run_publish", args=[alices_run.pk])
    _, alice_key = APIToken.issue(alice)
    _, bob_key = APIToken.issue(bob)

    def post(key: str, body: object) -> object:
        return Client().post(
            url, json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
        )

    assert post(bob_key, {"published": True}).status_code == 404
    assert post(alice_key, {"published": "yes"}).status_code == 400
    response = post(alice_key, {"published": True})
    assert response.status_code == 200 and response.json()["published"] is True
    assert Run.objects.get(pk=alices_run.pk).published
    assert post(alice_key, {"published": False}).json()["published"] is False
    assert Client().post(url, "{}", content_type="application/json").status_code == 401


# ---------------------------------------------------------------- the global board


@pytest.fixture
def two_teams(team_a, team_b) -> dict[str, Run]:
    """Each team publishes one run and keeps one private; both evaluated the base model, and team B also a
    private model no published run uses."""
    runs = {}
    for team, prefix, score in ((team_a, "a", 0.70), (team_b, "b", 0.80)):
        public = make_sweep(team, [{}], name=f"{prefix}-public").runs.get()
        private = make_sweep(team, [{}], name=f"{prefix}-private").runs.get()
        evaluate(team, public, 10, {"math500": score - 0.1, "aime24": 0.2})
        evaluate(team, public, 20, {"math500": score, "aime24": 0.2})
        evaluate(team, private, 10, {"math500": 0.987, "aime24": 0.654})
        evaluate(team, None, None, {"math500": score - 0.4, "aime24": 0.05})
        Run.objects.filter(pk=public.pk).update(published=True)
        runs[f"{prefix}-public"], runs[f"{prefix}-private"] = public, private
    evaluate(team_b, None, None, {"math500": 0.321, "aime24": 0.123}, model="bob/private-model")
    return runs


@pytest.mark.django_db
def test_global_board_lists_published_runs_of_every_team_and_their_base_rows(alice, two_teams):
    table = reports.global_leaderboard({alice.teams.get().pk}, reports.LeaderboardFilters())
    assert [(r.label, r.team, r.step) for r in table.rows] == [
        (two_teams["b-public"].name, "Team B", 20),
        (two_teams["a-public"].name, "Team A", 20),
        (f"{MODEL} (base)", "Team B", None),
        (f"{MODEL} (base)", "Team A", None),
    ]
    assert [c.text for c in table.rows[0].cells] == ["20.0", "80.0", "50.0"]
    assert table.team_column and table.csv().splitlines()[0].startswith("row,run,step,team,aime24")


@pytest.mark.django_db
def test_global_page_leaks_nothing_unpublished_and_links_only_own_cells(alice, bob, two_teams):
    body = logged_in(alice).get(GLOBAL).content.decode()
    for private in (two_teams["a-private"], two_teams["b-private"]):
        assert private.name not in body
    assert "98.7" not in body and "65.4" not in body  # the private runs' scores
    assert "bob/private-model" not in body and "32.1" not in body
    assert "Team B" in body and two_teams["b-public"].name in body
    a_public, b_public = two_teams["a-public"], two_teams["b-public"]
    assert evaluation_url(result_of(a_public, 20, "math500")) in body
    assert evaluation_url(base_result(a_public.team, MODEL, "math500")) in body
    assert reverse("experiments:run_detail", args=[a_public.pk]) in body
    for result in EvalResult.objects.filter(team=b_public.team):
        assert evaluation_url(result) not in body
    assert reverse("experiments:run_detail", args=[b_public.pk]) not in body
    csv_text = logged_in(alice).get(GLOBAL, {"format": "csv"}).content.decode()
    assert two_teams["b-private"].name not in csv_text and "bob/private-model" not in csv_text
    bobs = logged_in(bob).get(GLOBAL).content.decode()
    assert evaluation_url(result_of(b_public, 20, "math500")) in bobs
    assert evaluation_url(result_of(a_public, 20, "math500")) not in bobs


@pytest.mark.django_db
def test_global_board_filters_and_needs_only_a_login(alice, two_teams):
    by_model = reports.global_leaderboard(set(), reports.LeaderboardFilters(model="other/model"))
    assert by_model.rows == []
    by_algorithm = reports.global_leaderboard(set(), reports.LeaderboardFilters(algorithm="grpo"))
    assert {r.label for r in by_algorithm.rows} == {two_teams["a-public"].name, two_teams["b-public"].name}
    loner = get_user_model().objects.create_user(username="loner", password=PASSWORD)
    page = logged_in(loner).get(GLOBAL, {"sort": "aime24"})
    assert page.status_code == 200 and two_teams["a-public"].name in page.content.decode()
    assert reverse("experiments:run_detail", args=[two_teams["a-public"].pk]) not in page.content.decode()
    anonymous = Client().get(GLOBAL)
    assert anonymous.status_code == 302 and anonymous.url.startswith(reverse("login"))


@pytest.mark.django_db
def test_team_board_cells_open_the_evaluation_shown_and_pages_switch(alice, two_teams):
    body = logged_in(alice).get(TEAM).content.decode()
    a_private = two_teams["a-private"]
    assert evaluation_url(result_of(a_private, 10, "aime24")) in body
    assert evaluation_url(result_of(two_teams["a-public"], 10, "math500")) not in body  # not the best step
    assert f'href="{GLOBAL}"' in body and two_teams["b-public"].name not in body


# ---------------------------------------------------------------- best checkpoint kept on the run, paging


@pytest.mark.django_db
def test_recording_an_evaluation_keeps_the_runs_best_checkpoint(team_a):
    run = make_sweep(team_a, [{}]).runs.get()
    evaluate(team_a, run, 10, {"math500": 0.5, "aime24": 0.1})
    evaluate(team_a, run, 20, {"math500": 0.7})  # aime24 still to come: does not compete yet
    run.refresh_from_db()
    assert (run.best_step, run.best_average) == (10, pytest.approx(0.3))
    evaluate(team_a, run, 20, {"aime24": 0.3})
    run.refresh_from_db()
    assert (run.best_step, run.best_average) == (20, pytest.approx(0.5))
    assert run.best_scores["math500"]["result"] == result_of(run, 20, "math500").pk


def add_published_runs(team: Team, count: int, offset: int = 0) -> None:
    for i in range(count):
        run = make_sweep(team, [{}], name=f"p{offset + i:03d}", tags=[f"t{offset + i}"]).runs.get()
        evaluate(team, run, 10, {"math500": 0.3 + (offset + i) / 1000, "aime24": 0.1})
    Run.objects.filter(team=team).update(published=True)


@pytest.mark.django_db
def test_leaderboard_pages_with_base_rows_on_the_page_they_sort_into(alice, team_a):
    add_published_runs(team_a, reports.PAGE_SIZE + 5)
    # math500 between p005 (0.305, the last run of page 1) and p004 (0.304, the first of page 2)
    evaluate(team_a, None, None, {"math500": 0.3045, "aime24": 0.1})
    first = reports.global_leaderboard(set(), reports.LeaderboardFilters(), "-math500", page=1)
    second = reports.global_leaderboard(set(), reports.LeaderboardFilters(), "-math500", page=2)
    assert (first.pages, first.total, second.page) == (2, reports.PAGE_SIZE + 5, 2)
    labels = [r.label for r in first.rows] + [r.label for r in second.rows]
    assert labels.count(f"{MODEL} (base)") == 1
    runs = [label for label in labels if label != f"{MODEL} (base)"]
    assert runs == sorted(runs, reverse=True) and len(runs) == reports.PAGE_SIZE + 5
    assert first.rows[-1].label == f"{MODEL} (base)" and first.rows[-2].label.endswith("p005-0")
    body = logged_in(alice).get(GLOBAL, {"page": "2", "sort": "-math500"}).content.decode()
    assert "page 2 of 2" in body and 'rel="prev"' in body and 'rel="next"' not in body


@pytest.mark.django_db
def test_board_query_counts_do_not_grow_with_runs(alice, team_a, django_assert_max_num_queries):
    client = logged_in(alice)
    add_published_runs(team_a, 2)
    counts = {}
    for url in (TEAM, GLOBAL):
        with django_assert_max_num_queries(15) as few:
            assert client.get(url).status_code == 200
        counts[url] = len(few.captured_queries)
    add_published_runs(team_a, reports.PAGE_SIZE + 10, offset=2)
    for url in (TEAM, GLOBAL):
        with django_assert_max_num_queries(counts[url]):
            assert client.get(url, {"sort": "-math500", "page": "2"}).status_code == 200
