"""Data model: idempotent upserts by workers, spec immutability, constraints."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from rlab.catalog.models import Benchmark, Example
from rlab.experiments.models import Checkpoint, Run, Spec, TrainMetric
from rlab.experiments.submission import submit_spec
from rlab.results.models import EvalResult, ExampleResult
from rlab.spec import SpecError
from tests.platform.conftest import make_dataset

SPEC = """
name: upserts
model: {id: smollm2-135m-instruct}
data: {dataset: arith, examples: [0]}
eval: {suite: [arith]}
resources: {queue: cpu, gpus: 0}
"""

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(team_a, alice, shared_datasets) -> Run:
    return submit_spec(team_a, alice, SPEC).runs.get()


def test_submission_creates_a_queued_run_per_sweep_point(team_a, alice, shared_datasets):
    sweep = submit_spec(team_a, alice, SPEC + "sweep: {train.lr: [1.0e-6, 2.0e-6, 4.0e-6]}\n")
    runs = list(sweep.runs.order_by("point_index"))
    assert [r.status for r in runs] == ["queued"] * 3
    assert [r.config["train"]["lr"] for r in runs] == [1e-6, 2e-6, 4e-6]
    assert [r.coordinates for r in runs] == [{"train.lr": v} for v in (1e-6, 2e-6, 4e-6)]
    assert all(r.queue == "cpu" and r.team == team_a for r in runs)
    assert len({r.name for r in runs}) == 3


def test_same_spec_twice_reuses_the_spec_row(team_a, alice, shared_datasets):
    first, second = submit_spec(team_a, alice, SPEC), submit_spec(team_a, alice, SPEC)
    assert first.spec_id == second.spec_id and first.id != second.id
    assert Spec.objects.count() == 1 and Run.objects.count() == 2


def test_unknown_dataset_is_rejected_and_nothing_is_saved(team_a, alice):
    with pytest.raises(SpecError, match=r"data\.dataset: no dataset named .arith."):
        submit_spec(team_a, alice, SPEC)
    assert not Spec.objects.exists() and not Run.objects.exists()


def test_another_teams_dataset_is_not_usable(team_a, team_b, alice):
    make_dataset(team_b, "arith")
    with pytest.raises(SpecError, match="no dataset named 'arith'"):
        submit_spec(team_a, alice, SPEC)


def test_spec_is_immutable_once_it_has_runs(run):
    spec = run.spec
    spec.yaml_text += "\n# changed"
    with pytest.raises(ValidationError, match="clone it instead"):
        spec.save()


def test_train_metric_upsert_is_idempotent(run):
    TrainMetric.record(run, 1, {"reward": 0.1})
    TrainMetric.record(run, 1, {"reward": 0.5})
    TrainMetric.record(run, 2, {"reward": 0.7})
    assert list(run.metrics.values_list("step", "values")) == [(1, {"reward": 0.5}), (2, {"reward": 0.7})]


def test_checkpoint_upsert_is_idempotent(run):
    first = Checkpoint.record(run, 20, "/a/step-20", "bfloat16")
    again = Checkpoint.record(run, 20, "/b/step-20", "bfloat16")
    assert first.pk == again.pk and again.path == "/b/step-20"
    assert run.checkpoints.count() == 1


def eval_fields(run, checkpoint, benchmark, score):
    return dict(
        team=run.team,
        run=run,
        checkpoint=checkpoint,
        model_ref="smollm2-135m-instruct",
        benchmark=benchmark,
        template="qwen25-math-cot",
        sampling={"temperature": 0.0, "n": 1},
        n=2,
        k=1,
        score=score,
    )


def test_eval_result_and_example_results_upsert(run):
    benchmark = Benchmark.objects.create(key="arith", name="Arithmetic")
    checkpoint = Checkpoint.record(run, 5, "/ckpt/5", "float32")
    examples = list(Example.objects.filter(dataset__name="arith")[:2])
    rows = [
        dict(example=e, samples=1, correct=c, mean_length=10.0, extracted_answers=["1"])
        for e, c in zip(examples, (1, 0), strict=True)
    ]
    first = EvalResult.record(examples=rows, **eval_fields(run, checkpoint, benchmark, 0.5))
    rows[1]["correct"] = 1
    second = EvalResult.record(examples=rows, **eval_fields(run, checkpoint, benchmark, 1.0))
    assert first.pk == second.pk
    assert EvalResult.objects.get().score == 1.0
    assert ExampleResult.objects.count() == 2
    assert sorted(ExampleResult.objects.values_list("correct", flat=True)) == [1, 1]


def test_base_model_eval_is_one_row_per_model_benchmark_template_sampling(run):
    benchmark = Benchmark.objects.create(key="arith", name="Arithmetic")
    EvalResult.record(**eval_fields(run, None, benchmark, 0.2))
    EvalResult.record(**eval_fields(run, None, benchmark, 0.3))
    other_sampling = {**eval_fields(run, None, benchmark, 0.4), "sampling": {"temperature": 0.6, "n": 8}}
    EvalResult.record(**other_sampling)
    assert EvalResult.objects.count() == 2


def test_example_index_is_unique_per_dataset(shared_datasets):
    with pytest.raises(IntegrityError):
        Example.objects.create(dataset=shared_datasets[0], index=0, problem="dup", answer="1")


def test_the_suite_runs_on_postgresql():
    from django.db import connection

    assert connection.vendor == "postgresql"


def test_pi_names_must_exist_in_the_datasets_ranking(team_a, alice, shared_datasets):
    spec = SPEC.replace("examples: [0]", "examples: [pi1, 99]")
    with pytest.raises(SpecError) as caught:
        submit_spec(team_a, alice, spec)
    assert [str(e) for e in caught.value.errors] == [
        "data.examples[0]: dataset 'arith' has no ranking to name pi1",
        "data.examples[1]: dataset 'arith' has no example with index 99",
    ]
    assert not Run.objects.exists()
