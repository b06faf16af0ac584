"""GPU placement on real gpu workers with fake devices (RLAB_GPUS=0,1,2,3 on a CPU machine): runs packed onto
a worker's devices, each job's process seeing only its own (CUDA_VISIBLE_DEVICES, as its run.log records),
a run that does not fit waiting while smaller ones backfill, and a killed worker's devices freed once its
heartbeat expires (docs/architecture.md "GPU placement")."""

import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from rlab.experiments.models import DeviceLease, Run, WorkerNode
from rlab.experiments.submission import submit_spec
from tests.conftest import STALE_AFTER_SECONDS
from tests.models import tiny_grpo_spec
from tests.workers.test_training_runs import finished, wait_for
from workers.tasks import requeue_stale_runs

pytestmark = pytest.mark.django_db(transaction=True)

CPU_RESOURCES = "resources: {queue: cpu, gpus: 0}"
LONG_STEPS = 400  # runs that train until the test cancels them


def gpu_spec(model_dir: str, gpus: int = 1, name: str = "placed", sweep: str = "") -> str:
    spec = tiny_grpo_spec(model_dir, "sums", LONG_STEPS, save_every=LONG_STEPS, name=name, base_model=False)
    assert CPU_RESOURCES in spec
    # processes: 1 — one training process that sees every device of the run (no torchrun on the CPU).
    return spec.replace(CPU_RESOURCES, f"resources: {{queue: gpu, gpus: {gpus}, processes: 1}}") + sweep


def visible_devices(run: Run) -> str:
    """What the run's job process saw in CUDA_VISIBLE_DEVICES, from its run.log."""
    log = Path(run.artifact_dir) / "run.log" if run.artifact_dir else None
    found = re.search(r"CUDA_VISIBLE_DEVICES=(\S*)", log.read_text()) if log and log.exists() else None
    return found.group(1) if found else ""


def leases_of(run: Run) -> list[str]:
    return sorted(DeviceLease.objects.filter(run=run).values_list("device", flat=True))


def cancel_and_finish(runs: list[Run]) -> None:
    Run.objects.filter(pk__in=[run.pk for run in runs]).update(cancel_requested=True)
    for run in runs:
        finished(run)


def test_four_one_gpu_runs_share_a_four_device_worker(team, sums, tiny_model_dir, gpu_workers):
    worker = gpu_workers("0,1,2,3")
    node = WorkerNode.objects.get()
    assert node.device_ids == ["0", "1", "2", "3"] and node.queues == ["gpu"]
    sweep = submit_spec(team, None, gpu_spec(tiny_model_dir, sweep="sweep: {train.seed: [1, 2, 3, 4]}\n"))
    runs = list(sweep.runs.order_by("point_index"))

    def all_running() -> bool:
        return Run.objects.filter(sweep=sweep, status="running").count() == 4 == DeviceLease.objects.count()

    wait_for(all_running, timeout=90, what="four runs running at once")
    leases = {run.pk: leases_of(run) for run in runs}
    assert sorted(device for held in leases.values() for device in held) == ["0", "1", "2", "3"]
    for run in runs:
        run.refresh_from_db()
        wait_for(lambda run=run: visible_devices(run), what=f"{run.name}'s devices in its log")
        assert [visible_devices(run)] == leases[run.pk], "each job sees exactly its own device"
    assert worker.log.read_text().count("4 device(s), 4 job(s) at once") == 1
    node.refresh_from_db()
    assert timezone.now() - node.heartbeat_at < timedelta(seconds=STALE_AFTER_SECONDS), "the node beats"
    cancel_and_finish(runs)
    assert [run.status for run in runs] == ["cancelled"] * 4
    wait_for(lambda: not DeviceLease.objects.exists(), timeout=10, what="the devices released")


def test_a_two_gpu_run_waits_for_two_free_devices_while_smaller_runs_backfill(
    team, sums, tiny_model_dir, gpu_workers
):
    gpu_workers("0,1,2,3")
    small = list(
        submit_spec(team, None, gpu_spec(tiny_model_dir, sweep="sweep: {train.seed: [1, 2, 3]}\n")).runs.all()
    )
    wait_for(lambda: DeviceLease.objects.count() == 3, timeout=60, what="three devices busy")
    pair = submit_spec(team, None, gpu_spec(tiny_model_dir, gpus=2, name="pair")).runs.get()

    def waiting() -> str:
        pair.refresh_from_db()
        return pair.waiting_for

    reason = wait_for(waiting, what="the 2-GPU run to wait")
    assert pair.status == "queued" and "2 free GPUs" in reason and "1 of 4 free" in reason, reason
    # Backfill: a 1-GPU run queued after it takes the free device meanwhile.
    late = submit_spec(team, None, gpu_spec(tiny_model_dir, name="late")).runs.get()
    wait_for(lambda: len(leases_of(late)) == 1, timeout=60, what="the later 1-GPU run to start")
    pair.refresh_from_db()
    assert pair.status == "queued" and not leases_of(pair)

    cancel_and_finish(small[:2])
    wait_for(lambda: len(leases_of(pair)) == 2, timeout=60, what="the 2-GPU run to take two freed devices")
    pair.refresh_from_db()
    assert pair.status == "running" and pair.waiting_for == "" and pair.waiting_since is None
    wait_for(lambda: visible_devices(pair), what="the 2-GPU run's devices in its log")
    assert visible_devices(pair).split(",") == leases_of(pair)
    assert set(leases_of(pair)).isdisjoint(leases_of(small[2]) + leases_of(late))
    cancel_and_finish([small[2], late, pair])
    wait_for(lambda: not DeviceLease.objects.exists(), timeout=10, what="every device released")


def test_a_killed_workers_device_is_free_once_its_heartbeat_expires(team, sums, tiny_model_dir, gpu_workers):
    first = gpu_workers("0")
    run = submit_spec(team, None, gpu_spec(tiny_model_dir)).runs.get()
    wait_for(lambda: visible_devices(Run.objects.get(pk=run.pk)), timeout=60, what="the run to start")
    dead = WorkerNode.objects.get()
    first.kill()
    assert list(DeviceLease.objects.values_list("node", "device")) == [(dead.pk, "0")]

    time.sleep(STALE_AFTER_SECONDS + 0.5)  # the dead worker's heartbeat (and the run's) expires
    second = gpu_workers("0")
    assert requeue_stale_runs() == [run.pk]
    wait_for(
        lambda: DeviceLease.objects.filter(run=run).exclude(node=dead).exists(),
        timeout=60,
        what="the run to resume on the new worker's device 0",
    )
    lease = DeviceLease.objects.get(run=run)
    assert lease.device == "0" and lease.node.name != dead.name
    run.refresh_from_db()
    assert run.attempts == 2
    cancel_and_finish([run])
    assert second.process.poll() is None
    wait_for(lambda: not DeviceLease.objects.exists(), timeout=10, what="the device released")
