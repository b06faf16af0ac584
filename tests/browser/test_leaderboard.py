"""The leaderboard's honesty in Chromium: every score with its n (problems × samples), a column mixing
problem counts flagged with its odd cell, the training-overlap flag, and each run's checkpoint chosen on a
held-out benchmark with the test score reported at that checkpoint."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from rlab.experiments.models import Run
from tests.browser.conftest import log_in, screenshot
from tests.platform.results.test_results_pages import evaluate, make_sweep

pytestmark = pytest.mark.browser


def test_n_per_score_mixed_columns_overlap_and_a_validation_selected_checkpoint(page, member):
    team = member.teams.get()
    valid, other, short = (
        make_sweep(team, [{}], name=name).runs.get() for name in ("valid", "other", "short")
    )
    # aime24 is the held-out set: best at step 10, where math500 (the test set) is 60; math500 peaks at 20
    evaluate(team, valid, 10, {"aime24": 0.30, "math500": 0.60}, n=30)
    evaluate(team, valid, 20, {"aime24": 0.10, "math500": 0.80}, n=30)
    evaluate(team, other, 10, {"aime24": 0.20, "math500": 0.50}, n=30)
    evaluate(team, short, 10, {"aime24": 0.25}, n=30)
    evaluate(team, short, 10, {"math500": 0.90}, n=8)  # an evaluation with eval.limit 8
    result = Run.objects.get(pk=other.pk).eval_results.get(benchmark__key="math500")
    result.metrics = {"training_overlap": {"mode": "exclude", "count": 1}}
    result.save()
    log_in(page, member)

    page.goto(reverse("results:leaderboard"))
    table = page.locator("table.report")
    expect(table.locator("thead")).to_contain_text("≠ mixed")
    row = table.locator("tr", has_text=valid.name)
    expect(row.locator("td.num").nth(2)).to_contain_text("n=30×1")  # math500 at the best average, step 20
    expect(row.locator("td.num").nth(2)).to_contain_text("80.0")
    odd = table.locator("tr", has_text=short.name).locator("td.setup-differs").first
    expect(odd).to_contain_text("n=8×1")
    expect(odd).to_have_attribute("title", re.compile(r"another setup than most of this column: 8×1"))
    expect(table.locator("tr", has_text=other.name)).to_contain_text(
        "⚑ math500 (1 training problem excluded)"
    )
    screenshot(page, "leaderboard-honest")

    page.select_option("#select-on", "aime24")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"select_on=aime24"))
    expect(table.locator("thead")).to_contain_text("aime24 (selects)")
    row = table.locator("tr", has_text=valid.name)
    expect(row.locator("td.num").first).to_have_text("10")  # the step chosen on aime24
    expect(row.locator("td.num").nth(2)).to_contain_text("60.0")  # math500 reported there, not its best
    expect(row.locator("td").nth(1)).to_have_attribute("title", "checkpoint best on aime24: step 10")
    screenshot(page, "leaderboard-select-on")
