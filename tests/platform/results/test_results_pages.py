"""Leaderboard, per-example 1-shot comparison and ablation reports: the tables (rlab.results.reports) from
ORM rows, the pages' team isolation and query counts, and one sweep trained and evaluated by a real worker."""

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse

from evaluation.metrics import best_average_checkpoint
from evaluation.statistics import proportion_interval
from rlab.catalog.models import Benchmark, Example, RankEntry, Ranking
from rlab.experiments.models import Checkpoint, Run, Spec, Sweep
from rlab.experiments.submission import submit_spec
from rlab.results import bests, reports
from rlab.results.models import EvalResult
from rlab.spec import parse_spec
from rlab.teams.models import Team
from tests.platform.conftest import logged_in, make_dataset, make_member

SAMPLING = {"temperature": 0.0, "top_p": 1.0, "max_new_tokens": 3072, "n": 1, "seed": 0}
TEMPLATE = "qwen25-math-cot"
MODEL = "Qwen/Qwen2.5-Math-1.5B"


def config(model: str = MODEL, algorithm: str = "grpo", tags: list[str] | None = None, **data) -> dict:
    return {
        "model": {"id": model},
        "algorithm": {"name": algorithm},
        "tags": tags or [],
        "data": {"dataset": "train-set", **data},
    }


def make_sweep(team: Team, points: list[dict], name: str = "sweep", **config_fields) -> Sweep:
    """A sweep with one run per coordinates dict in `points`; no tasks are sent."""
    spec = Spec.objects.create(
        team=team, name=name, yaml_text="", spec_json={}, content_hash=f"{team.slug}-{name}"
    )
    sweep = Sweep.objects.create(team=team, spec=spec)
    for index, coordinates in enumerate(points):
        run_config = config(**config_fields)
        if "data.examples" in coordinates:
            run_config["data"]["examples"] = coordinates["data.examples"]
        Run.objects.create(
            team=team,
            spec=spec,
            sweep=sweep,
            point_index=index,
            name=f"{team.slug}-{name}-{index}",
            coordinates=coordinates,
            config=run_config,
            status=Run.Status.SUCCEEDED,
        )
    return sweep


def evaluate(
    team: Team,
    run: Run | None,
    step: int | None,
    scores: dict,
    subjects: dict | None = None,
    model: str = MODEL,
    n: int = 500,
    k: int = 1,
    sampling: dict = SAMPLING,
) -> None:
    """EvalResults of one checkpoint of `run` (or of the base model when step is None): `n` problems, `k`
    samples each."""
    checkpoint = Checkpoint.record(run, step, f"/ckpt/{run.pk}/{step}") if step is not None else None
    for key, score in scores.items():
        EvalResult.record(
            team=team,
            run=run,
            checkpoint=checkpoint,
            model_ref=model,
            benchmark=Benchmark.objects.get_or_create(key=key, defaults={"name": key})[0],
            template=TEMPLATE,
            sampling={**sampling, "n": k},
            n=n,
            k=k,
            score=score,
            per_subject=(subjects or {}).get(key, {}),
        )


def scores_of(table: reports.Table, label: str) -> list[str]:
    row = next(r for r in table.rows if r.label == label)
    return [cell.text for cell in row.cells]


# ---------------------------------------------------------------- best-average checkpoint


@pytest.mark.django_db
def test_best_checkpoint_is_the_best_mean_with_ties_to_the_earliest(team_a):
    run = make_sweep(team_a, [{}]).runs.get()
    evaluate(team_a, run, 10, {"math500": 0.5, "aime24": 0.1})
    evaluate(team_a, run, 20, {"math500": 0.75, "aime24": 0.25})
    evaluate(team_a, run, 30, {"math500": 0.5, "aime24": 0.5})  # same mean as step 20
    evaluate(team_a, run, 40, {"math500": 0.9})  # still being evaluated: does not compete
    best = bests.best_checkpoints(EvalResult.objects.all())[run.pk]
    assert best.step == 20
    assert best.average == 0.5


# ---------------------------------------------------------------- leaderboard


