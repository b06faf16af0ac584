"""Intervals and paired comparisons on the result pages (evaluation.statistics through rlab.results), on
evaluations the real runner graded and the worker's code recorded: intervals stored at write time, seed
replicates grouped as mean ± std, paired differences marked when they are noise."""

import csv
import importlib
import io

import numpy as np
import pytest
from django.urls import reverse

from evaluation.statistics import (
    Replicates,
    detectable_difference,
    mcnemar_mid_p,
    samples_needed,
    score_interval,
    score_variance,
)
from rlab.results import outcomes, reports
from rlab.results.comparisons import TARGET, benchmark_power
from tests.platform.conftest import logged_in
from tests.platform.results.evaluations import (
    evaluate,
    evaluate_seed_sweep,
    make_run,
    one_sample,
    responses_for,
)
from tests.platform.results.test_results_pages import make_sweep

pytestmark = pytest.mark.django_db
PROBLEMS = 30
BASE = one_sample(range(6), PROBLEMS)  # 6 of 30
# Three seeds of π1 and of π2: about 20 of 30 each, on partly different problems.
PI1 = [
    one_sample(range(20), PROBLEMS),
    one_sample(range(1, 22), PROBLEMS),
    one_sample(range(3, 22), PROBLEMS),
]
PI2 = [
    one_sample(range(2, 23), PROBLEMS),
    one_sample(range(20), PROBLEMS),
    one_sample(range(4, 24), PROBLEMS),
]


def scores(patterns: list[list[str]]) -> tuple[float, ...]:
    return tuple(sum(mark == "R" for mark in pattern) / PROBLEMS for pattern in patterns)


def test_record_stores_outcomes_and_the_interval(team_a, tmp_path):
    run = make_run(team_a)
    result = evaluate(run, None, responses_for(["RR", "RW", "WW", "RR"]), tmp_path)
    stored = outcomes.unpack(result.outcomes)
    assert stored["correct"].tolist() == [2, 1, 0, 2] and stored["samples"].tolist() == [2, 2, 2, 2]
    expected = score_interval([2, 1, 0, 2], 2)
    assert (result.score_lo, result.score_hi) == pytest.approx((expected.lo, expected.hi))
    assert result.interval_text == f"±{(expected.hi - expected.lo) * 50:.1f}"


def test_compare_page_shows_the_paired_difference(alice, team_a, tmp_path):
    run = make_run(team_a)
    a = evaluate(run, None, responses_for(BASE), tmp_path)
    b = evaluate(run, 20, responses_for(PI1[0]), tmp_path)
    found = outcomes.paired(a.outcomes, b.outcomes)
    # 20 wrong → right and none right → wrong among the 30: McNemar mid-p = 2·0 + P(X = 0) = 2^-14
    assert found.method == "McNemar mid-p" and found.p_value == pytest.approx(float(mcnemar_mid_p(0, 14)))
    assert found.difference == pytest.approx(14 / 30) and found.significant
    body = logged_in(alice).get(reverse("results:compare"), {"a": a.pk, "b": b.pk}).content.decode()
    assert 'id="paired-difference"' in body and "distinguishable from noise" in body
    assert "not distinguishable" not in body


@pytest.fixture
def seed_sweep(team_a, tmp_path):
    """π1 and π2, three training seeds each, one checkpoint each, and the base model, on 30 problems."""
    points = [{"data.examples": [pi], "train.seed": seed} for pi in ("pi1", "pi2") for seed in range(3)]
    sweep = make_sweep(team_a, points, name="seeds", model="smollm2-135m-instruct")
    evaluate_seed_sweep(team_a, sweep, tmp_path, BASE, dict(enumerate(PI1 + PI2)))
    return sweep


def test_seed_replicates_are_one_row_with_mean_and_std(seed_sweep):
    table = reports.example_comparison(seed_sweep)
    assert [r.label for r in table.rows] == ["base model", "π1 (3 seeds)", "π2 (3 seeds)"]
    pi1 = table.rows[1].cells[0]
    seeds = scores(PI1)
    assert pi1.replicates == pytest.approx(seeds) and pi1.score == pytest.approx(np.mean(seeds))
    assert pi1.spread_text == f"±{Replicates(seeds).std * 100:.1f}"
    assert pi1.paired.significant and not pi1.noise and pi1.css == "delta-up2"
    assert "mean ± std over 3 seeds" in pi1.title
    (power,) = table.power  # from the base model's evaluation, the reference
    base_correct = [1 if mark == "R" else 0 for mark in BASE]
    assert (power.benchmark, power.n, power.k) == ("arith", PROBLEMS, 1)
    assert power.detectable == pytest.approx(detectable_difference(score_variance(base_correct, 1)))
    assert "sample K ≥ 2" in power.text


