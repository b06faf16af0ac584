"""Catalog pages: dataset list and detail (sortable, filterable examples, provenance), uploads validated all
or nothing, label-noise variants from a form, and importing from the hub."""

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from rlab.catalog.models import Dataset, Example
from rlab.catalog.uploads import column_paths, guess_mapping
from tests.platform.conftest import logged_in, make_dataset

pytestmark = pytest.mark.django_db

ROWS = [
    {
        "question": f"What is {i} + {i}?",
        "final_answer": str(2 * i),
        "type": "algebra" if i % 2 else "geometry",
    }
    for i in range(6)
]
MAPPING = {"problem": "question", "answer": "final_answer", "subject": "type"}


def jsonl(rows) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def parquet(rows) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buffer)
    return buffer.getvalue()


def upload(client: Client, filename: str, data: bytes, htmx: bool = False, **fields):
    payload = {"file": SimpleUploadedFile(filename, data), **MAPPING, **fields}
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(reverse("catalog:dataset_upload"), payload, headers=headers)


def counts() -> tuple[int, int]:
    return Dataset.objects.count(), Example.objects.count()


# ---------------------------------------------------------------- uploads


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        ("problems.jsonl", jsonl(ROWS)),
        (
            "problems.csv",
            b"question,final_answer,type\n" + b"".join(f"Q{i},{i},algebra\n".encode() for i in range(6)),
        ),
        ("problems.parquet", parquet(ROWS)),
    ],
)
def test_good_upload_creates_the_dataset(alice, filename, data):
    response = upload(logged_in(alice), filename, data)
    dataset = Dataset.objects.get()
    assert response.status_code == 302 and response.url == reverse(
        "catalog:dataset_detail", args=[dataset.pk]
    )
    assert dataset.name == "problems" and dataset.team.slug == "team-a" and dataset.created_by == alice
    assert dataset.source == f"upload:{filename}" and len(dataset.content_hash) == 64
    assert dataset.examples.count() == 6 and set(dataset.examples.values_list("subject", flat=True)) <= {
        "algebra",
        "geometry",
    }


def test_malformed_upload_lists_bad_lines_and_saves_nothing(alice):
    make_dataset(alice.teams.get(), "existing")
    before = counts()
    data = jsonl(ROWS[:2]) + b"{broken\n" + jsonl([{"question": "no answer"}]) + jsonl(ROWS[2:])
    response = upload(logged_in(alice), "bad.jsonl", data, name="bad")
    body = response.content.decode()
    assert response.status_code == 200 and "Nothing was imported" in body
    assert (
        "<td>3</td><td>not valid JSON" in body
        and "<td>4</td><td>missing field &#x27;final_answer&#x27;" in body
    )
    assert counts() == before


def test_malformed_upload_over_htmx_returns_only_the_errors(alice):
    response = upload(logged_in(alice), "bad.csv", b"question,final_answer,type\n,1,x\n", htmx=True)
    body = response.content.decode()
    assert "<html" not in body and "<td>2</td><td>&#x27;question&#x27; must be a non-empty string" in body
    assert counts() == (0, 0)


def test_good_upload_over_htmx_redirects_the_browser(alice):
    response = upload(logged_in(alice), "problems.jsonl", jsonl(ROWS), htmx=True)
    assert response.headers["HX-Redirect"] == reverse(
        "catalog:dataset_detail", args=[Dataset.objects.get().pk]
    )


def test_duplicate_name_and_unsupported_type_save_nothing(alice):
    client = logged_in(alice)
    upload(client, "problems.jsonl", jsonl(ROWS))
    again = upload(client, "problems.jsonl", jsonl(ROWS)).content.decode()
    # a name error, at the name field: not "1 bad row" (the rows are fine)
    assert "A dataset named &#x27;problems&#x27; already exists in this team." in again
    assert "Nothing was imported" not in again
    over_htmx = upload(client, "problems.jsonl", jsonl(ROWS), htmx=True).content.decode()
    assert "already exists in this team" in over_htmx and "Nothing was imported" not in over_htmx
    assert "Unsupported file type" in upload(client, "problems.xlsx", b"x").content.decode()
    assert counts() == (1, 6)


