"""The result pages of a real sweep in Chromium: a sweep over two training examples of the tiny model runs
on the worker; its sweep page links to the 1-shot comparison and the ablation report; the team
leaderboard lists both runs; a published run shows, with its team, on the global leaderboard."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from rlab.experiments.models import Run
from rlab.experiments.submission import submit_spec
from tests.browser.conftest import log_in, screenshot
from tests.models import tiny_grpo_spec
from tests.platform.conftest import make_dataset
from tests.workers.test_training_runs import finished, wait_for

pytestmark = pytest.mark.browser


def test_an_example_sweeps_reports_and_the_leaderboards(page, member, worker_process, tiny_model_dir):
    team = member.teams.get()
    make_dataset(team, "problems", size=4)
    spec = tiny_grpo_spec(tiny_model_dir, "problems", steps=2, save_every=2, name="pi-sweep")
    sweep = submit_spec(team, member, spec + "sweep: {data.examples: [[0], [1]]}\n")
    runs = [finished(run) for run in sweep.runs.order_by("point_index")]
    assert [run.status for run in runs] == ["succeeded"] * 2, [run.error for run in runs]
    wait_for(lambda: all(r.best_step == 2 for r in Run.objects.filter(sweep=sweep)), what="both evaluations")
    log_in(page, member)

    page.goto(reverse("experiments:sweep_detail", args=[sweep.pk]))
    expect(page.locator("body")).to_contain_text(runs[1].name)
    screenshot(page, "sweep")

    page.click("text=1-shot comparison")
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(3)  # the base model and one row per training example
    expect(page.locator("table")).to_contain_text("arith")
    screenshot(page, "example-comparison")

    page.goto(reverse("experiments:sweep_detail", args=[sweep.pk]))
    page.click("text=Ablation report")
    expect(page.locator("table")).to_contain_text("data.examples")
    screenshot(page, "ablation")

    page.goto(reverse("results:leaderboard"))
    for run in runs:
        expect(page.locator("table")).to_contain_text(run.name)
    screenshot(page, "leaderboard")

    page.goto(reverse("experiments:run_detail", args=[runs[0].pk]))
    page.once("dialog", lambda dialog: dialog.accept())  # "Publish …? It is listed … every user sees."
    page.click("button:has-text('Publish')")
    expect(page.locator("button:has-text('Unpublish')")).to_be_visible()
    page.goto(reverse("results:global_leaderboard"))
    expect(page.locator("table")).to_contain_text(runs[0].name)
    expect(page.locator("table")).to_contain_text("Team A")
    expect(page.locator("table")).not_to_contain_text(runs[1].name)
    screenshot(page, "global-leaderboard")
