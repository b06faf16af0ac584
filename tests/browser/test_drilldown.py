"""The per-problem drill-down in Chromium: from the run page to the comparison of a checkpoint with the base
model, filtering by flip kind with htmx, and expanding a problem to read both sides' responses."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.conftest import log_in, screenshot
from tests.platform.results.evaluations import evaluate, make_run, responses_for

pytestmark = pytest.mark.browser

# Twelve arith problems, four samples each: R a right response, W a wrong one.
BASE = ["RRRR", "RRWW", "WWWW", "RWWW", "RRRW", "WWWW", "RRRR", "WWWR", "RRWW", "WWWW", "RRRR", "RWRW"]
STEP = ["RRWW", "WWWW", "RRRR", "RRWW", "RRRR", "WWWW", "RRRR", "RRRW", "RWWW", "RWWW", "RRRR", "RRRR"]


def test_compare_a_checkpoint_with_the_base_model_and_expand_a_problem(page, member, tmp_path):
    run = make_run(member.teams.get())
    base = evaluate(run, None, responses_for(BASE), tmp_path)
    step = evaluate(run, 40, responses_for(STEP), tmp_path)
    log_in(page, member)

    page.goto(reverse("results:evaluation", args=[step.pk]))
    expect(page.locator("tr.problem-row")).to_have_count(12)
    screenshot(page, "evaluation", full_page=False)

    page.goto(reverse("experiments:run_detail", args=[run.pk]))
    page.click("#run-evaluations a:has-text('vs base')")
    page.wait_for_url(re.compile(rf"/results/compare/\?a={base.pk}&b={step.pk}$"))
    expect(page.locator("tr.problem-row")).to_have_count(12)

    page.select_option("select[name=kind]", "right-wrong")  # htmx swaps the table and pushes the URL
    expect(page.locator("tr.problem-row")).to_have_count(2)
    expect(page).to_have_url(re.compile(r"kind=right-wrong"))
    first = page.locator("tr.problem-row").first
    expect(first.locator(".kind")).to_have_text("right → wrong")
    first.locator("button:has-text('Responses')").click()
    detail = page.locator("tr.problem-detail").first
    expect(detail.locator(".responses.two .response")).to_have_count(8)  # four samples a side
    expect(detail.locator(".responses h3").first).to_have_text("A · 2/4 correct")
    expect(detail.locator(".response.ok")).to_have_count(2)
    screenshot(page, "compare", full_page=False)
    detail.locator("button:has-text('Hide')").click()
    expect(detail.locator(".response")).to_have_count(0)
