"""Worker nodes and device leases without a worker process: placement under the claim (busy devices, a dead
node's leases taken over, devices held back for a run past the backfill limit, evaluations on one device),
capacity warnings in the CLI, the editor check, the API and the run page, and the fleet as JSON."""

import itertools
import json
import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone

from rlab.experiments.editor import check_spec
from rlab.experiments.fleet import capacity_warning, fleet_for, live_nodes
from rlab.experiments.models import DeviceLease, EvalRequest, Run, WorkerNode
from rlab.teams.models import APIToken
from tests.models import tiny_grpo_spec
from tests.platform.conftest import logged_in, make_unqueued_run
from tests.workers.test_training_runs import wait_for
from workers.claim import claim_evaluation, claim_run
from workers.placement import DevicesBusy

pytestmark = pytest.mark.django_db

CPU_RESOURCES = "resources: {queue: cpu, gpus: 0}"
RUN_NUMBERS = itertools.count()


def gpu_yaml(model_dir: str, gpus: int, name: str = "tiny-grpo") -> str:
    spec = tiny_grpo_spec(model_dir, "arith", steps=2, base_model=False, name=name)
    return spec.replace(CPU_RESOURCES, f"resources: {{queue: gpu, gpus: {gpus}, processes: 1}}")


def gpu_run(team, model_dir: str, gpus: int) -> Run:
    run = make_unqueued_run(team, gpu_yaml(model_dir, gpus, name=f"unqueued-{next(RUN_NUMBERS)}"))
    Run.objects.filter(pk=run.pk).update(queue="gpu")
    run.refresh_from_db()
    return run


def add_node(
    name: str, devices: int, queues=("gpu",), host: str = "host-a", silent_for: float = 0
) -> WorkerNode:
    return WorkerNode.objects.create(
        name=name,
        host=host,
        queues=list(queues),
        devices=[{"id": str(i), "model": "H100", "memory_mb": 81559} for i in range(devices)],
        heartbeat_at=timezone.now() - timedelta(seconds=silent_for),
    )


def test_capacity_warnings_name_the_largest_live_worker(settings):
    assert (
        capacity_warning("gpu", 1, []) == "no live worker takes the gpu queue; the run waits until one starts"
    )
    add_node("a:1", devices=4)
    add_node("b:1", devices=8, silent_for=settings.RLAB_STALE_AFTER_SECONDS + 5)  # lost: does not count
    add_node("c:1", devices=0, queues=["cpu"])
    nodes = live_nodes()
    assert capacity_warning("gpu", 16, nodes) == "no worker can take 16 GPUs; the largest has 4"
    assert capacity_warning("gpu", 4, nodes) == ""
    assert capacity_warning("cpu", 0, nodes) == ""
    # A gpu worker without devices runs gpu jobs unplaced (a laptop): it takes any.
    add_node("d:1", devices=0, queues=["gpu"])
    assert capacity_warning("gpu", 16, live_nodes()) == ""


def test_a_run_takes_free_devices_and_one_that_does_not_fit_stays_queued(team_a, tiny_model_dir):
    node = add_node("a:1", devices=2)
    first = claim_run(gpu_run(team_a, tiny_model_dir, 1).pk, "a:11", node)
    assert first.status == "running"
    assert list(DeviceLease.objects.values_list("run", "device")) == [(first.pk, "0")]
    pair = gpu_run(team_a, tiny_model_dir, 2)
    with pytest.raises(DevicesBusy, match=r"2 free GPUs; a:1 has 1 of 2 free"):
        claim_run(pair.pk, "a:12", node)
    pair.refresh_from_db()
    assert pair.status == "queued" and pair.attempts == 0 and DeviceLease.objects.count() == 1
    too_big = gpu_run(team_a, tiny_model_dir, 4)
    with pytest.raises(DevicesBusy, match="no worker can take 4 GPUs; the largest has 2"):
        claim_run(too_big.pk, "a:13", node)


def test_a_dead_nodes_leases_on_the_host_are_taken_over(team_a, tiny_model_dir, settings):
    dead = add_node("a:1", devices=1, silent_for=settings.RLAB_STALE_AFTER_SECONDS + 5)
    held = gpu_run(team_a, tiny_model_dir, 1)
    DeviceLease.objects.create(node=dead, host="host-a", device="0", run=held)
    node = add_node("a:2", devices=1)
    run = claim_run(gpu_run(team_a, tiny_model_dir, 1).pk, "a:21", node)
    assert list(DeviceLease.objects.values_list("node__name", "run", "device")) == [("a:2", run.pk, "0")]