@pytest.fixture
def board(team_a) -> dict[str, Run]:
    grpo = make_sweep(team_a, [{}], name="grpo", tags=["one-shot"]).runs.get()
    sft = make_sweep(team_a, [{}], name="sft", algorithm="sft", model="other/model").runs.get()
    bare = make_sweep(team_a, [{}], name="bare").runs.get()  # never evaluated: not listed
    evaluate(team_a, grpo, 10, {"math500": 0.60, "aime24": 0.10})
    evaluate(team_a, grpo, 20, {"math500": 0.70, "aime24": 0.20})
    evaluate(team_a, sft, 5, {"math500": 0.50, "aime24": 0.30})
    evaluate(team_a, grpo, None, {"math500": 0.36, "aime24": 0.05})
    return {"grpo": grpo, "sft": sft, "bare": bare}


NO_FILTERS = reports.LeaderboardFilters()


def leaderboard(team, filters=NO_FILTERS, sort="-average") -> reports.Table:
    return reports.leaderboard(
        Run.objects.filter(team=team), EvalResult.objects.filter(team=team), filters, sort
    )


@pytest.mark.django_db
def test_leaderboard_has_a_row_per_run_at_its_best_checkpoint_and_base_rows(team_a, board):
    table = leaderboard(team_a)
    assert [c.key for c in table.columns] == ["aime24", "math500", "average"]
    assert [(r.label, r.step) for r in table.rows] == [
        (board["grpo"].name, 20),
        (board["sft"].name, 5),
        (f"{MODEL} (base)", None),
    ]
    assert scores_of(table, board["grpo"].name) == ["20.0", "70.0", "45.0"]
    assert scores_of(table, f"{MODEL} (base)") == ["5.0", "36.0", "20.5"]


@pytest.mark.django_db
def test_leaderboard_filters_and_sorts(team_a, board):
    by_model = leaderboard(team_a, reports.LeaderboardFilters(model="other/model"))
    assert [r.label for r in by_model.rows] == [board["sft"].name]
    by_tag = leaderboard(team_a, reports.LeaderboardFilters(tag="one-shot"))
    assert [r.label for r in by_tag.rows] == [board["grpo"].name]  # base rows have no tags
    by_algorithm = leaderboard(team_a, reports.LeaderboardFilters(algorithm="sft"))
    assert [r.label for r in by_algorithm.rows] == [board["sft"].name]
    by_aime = leaderboard(team_a, sort="-aime24")
    assert [r.label for r in by_aime.rows][:2] == [board["sft"].name, board["grpo"].name]
    ascending = leaderboard(team_a, sort="math500")
    assert ascending.rows[0].label == f"{MODEL} (base)"


@pytest.mark.django_db
def test_leaderboard_page_shows_only_the_current_team(alice, bob, team_a, team_b, board):
    foreign = make_sweep(team_b, [{}], name="secret").runs.get()
    evaluate(team_b, foreign, 10, {"math500": 0.99})
    evaluate(team_b, None, None, {"math500": 0.11}, model="bob/private-model")
    body = logged_in(alice).get(reverse("results:leaderboard")).content.decode()
    assert board["grpo"].name in body and foreign.name not in body
    assert "bob/private-model" not in body and "99.0" not in body
    assert reverse("experiments:run_detail", args=[board["grpo"].pk]) in body
    bobs = logged_in(bob).get(reverse("results:leaderboard")).content.decode()
    assert foreign.name in bobs and board["grpo"].name not in bobs


@pytest.mark.django_db
def test_leaderboard_query_count_does_not_grow_with_rows(alice, team_a, django_assert_max_num_queries):
    def add_runs(count: int, offset: int) -> None:
        for i in range(count):
            run = make_sweep(team_a, [{}], name=f"r{offset + i}", tags=[f"t{i}"]).runs.get()
            evaluate(team_a, run, 10, {"math500": 0.5, "aime24": 0.1})

    client = logged_in(alice)
    add_runs(2, 0)
    with django_assert_max_num_queries(12) as few:
        assert client.get(reverse("results:leaderboard")).status_code == 200
    add_runs(10, 2)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(reverse("results:leaderboard"), {"sort": "-math500"}).status_code == 200


