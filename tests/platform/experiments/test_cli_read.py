"""`rlab runs` and `rlab results`, locally and against a live server's JSON API with two teams; a closed pipe
and a database without tables end in one clear line, never a traceback."""

import csv
import io
import subprocess
import sys

import psycopg
import pytest

from rlab.experiments.models import Run
from rlab.teams.models import APIToken
from tests.platform.results.test_results_pages import evaluate, make_sweep
from tests.platform.test_cli import rlab

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def two_teams(team_a, team_b, alice, bob):
    """Team A: a two-point sweep evaluated at step 10 (math500 40% and 50%); team B: one run at 90%."""
    sweep = make_sweep(team_a, [{"train.lr": 1e-6}, {"train.lr": 2e-6}], name="lr")
    for run, score in zip(sweep.runs.order_by("point_index"), (0.4, 0.5), strict=True):
        evaluate(team_a, run, 10, {"math500": score})
    (b_run,) = make_sweep(team_b, [{}], name="solo").runs.all()
    evaluate(team_b, b_run, 10, {"math500": 0.9})
    return sweep


def names(stdout: str) -> list[str]:
    return [line.split()[2] for line in stdout.splitlines()[1:]]


def test_remote_runs_and_results_see_only_the_token_owners_team(live_server, alice, two_teams, child_env):
    _, key = APIToken.issue(alice)
    server = ("--server", live_server.url, "--token", key)
    listed = rlab("runs", *server, env=child_env)
    assert listed.returncode == 0, listed.stderr
    assert sorted(names(listed.stdout)) == ["team-a-lr-0", "team-a-lr-1"]
    assert names(rlab("runs", *server, "--limit", "1", env=child_env).stdout) == ["team-a-lr-1"]  # newest
    foreign = rlab("runs", *server, "--team", "team-b", env=child_env)
    assert foreign.returncode == 2 and "404" in foreign.stderr and "Traceback" not in foreign.stderr
    board = rlab("results", *server, env=child_env)
    assert board.returncode == 0, board.stderr
    lines = board.stdout.splitlines()
    assert lines[0].split() == ["row", "step", "math500", "average"]
    assert [line.split()[:3] for line in lines[1:]] == [
        ["team-a-lr-1", "10", "50.0%"],
        ["team-a-lr-0", "10", "40.0%"],
    ]
    exported = rlab("results", *server, "--csv", env=child_env)
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [(r["run"], r["math500"]) for r in rows] == [("team-a-lr-1", "50.0"), ("team-a-lr-0", "40.0")]
    run = Run.objects.get(name="team-a-lr-0")
    evaluations = rlab("results", *server, "--run", str(run.pk), env=child_env)
    assert evaluations.stdout.splitlines()[1].split()[1:4] == ["math500", "10", "40.0%"]


def test_local_results_need_a_team_among_several(two_teams, child_env):
    refused = rlab("results", env=child_env)
    assert refused.returncode == 2 and "team-a, team-b" in refused.stderr
    board = rlab("results", "--team", "team-b", env=child_env)
    assert board.returncode == 0 and board.stdout.splitlines()[1].split()[:3] == [
        "team-b-solo-0",
        "10",
        "90.0%",
    ]


def test_runs_into_a_closed_pipe_stop_quietly(two_teams, child_env):
    """`rlab runs | head -1`: the reader is gone before the first line is written."""
    process = subprocess.Popen(
        [sys.executable, "-m", "rlab.cli", "runs"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env,
    )
    process.stdout.close()
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 1
    assert stderr == b""


def test_runs_on_a_database_without_tables_says_how_to_set_it_up(postgres_server, child_env):
    with psycopg.connect(postgres_server.url(), autocommit=True) as connection:
        connection.execute("DROP DATABASE IF EXISTS rlab_fresh")
        connection.execute("CREATE DATABASE rlab_fresh")
    env = child_env | {"DATABASE_URL": postgres_server.url("rlab_fresh")}
    for command in (("runs",), ("results",)):
        result = rlab(*command, env=env)
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr
        assert "is not set up" in result.stderr and "rlab serve" in result.stderr
