"""A run with `resources.processes: 2` on a real worker: the task launches torchrun, two gloo ranks train the
tiny model data-parallel, and rank 0 alone reports (every row exactly once), checkpoints and stops."""

from pathlib import Path

import pytest

from rlab.experiments.models import Checkpoint, EpochAccuracy, Run, TrainMetric
from rlab.experiments.submission import submit_spec
from rlab.results.models import EvalResult, ExampleResult
from tests.models import tiny_grpo_spec
from tests.workers.test_training_runs import evaluations_settled, finished, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

ONE_PROCESS = "resources: {queue: cpu, gpus: 0}"


def two_processes(spec: str) -> str:
    assert ONE_PROCESS in spec
    return spec.replace(ONE_PROCESS, "resources: {queue: cpu, gpus: 0, processes: 2}")


def test_a_two_process_run_reports_every_row_once(team, sums, tiny_model_dir, worker_process):
    spec = two_processes(tiny_grpo_spec(tiny_model_dir, "sums", steps=4, save_every=2))
    run = submit_spec(team, None, spec).runs.get()
    assert run.config["resources"]["processes"] == 2
    finished(run)
    assert run.status == "succeeded", run.error
    steps = TrainMetric.objects.filter(run=run).order_by("step").values_list("step", flat=True)
    assert list(steps) == [1, 2, 3, 4]
    assert {"reward_mean", "entropy", "grad_norm"} <= set(run.metrics.first().values)
    checkpoints = Checkpoint.objects.filter(run=run).order_by("step").values_list("step", flat=True)
    assert list(checkpoints) == [2, 4]
    assert EpochAccuracy.objects.filter(run=run).count() == 4
    evaluations_settled(run, 3)  # the base model and both checkpoints
    assert EvalResult.objects.filter(run=run).count() == 3
    assert ExampleResult.objects.filter(eval_result__run=run).count() == 6
    log = (Path(run.artifact_dir) / "run.log").read_text()
    assert "launching 2 data-parallel processes" in log and "[rank 0] INFO" in log
    assert "[rank 1] INFO" not in log  # the other ranks log only what goes wrong
    written = sorted(path.name for path in (Path(run.artifact_dir) / "checkpoints").iterdir())
    assert written == ["step-00000002", "step-00000004"]


def test_cancelling_stops_every_rank(team, sums, tiny_model_dir, worker_process):
    spec = two_processes(tiny_grpo_spec(tiny_model_dir, "sums", steps=200, save_every=100, base_model=False))
    run = submit_spec(team, None, spec).runs.get()
    wait_for(lambda: TrainMetric.objects.filter(run=run).exists(), what="the first step")
    Run.objects.filter(pk=run.pk).update(cancel_requested=True)
    finished(run)
    assert run.status == "cancelled" and 0 < run.step < 200


def test_a_failing_rank_fails_the_run_with_its_error(team, sums, tiny_model_dir, worker_process):
    # SRFT on a dataset without demonstrations: rank 0 raises while it reads the examples
    spec = two_processes(tiny_grpo_spec(tiny_model_dir, "sums", steps=2, base_model=False)).replace(
        "algorithm: {name: grpo, grpo: {rollouts_per_prompt: 4, temperature: 1.0}}",
        "algorithm: {name: srft, srft: {rollouts_per_prompt: 3, temperature: 1.0}}",
    )
    run = submit_spec(team, None, spec).runs.get()
    finished(run)
    assert run.status == "failed"
    assert "rank-0 failed: ValueError: example 0 has no demonstration in 'solution'" in run.error
    assert not list(Path(run.artifact_dir).glob("rank-*.error"))
    assert not TrainMetric.objects.filter(run=run).exists()
