"""Every evaluation a run asks for is recorded, exactly once, whatever happens to the worker: checkpoints
wait for their evaluation before they are pruned, a run is `evaluating` until its evaluations are in, a
worker killed during an evaluation leaves it to the next worker, and a failed evaluation says why."""

from pathlib import Path

import pytest

from rlab.experiments.models import EvalRequest, Run
from rlab.experiments.submission import submit_spec
from rlab.results.models import EvalResult, ExampleResult
from tests.models import tiny_grpo_spec
from tests.platform.conftest import make_unqueued_run
from tests.workers.test_artifact_failures import run_task
from tests.workers.test_training_runs import finished, wait_for
from training.checkpoints import has_resume_state, list_checkpoints
from training.disk import folder_size
from workers.tasks import requeue_stale_evaluations

pytestmark = pytest.mark.django_db(transaction=True)


def test_every_checkpoint_is_evaluated_before_it_is_pruned(team, sums, tiny_model_dir, worker_process):
    """The race of a one-task worker: evaluations wait behind the training task, checkpoints every step,
    keep_last 1; none may be pruned before its evaluation is recorded."""
    steps = 5
    spec = tiny_grpo_spec(tiny_model_dir, "sums", steps=steps, save_every=1).replace(
        "keep_last: 100", "keep_last: 1"
    )
    run = finished(submit_spec(team, None, spec).runs.get())
    assert run.status == "succeeded", run.error
    requests = EvalRequest.objects.filter(run=run)
    assert sorted(requests.values_list("target", "status")) == sorted(
        [("base", "done")] + [(f"step-{step}", "done") for step in range(1, steps + 1)]
    )
    steps_evaluated = EvalResult.objects.filter(run=run, checkpoint__isnull=False)
    assert sorted(steps_evaluated.values_list("checkpoint__step", flat=True)) == list(range(1, steps + 1))
    on_disk = list_checkpoints(Path(run.artifact_dir) / "checkpoints")
    run.refresh_from_db()
    # Pruned after their evaluations: the newest (keep_last 1), the best-average (pinned) and the trainer's
    # best remain; the run has succeeded, so none keeps optimizer or RNG state (nothing resumes from it).
    assert on_disk[-1].step == steps and len(on_disk) <= 3 and run.best_step in {i.step for i in on_disk}
    assert [has_resume_state(info.path) for info in on_disk] == [False] * len(on_disk)
    sizes = {folder_size(info.path) for info in on_disk}
    assert max(sizes) - min(sizes) < 4096  # weights only, the same size (trainer_state.json varies)


def test_a_succeeded_run_keeps_only_its_best_checkpoint_with_keep_last_0(
    team, sums, tiny_model_dir, worker_process
):
    """While training the newest checkpoint keeps its resume state; once the run has succeeded and its
    evaluations are in, keep_last 0 leaves the best-average checkpoint alone (not the trainer's best by
    reward, which stands in for it only until evaluations name one), weights only."""
    spec = tiny_grpo_spec(tiny_model_dir, "sums", steps=4, save_every=1).replace(
        "keep_last: 100", "keep_last: 0"
    )
    run = finished(submit_spec(team, None, spec).runs.get())
    assert run.status == "succeeded", run.error
    on_disk = list_checkpoints(Path(run.artifact_dir) / "checkpoints")
    assert [info.step for info in on_disk] == [run.best_step]
    assert not has_resume_state(on_disk[0].path)
    assert run.checkpoints.count() == 4  # the pruned ones stay listed, with their scores


def test_a_run_over_its_disk_budget_fails_before_writing(team, sums, tiny_model_dir, worker_process):
    spec = tiny_grpo_spec(tiny_model_dir, "sums", steps=2, save_every=1, base_model=False).replace(
        "keep_last: 100", "keep_last: 100, disk_budget_gib: 0.000001"
    )
    run = finished(submit_spec(team, None, spec).runs.get())
    assert run.status == "failed" and "train.disk_budget_gib" in run.error and "GiB" in run.error
    assert len(run.error) <= 500 and "Traceback" not in run.error
    assert list_checkpoints(Path(run.artifact_dir) / "checkpoints") == []


def test_a_worker_killed_during_an_evaluation_leaves_it_to_the_next(
    team, sums, tiny_model_dir, worker_process
):
    spec = (
        tiny_grpo_spec(tiny_model_dir, "sums", steps=1, save_every=1, base_model=False)
        .replace("limit: 2,", "limit: 400,")
        .replace("max_new_tokens: 4", "max_new_tokens: 24, n: 4")
    )
    run = submit_spec(team, None, spec).runs.get()
    request = wait_for(
        lambda: EvalRequest.objects.filter(run=run, status="running").first(), what="the evaluation to start"
    )
    worker_process.kill()
    run.refresh_from_db()
    assert run.status == "evaluating", "training is over, but its evaluation is not recorded"
    assert not EvalResult.objects.filter(run=run).exists(), "the evaluation finished before the kill"
    worker_process.start()
    wait_for(lambda: requeue_stale_evaluations(), timeout=30, what="the evaluation to be seen as stale")
    finished(run)
    assert run.status == "succeeded", run.error
    request.refresh_from_db()
    assert (request.status, request.attempts) == ("done", 2)
    (result,) = EvalResult.objects.filter(run=run)
    assert result.n == 400 and result.k == 4
    assert ExampleResult.objects.filter(eval_result=result).count() == 400


def test_a_failed_evaluation_is_recorded_with_its_reason(team, sums, tiny_model_dir, child_env):
    run = make_unqueued_run(team, tiny_grpo_spec(tiny_model_dir, "sums", steps=1, base_model=False))
    Run.objects.filter(pk=run.pk).update(status=Run.Status.EVALUATING)
    missing = Path(child_env["RLAB_ARTIFACT_DIR"]) / "gone" / "step-00000001"
    checkpoint = run.checkpoints.create(step=1, path=str(missing), dtype="float32")
    request = EvalRequest.ask(run, checkpoint)
    run_task(child_env, f"evaluate_model_task({request.pk})")
    request.refresh_from_db()
    run.refresh_from_db()
    assert request.status == "failed" and str(missing) in request.error and len(request.error) <= 500
    assert run.status == "succeeded"  # training succeeded; the page says the evaluation failed
    run_task(child_env, f"evaluate_model_task({request.pk})")  # a re-delivery does not try again
    request.refresh_from_db()
    assert request.attempts == 1


def test_a_failure_to_prune_is_logged_and_fails_nothing(team, tiny_model_dir, tmp_path, caplog):
    """A checkpoint folder that cannot be read (here a trainer_state.json cut short) leaves the checkpoints
    on disk and says so in the log; the run or evaluation that pruned goes on."""
    from workers.retention import prune_run_checkpoints

    run = make_unqueued_run(team, tiny_grpo_spec(tiny_model_dir, "sums", steps=1))
    broken = tmp_path / "checkpoints" / "step-00000001"
    broken.mkdir(parents=True)
    (broken / "COMPLETE").write_text("1")
    (broken / "trainer_state.json").write_text('{"step": 1, "config": ')
    Run.objects.filter(pk=run.pk).update(artifact_dir=str(tmp_path), status=Run.Status.SUCCEEDED)
    run.refresh_from_db()
    assert prune_run_checkpoints(run, training_succeeded=True) == []
    assert broken.is_dir()
    assert f"run {run.name}: its checkpoints could not be pruned; they stay on disk" in caplog.text
