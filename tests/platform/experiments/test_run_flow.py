"""A submitted spec runs end to end on a real worker process over a real Redis and PostgreSQL."""

import threading
import time

import pytest
from django.db import connection

from rlab.experiments.models import Run
from rlab.experiments.submission import submit_spec
from tests.models import tiny_grpo_spec
from tests.platform.conftest import make_unqueued_run
from workers.claim import claim_run

pytestmark = pytest.mark.django_db(transaction=True)

SPEC = """
name: flow
model: {id: smollm2-135m-instruct}
data: {dataset: arith, examples: [0]}
train: {steps: 4}
eval: {suite: [arith]}
resources: {queue: cpu, gpus: 0}
"""


@pytest.fixture
def runnable_spec(tiny_model_dir) -> str:
    return tiny_grpo_spec(tiny_model_dir, "arith", steps=4, save_every=4, name="flow", base_model=False)


def wait_until_finished(run_ids: list[int], timeout: float = 180) -> list[Run]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = list(Run.objects.filter(id__in=run_ids).order_by("point_index"))
        if all(run.is_finished for run in runs):
            return runs
        time.sleep(0.2)
    raise AssertionError(f"runs not finished in {timeout} s: {[(r.name, r.status) for r in runs]}")


def test_submitted_sweep_is_executed_by_the_worker(
    team_a, alice, shared_datasets, worker_process, runnable_spec
):
    sweep = submit_spec(team_a, alice, runnable_spec + "sweep: {train.lr: [1.0e-3, 2.0e-3, 3.0e-3]}\n")
    runs = wait_until_finished(list(sweep.runs.values_list("id", flat=True)))
    assert [run.status for run in runs] == ["succeeded"] * 3, [run.error for run in runs]
    for run in runs:
        assert run.worker and run.started_at and run.finished_at and run.attempts == 1
        assert run.progress == 1.0 and run.step == 4
        assert list(run.metrics.values_list("step", flat=True)) == [1, 2, 3, 4]
        assert "torch" in run.versions


def test_cancel_before_start_is_honoured(team_a):
    run = make_unqueued_run(team_a, SPEC)
    Run.objects.filter(pk=run.pk).update(cancel_requested=True)
    assert claim_run(run.pk, "w1") is None
    run.refresh_from_db()
    assert run.status == "cancelled"


def test_two_workers_racing_for_one_run_only_one_wins(team_a):
    run = make_unqueued_run(team_a, SPEC)
    barrier, winners = threading.Barrier(4), []

    def race(name: str) -> None:
        barrier.wait()
        try:
            if claim_run(run.pk, name) is not None:
                winners.append(name)
        finally:
            connection.close()

    threads = [threading.Thread(target=race, args=(f"worker-{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.refresh_from_db()
    assert len(winners) == 1
    assert run.status == "running" and run.worker == winners[0] and run.attempts == 1


def test_each_queue_has_its_own_route(celery_broker):
    queues = celery_broker.amqp.queues
    for name in ("gpu", "cpu"):
        assert (queues[name].exchange.name, queues[name].routing_key) == (name, name)


def test_a_run_whose_worker_died_is_requeued_and_finished(
    team_a, alice, shared_datasets, worker_process, runnable_spec
):
    from datetime import timedelta

    from django.utils import timezone

    from workers.tasks import requeue_stale_runs

    run = make_unqueued_run(team_a, runnable_spec)
    long_ago = timezone.now() - timedelta(hours=1)
    Run.objects.filter(pk=run.pk).update(status="running", worker="dead:1", attempts=1, heartbeat_at=long_ago)
    assert requeue_stale_runs() == [run.pk]
    (finished,) = wait_until_finished([run.pk])
    assert finished.status == "succeeded" and finished.attempts == 2 and finished.worker != "dead:1"
