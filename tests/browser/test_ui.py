"""The web UI end to end in Chromium: log in, upload data (a malformed file first), derive a label-noise
variant, fill in the spec form, see a validation error, launch, and watch the run finish on a real worker."""

import json
import re

import pytest
from playwright.sync_api import expect

from rlab.catalog.models import Dataset, Example
from rlab.experiments.models import Run
from tests.browser.conftest import log_in, screenshot
from tests.platform.conftest import make_dataset, make_unqueued_run
from tests.platform.results.evaluations import RUN_SPEC

pytestmark = pytest.mark.browser

ROWS = [
    {"question": f"What is {i} + {i}?", "final_answer": str(2 * i), "type": ["algebra", "geometry"][i % 2]}
    for i in range(12)
]


def jsonl(rows) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def choose_file(page, name: str, data: bytes) -> None:
    page.set_input_files(
        "#id_file", files=[{"name": name, "mimeType": "application/octet-stream", "buffer": data}]
    )


def test_login_and_empty_states(page, member):
    page.goto("/runs/")
    expect(page.locator("h1")).to_have_text("Log in")
    screenshot(page, "login")
    log_in(page, member)
    expect(page.locator(".empty h2")).to_have_text("No runs yet")
    screenshot(page, "runs-empty")
    page.click("nav >> text=Datasets")
    expect(page.locator(".empty h2")).to_have_text("No datasets yet")
    page.click("nav >> text=Specs")
    expect(page.locator(".empty h2")).to_have_text("No specs yet")


def test_upload_shows_bad_lines_then_imports_a_good_file(page, member):
    log_in(page, member)
    page.goto("/datasets/upload/")
    broken = jsonl(ROWS[:2]) + b"{not json\n" + jsonl([{"question": "no answer here"}]) + jsonl(ROWS[2:])
    choose_file(page, "broken.jsonl", broken)
    expect(page.locator("#preview")).to_contain_text("1 unreadable (line 3)")
    expect(page.locator("#id_problem")).to_have_value("question")
    expect(page.locator("#id_answer")).to_have_value("final_answer")
    page.click("button:has-text('Import')")
    errors = page.locator("#import-errors")
    expect(errors).to_contain_text("Nothing was imported")
    expect(errors.locator("tbody tr")).to_have_count(2)
    expect(errors.locator("tbody tr").first).to_contain_text("3")
    expect(errors.locator("tbody tr").nth(1)).to_contain_text("missing field 'final_answer'")
    screenshot(page, "dataset-upload-errors")
    assert (Dataset.objects.count(), Example.objects.count()) == (0, 0)

    choose_file(page, "problems.jsonl", jsonl(ROWS))
    expect(page.locator("#preview")).to_contain_text("12 rows")
    page.select_option("#id_subject", "type")
    screenshot(page, "dataset-upload")
    page.click("button:has-text('Import')")
    page.wait_for_url(re.compile(r"/datasets/\d+/$"))
    expect(page.locator("h1")).to_contain_text("problems")
    expect(page.locator(".message")).to_contain_text("Imported 12 examples")
    dataset = Dataset.objects.get()
    assert dataset.source == "upload:problems.jsonl" and dataset.examples.count() == 12

    page.select_option("select[name=subject]", "geometry")
    expect(page.locator("#example-table tbody tr")).to_have_count(6)
    page.click("#example-table th >> text=#")  # second click on the current sort column reverses it
    expect(page.locator("#example-table tbody tr").first.locator("td").first).to_have_text("11")
    screenshot(page, "dataset-detail")
    page.click("#example-table tbody tr >> nth=0 >> a")
    expect(page.locator("h1")).to_contain_text("Example 11")
    screenshot(page, "example-detail")
    page.click("nav >> text=Datasets")
    expect(page.locator("table.grid tbody tr")).to_have_count(1)
    screenshot(page, "datasets")


def test_hub_import_says_when_the_hub_cannot_be_reached(page, member, monkeypatch):
    from datasets import config as datasets_config
    from huggingface_hub import constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets_config, "HF_HUB_OFFLINE", True)
    log_in(page, member)
    page.goto("/datasets/")
    page.click("text=Import from the hub")
    page.fill("#id_hub_id", "HuggingFaceH4/MATH-500")
    page.fill("#id_split", "test")
    page.click("button:has-text('Import')")
    expect(page.locator("#hub-error")).to_contain_text("HF_HUB_OFFLINE is set and there is no cached copy")
    screenshot(page, "dataset-import-hub")
    assert not Dataset.objects.exists()