def test_power_of_a_benchmark_with_several_samples():
    problems = np.array(
        [(i, c, 8) for i, c in enumerate([3, 4, 5, 4] * 125)], dtype=outcomes.DTYPE
    )  # 500 problems of about even odds: within-problem noise only
    power = benchmark_power("math500", problems)
    variance = score_variance(problems["correct"], 8)
    assert power.samples_for_target == samples_needed(variance, TARGET) == 22  # 0.0932 / sqrt(k) < 0.02
    assert f"avg@{power.samples_for_target} would bring it under 2 points" in power.text


def test_a_difference_within_noise_is_marked_against_a_chosen_reference(alice, seed_sweep):
    pi1_run = seed_sweep.runs.get(point_index=0)
    table = reports.example_comparison(seed_sweep, reference_id=pi1_run.pk)
    assert table.rows[1].is_reference and table.reference == "π1 (3 seeds)"
    pi2 = table.rows[2].cells[0]
    # per problem, the seeds' mean on π2 minus π1's: the paired bootstrap over the 30 problems
    assert pi2.paired.method == "paired bootstrap" and pi2.paired.n == PROBLEMS
    assert not pi2.paired.significant and pi2.noise and pi2.css == "delta-ns"
    assert pi2.paired.lo < pi2.paired.difference < pi2.paired.hi
    assert table.rows[2].cells[-1].paired is not None  # the suite average's paired difference
    url = reverse("results:example_comparison", args=[seed_sweep.pk])
    client = logged_in(alice)
    body = client.get(url, {"reference": pi1_run.pk}).content.decode()
    assert "n.s." in body and "not distinguishable from noise" in body and 'id="power"' in body
    rows = list(csv.reader(io.StringIO(client.get(url, {"format": "csv"}).content.decode())))
    header, pi1_line = rows[0], rows[2]
    seeds = scores(PI1)
    assert pi1_line[header.index("arith std")] == f"{Replicates(seeds).std * 100:.1f}"
    assert float(pi1_line[header.index("arith delta p")]) < 0.05  # π1 against the base model


def test_the_migration_fills_outcomes_intervals_and_best_scores(team_a, tmp_path):
    from django.apps import apps

    migration = importlib.import_module("rlab.results.migrations.0003_eval_intervals")
    run = make_run(team_a)
    result = evaluate(run, 10, responses_for(["RR", "RW", "WW"]), tmp_path)
    type(result).objects.filter(pk=result.pk).update(outcomes=b"", score_lo=None, score_hi=None)
    run.refresh_from_db()
    run.best_scores["arith"].pop("lo")
    run.save(update_fields=["best_scores"])
    migration.fill_intervals(apps, None)
    result.refresh_from_db()
    run.refresh_from_db()
    expected = score_interval([2, 1, 0], 2)
    assert outcomes.unpack(result.outcomes)["correct"].tolist() == [2, 1, 0]
    assert (result.score_lo, run.best_scores["arith"]["lo"]) == pytest.approx((expected.lo, expected.lo))


def test_ablation_against_the_base_model(alice, seed_sweep):
    table = reports.ablation(seed_sweep, reports.BASE_BASELINE)
    assert [r.label for r in table.rows] == [
        "base model",
        "data.examples=pi1 (3 seeds)",
        "data.examples=pi2 (3 seeds)",
    ]
    assert table.rows[0].is_reference and table.rows[0].cells[0].delta is None
    assert all(row.cells[0].paired.significant for row in table.rows[1:])
    assert reports.ablation(seed_sweep).rows[0].label == "data.examples=pi1 (3 seeds)"
    url = reverse("results:ablation", args=[seed_sweep.pk])
    body = logged_in(alice).get(url, {"baseline": "base"}).content.decode()
    assert '<option value="base" selected>' in body and "base model" in body


def test_leaderboard_rows_name_their_seed_replicates(alice, seed_sweep):
    runs = reports.Run.objects.filter(sweep=seed_sweep)
    table = reports.leaderboard(runs, reports.EvalResult.objects.none(), reports.LeaderboardFilters())
    pi1 = scores(PI1)
    for row in table.rows:
        assert row.seeds.startswith("3 seeds: ")
    row = next(r for r in table.rows if r.run.point_index == 0)
    assert row.seeds == f"3 seeds: {Replicates(pi1).mean * 100:.1f} ± {Replicates(pi1).std * 100:.1f}"
    assert row.seeds_title.endswith(", ".join(f"{v * 100:.1f}" for v in pi1))
    body = logged_in(alice).get(reverse("results:leaderboard")).content.decode()
    assert 'class="pm seeds"' in body
