"""Run pages: live status with ETA, curves from whatever numeric metrics a run reports, test accuracy per
checkpoint, the log tail, cancel and retry, all scoped to the user's teams."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from rlab.catalog.models import Benchmark
from rlab.experiments.charts import Series, line_chart, nice_ticks
from rlab.experiments.durations import eta_seconds, format_duration
from rlab.experiments.models import Checkpoint, Run, Sweep, TrainMetric
from rlab.experiments.run_report import log_tail
from rlab.experiments.submission import submit_spec
from rlab.results.models import EvalResult
from tests.platform.conftest import logged_in, make_dataset

pytestmark = pytest.mark.django_db

SPEC = """
name: curves
model: {id: smollm2-135m-instruct}
data: {dataset: numbers, examples: [0]}
train: {steps: 40}
eval: {suite: [arith]}
resources: {queue: cpu, gpus: 0}
"""


@pytest.fixture
def run(team_a, alice) -> Run:
    make_dataset(team_a, "numbers")
    return submit_spec(team_a, alice, SPEC).runs.get()


@pytest.fixture
def foreign_run(team_b, bob) -> Run:
    make_dataset(team_b, "numbers")
    return submit_spec(team_b, bob, SPEC).runs.get()


def finish(run: Run, status: str = Run.Status.FAILED) -> None:
    Run.objects.filter(pk=run.pk).update(status=status, finished_at=timezone.now())
    run.refresh_from_db()


def test_run_page_draws_every_numeric_metric(alice, run):
    for step in range(1, 6):
        TrainMetric.record(
            run,
            step,
            {"reward_mean": step / 5, "entropy": 1.0 - step / 10, "kl": 0.01 * step, "note": "text"},
        )
    body = logged_in(alice).get(reverse("experiments:run_detail", args=[run.pk])).content.decode()
    charts = logged_in(alice).get(reverse("experiments:run_curves", args=[run.pk])).context["charts"]
    assert [chart.title for chart in charts.main] == ["reward_mean", "entropy", "kl"] and not charts.more
    assert body.count("<polyline") == 3 and "reward_mean · step 5: 1" in body


def test_metrics_outside_the_main_ones_are_folded_away(alice, run):
    TrainMetric.record(run, 1, {"reward_mean": 0.5, "grad_norm": 2.0, "lr": 1e-6})
    TrainMetric.record(run, 2, {"reward_mean": 0.7, "grad_norm": 1.0, "lr": 1e-6})
    response = logged_in(alice).get(reverse("experiments:run_curves", args=[run.pk]))
    charts = response.context["charts"]
    assert [c.title for c in charts.main] == ["reward_mean"] and [c.title for c in charts.more] == [
        "grad_norm",
        "lr",
    ]
    assert "2 more metrics: grad_norm, lr" in response.content.decode()


def test_a_run_reporting_only_other_metrics_shows_them_all(alice, run):
    TrainMetric.record(run, 1, {"placeholder": 1.0, "progress": 0.5})
    charts = logged_in(alice).get(reverse("experiments:run_curves", args=[run.pk])).context["charts"]
    assert [c.title for c in charts.main] == ["placeholder", "progress"] and not charts.more


def test_evaluations_per_checkpoint_and_benchmark(alice, team_a, run):
    benchmarks = [Benchmark.objects.create(key=key, name=key) for key in ("arith", "math500")]
    checkpoints = [Checkpoint.record(run, step, f"/ckpt/{step}") for step in (20, 40)]
    common = {"team": team_a, "run": run, "model_ref": "m", "template": "t", "sampling": {}, "n": 10}
    EvalResult.record(checkpoint=None, benchmark=benchmarks[0], score=0.1, **common)
    for checkpoint, score in zip(checkpoints, (0.4, 0.55), strict=True):
        EvalResult.record(checkpoint=checkpoint, benchmark=benchmarks[0], score=score, **common)
    EvalResult.record(checkpoint=checkpoints[1], benchmark=benchmarks[1], score=0.3, **common)
    response = logged_in(alice).get(reverse("results:run_evaluations", args=[run.pk]))
    evals = response.context["evals"]
    assert evals.benchmarks == ["arith", "math500"]
    assert [(row.label, [cell.text for cell in row.cells]) for row in evals.rows] == [
        ("base model", ["10.0", "—"]),
        ("step 20", ["40.0", "—"]),
        ("step 40", ["55.0", "30.0"]),
    ]
    assert "/ckpt/40" in response.content.decode() and "<polyline" in response.content.decode()


def test_log_tail_shows_the_end_of_run_log(alice, run, tmp_path):
    (tmp_path / "run.log").write_text("".join(f"line {i}\n" for i in range(1000)))
    Run.objects.filter(pk=run.pk).update(artifact_dir=str(tmp_path))
    body = logged_in(alice).get(reverse("experiments:run_log", args=[run.pk])).content.decode()
    assert "line 999" in body and "line 800" in body and "line 799" not in body
    run.refresh_from_db()
    assert len(log_tail(run, lines=5)) == 5


def test_status_partial_polls_until_finished_and_shows_eta(alice, run):
    started = timezone.now() - timedelta(seconds=60)
    Run.objects.filter(pk=run.pk).update(status="running", progress=0.25, step=10, started_at=started)
    client, url = logged_in(alice), reverse("experiments:run_detail", args=[run.pk])
    body = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 2s"' in body and "about 3 min" in body and "Cancel run" in body
    finish(run, Run.Status.SUCCEEDED)
    body = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in body and "Run again" in body


def test_eta_needs_a_running_run_part_way():
    now = timezone.now()
    run = Run(status="running", progress=0.5, started_at=now - timedelta(seconds=30))
    assert eta_seconds(run, now) == pytest.approx(30)
    assert eta_seconds(Run(status="queued", progress=0.0), now) is None
    assert format_duration(3725) == "1 h 02 min" and format_duration(None) == ""


def test_retry_queues_the_same_point_as_a_new_sweep(alice, run):
    client = logged_in(alice)
    response = client.post(reverse("experiments:run_retry", args=[run.pk]))
    assert Run.objects.count() == 1 and "still queued" in client.get(response.url).content.decode()
    finish(run)
    response = client.post(reverse("experiments:run_retry", args=[run.pk]))
    retry = Run.objects.exclude(pk=run.pk).get()
    assert response.url == reverse("experiments:run_detail", args=[retry.pk])
    assert (retry.spec, retry.config, retry.point_index, retry.status) == (run.spec, run.config, 0, "queued")
    assert retry.sweep != run.sweep and Sweep.objects.count() == 2


def test_run_list_filters_by_sweep_and_polls_while_runs_are_live(alice, team_a, run):
    other = submit_spec(team_a, alice, SPEC.replace("curves", "other")).runs.get()
    client = logged_in(alice)
    response = client.get(reverse("experiments:run_list"), {"sweep": other.sweep_id})
    assert [r.pk for r in response.context["runs"]] == [other.pk]
    partial = client.get(reverse("experiments:run_list"), headers={"HX-Request": "true"}).content.decode()
    assert partial.startswith('<div id="run-table" hx-get=') and "<html" not in partial
    for r in (run, other):
        finish(r)
    assert "hx-trigger" not in client.get(reverse("experiments:run_list")).content.decode()


def test_run_list_queries_stay_bounded(alice, team_a, run, django_assert_max_num_queries):
    seeds = ", ".join(map(str, range(60)))
    submit_spec(team_a, alice, SPEC + f"sweep: {{train.seed: [{seeds}]}}")
    for other in Run.objects.all():
        TrainMetric.record(other, 1, {"reward_mean": 0.1, "kl": 0.0})
    client = logged_in(alice)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("experiments:run_list"))
        assert len(response.context["runs"]) == 50 and response.context["page"].paginator.count == 61
    columns = {"config": "train.lr, train.seed, algorithm.name", "metrics": "reward_mean, kl, entropy"}
    with django_assert_max_num_queries(12):  # the same, plus saving the choice in the session
        response = client.get(reverse("experiments:run_list"), columns | {"page": 2})
        assert len(response.context["runs"]) == 11


def test_run_list_shows_chosen_config_and_metric_columns(alice, team_a, run):
    """W&B-style columns: config values by path and each metric's value at its last logged step."""
    TrainMetric.record(run, 1, {"reward_mean": 0.25, "kl": 0.5})
    TrainMetric.record(run, 2, {"reward_mean": 0.75})  # kl not logged at step 2: its last value is step 1's
    client = logged_in(alice)
    response = client.get(
        reverse("experiments:run_list"),
        {"config": "train.steps, algorithm.name, no.such", "metrics": "kl,reward_mean"},
    )
    assert [cells for _, cells in response.context["rows"]] == [["40", "grpo", "—", "0.5", "0.75"]]
    body = response.content.decode()
    assert "<code>train.steps</code>" in body and "<code>reward_mean</code> (last)" in body
    assert '<option value="train.lr">' in body and '<option value="reward_mean">' in body  # suggestions
    remembered = client.get(reverse("experiments:run_list"))  # the choice is kept for this user
    assert remembered.context["columns"].metrics == ["kl", "reward_mean"]
    sweep_page = client.get(reverse("experiments:sweep_detail", args=[run.sweep_id]))  # and shown there too
    assert [cells for _, cells in sweep_page.context["rows"]] == [["40", "grpo", "—", "0.5", "0.75"]]
    injected = client.get(reverse("experiments:run_list"), {"metrics": "x'); DROP TABLE x; --, kl"})
    assert injected.context["columns"].metrics == ["kl"]


