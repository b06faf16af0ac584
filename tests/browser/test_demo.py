"""The demo's point in the browser: `make demo`'s spec (GRPO with the format reward, SmolLM2-135M-Instruct
on CPU), shortened to 4 steps, runs on the real worker; its run page charts the pinned boxed ratio first and
its evaluation table shows the share of boxed answers on the test problems rising from the base model's.
The full demo (12 steps) is timed in docs/benchmarks.md.

SmolLM2 trains at ~9 s a step on a quiet 2-core CPU, so this test takes about two minutes: `make test-demo`
runs it (RLAB_DEMO_TEST=1); `make test` leaves it out to stay within its time budget."""

import os
import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from rlab.catalog.seeding import seed_catalog
from rlab.cli.serve import DEMO_SPEC
from rlab.experiments.models import Run
from rlab.experiments.submission import submit_spec
from rlab.spec import apply_overrides
from tests.browser.conftest import log_in, screenshot
from tests.workers.test_training_runs import wait_for

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("RLAB_DEMO_TEST"), reason="the demo's ~2 min run: make test-demo"),
]

SHORTER = ["train.steps=4", "train.save_every=4", "eval.every=4"]  # the demo's 16 test problems


def test_the_demo_run_page_shows_the_boxed_ratio_rising(page, member, worker_process):
    seed_catalog()
    run = submit_spec(member.teams.get(), member, apply_overrides(DEMO_SPEC.read_text(), SHORTER)).runs.get()
    log_in(page, member)
    page.goto(reverse("experiments:run_detail", args=[run.pk]))
    expect(page.locator("#run-log")).to_contain_text(
        re.compile(r"step 1/4: reward \S+, accuracy"), timeout=120_000
    )
    wait_for(lambda: Run.objects.get(pk=run.pk).is_finished, timeout=600, what="the demo run to finish")
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    evaluated = run.eval_results.filter(checkpoint__step=4)
    wait_for(evaluated.exists, timeout=300, what="the step-4 evaluation")
    base = run.eval_results.get(checkpoint__isnull=True).metrics["boxed_ratio"]
    trained = run.eval_results.get(checkpoint__step=4).metrics["boxed_ratio"]
    assert trained > base, (base, trained)  # the demo's point, which the page must show

    page.reload()
    expect(page.locator("#run-curves figcaption").first).to_contain_text("boxed_ratio")
    table = page.locator("#run-evaluations table")
    expect(table.locator("th.pinned-metric")).to_have_text("arith · boxed_ratio")
    expect(table.locator("tr", has_text="base model").locator("td.pinned-metric")).to_have_text(
        f"{base * 100:.1f}"
    )
    expect(table.locator("tr", has_text="step 4").locator("td.pinned-metric")).to_have_text(
        f"{trained * 100:.1f}"
    )
    expect(page.locator("#run-evaluations")).to_contain_text("boxed_ratio on the test problems (%)")
    screenshot(page, "demo-run")