def test_devices_are_held_back_for_a_run_waiting_past_the_backfill_limit(team_a, tiny_model_dir, settings):
    settings.RLAB_BACKFILL_LIMIT_SECONDS = 60
    node = add_node("a:1", devices=2)
    busy = claim_run(gpu_run(team_a, tiny_model_dir, 1).pk, "a:11", node)
    big = gpu_run(team_a, tiny_model_dir, 2)
    Run.objects.filter(pk=big.pk).update(
        waiting_since=timezone.now() - timedelta(seconds=61), waiting_for="x"
    )
    small = gpu_run(team_a, tiny_model_dir, 1)
    with pytest.raises(DevicesBusy, match=f"1 of 2 free, 2 held back for {big.name}"):
        claim_run(small.pk, "a:12", node)  # no backfill past the limit
    DeviceLease.objects.filter(run=busy).delete()
    claimed = claim_run(big.pk, "a:13", node)
    assert claimed.waiting_for == "" and claimed.waiting_since is None
    assert sorted(DeviceLease.objects.filter(run=big).values_list("device", flat=True)) == ["0", "1"]


def test_an_evaluation_of_a_gpu_run_takes_one_device(team_a, tiny_model_dir):
    node = add_node("a:1", devices=1)
    run = gpu_run(team_a, tiny_model_dir, 1)
    request = EvalRequest.ask(run)
    claimed = claim_evaluation(request.pk, "a:11", node)
    assert claimed.status == "running"
    assert list(DeviceLease.objects.values_list("eval_request", "device")) == [(request.pk, "0")]
    other = EvalRequest.ask(gpu_run(team_a, tiny_model_dir, 1))
    with pytest.raises(DevicesBusy):
        claim_evaluation(other.pk, "a:12", node)
    assert EvalRequest.objects.get(pk=other.pk).status == "queued"


def test_the_editor_check_warns_of_a_spec_no_worker_can_take(team_a, tiny_model_dir, shared_datasets):
    add_node("a:1", devices=4)
    check = check_spec(team_a, gpu_yaml(tiny_model_dir, 16))
    assert check.errors == [] and check.run_count == 1
    assert check.warnings == ["no worker can take 16 GPUs; the largest has 4"]
    assert check_spec(team_a, gpu_yaml(tiny_model_dir, 4)).warnings == []


@pytest.mark.django_db(transaction=True)
def test_submitting_16_gpus_warns_in_the_cli_and_the_run_page_says_why_it_waits(
    team_a, alice, shared_datasets, tiny_model_dir, child_env, tmp_path, gpu_workers
):
    gpu_workers("0,1,2,3")  # a live worker with 4 (fake) devices
    spec = tmp_path / "big.yaml"
    spec.write_text(gpu_yaml(tiny_model_dir, 16))
    result = subprocess.run(
        [sys.executable, "-m", "rlab.cli", "submit", str(spec), "--team", "team-a"],
        capture_output=True,
        text=True,
        env=child_env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "warning: no worker can take 16 GPUs; the largest has 4" in result.stderr
    run = Run.objects.get()
    assert run.status == "queued"
    page = logged_in(alice).get(f"/runs/{run.pk}/").content.decode()
    assert "Waiting: no worker can take 16 GPUs; the largest has 4" in page
    # The worker took it and put it back: its page says why.
    wait_for(lambda: Run.objects.filter(pk=run.pk).exclude(waiting_for="").exists(), what="the worker's try")
    page = logged_in(alice).get(f"/runs/{run.pk}/").content.decode()
    assert "Waiting: no worker can take 16 GPUs; the largest has 4 (since" in page
    Run.objects.filter(pk=run.pk).update(cancel_requested=True, status="cancelled")


def test_the_api_returns_warnings_and_the_fleet(
    client, team_a, alice, team_b, bob, tiny_model_dir, shared_datasets
):
    node = add_node("a:1", devices=2)
    _, key = APIToken.issue(alice)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    answer = client.post(
        "/api/v1/specs/submit/",
        json.dumps({"yaml": gpu_yaml(tiny_model_dir, 8)}),
        content_type="application/json",
        **auth,
    ).json()
    assert answer["warnings"] == ["no worker can take 8 GPUs; the largest has 2"]
    mine = Run.objects.get(pk=answer["runs"][0]["id"])
    theirs = gpu_run(team_b, tiny_model_dir, 1)
    DeviceLease.objects.create(node=node, host=node.host, device="0", run=mine)
    DeviceLease.objects.create(node=node, host=node.host, device="1", run=theirs)

    fleet = client.get("/api/v1/workers/", **auth).json()
    (worker,) = fleet["workers"]
    assert worker["name"] == "a:1" and worker["live"] and worker["free_devices"] == 0
    held = [device["held_by"] for device in worker["devices"]]
    assert held[0]["name"] == mine.name and held[0]["url"] == f"/runs/{mine.pk}/"
    assert held[1] == {"kind": "run", "since": held[1]["since"]}  # another team's run: not named
    assert fleet["queues"]["gpu"] == {"runs": 2, "evaluations": 0}
    assert client.get("/api/v1/workers/").status_code == 401
    assert fleet_for(bob).nodes[0].devices[1].visible


def test_the_fleet_page_needs_a_login(client):
    assert client.get("/workers/").status_code == 302