def test_run_page_queries_stay_bounded(alice, run, django_assert_max_num_queries):
    for step in range(1, 101):
        TrainMetric.record(run, step, {"reward_mean": step / 100})
        if step % 20 == 0:
            Checkpoint.record(run, step, f"/ckpt/{step}")
    client = logged_in(alice)
    with django_assert_max_num_queries(14):  # a queued run: its place and wait estimate take 3
        client.get(reverse("experiments:run_detail", args=[run.pk]))


RUN_URLS = [
    ("get", "experiments:run_detail"),
    ("get", "experiments:run_curves"),
    ("get", "results:run_evaluations"),
    ("get", "experiments:run_log"),
    ("post", "experiments:run_cancel"),
    ("post", "experiments:run_retry"),
]


def test_another_teams_run_is_404_everywhere(alice, foreign_run):
    finish(foreign_run)
    client = logged_in(alice)
    for method, name in RUN_URLS:
        assert getattr(client, method)(reverse(name, args=[foreign_run.pk])).status_code == 404, name
    assert Run.objects.count() == 1 and not Run.objects.get().cancel_requested


@pytest.mark.parametrize(("method", "name"), RUN_URLS)
def test_run_pages_need_login(run, method, name):
    response = getattr(Client(), method)(reverse(name, args=[run.pk]))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_retry_needs_csrf(alice, run):
    finish(run)
    response = logged_in(alice, enforce_csrf_checks=True).post(
        reverse("experiments:run_retry", args=[run.pk])
    )
    assert response.status_code == 403 and Run.objects.count() == 1