def test_preview_shows_columns_rows_and_a_guessed_mapping(alice):
    verl = [{"prompt": [{"role": "user", "content": "Q"}], "reward_model": {"ground_truth": "1"}}]
    response = logged_in(alice).post(
        reverse("catalog:upload_preview"),
        {"file": SimpleUploadedFile("d.jsonl", jsonl(verl) + b"oops\n")},
        headers={"HX-Request": "true"},
    )
    body = response.content.decode()
    assert "<code>prompt.0.content</code>" in body and "1 unreadable (line 2)" in body
    assert '<option value="prompt.0.content" selected>' in body
    assert '<option value="reward_model.ground_truth" selected>' in body
    assert counts() == (0, 0)


def test_column_guessing():
    row = {"question": "q", "answer": "a", "extra_info": {"index": 3}, "choices": ["x", "y"]}
    assert column_paths(row) == ["question", "answer", "extra_info.index", "choices"]
    assert guess_mapping(column_paths(row)) == {
        "problem": "question",
        "answer": "answer",
        "choices": "choices",
        "index": "extra_info.index",
    }


# ---------------------------------------------------------------- hub import


def test_hub_import_offline_says_so_and_saves_nothing(alice, monkeypatch):
    from datasets import config as datasets_config
    from huggingface_hub import constants as hub_constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets_config, "HF_HUB_OFFLINE", True)
    response = logged_in(alice).post(
        reverse("catalog:dataset_import_hub"),
        {"hub_id": "example-org/no-such-set", "split": "train", "problem": "problem", "answer": "answer"},
    )
    body = response.content.decode()
    assert response.status_code == 200 and "Nothing was imported" in body and "HF_HUB_OFFLINE" in body
    assert counts() == (0, 0)


@pytest.fixture
def offline(monkeypatch):
    from datasets import config as datasets_config
    from huggingface_hub import constants as hub_constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets_config, "HF_HUB_OFFLINE", True)


def test_a_hub_id_naming_a_server_folder_is_refused_outside_the_import_root(
    alice, offline, monkeypatch, settings, tmp_path
):
    """`load_dataset("var/artifacts")` would read the artifact folder; only RLAB_IMPORT_ROOT's are read."""
    folder = tmp_path / "var" / "artifacts"
    folder.mkdir(parents=True)
    (folder / "rows.jsonl").write_bytes(jsonl([{"problem": "What is 1 + 1?", "answer": "2"}]))
    monkeypatch.chdir(tmp_path)
    form = {"hub_id": "var/artifacts", "split": "train", "problem": "problem", "answer": "answer"}
    settings.RLAB_IMPORT_ROOT = None
    response = logged_in(alice).post(reverse("catalog:dataset_import_hub"), form)
    body = response.content.decode()
    assert "names a folder on the server, not a hub dataset" in body and counts() == (0, 0)

    settings.RLAB_IMPORT_ROOT = tmp_path.resolve()  # the folder is under the root: it may be read
    response = logged_in(alice).post(reverse("catalog:dataset_import_hub"), form)
    assert response.status_code == 302 and counts() == (1, 1)


def test_hub_form_checks_the_id(alice):
    response = logged_in(alice).post(
        reverse("catalog:dataset_import_hub"), {"hub_id": "not an id", "split": "x"}
    )
    assert "Enter a valid value" in response.content.decode()


# ---------------------------------------------------------------- list and detail


def ranked_dataset(team) -> Dataset:
    dataset = Dataset.objects.create(team=team, name="ranked", source="test")
    Example.objects.bulk_create(
        Example(
            dataset=dataset,
            index=i,
            problem=f"P{i}",
            answer=str(i),
            subject="algebra" if i % 2 else "geometry",
            level=str(1 + i % 3),
            pi_rank=[3, 1, 4, 2, None][i],
            historical_variance=[0.1, 0.25, 0.05, 0.2, None][i],
        )
        for i in range(5)
    )
    return dataset


def shown_indexes(response) -> list[int]:
    return [e.index for e in response.context["page"]]


