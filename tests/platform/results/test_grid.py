"""The problem × checkpoint grid of a run (rlab.results.grid) on evaluations the real runner graded and the
worker's code recorded: trajectories, the step a problem is learned at, filters, links and team scoping."""

import pytest
from django.urls import reverse

from rlab.results.grid import Trajectory, grid, learned_at, trajectory
from tests.platform.conftest import logged_in
from tests.platform.results.evaluations import GRID_STEPS, evaluate_grid_run

pytestmark = pytest.mark.django_db


def test_trajectories_by_hand():
    assert trajectory([False, True, True]) == Trajectory.LEARNED
    assert trajectory([True, False]) == Trajectory.FORGOTTEN
    assert trajectory([False, True, False]) == Trajectory.FORGOTTEN
    assert trajectory([True, False, True]) == Trajectory.UNSTABLE
    assert trajectory([True, True]) == Trajectory.ALWAYS and trajectory([False]) == Trajectory.NEVER
    assert learned_at([10, 20, 30], [True, False, True]) == 30
    assert learned_at([10, 20, 30], [False, True, True]) == 20
    assert learned_at([10, 20], [True, False]) is None


def test_grid_of_a_run_with_four_checkpoints(team_a, tmp_path):
    run = evaluate_grid_run(team_a, tmp_path)
    found = grid(run, "arith", {})
    assert [c.label for c in found.columns] == [f"step {s}" for s in GRID_STEPS] and found.base is not None
    assert [(r.kind, r.learned_step) for r in found.rows] == [
        (Trajectory.LEARNED, 20),
        (Trajectory.FORGOTTEN, None),
        (Trajectory.UNSTABLE, 30),
        (Trajectory.ALWAYS, 10),
        (Trajectory.NEVER, None),
        (Trajectory.LEARNED, 30),
    ]
    assert [(c.correct, c.samples) for c in found.rows[5].cells] == [(0, 2), (0, 2), (1, 2), (1, 2)]
    assert (found.rows[0].base.correct, found.rows[1].base.correct) == (2, 0)
    counts = {kind: count for kind, _, count in found.counts}
    assert counts == {"learned": 2, "forgotten": 1, "unstable": 1, "always": 1, "never": 1}
    learned = grid(run, "arith", {"kind": "learned"})
    assert [r.example.index for r in learned.rows] == [0, 5] and learned.total == 6


def test_grid_page_links_to_responses_and_is_team_scoped(alice, bob, team_a, tmp_path):
    run = evaluate_grid_run(team_a, tmp_path)
    url = reverse("results:problem_grid", args=[run.pk])
    response = logged_in(alice).get(url)
    body = response.content.decode()
    assert response.status_code == 200 and 'id="problem-grid"' in body and "learned: 2" in body
    first = grid(run, "arith", {}).rows[0]
    assert reverse("results:problem", args=[first.cells[0].result, first.example.pk]) in body
    assert logged_in(alice).get(url, {"benchmark": "nope"}).status_code == 404
    assert logged_in(bob).get(url).status_code == 404
    run_page = logged_in(alice).get(reverse("experiments:run_detail", args=[run.pk])).content.decode()
    assert f"{url}?benchmark=arith" in run_page