def test_empty_run_list_points_to_the_editor(alice):
    body = logged_in(alice).get(reverse("experiments:run_list")).content.decode()
    assert "No runs yet" in body and reverse("experiments:spec_new") in body


def test_chart_geometry():
    assert nice_ticks(0, 1) == [0.0, 0.5, 1.0]
    assert nice_ticks(1, 40) == [10, 20, 30, 40]
    assert nice_ticks(-0.02, 0.03) == [-0.02, 0.0, 0.02]
    assert nice_ticks(0.1, 0.7) == [0.2, 0.4, 0.6]
    assert line_chart("empty", [Series("x", [])]) is None
    chart = line_chart("one point", [Series("x", [(3, 0.5)])])
    assert len(chart.lines) == 1 and chart.lines[0].markers[0].tooltip == "x · step 3: 0.5"
    assert nice_ticks(1, 3, whole=True) == [1, 2, 3]
    short = line_chart("three steps", [Series("x", [(1, 0.1), (2, 0.2), (3, 0.3)])])
    assert [tick.label for tick in short.x_ticks] == ["1", "2", "3"]  # steps, never 1.5
    assert [tick.label for tick in chart.x_ticks] == ["3"]
    zero = line_chart("accuracy", [Series("x", [(1, 0.0), (2, 0.0)])], y_floor=0)
    assert [tick.label for tick in zero.y_ticks] == ["0", "0.5", "1"]