def test_examples_sort_by_pi_variance_and_index(alice, team_a):
    dataset = ranked_dataset(team_a)
    client, url = logged_in(alice), reverse("catalog:dataset_detail", args=[dataset.pk])
    assert shown_indexes(client.get(url)) == [0, 1, 2, 3, 4]
    assert shown_indexes(client.get(url, {"sort": "pi"})) == [1, 3, 0, 2, 4]
    assert shown_indexes(client.get(url, {"sort": "-variance"})) == [1, 3, 0, 2, 4]
    assert shown_indexes(client.get(url, {"sort": "-index"})) == [4, 3, 2, 1, 0]
    assert shown_indexes(client.get(url, {"sort": "bogus"})) == [0, 1, 2, 3, 4]


def test_examples_filter_by_subject_and_level_over_htmx(alice, team_a):
    dataset = ranked_dataset(team_a)
    url = reverse("catalog:dataset_detail", args=[dataset.pk])
    response = logged_in(alice).get(url, {"subject": "algebra", "level": "2"}, headers={"HX-Request": "true"})
    assert shown_indexes(response) == [1]
    body = response.content.decode()
    assert body.startswith('<div id="example-table"') and "<html" not in body


def test_list_and_detail_queries_stay_bounded(alice, team_a, django_assert_max_num_queries):
    parent = make_dataset(team_a, "parent", size=120)
    for i in range(40):
        Dataset.objects.create(team=team_a, name=f"d{i}", parent=parent, derivation={"rule": "r"})
    client = logged_in(alice)
    with django_assert_max_num_queries(8):
        assert len(client.get(reverse("catalog:dataset_list")).context["datasets"]) == 41
    with django_assert_max_num_queries(14):
        client.get(reverse("catalog:dataset_detail", args=[parent.pk]))


def test_label_noise_variant_from_the_form_is_created_once(alice, team_a):
    parent = make_dataset(team_a, "numbers", size=10)
    client = logged_in(alice)
    url = reverse("catalog:dataset_noise", args=[parent.pk])
    response = client.post(url, {"fraction": "0.5", "seed": "3"})
    variant = Dataset.objects.get(parent=parent)
    assert response.url == reverse("catalog:dataset_detail", args=[variant.pk])
    assert variant.derivation == {
        "rule": "one-shot-rlvr-label-noise",
        "fraction": 0.5,
        "seed": 3,
        "scope": "all",
        "n_corrupted": 5,
        "n_rows": 10,
        "realized_rate": 0.5,
    }
    labels = list(variant.examples.order_by("index").values_list("answer", flat=True))
    again = client.post(url, {"fraction": "0.5", "seed": "3"}, follow=True)
    assert "already exists" in again.content.decode()
    assert Dataset.objects.filter(parent=parent).count() == 1
    assert list(variant.examples.order_by("index").values_list("answer", flat=True)) == labels

    detail = client.get(reverse("catalog:dataset_detail", args=[variant.pk]))
    body = detail.content.decode()
    assert 'id="provenance"' in body and "one-shot-rlvr-label-noise" in body and "n_corrupted" in body
    assert "Realized label noise: 50.0% of all rows" in body
    assert body.count('<tr class="changed">') == 5
    changed = client.get(reverse("catalog:dataset_detail", args=[variant.pk]), {"changed": "on"})
    assert all(e.is_noisy for e in changed.context["page"]) and len(changed.context["page"]) == 5
    noisy = next(e for e in variant.examples.all() if e.is_noisy)
    example = client.get(reverse("catalog:example_detail", args=[variant.pk, noisy.index])).content.decode()
    assert "corrupted by label noise" in example and f"<code>{noisy.original_answer}</code>" in example


def test_label_noise_variant_of_a_shared_dataset_stays_in_the_team(alice, bob, team_a):
    shared = make_dataset(None, "shared-numbers", size=10)
    logged_in(alice).post(
        reverse("catalog:dataset_noise", args=[shared.pk]), {"fraction": "0.5", "seed": "0"}
    )
    variant = Dataset.objects.get(parent=shared)
    assert variant.team == team_a
    assert variant.name in logged_in(alice).get(reverse("catalog:dataset_list")).content.decode()
    bobs_list = logged_in(bob).get(reverse("catalog:dataset_list")).content.decode()
    assert "shared-numbers" in bobs_list and variant.name not in bobs_list
    bobs_view = logged_in(bob).get(reverse("catalog:dataset_detail", args=[shared.pk])).content.decode()
    assert variant.name not in bobs_view
    assert logged_in(bob).get(reverse("catalog:dataset_detail", args=[variant.pk])).status_code == 404


