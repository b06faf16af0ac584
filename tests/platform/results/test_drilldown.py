"""The per-problem drill-down of an evaluation and the comparison of two (rlab.results.drilldown), on
evaluations the real runner graded and the worker's code recorded, with the samples files they wrote."""

import json
import os
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from rlab.catalog.models import Benchmark
from rlab.results import drilldown
from rlab.results.drilldown import Flip, Verdict
from rlab.results.models import EvalResult
from rlab.results.samples import read_samples
from tests.platform.conftest import logged_in, make_unqueued_run
from tests.platform.results.evaluations import evaluate, make_run, problems, responses_for, right

pytestmark = pytest.mark.django_db

# Per problem of arith (levels 1..5, then 1 again), one letter per sample: R right, W wrong.
BASE = ["RR", "RW", "WW", "WW", "RR", "WW"]
STEP = ["WW", "WW", "RW", "WW", "RR", "RR"]
# At least half right counts as right: 0 and 1 (a half) go right → wrong, 2 (a half) and 5 wrong → right,
# 3 stays wrong, 4 stays right.
KINDS = [Flip.RIGHT_TO_WRONG, Flip.RIGHT_TO_WRONG, Flip.WRONG_TO_RIGHT, Flip.BOTH_WRONG, Flip.BOTH_RIGHT]
KINDS.append(Flip.WRONG_TO_RIGHT)


@pytest.fixture
def pair(team_a, tmp_path) -> tuple[EvalResult, EvalResult]:
    """The base model's and a checkpoint's evaluation of the first six arith problems, k = 2."""
    run = make_run(team_a)
    base = evaluate(run, None, responses_for(BASE), tmp_path)
    step = evaluate(run, 20, responses_for(STEP), tmp_path)
    return base, step


def compare_url(a: EvalResult, b: EvalResult, **params) -> str:
    query = "&".join(f"{key}={value}" for key, value in {"a": a.pk, "b": b.pk, **params}.items())
    return f"{reverse('results:compare')}?{query}"


def rows(response) -> list[tuple[int, str]]:
    return [(row.example.index, row.kind) for row in response.context["dd"].problems.rows]


def test_flip_kinds_follow_the_at_least_half_rule(pair):
    base, step = pair
    view = drilldown.drilldown(base, step, {})
    assert [(r.example.index, r.kind) for r in view.problems.rows] == list(enumerate(KINDS))
    assert {k.kind: k.count for k in view.kinds} == {
        Flip.RIGHT_TO_WRONG: 2,
        Flip.WRONG_TO_RIGHT: 2,
        Flip.BOTH_RIGHT: 1,
        Flip.BOTH_WRONG: 1,
    }
    assert view.right_counts == (3, 3)  # base: 0, 1, 4; step: 2, 4, 5
    second = view.problems.rows[1]
    assert (second.a.correct, second.a.samples, second.a.accuracy, second.b.accuracy) == (1, 2, 0.5, 0.0)
    assert [(answer.text, answer.correct) for answer in second.a.answers] == [
        (problems("arith", 2)[1].answer, True),
        (f"{problems('arith', 2)[1].answer} + 1000", False),
    ]
    alone = drilldown.drilldown(step, None, {})
    assert [r.kind for r in alone.problems.rows] == [
        Verdict.WRONG,
        Verdict.WRONG,
        Verdict.RIGHT,  # 1 of 2
        Verdict.WRONG,
        Verdict.RIGHT,
        Verdict.RIGHT,
    ]


def test_compare_page_filters_by_level_and_kind(alice, pair):
    base, step = pair
    client = logged_in(alice)
    everything = client.get(compare_url(base, step))
    assert everything.status_code == 200 and rows(everything) == list(enumerate(KINDS))
    body = everything.content.decode()
    assert "right → wrong (2)" in body and "A and B were evaluated differently" not in body
    assert rows(client.get(compare_url(base, step, level=1))) == [
        (0, Flip.RIGHT_TO_WRONG),
        (5, Flip.WRONG_TO_RIGHT),
    ]
    assert rows(client.get(compare_url(base, step, kind="wrong-right"))) == [
        (2, "wrong-right"),
        (5, "wrong-right"),
    ]
    assert rows(client.get(compare_url(base, step, kind="wrong-right", level=3))) == [(2, "wrong-right")]
    assert rows(client.get(compare_url(base, step, kind="no-such-kind"))) == list(enumerate(KINDS))  # ignored
    single = client.get(reverse("results:evaluation", args=[step.pk]), {"kind": "right"})
    assert [row.example.index for row in single.context["dd"].problems.rows] == [2, 4, 5]


