"""The fleet page in Chromium with two real gpu workers (fake devices 0,1 and 2,3 on this machine): both
machines and their GPUs, a run placed on one GPU with a link to its page, free devices, queue lengths, and
the page following the run's end without a reload (htmx)."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from rlab.experiments.models import DeviceLease, Run, WorkerNode
from rlab.experiments.submission import submit_spec
from tests.browser.conftest import log_in, screenshot
from tests.models import tiny_grpo_spec
from tests.platform.conftest import make_dataset
from tests.workers.test_training_runs import finished, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_fleet_page_shows_two_workers_and_the_run_on_a_gpu(page, member, gpu_workers, tiny_model_dir):
    team = member.teams.get()
    make_dataset(team, "problems", size=4)
    gpu_workers("0,1")
    gpu_workers("2,3")
    spec = tiny_grpo_spec(
        tiny_model_dir, "problems", steps=400, save_every=400, name="fleet", base_model=False
    )
    spec = spec.replace("resources: {queue: cpu, gpus: 0}", "resources: {queue: gpu, gpus: 1, processes: 1}")
    run = submit_spec(team, member, spec).runs.get()
    lease = wait_for(lambda: DeviceLease.objects.filter(run=run).first(), timeout=60, what="the run's GPU")
    log_in(page, member)

    page.click("nav >> text=Workers")
    expect(page.locator("h1")).to_have_text("Workers")
    nodes = page.locator(".worker-node")
    expect(nodes).to_have_count(2)
    for node in WorkerNode.objects.all():
        section = page.locator(f".worker-node[data-node='{node.name}']")
        expect(section).to_contain_text("live")
        expect(section.locator("tr[data-device]")).to_have_count(2)
    busy_node = page.locator(f".worker-node[data-node='{lease.node.name}']")
    held = busy_node.locator(f"tr[data-device='{lease.device}']")
    expect(held.locator("a")).to_have_attribute("href", reverse("experiments:run_detail", args=[run.pk]))
    expect(held).to_contain_text(run.name)
    expect(busy_node.locator(".free-devices")).to_have_text("1")
    assert sorted(page.locator(".free-devices").all_inner_texts()) == ["1", "2"]
    expect(page.locator("#queue-lengths tr[data-queue='gpu']")).to_contain_text("0")
    screenshot(page, "fleet")

    Run.objects.filter(pk=run.pk).update(cancel_requested=True)
    finished(run)
    expect(held).to_contain_text("free", timeout=20_000)  # the page polls: no reload
    expect(page.locator(".free-devices")).to_have_text(["2", "2"])

    page.goto(reverse("experiments:run_detail", args=[run.pk]))
    expect(page.locator("#run-state")).to_have_text("cancelled")