@pytest.mark.parametrize(
    ("fraction", "seed", "message"),
    [
        ("0", "0", "A variant with no corrupted labels"),
        ("1.5", "0", "less than or equal to 1.0"),
        ("x", "0", "Enter a number"),
        ("0.5", "-1", "greater than or equal to 0"),
    ],
)
def test_bad_noise_settings_create_nothing(alice, team_a, fraction, seed, message):
    parent = make_dataset(team_a, "numbers")
    response = logged_in(alice).post(
        reverse("catalog:dataset_noise", args=[parent.pk]), {"fraction": fraction, "seed": seed}
    )
    assert response.status_code == 200 and message in response.content.decode()
    assert Dataset.objects.count() == 1


# ---------------------------------------------------------------- isolation, login, CSRF


def test_another_teams_dataset_is_404_everywhere(alice, team_b):
    foreign = make_dataset(team_b, "private")
    client = logged_in(alice)
    assert client.get(reverse("catalog:dataset_detail", args=[foreign.pk])).status_code == 404
    assert client.get(reverse("catalog:example_detail", args=[foreign.pk, 0])).status_code == 404
    response = client.post(
        reverse("catalog:dataset_noise", args=[foreign.pk]), {"fraction": "0.5", "seed": "0"}
    )
    assert response.status_code == 404 and Dataset.objects.count() == 1
    assert "private" not in client.get(reverse("catalog:dataset_list")).content.decode()


def test_uploads_go_to_the_current_team(alice, team_b):
    upload(logged_in(alice), "mine.jsonl", jsonl(ROWS))
    assert Dataset.objects.get().team.slug == "team-a"


@pytest.mark.parametrize(
    "name", ["catalog:dataset_upload", "catalog:upload_preview", "catalog:dataset_import_hub"]
)
def test_catalog_forms_need_login_and_csrf(alice, name):
    anonymous = Client().post(reverse(name), {"file": SimpleUploadedFile("a.jsonl", jsonl(ROWS)), **MAPPING})
    assert anonymous.status_code == 302 and anonymous.url.startswith(reverse("login"))
    client = logged_in(alice, enforce_csrf_checks=True)
    assert (
        client.post(
            reverse(name), {"file": SimpleUploadedFile("a.jsonl", jsonl(ROWS)), **MAPPING}
        ).status_code
        == 403
    )
    assert counts() == (0, 0)


def test_noise_form_needs_csrf(alice, team_a):
    parent = make_dataset(team_a, "numbers")
    response = logged_in(alice, enforce_csrf_checks=True).post(
        reverse("catalog:dataset_noise", args=[parent.pk]), {"fraction": "0.5", "seed": "0"}
    )
    assert response.status_code == 403 and Dataset.objects.count() == 1


def test_empty_catalog_says_what_to_do(alice):
    body = logged_in(alice).get(reverse("catalog:dataset_list")).content.decode()
    assert "No datasets yet" in body and reverse("catalog:dataset_upload") in body


def test_a_taken_variant_name_is_reported_not_crashed(alice, team_a):
    parent = make_dataset(team_a, "numbers")
    make_dataset(team_a, "numbers-noise0.5-seed0")
    response = logged_in(alice).post(
        reverse("catalog:dataset_noise", args=[parent.pk]), {"fraction": "0.5", "seed": "0"}
    )
    assert "A dataset named numbers-noise0.5-seed0 already exists" in response.content.decode()
    assert Dataset.objects.count() == 2


def test_every_catalog_page_needs_login(team_a):
    dataset = make_dataset(team_a, "numbers")
    pages = [
        ("get", reverse("catalog:dataset_list")),
        ("get", reverse("catalog:dataset_detail", args=[dataset.pk])),
        ("get", reverse("catalog:example_detail", args=[dataset.pk, 0])),
        ("get", reverse("catalog:dataset_upload")),
        ("get", reverse("catalog:dataset_import_hub")),
        ("post", reverse("catalog:dataset_noise", args=[dataset.pk])),
    ]
    for method, url in pages:
        response = getattr(Client(), method)(url)
        assert response.status_code == 302 and response.url.startswith(reverse("login")), url
    assert Dataset.objects.count() == 1