def test_htmx_filters_get_the_table_alone(alice, pair):
    base, step = pair
    partial = logged_in(alice).get(compare_url(base, step, kind="both-right"), headers={"HX-Request": "true"})
    html = partial.content.decode()
    assert html.startswith('<div id="problems">') and "<html" not in html
    assert html.count('class="problem-row"') == 1


def test_problem_detail_shows_both_sides_responses_and_verdicts(alice, pair):
    base, step = pair
    example = base.example_results.get(example__index=2).example
    url = reverse("results:problem", args=[base.pk, example.pk])
    detail = logged_in(alice).get(url, {"b": step.pk})
    row = detail.context["row"]
    assert [(s.correct, s.extracted) for s in row.a.responses] == [(False, f"{example.answer} + 1000")] * 2
    assert [s.correct for s in row.b.responses] == [True, False]
    html = detail.content.decode()
    assert html.count("✓ correct") == 1 and html.count("✗ wrong") == 3
    assert right(problems("arith", 3)[2]) in html
    one_side = logged_in(alice).get(url)
    assert one_side.context["row"].b is None and one_side.content.decode().count('<div class="response ') == 2


def test_a_missing_samples_file_is_a_note_not_an_error(alice, pair):
    base, step = pair
    path = step.samples_path
    os.remove(path)
    client = logged_in(alice)
    page = client.get(compare_url(base, step))
    assert page.status_code == 200
    assert f"The samples file of B could not be read (<code>{path}</code>)" in page.content.decode()
    first = page.context["dd"].problems.rows[0]
    assert first.b.responses is None and [a.correct for a in first.b.answers] == [None, None]
    assert [a.correct for a in first.a.answers] == [True, True]  # A's file is still read
    example = first.example
    detail = client.get(reverse("results:problem", args=[base.pk, example.pk]), {"b": step.pk})
    assert detail.status_code == 200 and "Samples file not readable." in detail.content.decode()
    EvalResult.objects.filter(pk=base.pk).update(samples_path="")
    assert "could not be read" in client.get(reverse("results:evaluation", args=[base.pk])).content.decode()


def test_samples_are_found_by_problem_id_even_when_a_response_quotes_one(team_a, tmp_path):
    found = problems("arith", 2)
    quoting = f'Not the key: "problem_id": "{found[1].id}" \\boxed{{{found[0].answer}}}'
    result = evaluate(make_run(team_a), None, [[quoting], [right(found[1])]], tmp_path)
    index = read_samples(result.samples_path, [found[1].id])
    assert [s.text for s in index[found[1].id]] == [right(found[1])]
    assert (
        read_samples(result.samples_path, []) == {} and read_samples(str(tmp_path / "gone.jsonl"), []) is None
    )


def test_mismatched_benchmarks_and_missing_choices_get_a_message(alice, team_a, pair):
    base, _ = pair
    other = EvalResult.record(
        team=team_a,
        run=base.run,
        checkpoint=None,
        model_ref=base.model_ref,
        benchmark=Benchmark.objects.get_or_create(key="aime24", defaults={"name": "AIME 2024"})[0],
        template=base.template,
        sampling=base.sampling,
        n=30,
        score=0.1,
    )
    client = logged_in(alice)
    mismatched = client.get(compare_url(base, other))
    assert mismatched.status_code == 400
    assert "A is an evaluation on arith and B on aime24" in mismatched.content.decode()
    detail = client.get(
        reverse("results:problem", args=[base.pk, base.example_results.first().example_id]), {"b": other.pk}
    )
    assert detail.status_code == 400
    chooser = client.get(reverse("results:compare"), {"a": base.pk})
    assert chooser.status_code == 200 and "Choose two evaluations" in chooser.content.decode()
    assert '<optgroup label="aime24">' in chooser.content.decode()


def test_different_settings_are_pointed_out(alice, team_a, tmp_path, pair):
    base, _ = pair
    greedy_three = evaluate(base.run, 10, responses_for(["RRR"] * 6), tmp_path)
    page = logged_in(alice).get(compare_url(base, greedy_three)).content.decode()
    assert "A and B were evaluated differently (n: A 2, B 3)" in page


