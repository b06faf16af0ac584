"""Overlaid curves of selected runs (rlab.results.curves): W&B-style smoothing by hand, a training metric
and a test score over steps, pass@k and maj@k curves of the best checkpoints, bounds and team scoping."""

import pytest
from django.urls import reverse

from evaluation.metrics import pass_at_k
from rlab.experiments.models import Run, TrainMetric
from rlab.results.curves import MAX_RUNS, overlay, smooth, smoothing
from tests.platform.conftest import logged_in
from tests.platform.results.evaluations import (
    GRID_PATTERNS,
    evaluate,
    evaluate_grid_run,
    make_run,
    one_sample,
    problems,
    responses_for,
    right,
)
from tests.platform.results.test_results_pages import make_sweep

pytestmark = pytest.mark.django_db


def test_smoothing_is_a_debiased_moving_average():
    # s1 = 0.5·1 / (1 − 0.5) = 1; s2 = (0.5·0.5 + 0.5·0) / (1 − 0.25) = 1/3
    assert smooth([1.0, 0.0], 0.5) == pytest.approx([1.0, 1 / 3])
    assert smooth([3.0, 5.0], 0.0) == [3.0, 5.0]
    with pytest.raises(ValueError, match=r"within 0 and 0\.99"):
        smoothing("1.5")
    with pytest.raises(ValueError, match=r"within 0 and 0\.99"):
        smoothing("lots")


@pytest.fixture
def two_runs(team_a, tmp_path) -> list[Run]:
    other = make_sweep(team_a, [{}], name="other", model="smollm2-135m-instruct").runs.get()
    runs = [evaluate_grid_run(team_a, tmp_path / "a"), evaluate_grid_run(team_a, tmp_path / "b", other)]
    for offset, run in enumerate(runs):
        TrainMetric.objects.bulk_create(
            TrainMetric(run=run, step=step, values={"reward_mean": step / 10 + offset, "note": "x"})
            for step in (1, 2, 3)
        )
    return runs


def test_overlay_of_a_training_metric_a_test_score_and_pass_at_k(two_runs):
    found = overlay(Run.objects.all(), [r.pk for r in two_runs], "reward_mean", 0.5)
    assert found.metrics == ["reward_mean", "test:arith"] and found.metric == "reward_mean"
    assert [line.name for line in found.chart.lines] == sorted(r.name for r in two_runs)
    lines = {line.name: line for line in found.chart.lines}
    assert lines[two_runs[1].name].last == f"{smooth([1.1, 1.2, 1.3], 0.5)[-1]:.4g}"  # offset 1
    test = overlay(Run.objects.all(), [two_runs[0].pk], "test:arith", 0)
    scores = [100 * sum(m.count("R") for m in GRID_PATTERNS[step]) / 12 for step in sorted(GRID_PATTERNS)]
    assert test.chart.lines[0].last == f"{scores[-1]:.4g}%"
    (chart,) = found.pass_at_k  # arith, k = 1, 2 at the best checkpoint (step 30: ties go to the earliest)
    pattern = GRID_PATTERNS[30]
    expected = 100 * sum(pass_at_k(2, m.count("R"), 2) for m in pattern) / len(pattern)
    assert chart.lines[0].last == f"{expected:.4g}%" and "k 2" in chart.lines[0].markers[-1].tooltip
    # maj@2 with one wrong answer per problem: RR won, RW a tie (½), WW lost — the share of right samples.
    (chart,) = found.maj_at_k
    assert chart.title == "maj@k on arith (%)"
    assert chart.lines[0].last == f"{100 * sum(m.count('R') for m in pattern) / 12:.4g}%"


def test_overlay_page_bounds_and_team_scope(alice, bob, two_runs):
    url = reverse("results:overlay")
    query = {"run": [r.pk for r in two_runs], "metric": "reward_mean", "smooth": "0.6"}
    body = logged_in(alice).get(url, query).content.decode()
    assert 'id="overlay-chart"' in body and 'id="pass-at-k"' in body and two_runs[1].name in body
    assert 'id="maj-at-k"' in body
    assert two_runs[0].name not in logged_in(bob).get(url, query).content.decode()
    too_many = logged_in(alice).get(url, {"run": list(range(1, MAX_RUNS + 2))})
    assert too_many.status_code == 400 and f"at most {MAX_RUNS}" in too_many.content.decode()
    bad = logged_in(alice).get(url, {**query, "smooth": "2"})
    assert bad.status_code == 400 and "smoothing must be" in bad.content.decode()


def test_evaluation_page_shows_its_interval_and_pass_at_k(alice, two_runs):
    result = two_runs[0].eval_results.get(checkpoint__step=30)
    body = logged_in(alice).get(reverse("results:evaluation", args=[result.pk])).content.decode()
    assert 'id="pass-at-k"' in body and f"{result.score_lo:.3f}" in body


def test_evaluation_page_plots_maj_at_k_beside_pass_at_k(alice, team_a, tmp_path):
    """Two arith problems, four samples each, through the real runner and grader. Problem 1: right, two
    wrong answers that are one answer written two ways (g + 1000, 1000 + g), another wrong one: maj@k =
    1/4, 1/4, 1/6, 0. Problem 2: right twice, wrong once, no answer once: 1/2, 2/3, 3/4, 1 (see
    tests/evaluation/test_voting.py for the subsets). Mean over the 2 problems: 3/8, 11/24, 11/24, 1/2."""
    first, second = problems("arith", 2)
    responses = [
        [
            right(first),
            f"\\boxed{{{first.answer} + 1000}}",
            f"\\boxed{{1000 + {first.answer}}}",
            "\\boxed{-1}",
        ],
        [right(second), right(second), f"\\boxed{{{second.answer} + 1000}}", "I give up."],
    ]
    result = evaluate(make_run(team_a), None, responses, tmp_path)
    assert result.metrics["maj_at_k"] == pytest.approx({"1": 3 / 8, "2": 11 / 24, "3": 11 / 24, "4": 1 / 2})
    response = logged_in(alice).get(reverse("results:evaluation", args=[result.pk]))
    chart = response.context["k_curves"]
    lines = {line.name: line for line in chart.lines}
    assert lines["maj@k"].last == "50%" and lines["pass@k"].last == "100%"
    assert "maj@k · k 2: 45.83%" in [m.tooltip for m in lines["maj@k"].markers]
    body = response.content.decode()
    assert "Self-Consistency" in body and 'id="no-maj-at-k"' not in body


def test_evaluation_page_says_why_one_sample_has_no_maj_at_k(alice, team_a, tmp_path):
    result = evaluate(make_run(team_a), None, responses_for(one_sample([0], 3)), tmp_path)
    assert result.metrics["maj_at_k"] == {}
    response = logged_in(alice).get(reverse("results:evaluation", args=[result.pk]))
    assert response.context["k_curves"] is None
    assert "with one sample per problem both are the accuracy" in response.content.decode()