def test_label_noise_variant_shows_the_changed_labels(page, member):
    make_dataset(member.teams.get(), "numbers", size=20)
    log_in(page, member)
    page.click("nav >> text=Datasets")
    page.click("text=numbers")
    page.fill("#id_fraction", "0.5")
    page.fill("#id_seed", "7")
    page.click("button:has-text('Create variant')")
    expect(page.locator("h1")).to_contain_text("numbers-noise0.5-seed7")
    expect(page.locator("#provenance")).to_contain_text("one-shot-rlvr-label-noise")
    variant = Dataset.objects.get(parent__name="numbers")
    n_corrupted = variant.derivation["n_corrupted"]
    assert n_corrupted == 10
    expect(page.locator("#example-table tr.changed")).to_have_count(n_corrupted)
    page.check("input[name=changed]")
    expect(page.locator("#example-table tbody tr")).to_have_count(n_corrupted)
    screenshot(page, "dataset-variant")

    page.goto(f"/datasets/{variant.parent_id}/")
    page.fill("#id_fraction", "0.5")
    page.fill("#id_seed", "7")
    page.click("button:has-text('Create variant')")
    expect(page.locator(".message")).to_contain_text("already exists")
    assert Dataset.objects.filter(parent__name="numbers").count() == 1


def fill(page, fields: dict[str, str]) -> None:
    """Type into text fields and pick options in selects, by form field path."""
    for path, value in fields.items():
        selector = "#f-" + path.replace(".", "--")
        if page.locator(selector).evaluate("element => element.tagName") == "SELECT":
            page.select_option(selector, value)
        else:
            page.fill(selector, value)


# A GRPO run of the tiny model (tests/models.py) that takes seconds on a CPU worker, as the form sets it up.
TINY_RUN = {
    "algorithm.grpo.rollouts_per_prompt": "4",
    "algorithm.grpo.temperature": "1.0",
    "data.examples": "0",
    "data.template": "one-shot-boxed",
    "train.batch_size": "2",
    "train.mini_batch_size": "2",
    "train.max_response_length": "6",
    "train.steps": "4",
    "train.save_every": "2",
    "eval.template": "one-shot-boxed",
    "eval.every": "2",
    "eval.limit": "2",
    "eval.base_model": "false",
    "eval.sampling.max_new_tokens": "4",
}


def test_spec_form_launches_a_run_that_finishes_on_the_worker(page, member, worker_process, tiny_model_dir):
    make_dataset(member.teams.get(), "problems", size=4)
    log_in(page, member)
    page.click("text=New spec")
    fill(page, {"name": "browser-run", "model.id": tiny_model_dir, "model.dtype": "float32"})
    fill(page, {"data.dataset": "problems", "train.lr": "0", "resources.queue": "cpu"})
    page.uncheck("input[name='eval.suite'][value=math500]")
    page.check("input[name='eval.suite'][value=arith]")
    expect(page.locator("#e-train--lr")).to_have_text("must be greater than 0")
    expect(page.locator("#spec-yaml")).to_have_value(re.compile(r"lr: 0\b"))
    page.locator("#s-train").scroll_into_view_if_needed()
    screenshot(page, "spec-editor-errors", full_page=False)

    fill(page, {"train.lr": "1e-2", **TINY_RUN})
    expect(page.locator("#spec-valid")).to_contain_text("Launching creates 1 run")
    expect(page.locator("#e-train--lr")).to_be_empty()
    yaml_text = page.locator("#spec-yaml").input_value()
    assert "dataset: problems" in yaml_text and "suite: [arith]" in yaml_text and "queue: cpu" in yaml_text
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "spec-editor", full_page=False)

    page.click("#launch-button")
    page.wait_for_url(re.compile(r"/runs/\?sweep=\d+$"))
    expect(page.locator(".message.success")).to_contain_text("Launched 1 run of browser-run")
    page.click("#run-table a[href^='/runs/']")
    expect(page.locator("#run-state")).to_have_text("succeeded", timeout=90_000)
    assert Run.objects.get().status == "succeeded", Run.objects.get().error
    # The other panels poll less often than the status; each catches up within its own interval.
    # (an SVG, not its line: a reward that stays 0 draws a flat line, which has no visible height)
    expect(page.locator("#run-curves svg").first).to_be_visible(timeout=10_000)
    expect(page.locator("#run-curves svg polyline").first).to_be_attached()
    expect(page.locator("#run-log")).to_contain_text("grpo on 1 example(s), 4 steps", timeout=10_000)
    expect(page.locator("#run-evaluations")).to_contain_text("step 4", timeout=20_000)
    expect(page.locator("#run-evaluations th").nth(1)).to_contain_text("arith", timeout=20_000)
    expect(page.locator("button:has-text('Run again')")).to_be_visible()
    screenshot(page, "run-detail")
    page.click("nav >> text=Runs")
    expect(page.locator("#run-table .status")).to_have_text("succeeded")
    screenshot(page, "runs")
    page.click("nav >> text=Specs")
    screenshot(page, "specs")
    page.click("text=browser-run")
    screenshot(page, "spec-detail")
    page.click("text=Clone into the editor")
    expect(page.locator("h1")).to_contain_text("Clone of browser-run")
    expect(page.locator("#f-train--steps")).to_have_value("4")
    expect(page.locator("#launch-button")).to_have_text("Launch 1 run")