def test_other_teams_get_404(alice, bob, team_b, pair, tmp_path):
    base, step = pair
    client = logged_in(bob)
    example = base.example_results.first().example_id
    for url in (
        reverse("results:evaluation", args=[base.pk]),
        compare_url(base, step),
        reverse("results:problem", args=[base.pk, example]),
    ):
        assert client.get(url).status_code == 404, url
        assert Client().get(url).status_code == 302, url
    bobs = evaluate(make_run(team_b), None, responses_for(BASE), tmp_path / "bob")
    assert logged_in(alice).get(compare_url(base, bobs)).status_code == 404
    assert client.get(compare_url(bobs, step)).status_code == 404
    assert client.get(reverse("results:problem", args=[bobs.pk, example]), {"b": step.pk}).status_code == 404


def test_queries_do_not_grow_with_problems_or_pages(alice, team_a, tmp_path, django_assert_max_num_queries):
    run = make_run(team_a)
    small = [evaluate(run, step, responses_for(["RW"] * 3), tmp_path) for step in (None, 10)]
    large = [evaluate(run, step, responses_for(["RW", "WR", "RR"] * 20), tmp_path) for step in (20, 30)]
    client = logged_in(alice)
    with django_assert_max_num_queries(12) as few:
        assert client.get(compare_url(*small)).status_code == 200
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(compare_url(*large, page=2))
    dd = page.context["dd"]
    assert (dd.total, dd.page.number, len(dd.problems.rows)) == (60, 2, drilldown.PAGE_SIZE)
    assert dd.problems.rows[0].example.index == drilldown.PAGE_SIZE
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(reverse("results:evaluation", args=[large[0].pk])).status_code == 200


def test_run_page_links_results_to_their_problems_and_to_the_base_model(alice, pair):
    base, step = pair
    html = logged_in(alice).get(reverse("results:run_evaluations", args=[step.run_id])).content.decode()
    assert reverse("results:evaluation", args=[step.pk]) in html
    assert reverse("results:evaluation", args=[base.pk]) in html
    assert f"{reverse('results:compare')}?a={base.pk}&amp;b={step.pk}" in html
    assert html.count(">vs base</a>") == 1  # the checkpoint's result only
    assert f'<option value="{step.pk}" selected>step 20 · arith</option>' in html
    evaluation = logged_in(alice).get(reverse("results:evaluation", args=[step.pk])).content.decode()
    assert f'<option value="{base.pk}">smollm2-135m-instruct (base) · 41.7%</option>' in evaluation  # 5 of 12


def test_math500_subjects_filter(alice, team_a, tmp_path, shared_data):
    run = make_run(team_a)
    pattern = ["R", "W", "R", "W", "R", "W", "R", "W"]
    result = evaluate(
        run, None, responses_for(pattern, "math500", shared_data), tmp_path, "math500", shared_data
    )
    found = problems("math500", len(pattern), shared_data)
    subject = found[0].subject
    page = logged_in(alice).get(reverse("results:evaluation", args=[result.pk]), {"subject": subject})
    expected = [i for i, p in enumerate(found) if p.subject == subject]
    assert [row.example.index for row in page.context["dd"].problems.rows] == expected
    assert f'<option value="{subject}" selected>{subject}</option>' in page.content.decode()
    assert [r.kind for r in page.context["dd"].problems.rows] == [
        "right" if pattern[i] == "R" else "wrong" for i in expected
    ]


def test_drilling_into_a_tiny_models_evaluation_written_by_the_worker(
    alice, team_a, tmp_path, tiny_model_dir
):
    # imported here: they import torch, which the other tests of this module do without
    from tests.models import tiny_grpo_spec
    from workers.evaluation import evaluate_model

    run = make_unqueued_run(team_a, tiny_grpo_spec(tiny_model_dir, "numbers"))
    (result,) = evaluate_model(run, None, tmp_path)
    lines = [json.loads(line) for line in Path(result.samples_path).read_text().splitlines()]
    client = logged_in(alice)
    shown = client.get(reverse("results:evaluation", args=[result.pk])).context["dd"].problems.rows
    assert [[(a.text, a.correct) for a in row.a.answers] for row in shown] == [
        [(line["extracted"], line["correct"])] for line in lines
    ]
    detail = client.get(reverse("results:problem", args=[result.pk, shown[0].example.pk]))
    assert [s.text for s in detail.context["row"].a.responses] == [lines[0]["text"]]
