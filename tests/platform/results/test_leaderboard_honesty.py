"""Leaderboards that do not mix unlike numbers: each score with its n (problems × samples), a column that
holds scores of different problem counts or sampling flagged with its odd cells, and the checkpoint
chosen on a held-out benchmark with the test scores reported at that checkpoint."""

import csv
import io

import pytest
from django.urls import reverse

from rlab.experiments.models import Run
from rlab.results import reports
from rlab.results.models import EvalResult
from tests.platform.conftest import logged_in
from tests.platform.results.test_results_pages import MODEL, SAMPLING, evaluate, make_sweep

pytestmark = pytest.mark.django_db


def board(team, **filters) -> reports.Table:
    return reports.leaderboard(
        Run.objects.filter(team=team),
        EvalResult.objects.filter(team=team),
        reports.LeaderboardFilters(**filters),
    )


def row(table: reports.Table, label: str) -> reports.Row:
    return next(r for r in table.rows if r.label == label)


def cell(table: reports.Table, label: str, key: str) -> reports.Cell:
    return row(table, label).cells[[c.key for c in table.columns].index(key)]


def test_every_score_shows_its_problems_times_samples(alice, team_a):
    run = make_sweep(team_a, [{}], name="a").runs.get()
    evaluate(team_a, run, 10, {"aime24": 0.2}, n=30, k=16)
    table = board(team_a)
    shown = cell(table, run.name, "aime24")
    assert (shown.size, shown.size_text) == ("30×16", "n=30×16")
    assert "n = 30 problems × 16 samples" in shown.title
    assert not table.columns[0].mixed and not shown.setup_note
    client = logged_in(alice)
    assert "n=30×16" in client.get(reverse("results:leaderboard")).content.decode()
    rows = list(csv.reader(io.StringIO(client.get(reverse("results:leaderboard"), {"format": "csv"}).text)))
    assert rows[1][rows[0].index("aime24 n")] == "30×16"


def test_a_column_of_different_limits_or_sampling_is_flagged_with_its_odd_cells(alice, team_a):
    """The issue's case: one "arith" column held 16-problem and 8-problem evaluations, unmarked."""
    runs = [make_sweep(team_a, [{}], name=name).runs.get() for name in ("a", "b", "c", "d", "e")]
    for run, arith, n in ((runs[0], 0.50, 16), (runs[1], 0.25, 16), (runs[2], 0.75, 8)):
        evaluate(team_a, run, 10, {"arith": arith}, n=n)
        evaluate(team_a, run, 10, {"math500": 0.4})
    evaluate(team_a, runs[4], 10, {"arith": 0.5}, n=16, sampling={**SAMPLING, "seed": 1})  # a seed replicate
    evaluate(team_a, runs[4], 10, {"math500": 0.4})
    evaluate(team_a, runs[3], 10, {"arith": 0.50}, n=16, sampling={**SAMPLING, "temperature": 0.6})
    evaluate(team_a, runs[3], 10, {"math500": 0.4})
    table = board(team_a)
    arith, math500, _ = table.columns
    assert arith.mixed and "16×1" in arith.mixed and "8×1" in arith.mixed and not math500.mixed
    assert not cell(table, runs[0].name, "arith").setup_note
    assert not cell(table, runs[1].name, "arith").setup_note
    odd = cell(table, runs[2].name, "arith")
    assert "8×1" in odd.setup_note and "most: 16×1" in odd.setup_note and "setup-differs" in odd.css
    assert cell(table, runs[3].name, "arith").setup_note  # same n, other sampling
    assert not cell(table, runs[4].name, "arith").setup_note  # another sampling seed: the same setup
    assert cell(table, runs[2].name, "average").setup_note
    assert not cell(table, runs[0].name, "average").setup_note
    body = logged_in(alice).get(reverse("results:leaderboard")).content.decode()
    assert "≠ mixed" in body and body.count('class="setup-flag" title=') == 2
    # the counts are over every run of the board, not the rows one page shows
    page = reports.leaderboard(
        Run.objects.filter(team=team_a),
        EvalResult.objects.filter(team=team_a),
        reports.LeaderboardFilters(),
        sort="arith",
        page=1,
    )
    assert page.columns[0].mixed


def test_the_checkpoint_can_be_chosen_on_a_held_out_benchmark(alice, team_a):
    """aime24 plays the validation set: best at step 10, while math500 (the test set) peaks at step 20.
    Chosen on aime24 the row reports math500 at step 10 (60.0), not its best (80.0), and the average
    leaves the selecting column out."""
    run = make_sweep(team_a, [{}], name="v").runs.get()
    evaluate(team_a, run, 10, {"aime24": 0.30, "math500": 0.60})
    evaluate(team_a, run, 20, {"aime24": 0.10, "math500": 0.80})
    evaluate(team_a, run, 30, {"aime24": 0.30, "math500": 0.70})  # ties on aime24 go to the earliest
    evaluate(team_a, None, None, {"aime24": 0.05, "math500": 0.36})
    default = board(team_a)
    assert row(default, run.name).step == 30  # best average: 0.50 (steps 10 and 20: 0.45)
    chosen = board(team_a, select_on="aime24")
    assert [c.label for c in chosen.columns] == ["aime24 (selects)", "math500", "average without aime24"]
    selected = row(chosen, run.name)
    assert selected.step == 10 and "checkpoint best on aime24: step 10" in selected.title
    assert [c.text for c in selected.cells] == ["30.0", "60.0", "60.0"]
    assert [c.text for c in row(chosen, f"{MODEL} (base)").cells] == ["5.0", "36.0", "36.0"]
    client = logged_in(alice)
    body = client.get(reverse("results:leaderboard"), {"select_on": "aime24"}).content.decode()
    assert "aime24 (selects)" in body and 'value="aime24" selected' in body
    token_rows = client.get(reverse("results:leaderboard"), {"select_on": "aime24", "format": "csv"}).text
    assert "aime24 (selects)" in token_rows.splitlines()[0]
    unknown = client.get(reverse("results:leaderboard"), {"select_on": "<no such benchmark>"})
    assert unknown.status_code == 200 and run.name not in unknown.content.decode()  # nothing selects: no runs
    # runs never evaluated on the selecting benchmark are not listed under it
    other = make_sweep(team_a, [{}], name="no-aime").runs.get()
    evaluate(team_a, other, 10, {"math500": 0.9})
    assert other.name not in [r.label for r in board(team_a, select_on="aime24").rows]
