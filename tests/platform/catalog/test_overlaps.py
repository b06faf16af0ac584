"""Benchmark problems in an uploaded dataset: fingerprinted at import, shown on the dataset's page."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from evaluation.benchmarks import DATA_DIR_ENV, load_benchmark
from rlab.catalog.models import Dataset, Example
from rlab.catalog.overlaps import benchmark_overlaps
from rlab.catalog.seeding import load_local_benchmarks
from tests.platform.conftest import logged_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def math500(shared_data, monkeypatch) -> list:
    monkeypatch.setenv(DATA_DIR_ENV, str(shared_data))
    assert "math500" in load_local_benchmarks()
    return load_benchmark("math500", data_dir=shared_data)


def upload(client, rows: list[dict]):
    data = "".join(json.dumps(row) + "\n" for row in rows).encode()
    payload = {"file": SimpleUploadedFile("mine.jsonl", data), "problem": "problem", "answer": "answer"}
    return client.post(reverse("catalog:dataset_upload"), payload)


def test_an_upload_holding_five_math500_problems_shows_them_on_its_page(alice, math500):
    picked = [math500[i] for i in (3, 41, 120, 250, 499)]
    rows = [
        {"problem": f"Problem {i}: how many apples are left when {i} are eaten?", "answer": "1"}
        for i in range(4)
    ]
    rows += [{"problem": p.problem, "answer": p.answer} for p in picked[:3]]  # verbatim
    rows.append({"problem": "  " + picked[3].problem.upper(), "answer": picked[3].answer})  # case and spacing
    verl = picked[4].problem + " Let's think step by step and output the final answer within \\boxed{}."
    rows.append({"problem": verl, "answer": picked[4].answer})  # inside a longer prompt
    client = logged_in(alice)
    assert upload(client, rows).status_code == 302
    dataset = Dataset.objects.get(name="mine")
    assert all(len(e.fingerprint) == 32 and e.ngrams for e in dataset.examples.all())  # computed at import

    (overlap,) = [o for o in benchmark_overlaps(dataset) if o.matches]
    assert overlap.benchmark == "math500" and overlap.n_problems == 500
    assert sorted((m.example, m.problem, m.kind) for m in overlap.matches) == [
        (4, 3, "exact"),
        (5, 41, "exact"),
        (6, 120, "exact"),
        (7, 250, "exact"),
        (8, 499, "near"),
    ]
    body = client.get(reverse("catalog:dataset_detail", args=[dataset.pk])).content.decode()
    assert "5 of its 500 problems are among this dataset's examples (4 exact, 1 near-duplicate)" in body
    assert picked[0].id in body and picked[4].id in body


def test_a_dataset_without_benchmark_problems_says_so(alice, math500):
    client = logged_in(alice)
    assert (
        upload(client, [{"problem": "What is the colour of the sky at noon?", "answer": "blue"}]).status_code
        == 302
    )
    body = client.get(reverse("catalog:dataset_detail", args=[Dataset.objects.get(name="mine").pk])).content
    assert b"No example is one of the problems of " in body and b"math500 (500)" in body


def test_examples_created_any_way_are_fingerprinted(team_a):
    dataset = Dataset.objects.create(team=team_a, name="direct")
    made = Example.objects.create(dataset=dataset, index=0, problem="What is 2 + 2?", answer="4")
    Example.objects.bulk_create([Example(dataset=dataset, index=1, problem="what is 2+2 ?", answer="4")])
    assert made.fingerprint == Example.objects.get(dataset=dataset, index=1).fingerprint != ""
