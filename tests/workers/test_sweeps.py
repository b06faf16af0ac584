"""A sweep as a group on a real worker: cancel-all stops the running run between steps and cancels the queued
ones before they start; retry queues all three points again as one new sweep, and they complete."""

import pytest

from rlab.experiments.actions import cancel_sweep, retry_sweep
from rlab.experiments.models import Run, TrainMetric
from rlab.experiments.submission import submit_spec
from tests.models import tiny_grpo_spec
from tests.workers.test_training_runs import finished, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

# The first point (the one the single worker runs first) is long enough to be cancelled mid-run under any
# load; the two others, cancelled while queued, are short, which keeps the retry quick.
STEPS = [30, 3, 3]


def test_cancel_all_then_retry_a_sweep_of_three(team, sums, tiny_model_dir, worker_process):
    spec = tiny_grpo_spec(tiny_model_dir, "sums", steps=3, save_every=3, base_model=False)
    sweep = submit_spec(team, None, spec + f"sweep: {{train.steps: {STEPS}}}\n")
    wait_for(lambda: TrainMetric.objects.filter(run__sweep=sweep).exists(), what="a first step")
    assert cancel_sweep(sweep) == 3  # one worker: one run is running, two wait in the queue
    runs = [finished(run) for run in sweep.runs.order_by("point_index")]
    assert [run.status for run in runs] == ["cancelled"] * 3
    started = [run for run in runs if run.started_at]
    assert started == runs[:1] and 0 < runs[0].step < STEPS[0], "the running run did not stop between steps"
    assert all(run.step == 0 and run.attempts == 0 for run in runs if run not in started)

    retry = retry_sweep(sweep, None)
    retried = [finished(run) for run in retry.runs.order_by("point_index")]
    assert [run.status for run in retried] == ["succeeded"] * 3, [run.error for run in retried]
    assert [run.coordinates for run in retried] == [run.coordinates for run in runs]
    assert [run.step for run in retried] == STEPS
    assert Run.objects.filter(sweep=sweep, status="cancelled").count() == 3
