"""eval.mode: loglikelihood from the spec to the leaderboard: the worker's evaluate_model scores ARC options
with a real (tiny) model and records the formulation as the result's template; the leaderboard files it
under its own labelled column, never the column of generated answers."""

import pytest
from django.urls import reverse

from evaluation.benchmarks import DATA_DIR_ENV
from rlab.experiments.models import Run
from rlab.results import reports
from rlab.results.models import EvalResult
from rlab.spec import SpecError, validate_spec
from tests.platform.conftest import logged_in, make_unqueued_run
from tests.platform.results.evaluations import evaluate, responses_for

MIXED_SPEC = """
name: ll-arc
model: {{id: {model}, dtype: float32}}
data: {{dataset: numbers, examples: [0]}}
eval: {{suite: [arc_easy, arith], mode: {{arc_easy: loglikelihood}}, template: one-shot-boxed, limit: 3,
       sampling: {{max_new_tokens: 4}}}}
resources: {{queue: cpu, gpus: 0}}
"""


BASE = {"name": "x", "model": {"id": "m"}, "data": {"dataset": "numbers"}}


def spec_errors(eval_block: dict) -> list[tuple[str, str]]:
    with pytest.raises(SpecError) as caught:
        validate_spec({**BASE, "eval": eval_block})
    return [(e.path, e.message) for e in caught.value.errors]


def test_the_spec_refuses_loglikelihood_for_generation_only_benchmarks_and_unknown_keys():
    assert spec_errors({"suite": ["math500"], "mode": "loglikelihood"}) == [
        ("eval.mode", "'math500' has no log-likelihood formulation")
    ]
    assert spec_errors({"suite": ["arc_easy"], "mode": {"gpqa_diamond": "loglikelihood"}}) == [
        ("eval.mode.gpqa_diamond", "'gpqa_diamond' is not in eval.suite")
    ]
    spec = validate_spec({**BASE, "eval": {"suite": ["arc_easy", "arith"]}})
    assert spec.eval.mode_of("arc_easy") == "generate"


def test_a_loglikelihood_evaluation_gets_its_own_labelled_leaderboard_column(
    alice, team_a, tmp_path, tiny_model_dir, shared_data, monkeypatch, settings
):
    from workers.evaluation import evaluate_model  # imports torch

    monkeypatch.setenv(DATA_DIR_ENV, str(shared_data))
    settings.RLAB_DATA_DIR = shared_data  # where the workers' evaluations read benchmarks
    run = make_unqueued_run(team_a, MIXED_SPEC.format(model=tiny_model_dir))
    results = {r.benchmark.key: r for r in evaluate_model(run, None, tmp_path)}
    scored = results["arc_easy"]
    assert scored.template == "ll-cloze"
    assert scored.sampling == {"mode": "loglikelihood", "formulation": "ll-cloze", "metric": "acc_norm"}
    assert scored.n == 3 and scored.example_results.count() == 3
    assert scored.score == scored.metrics["loglikelihood"]["acc_norm"]
    assert results["arith"].template == "one-shot-boxed"

    # The same benchmark evaluated by generation, for the same model: a separate result and column.
    generated = evaluate(
        run, None, responses_for("RRW", "arc_easy", shared_data), tmp_path, "arc_easy", shared_data
    )
    assert generated.pk != scored.pk
    table = reports.leaderboard(
        Run.objects.filter(team=team_a), EvalResult.objects.filter(team=team_a), reports.LeaderboardFilters()
    )
    columns = {c.key: c.label for c in table.columns}
    assert columns["arc_easy@ll-cloze"] == "arc_easy (ll-cloze)"
    assert columns["arc_easy"] == "arc_easy"
    keys = [c.key for c in table.columns]
    for row in table.rows:
        filled = {keys[i] for i, cell in enumerate(row.cells) if cell.score is not None} - {"average"}
        assert not {"arc_easy", "arc_easy@ll-cloze"} <= filled, row.label
    page = logged_in(alice).get(reverse("results:leaderboard")).content.decode()
    assert "arc_easy (ll-cloze)" in page


LOGLIK_ONLY_SPEC = """
name: ll-only-{name}
model: {{id: {model}, dtype: float32}}
data: {{dataset: numbers, examples: [0]}}
eval: {{suite: [arc_easy], mode: loglikelihood, limit: 2}}
resources: {{queue: cpu, gpus: 0}}
"""


def test_a_recorded_loglikelihood_evaluation_is_found_not_recomputed(
    alice, team_a, tmp_path, tiny_model_dir, shared_data, monkeypatch, settings
):
    """The planned setup of a log-likelihood benchmark is the one its result is recorded with (formulation
    as template), so a re-delivered task and a second run of the same model reuse the base model's row."""
    from workers.evaluation import evaluate_model, recorded_benchmarks

    monkeypatch.setenv(DATA_DIR_ENV, str(shared_data))
    settings.RLAB_DATA_DIR = shared_data
    first = make_unqueued_run(team_a, LOGLIK_ONLY_SPEC.format(name="a", model=tiny_model_dir))
    (scored,) = evaluate_model(first, None, tmp_path / "a")
    assert scored.template == "ll-cloze"
    assert recorded_benchmarks(first, None, scored.model_ref) == {"arc_easy"}

    assert evaluate_model(first, None, tmp_path / "a") == []  # a re-delivered task
    second = make_unqueued_run(team_a, LOGLIK_ONLY_SPEC.format(name="b", model=tiny_model_dir))
    assert evaluate_model(second, None, tmp_path / "b") == []  # the same model for another run
    assert EvalResult.objects.filter(team=team_a, benchmark__key="arc_easy").count() == 1

    page = logged_in(alice).get(reverse("results:evaluation", args=[scored.pk])).content.decode()
    assert "a log-likelihood evaluation scores each option once" in page and 'id="pass-at-k"' not in page
