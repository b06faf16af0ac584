"""Uncertainty on the result pages in Chromium: the 1-shot comparison of a sweep with three training seeds
per π shows mean ± std and marks a difference within noise; the problem × checkpoint grid of a run with
four evaluated checkpoints renders, filters and links to the responses. Evaluations are graded by the real
runner and recorded by the worker's code (tests/platform/results/evaluations.py)."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.conftest import log_in, screenshot
from tests.platform.results.evaluations import GRID_STEPS, evaluate_grid_run, evaluate_seed_sweep
from tests.platform.results.test_results_pages import make_sweep
from tests.platform.results.test_statistics_pages import BASE, PI1, PI2

pytestmark = pytest.mark.browser


def test_seed_replicates_and_noise_in_the_1_shot_comparison(page, member, tmp_path):
    team = member.teams.get()
    points = [{"data.examples": [pi], "train.seed": seed} for pi in ("pi1", "pi2") for seed in range(3)]
    sweep = make_sweep(team, points, name="seeds", model="smollm2-135m-instruct")
    evaluate_seed_sweep(team, sweep, tmp_path, BASE, dict(enumerate(PI1 + PI2)))
    log_in(page, member)

    page.goto(reverse("results:example_comparison", args=[sweep.pk]))
    rows = page.locator("table.report tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(1)).to_contain_text("π1 (3 seeds)")
    pi1_score = rows.nth(1).locator("td.num").nth(1)
    expect(pi1_score).to_contain_text("±")
    expect(pi1_score).to_have_attribute("title", re.compile(r"mean ± std over 3 seeds: .*significant"))
    expect(pi1_score).to_have_class(re.compile("delta-up2"))  # far above the base model

    page.select_option("select[name=reference]", label="π1 (3 seeds)")
    page.wait_for_url(re.compile(r"reference=\d+"))
    pi2_score = page.locator("table.report tbody tr").nth(2).locator("td.num").nth(1)
    expect(pi2_score).to_have_class(re.compile("delta-ns"))
    expect(pi2_score).to_contain_text("n.s.")
    expect(pi2_score).to_have_attribute("title", re.compile("not distinguishable from noise"))
    expect(page.locator("#statistics-note")).to_contain_text("π1 (3 seeds)")
    screenshot(page, "example-comparison-seeds")


def test_problem_checkpoint_grid(page, member, tmp_path):
    run = evaluate_grid_run(member.teams.get(), tmp_path)
    log_in(page, member)
    page.goto(reverse("experiments:run_detail", args=[run.pk]))
    page.click("a:text-is('grid')")
    grid = page.locator("#problem-grid")
    expect(grid.locator("thead th")).to_have_count(2 + 1 + len(GRID_STEPS) + 2)
    expect(grid.locator("tbody tr")).to_have_count(6)
    expect(page.locator("#grid-counts")).to_contain_text("forgotten: 1")
    screenshot(page, "problem-grid")

    page.click("#grid-counts >> text=learned: 2")
    expect(grid.locator("tbody tr")).to_have_count(2)
    href = page.locator("#problem-grid tbody tr").first.locator("td.share a").last.get_attribute("href")
    responses = page.request.get(href)  # the fragment a drill-down row expands into
    assert responses.ok and "boxed" in responses.text()
