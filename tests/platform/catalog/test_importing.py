"""Importing data files as datasets (all or nothing) and storing π rankings on their examples."""

import io
import json
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rlab.catalog.curation.ranking import history_from_acc_json, rank_examples
from rlab.catalog.importing import VERL_MAPPING, FieldMapping, ImportFailed, import_dataset
from rlab.catalog.models import Dataset, Example, Ranking
from rlab.catalog.rankings import resolve_examples, store_ranking

pytestmark = pytest.mark.django_db

ROWS = [{"problem": f"What is {i} + 1?", "answer": str(i + 1), "subject": "arithmetic"} for i in range(4)]


def jsonl(rows) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def test_jsonl_import_creates_every_example(team_a):
    dataset = import_dataset(
        team=team_a,
        name="small",
        filename="small.jsonl",
        data=jsonl(ROWS),
        mapping=FieldMapping(subject="subject"),
    )
    assert dataset.source == "upload:small.jsonl" and len(dataset.content_hash) == 64
    assert list(dataset.examples.values_list("index", "answer", "subject")) == [
        (i, str(i + 1), "arithmetic") for i in range(4)
    ]


def test_csv_and_parquet_import(team_a):
    csv_data = b"problem,answer\nWhat is 2+2?,4\nWhat is 3+3?,6\n"
    import_dataset(team=team_a, name="csv", filename="d.csv", data=csv_data, mapping=FieldMapping())
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(ROWS), buffer)
    import_dataset(
        team=team_a, name="pq", filename="d.parquet", data=buffer.getvalue(), mapping=FieldMapping()
    )
    assert Example.objects.filter(dataset__name="csv").count() == 2
    assert Example.objects.filter(dataset__name="pq").count() == 4


def test_malformed_rows_are_listed_by_line_and_nothing_is_saved(team_a):
    data = (
        jsonl(ROWS[:2]) + b"{not json\n" + jsonl([{"problem": "no answer"}, {"problem": "", "answer": "1"}])
    )
    with pytest.raises(ImportFailed) as failed:
        import_dataset(team=team_a, name="bad", filename="bad.jsonl", data=data, mapping=FieldMapping())
    assert [e.line for e in failed.value.errors] == [3, 4, 5]
    assert "missing field 'answer'" in str(failed.value)
    assert not Dataset.objects.exists() and not Example.objects.exists()


def test_unsupported_file_type_and_duplicate_name(team_a):
    with pytest.raises(ImportFailed, match="unsupported file type"):
        import_dataset(team=team_a, name="x", filename="x.xlsx", data=b"", mapping=FieldMapping())
    import_dataset(team=team_a, name="x", filename="x.jsonl", data=jsonl(ROWS), mapping=FieldMapping())
    with pytest.raises(ImportFailed, match="already exists"):
        import_dataset(team=team_a, name="x", filename="x.jsonl", data=jsonl(ROWS), mapping=FieldMapping())
    assert Example.objects.count() == 4


def test_verl_rows_keep_their_index_and_duplicates_are_refused(team_a):
    verl = [
        {
            "prompt": [{"role": "user", "content": f"Q{i}"}],
            "reward_model": {"ground_truth": str(i)},
            "extra_info": {"index": 10 + i},
        }
        for i in range(3)
    ]
    dataset = import_dataset(
        team=team_a, name="verl", filename="v.jsonl", data=jsonl(verl), mapping=VERL_MAPPING
    )
    assert list(dataset.examples.values_list("index", "problem")) == [(10, "Q0"), (11, "Q1"), (12, "Q2")]
    with pytest.raises(ImportFailed, match="index 10 already used on line 1"):
        import_dataset(
            team=team_a, name="dup", filename="v.jsonl", data=jsonl(verl + verl[:1]), mapping=VERL_MAPPING
        )


def test_the_papers_ranking_names_pi1_pi2_pi13_pi1209(shared_data):
    folder = shared_data / "one_shot_rlvr"
    dataset = import_dataset(
        team=None,
        name="dsr_sub",
        filename="dsr_sub.jsonl",
        data=(folder / "dsr_sub.jsonl").read_bytes(),
        mapping=VERL_MAPPING,
    )
    ranking = store_ranking(
        dataset, rank_examples(history_from_acc_json(folder / "acc_step_500.json")), "historical-variance"
    )
    named = resolve_examples(dataset, ["pi1", "pi2", "pi13", "pi1209", 7])
    assert [e.index for e in named] == [124, 267, 682, 789, 7]
    assert Example.objects.get(dataset=dataset, index=124).pi_rank == 1
    assert ranking.entries.count() == 1209
    with pytest.raises(LookupError, match="no pi1210"):
        resolve_examples(dataset, ["pi1210"])


def test_a_second_ranking_becomes_the_latest_and_both_stay(team_a):
    dataset = import_dataset(
        team=team_a, name="d", filename="d.jsonl", data=jsonl(ROWS), mapping=FieldMapping()
    )
    store_ranking(dataset, rank_examples([(0, [0, 1]), (1, [1, 1]), (2, [0, 0]), (3, [1, 0, 1])]), "run-a")
    store_ranking(dataset, rank_examples([(3, [0, 1]), (2, [1, 1])]), "run-b")
    assert Ranking.objects.filter(dataset=dataset).count() == 2
    assert resolve_examples(dataset, ["pi1"], "run-a")[0].index == 0
    assert dict(dataset.examples.values_list("index", "pi_rank")) == {0: None, 1: None, 2: 2, 3: 1}


def test_cli_import_exit_codes(tmp_path, child_env):
    good, bad = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    good.write_bytes(jsonl(ROWS))
    bad.write_bytes(jsonl(ROWS) + b"[1, 2]\n")
    command = [sys.executable, "-m", "rlab.cli", "data", "import"]
    result = subprocess.run(
        [*command, str(bad), "--name", "d", "--shared"], capture_output=True, text=True, env=child_env
    )
    assert result.returncode == 2 and "line 5: expected an object" in result.stderr
    missing_team = subprocess.run(
        [*command, str(good), "--name", "d", "--team", "nope"], capture_output=True, text=True, env=child_env
    )
    assert missing_team.returncode == 2 and "no team 'nope'" in missing_team.stderr