def test_yaml_edits_fill_in_the_form(page, member):
    make_dataset(member.teams.get(), "problems", size=4)
    log_in(page, member)
    page.goto("/specs/new/")
    page.fill(
        "#spec-yaml",
        "name: from-yaml\nmodel: {id: smollm2-135m-instruct}\ndata: {dataset: problems}\n"
        "algorithm: {name: srft}\nresources: {queue: cpu, gpus: 0}\nsweep: {train.seed: [1, 2, 3]}\n",
    )
    expect(page.locator("#f-name")).to_have_value("from-yaml")
    expect(page.locator("#f-data--dataset")).to_have_value("problems")
    expect(page.locator("#s-algorithm--srft")).to_be_visible()
    expect(page.locator("#s-algorithm--grpo")).to_be_hidden()
    expect(page.locator("#f-sweep")).to_have_value(re.compile(r"train\.seed: \[1, 2, 3\]"))
    expect(page.locator("#launch-button")).to_have_text("Launch 3 runs")
    page.fill("#spec-yaml", "name: [broken")
    expect(page.locator("#spec-status")).to_contain_text("not valid YAML")
    expect(page.locator("#f-name")).to_have_value("from-yaml")


def test_a_large_upload_shows_its_import_then_the_dataset(page, member, settings, tmp_path, worker_process):
    """Over RLAB_INLINE_IMPORT_BYTES the upload page hands over to the import's page, which follows the
    worker's progress and opens the dataset once it is imported."""
    settings.RLAB_INLINE_IMPORT_BYTES = 1024
    settings.RLAB_DATA_DIR = tmp_path
    log_in(page, member)
    page.goto("/datasets/upload/")
    rows = [{"question": f"What is {i} + {i}?", "final_answer": str(2 * i)} for i in range(3000)]
    choose_file(page, "many.jsonl", jsonl(rows))
    expect(page.locator("#preview")).to_contain_text("The first 50 rows")
    page.click("button:has-text('Import')")
    page.wait_for_url(re.compile(r"/datasets/imports/\d+/$"))
    expect(page.locator("h1")).to_contain_text("Importing many")
    screenshot(page, "dataset-import-progress")
    page.wait_for_url(re.compile(r"/datasets/\d+/$"), timeout=120_000)
    expect(page.locator(".message")).to_contain_text("Imported 3000 examples into many")
    assert Dataset.objects.get(name="many").examples.count() == 3000


def test_cancel_and_publish_ask_first(page, member):
    """Dismissing the confirmation leaves the run as it was; accepting acts."""
    run = make_unqueued_run(member.teams.get(), RUN_SPEC)
    log_in(page, member)
    page.goto(f"/runs/{run.pk}/")
    messages: list[str] = []

    def answer(accept: bool):
        def handle(dialog) -> None:
            messages.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()

        return handle

    page.once("dialog", answer(False))
    page.get_by_role("button", name="Publish").click()
    page.once("dialog", answer(False))
    page.get_by_role("button", name="Cancel run").click()
    page.wait_for_timeout(300)
    run.refresh_from_db()
    assert not run.published and not run.cancel_requested and run.status == "queued"
    assert "global leaderboard" in messages[0] and messages[1].startswith(f"Cancel {run.name}?")
    page.once("dialog", answer(True))
    page.get_by_role("button", name="Cancel run").click()
    expect(page.locator(".status.cancelled").first).to_be_visible()
    assert Run.objects.get(pk=run.pk).status == "cancelled"


def test_the_run_page_shows_its_queue_position_and_a_failed_evaluation(page, member):
    """Failures in plain sight: a queued run says where it stands in its queue; a run whose evaluation
    failed says which and why, on the page (issue: it used to show "succeeded" and "not evaluated yet")."""
    from rlab.experiments.models import EvalRequest

    team = member.teams.get()
    first = make_unqueued_run(team, RUN_SPEC)
    second = make_unqueued_run(team, RUN_SPEC.replace("drill", "drill2"))
    log_in(page, member)
    page.goto(f"/runs/{second.pk}/")
    expect(page.locator("#queue-position")).to_contain_text("number 2 in the cpu queue (1 run ahead")
    expect(page.locator("#queue-wait")).to_contain_text("no estimate yet")  # no run of the queue has finished
    Run.objects.filter(pk=first.pk).update(status=Run.Status.SUCCEEDED)
    checkpoint = first.checkpoints.create(step=40, path="/gone", dtype="float32")
    request = EvalRequest.ask(first, checkpoint)
    EvalRequest.objects.filter(pk=request.pk).update(
        status="failed", error="BenchmarkUnavailable: benchmark 'arith' is unavailable. Tried: local: …"
    )
    page.goto(f"/runs/{first.pk}/")
    expect(page.locator("#evaluations-failed")).to_contain_text("1 evaluation failed")
    expect(page.locator("#evaluations-failed")).to_contain_text("step-40")
    expect(page.locator("#evaluations-failed")).to_contain_text("BenchmarkUnavailable")
    screenshot(page, "run-evaluation-failed")