@pytest.mark.django_db
def test_leaderboard_csv_and_login(alice, board):
    response = logged_in(alice).get(reverse("results:leaderboard"), {"format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:6] == ["row", "run", "step", "aime24", "aime24 lo", "aime24 hi"]
    interval = proportion_interval(0.20, 500)  # no per-problem rows: Wilson over the 500 problems
    expected = [f"{interval.lo * 100:.1f}", f"{interval.hi * 100:.1f}"]
    assert rows[1][:6] == [board["grpo"].name, board["grpo"].name, "20", "20.0", *expected]
    anonymous = Client().get(reverse("results:leaderboard"))
    assert anonymous.status_code == 302 and anonymous.url.startswith(reverse("login"))


# ---------------------------------------------------------------- per-example comparison


@pytest.fixture
def pi_sweep(team_a) -> Sweep:
    """Two 1-shot runs (π1, π2) with math500 per subject and aime24, and the base model's scores."""
    dataset = make_dataset(team_a, "train-set")
    ranking = Ranking.objects.create(dataset=dataset, name="variance")
    RankEntry.objects.bulk_create(
        RankEntry(ranking=ranking, example=example, pi=example.index + 1, variance=0.1)
        for example in dataset.examples.all()
    )
    Example.objects.filter(dataset=dataset, index=0).update(problem="Find x if <x> = 3 & y.")
    sweep = make_sweep(team_a, [{"data.examples": ["pi1"]}, {"data.examples": ["pi2"]}], name="pis")
    pi1, pi2 = sweep.runs.order_by("point_index")
    evaluate(
        team_a,
        None,
        None,
        {"math500": 0.36, "aime24": 0.10},
        subjects={"math500": {"Algebra": 0.40, "Geometry": 0.30}},
    )
    evaluate(
        team_a,
        pi1,
        20,
        {"math500": 0.70, "aime24": 0.10},
        subjects={"math500": {"Algebra": 0.80, "Geometry": 0.29}},
    )
    evaluate(
        team_a,
        pi1,
        40,
        {"math500": 0.60, "aime24": 0.10},
        subjects={"math500": {"Algebra": 0.10, "Geometry": 0.10}},
    )
    evaluate(
        team_a,
        pi2,
        20,
        {"math500": 0.38, "aime24": 0.05},
        subjects={"math500": {"Algebra": 0.40, "Geometry": 0.36}},
    )
    return sweep


@pytest.mark.django_db
def test_example_comparison_rows_columns_and_deltas(pi_sweep):
    table = reports.example_comparison(pi_sweep)
    assert [c.label for c in table.columns] == ["math500", "Algebra", "Geometry", "aime24", "average"]
    assert [(r.label, r.step) for r in table.rows] == [("base model", None), ("π1", 20), ("π2", 20)]
    assert scores_of(table, "π1") == ["70.0", "80.0", "29.0", "10.0", "40.0"]
    pi1 = table.rows[1]
    assert [c.delta_text for c in pi1.cells] == ["+34.0", "+40.0", "-1.0", "+0.0", "+17.0"]
    assert [c.css for c in pi1.cells] == ["delta-up2", "delta-up2", "delta-down1", "delta-zero", "delta-up2"]
    assert pi1.title == "Find x if <x> = 3 & y."
    assert table.rows[0].is_reference and table.reference == "base model"


@pytest.mark.django_db
def test_example_comparison_needs_a_sweep_over_examples_only(team_a):
    sweep = make_sweep(team_a, [{"loss.kl_coef": 0.0}, {"loss.kl_coef": 0.001}])
    with pytest.raises(reports.NotAnExampleSweep):
        reports.example_comparison(sweep)


@pytest.mark.django_db
def test_example_comparison_page_and_csv(alice, pi_sweep):
    client = logged_in(alice)
    url = reverse("results:example_comparison", args=[pi_sweep.pk])
    body = client.get(url).content.decode()
    assert 'title="Find x if &lt;x&gt; = 3 &amp; y."' in body
    assert 'class="num delta-up2"' in body and "<script" not in body.split("<main>")[1]
    rows = list(csv.reader(io.StringIO(client.get(url, {"format": "csv"}).content.decode())))
    width = len(reports.CSV_SUFFIXES)
    assert rows[0][3 : 3 + width] == [f"math500{suffix}" for suffix in reports.CSV_SUFFIXES]
    assert rows[0][3 + width] == "Algebra"
    n, delta = rows[0].index("math500 n"), rows[0].index("math500 delta")
    assert rows[2][0] == "π1" and (rows[2][3], rows[2][n], rows[2][delta]) == ("70.0", "500×1", "+34.0")


# ---------------------------------------------------------------- ablation


@pytest.fixture
def loss_sweep(team_a) -> Sweep:
    points = [{"loss": {"kl_coef": 0.001, "entropy_coeff": -0.001}}, {"loss": {"kl_coef": 0.0}}, {"loss": {}}]
    sweep = make_sweep(team_a, points, name="loss")
    full, no_kl, _ = sweep.runs.order_by("point_index")
    evaluate(team_a, full, 10, {"math500": 0.70, "aime24": 0.20})
    evaluate(team_a, no_kl, 10, {"math500": 0.65, "aime24": 0.25})
    return sweep


@pytest.mark.django_db
def test_ablation_deltas_to_the_first_point_or_a_chosen_baseline(loss_sweep):
    _, no_kl, unevaluated = loss_sweep.runs.order_by("point_index")
    table = reports.ablation(loss_sweep)
    assert [r.label for r in table.rows] == [
        "loss.kl_coef=0.001; loss.entropy_coeff=-0.001",
        "loss.kl_coef=0.0",
        "loss={}",
    ]
    assert table.rows[0].is_reference
    assert [c.delta_text for c in table.rows[1].cells] == ["+5.0", "-5.0", "+0.0"]
    assert scores_of(table, "loss={}") == ["—", "—", "—"]
    against_no_kl = reports.ablation(loss_sweep, baseline_id=no_kl.pk)
    assert [c.delta_text for c in against_no_kl.rows[0].cells] == ["-5.0", "+5.0", "+0.0"]
    assert reports.ablation(loss_sweep, baseline_id=unevaluated.pk).rows[0].cells[0].delta is None


@pytest.mark.django_db
def test_ablation_page_csv(alice, loss_sweep):
    no_kl = loss_sweep.runs.get(point_index=1)
    client = logged_in(alice)
    url = reverse("results:ablation", args=[loss_sweep.pk])
    assert "loss.kl_coef=0.0" in client.get(url, {"baseline": no_kl.pk}).content.decode()
    rows = list(
        csv.reader(io.StringIO(client.get(url, {"format": "csv", "baseline": no_kl.pk}).content.decode()))
    )
    assert (rows[1][3], rows[1][rows[0].index("aime24 delta")]) == ("20.0", "-5.0")


@pytest.mark.django_db
def test_sweep_reports_are_team_scoped(bob, alice, pi_sweep, loss_sweep):
    for name in ("results:example_comparison", "results:ablation"):
        for sweep in (pi_sweep, loss_sweep):
            url = reverse(name, args=[sweep.pk])
            assert logged_in(bob).get(url).status_code == 404, url
            assert logged_in(bob).get(url, {"format": "csv"}).status_code == 404, url
            assert Client().get(url).status_code == 302, url
    assert logged_in(alice).get(reverse("results:ablation", args=[pi_sweep.pk])).status_code == 200
    not_examples = logged_in(alice).get(reverse("results:example_comparison", args=[loss_sweep.pk]))
    assert not_examples.status_code == 400 and "data.examples alone" in not_examples.content.decode()


# ---------------------------------------------------------------- real runs


@pytest.mark.django_db(transaction=True)
def test_reports_of_a_sweep_trained_and_evaluated_by_a_worker(tiny_model_dir, worker_process):
    # imported here: they import torch, which the other tests of this module do without
    from tests.models import tiny_grpo_spec
    from tests.workers.test_training_runs import finished, wait_for

    team = Team.objects.create(name="Lab", slug="lab")
    user = make_member("carol", team)
    dataset = make_dataset(team, "sums", size=2)
    yaml_text = (
        tiny_grpo_spec(tiny_model_dir, "sums", steps=4, save_every=2) + "sweep: {data.examples: [[0], [1]]}\n"
    )
    sweep = submit_spec(team, user, yaml_text)
    runs = list(sweep.runs.order_by("point_index"))
    for run in runs:
        assert finished(run).status == "succeeded", run.error
    checkpoint_results = EvalResult.objects.filter(run__sweep=sweep, checkpoint__isnull=False)
    wait_for(lambda: checkpoint_results.count() == 4, what="both checkpoints of both runs evaluated")
    wait_for(lambda: EvalResult.objects.filter(team=team, checkpoint__isnull=True).exists(), what="base eval")

    table = reports.example_comparison(sweep)
    assert [c.key for c in table.columns] == ["arith", "average"]
    assert [r.label for r in table.rows] == ["base model", "#0", "#1"]
    base = EvalResult.objects.get(team=team, checkpoint__isnull=True)
    assert table.rows[0].cells[0].score == base.score
    for run, row in zip(runs, table.rows[1:], strict=True):
        scores = {r.checkpoint.step: {"arith": r.score} for r in checkpoint_results.filter(run=run)}
        step = best_average_checkpoint(scores)
        assert (row.run, row.step, row.cells[0].score) == (run, step, scores[step]["arith"])
        assert row.cells[0].delta == round(scores[step]["arith"] - base.score, 3) + 0.0
    assert table.rows[1].title == dataset.examples.get(index=0).problem

    assert [r.label for r in reports.ablation(sweep).rows] == ["data.examples=0", "data.examples=1"]
    client = logged_in(user)
    board = client.get(reverse("results:leaderboard")).content.decode()
    assert all(run.name in board for run in runs)
    csv_text = client.get(reverse("results:example_comparison", args=[sweep.pk]), {"format": "csv"})
    assert csv_text.content.decode() == table.csv()


@pytest.mark.django_db
def test_report_pages_link_back_to_their_sweep_and_only_to_pages_that_answer(alice, pi_sweep, loss_sweep):
    """The ablation report of a sweep that varies more than data.examples offers no per-example comparison
    (which would answer 400); both reports link to their sweep."""
    client = logged_in(alice)
    comparison = reverse("results:example_comparison", args=[loss_sweep.pk])
    loss_page = client.get(reverse("results:ablation", args=[loss_sweep.pk])).content.decode()
    assert comparison not in loss_page
    assert reverse("experiments:sweep_detail", args=[loss_sweep.pk]) in loss_page
    pi_page = client.get(reverse("results:ablation", args=[pi_sweep.pk])).content.decode()
    pi_comparison = reverse("results:example_comparison", args=[pi_sweep.pk])
    assert pi_comparison in pi_page and client.get(pi_comparison).status_code == 200
    assert (
        reverse("experiments:sweep_detail", args=[pi_sweep.pk]) in client.get(pi_comparison).content.decode()
    )


def test_the_1_shot_comparison_offers_both_checkpoint_conventions_and_averages_maths_only(alice, team_a):
    """The 1-shot RLVR paper reports each run at its best-average checkpoint (headline tables) and, in its
    Tab. 3/5, each benchmark at the checkpoint best on it (MATH500's subjects at the best-MATH500 one). Its
    "average" is over the maths benchmarks: ARC is shown, not averaged."""
    sweep = make_sweep(team_a, [{"data.examples": ["pi1"]}, {"data.examples": ["pi2"]}], name="conventions")
    pi1, pi2 = sweep.runs.order_by("point_index")
    first = {"math500": 0.70, "aime24": 0.10, "arc_challenge": 0.20}
    later = {"math500": 0.60, "aime24": 0.30, "arc_challenge": 0.90}
    evaluate(team_a, pi1, 20, first, {"math500": {"Algebra": 0.8}})
    evaluate(team_a, pi1, 40, later, {"math500": {"Algebra": 0.5}})
    evaluate(team_a, pi2, 20, {"math500": 0.50, "aime24": 0.10, "arc_challenge": 0.30})
    client = logged_in(alice)
    url = reverse("results:example_comparison", args=[sweep.pk])

    headline = client.get(url).context["table"]
    average = next(c for c in headline.columns if c.key == "average")
    assert average.label == "average (2 maths)"
    row = next(r for r in headline.rows if r.run == pi1)
    # best-average over maths: step 20 (0.40) and step 40 (0.45) → step 40, its scores throughout
    assert row.step == 40 and _cell(headline, row, "math500") == 0.60
    assert _cell(headline, row, "average") == pytest.approx(0.45)

    page = client.get(url, {"checkpoint": "per-benchmark"})
    assert b"the paper&#x27;s Tab. 3/5" in page.content or b"the paper's Tab. 3/5" in page.content
    table = page.context["table"]
    row = next(r for r in table.rows if r.run == pi1)
    assert _cell(table, row, "math500") == 0.70 and _cell(table, row, "aime24") == 0.30
    assert _cell(table, row, "arc_challenge") == 0.90 and _cell(table, row, "math500:Algebra") == 0.8
    assert row.step == 20  # the best-MATH500 checkpoint, whose subjects are shown


def _cell(table, row, key: str) -> float | None:
    index = [c.key for c in table.columns].index(key)
    return row.cells[index].score


def test_reports_say_what_each_run_trained_on_with_its_realized_label_noise(team_a):
    from rlab.catalog.variants import label_noise_variant
    from rlab.experiments.training_data import training_data
    from rlab.results.training_notes import describe
    from tests.platform.conftest import make_dataset, make_unqueued_run

    parent = make_dataset(team_a, "numbers", size=10)
    variant = label_noise_variant(parent, 0.5, 3, team=team_a)
    noisy = sorted(e.index for e in variant.examples.all() if e.is_noisy)
    spec = (
        "name: noisy\nmodel: {id: Qwen/Qwen2.5-Math-1.5B}\n"
        f"data: {{dataset: numbers, examples: [{noisy[0]}], label_noise: {{fraction: 0.5, seed: 3}}}}\n"
    )
    text = describe(training_data(make_unqueued_run(team_a, spec)))
    assert f"#{noisy[0]} (π{noisy[0] + 1}) label" in text and "(wrong; was" in text
    assert "1 of 1 labels wrong (nominal 50%, realized 50.0% of the dataset's rows)" in text


@pytest.mark.django_db
def test_sweep_report_query_counts_do_not_grow_with_runs(alice, team_a, django_assert_max_num_queries):
    """The 1-shot comparison and the ablation read the catalogue once for all runs (what each trained on),
    not once per run: the 10,000-run page bench found 112 queries for a 100-run π sweep."""
    dataset = make_dataset(team_a, "train-set", size=12)
    ranking = Ranking.objects.create(dataset=dataset, name="variance")
    RankEntry.objects.bulk_create(
        RankEntry(ranking=ranking, example=example, pi=example.index + 1, variance=0.1)
        for example in dataset.examples.all()
    )
    client = logged_in(alice)
    counts = []
    for size in (2, 10):
        points = [{"data.examples": [f"pi{i + 1}"]} for i in range(size)]
        sweep = make_sweep(team_a, points, name=f"pis{size}")
        for run in sweep.runs.all():
            examples = run.coordinates["data.examples"]
            spec = f"name: pis\nmodel: {{id: {MODEL}}}\ndata: {{dataset: train-set, examples: {examples}}}\n"
            Run.objects.filter(pk=run.pk).update(config=parse_spec(spec).model_dump(mode="json"))
            evaluate(team_a, run, 10, {"math500": 0.5, "aime24": 0.1})
        with django_assert_max_num_queries(40) as captured:
            assert client.get(reverse("results:example_comparison", args=[sweep.pk])).status_code == 200
            assert client.get(reverse("results:ablation", args=[sweep.pk])).status_code == 200
        counts.append(len(captured.captured_queries))
    assert counts[1] == counts[0], counts