def test_the_run_page_charts_pinned_metrics_first(alice, team_a):
    """The spec's pinned_metrics (the demo: boxed_ratio, reward_mean), else its algorithm's, come first."""
    from rlab.experiments.run_report import metric_charts
    from tests.platform.conftest import make_unqueued_run

    spec = SPEC.replace("name:", "pinned_metrics: [boxed_ratio, reward_mean]\nname:", 1)
    run = make_unqueued_run(team_a, spec)
    for step in (1, 2):
        run.metrics.create(step=step, values={"reward_mean": 0.1, "boxed_ratio": 0.5, "entropy": 1.0})
    assert [chart.title for chart in metric_charts(run).main][:2] == ["boxed_ratio", "reward_mean"]


def test_the_run_page_shows_disk_use_and_pruned_checkpoints(alice, run, tmp_path):
    """Issue: the run page shows disk used; a checkpoint pruned after its evaluation says so instead of a
    path that is gone."""
    kept, pruned = tmp_path / "checkpoints" / "step-00000002", tmp_path / "checkpoints" / "step-00000001"
    kept.mkdir(parents=True)
    (kept / "model.safetensors").write_bytes(b"x" * 3 * 2**20)
    Run.objects.filter(pk=run.pk).update(artifact_dir=str(tmp_path))
    for step, path in ((1, pruned), (2, kept)):
        checkpoint = Checkpoint.record(run, step, str(path))
        EvalResult.record(
            team=run.team,
            run=run,
            checkpoint=checkpoint,
            model_ref="m",
            benchmark=Benchmark.objects.get_or_create(key="arith", defaults={"name": "arith"})[0],
            template="t",
            sampling={},
            n=4,
            score=0.5,
        )
    body = logged_in(alice).get(reverse("experiments:run_detail", args=[run.pk])).content.decode()
    assert "Disk: 3.0 MiB (1 of 2 checkpoints on disk)" in body
    assert "pruned after its evaluation" in body and f"<code class=\"path\">{kept}</code>" in body


def test_the_evaluation_table_shows_pinned_metrics_with_their_denominator(alice, run):
    """The demo's point on its page: the pinned boxed ratio per checkpoint, with what it is a share of."""
    config = run.config | {"pinned_metrics": ["boxed_ratio", "reward_mean"]}
    Run.objects.filter(pk=run.pk).update(config=config)
    benchmark = Benchmark.objects.get_or_create(key="arith", defaults={"name": "arith"})[0]
    for step, boxed in ((None, 0.6875), (4, 0.9375)):
        EvalResult.record(
            team=run.team,
            run=run,
            checkpoint=Checkpoint.record(run, step, "/gone") if step else None,
            model_ref="m",
            benchmark=benchmark,
            template="t",
            sampling={},
            n=16,
            score=0.0,
            metrics={"boxed_ratio": boxed},
        )
    body = logged_in(alice).get(reverse("experiments:run_detail", args=[run.pk])).content.decode()
    assert "arith · boxed_ratio" in body and "arith · reward_mean" not in body  # not an evaluation metric
    assert 'title="boxed_ratio over 16 problems × 1 sample">68.8<' in body
    assert 'title="boxed_ratio over 16 problems × 1 sample">93.8<' in body
    assert "boxed_ratio on the test problems (%)" in body
