"""Large uploads: the request stores the file and returns; a real worker imports it all or nothing while the
import's page shows the progress, then sends the browser to the new dataset (issue 14)."""

import json
import re
import time

import pytest
from django.urls import reverse

from rlab.catalog.models import Dataset, Example, ImportJob
from tests.platform.conftest import logged_in

pytestmark = pytest.mark.django_db(transaction=True)

MAPPING = {"problem": "problem", "answer": "answer"}
HTMX = {"HX-Request": "true"}
IMPORT_TIMEOUT_SECONDS = 300
UPLOAD_LIMIT_BYTES = 200 * 1024 * 1024


@pytest.fixture
def uploads_here(settings, tmp_path):
    """Stored uploads in this test's folder (the worker reads them by their absolute path)."""
    settings.RLAB_DATA_DIR = tmp_path / "data"
    return settings.RLAB_DATA_DIR / "uploads"


def write_jsonl(path, n_rows: int, problem_chars: int = 40, bad_line: int | None = None):
    with open(path, "w") as out:
        for i in range(n_rows):
            row = {"problem": f"What is {i} + 1? " + "x" * problem_chars, "answer": str(i + 1)}
            out.write(("{broken" if i + 1 == bad_line else json.dumps(row)) + "\n")
    return path


def post_upload(client, path, name: str):
    with open(path, "rb") as file:
        return client.post(reverse("catalog:dataset_upload"), {"file": file, "name": name, **MAPPING})


def follow_import(client, job: ImportJob) -> tuple[object, list[int]]:
    """Poll the import's status partial as the page does (htmx) until it ends; the last response and the
    percentages shown on the way."""
    url = reverse("catalog:import_detail", args=[job.pk])
    seen: list[int] = []
    deadline = time.monotonic() + IMPORT_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        response = client.get(url, headers=HTMX)
        if "HX-Redirect" in response or "Nothing was imported" in response.content.decode():
            return response, seen
        if found := re.search(r'<progress max="100" value="(\d+)"', response.content.decode()):
            seen.append(int(found.group(1)))
        time.sleep(0.2)
    raise AssertionError(f"the import did not finish within {IMPORT_TIMEOUT_SECONDS} s (saw {seen})")


def test_a_large_upload_is_imported_by_the_worker(alice, uploads_here, settings, tmp_path, worker_process):
    settings.RLAB_INLINE_IMPORT_BYTES = 1024
    client = logged_in(alice)
    response = post_upload(client, write_jsonl(tmp_path / "rows.jsonl", 200), "background")
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response.url == reverse("catalog:import_detail", args=[job.pk])
    page = client.get(response.url).content.decode()
    assert "Importing background" in page and 'id="import-status"' in page
    done, _ = follow_import(client, job)
    dataset = Dataset.objects.get(name="background")
    assert done["HX-Redirect"] == reverse("catalog:dataset_detail", args=[dataset.pk])
    assert dataset.team == alice.teams.get() and dataset.examples.count() == 200
    assert not any(uploads_here.iterdir()), "the stored upload is deleted once imported"
    assert "Imported 200 examples into background" in client.get(done["HX-Redirect"]).content.decode()


def test_a_bad_row_fails_the_background_import_and_saves_nothing(
    alice, uploads_here, settings, tmp_path, worker_process
):
    settings.RLAB_INLINE_IMPORT_BYTES = 1024
    client = logged_in(alice)
    post_upload(client, write_jsonl(tmp_path / "rows.jsonl", 3000, bad_line=2500), "broken")
    done, _ = follow_import(client, ImportJob.objects.get())
    body = done.content.decode()
    assert "Nothing was imported" in body and "<td>2500</td><td>not valid JSON" in body
    assert ImportJob.objects.get().status == ImportJob.Status.FAILED
    assert not Dataset.objects.exists() and not Example.objects.exists()
    listed = client.get(reverse("catalog:dataset_list")).content.decode()
    assert 'id="imports"' in listed and "broken" in listed and "failed" in listed


@pytest.mark.slow
def test_a_199_mib_upload_returns_at_once_and_imports_with_progress(
    alice, uploads_here, tmp_path, worker_process
):
    # 199 MiB of JSONL: under the 200 MB upload limit, far past what the web server may spend on a request.
    row_chars = 8 * 1024
    n_rows = 199 * 1024 * 1024 // (row_chars + 60)
    path = write_jsonl(tmp_path / "big.jsonl", n_rows, problem_chars=row_chars)
    size = path.stat().st_size
    assert 198 * 2**20 < size < UPLOAD_LIMIT_BYTES
    client = logged_in(alice)
    started = time.monotonic()
    response = post_upload(client, path, "big")
    request_seconds = time.monotonic() - started
    job = ImportJob.objects.get()
    assert response.status_code == 302 and job.size == size
    assert not Dataset.objects.filter(name="big").exists(), "the request only stored the file"
    done, seen = follow_import(client, job)
    import_seconds = time.monotonic() - started
    print(
        f"{size / 2**20:.0f} MiB, {n_rows} rows: request {request_seconds:.1f} s, all {import_seconds:.1f} s"
    )
    print(f"progress shown: {seen}")
    dataset = Dataset.objects.get(name="big")
    assert done["HX-Redirect"] == reverse("catalog:dataset_detail", args=[dataset.pk])
    assert dataset.examples.count() == n_rows
    assert any(0 < percent < 100 for percent in seen) and seen == sorted(seen)
