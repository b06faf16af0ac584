import json
from pathlib import Path

import pytest

from rlab.catalog.curation import DataFileError
from rlab.catalog.curation.ranking import (
    RankedExample,
    historical_std,
    historical_variance,
    history_from_acc_json,
    rank_examples,
    rank_file,
    read_history_jsonl,
    write_ranking_jsonl,
)

# Hand-computed population variances (all values exact in binary floating point except "d"):
#   a [0, 1]        mean 1/2, var 1/4      c [0, 0, 1, 1]  mean 1/2, var 1/4   (tie with a)
#   d [0, 0.5, 1]   mean 1/2, var 1/6      b [1, 1, 1]     mean 1,   var 0
#   e [0.5]         mean 1/2, var 0        (tie with b)
HISTORY = [
    ("a", [0.0, 1.0]),
    ("b", [1.0, 1.0, 1.0]),
    ("c", [0.0, 0.0, 1.0, 1.0]),
    ("d", [0.0, 0.5, 1.0]),
    ("e", [0.5]),
]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_historical_variance_by_hand() -> None:
    assert historical_variance([0.0, 1.0]) == 0.25
    assert historical_std([0.0, 1.0]) == 0.5
    assert historical_variance([0.0, 0.5, 1.0]) == pytest.approx(1 / 6)
    assert historical_variance([0.125] * 7) == 0.0
    assert historical_variance([0.0, 0.25, 0.5, 0.75, 1.0]) == pytest.approx(0.125)


def test_rank_synthetic_history() -> None:
    ranking = rank_examples(HISTORY)
    assert [(r.key, r.pi) for r in ranking] == [("a", 1), ("c", 2), ("d", 3), ("b", 4), ("e", 5)]
    assert ranking[0] == RankedExample(key="a", variance=0.25, std=0.5, mean_acc=0.5, n_epochs=2, pi=1)
    assert ranking[2].variance == pytest.approx(1 / 6)
    assert ranking[3] == RankedExample(key="b", variance=0.0, std=0.0, mean_acc=1.0, n_epochs=3, pi=4)


def test_ties_keep_input_order() -> None:
    reordered = [HISTORY[4], HISTORY[2], HISTORY[3], HISTORY[1], HISTORY[0]]  # e, c, d, b, a
    assert [r.key for r in rank_examples(reordered)] == ["c", "a", "d", "e", "b"]


def test_rank_rejects_duplicates_and_empty_history() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        rank_examples([("a", [0.0]), ("a", [1.0])])
    with pytest.raises(ValueError, match="empty"):
        rank_examples([("a", [])])


def test_rank_file_round_trip(tmp_path: Path) -> None:
    lines = [json.dumps({"example": key, "acc": acc}) for key, acc in HISTORY]
    history = write_lines(tmp_path / "history.jsonl", [*lines, ""])  # a trailing blank line is ignored
    assert read_history_jsonl(history) == HISTORY
    out = tmp_path / "ranks.jsonl"
    assert rank_file(history, out) == 5
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(row["example"], row["pi"]) for row in rows] == [("a", 1), ("c", 2), ("d", 3), ("b", 4), ("e", 5)]
    assert rows[0] == {"example": "a", "pi": 1, "variance": 0.25, "std": 0.5, "mean_acc": 0.5, "n_epochs": 2}


def test_integer_example_ids_are_kept(tmp_path: Path) -> None:
    history = write_lines(
        tmp_path / "h.jsonl", ['{"example": 7, "acc": [0, 1]}', '{"example": 3, "acc": [1]}']
    )
    out = tmp_path / "r.jsonl"
    rank_file(history, out)
    assert [json.loads(line)["example"] for line in out.read_text().splitlines()] == [7, 3]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "line 2: not valid JSON"),
        ("[1, 2]", "line 2: expected a JSON object"),
        ('{"acc": [0.5]}', "line 2: needs the fields"),
        ('{"example": "x"}', "line 2: needs the fields"),
        ('{"example": null, "acc": [0.5]}', "line 2: 'example' must be"),
        ('{"example": "x", "acc": []}', "line 2: 'acc' must be a non-empty list"),
        ('{"example": "x", "acc": 0.5}', "line 2: 'acc' must be a non-empty list"),
        ('{"example": "x", "acc": [0.5, 1.5]}', "line 2: accuracy 1.5 is not"),
        ('{"example": "x", "acc": [NaN]}', "line 2: accuracy nan is not"),
        ('{"example": "x", "acc": ["0.5"]}', "line 2: accuracy '0.5' is not"),
        ('{"example": "a", "acc": [0.5]}', "line 2: example 'a' already given on line 1"),
    ],
)
def test_malformed_history_names_the_line(tmp_path: Path, line: str, message: str) -> None:
    history = write_lines(tmp_path / "h.jsonl", ['{"example": "a", "acc": [0, 1]}', line])
    out = tmp_path / "r.jsonl"
    with pytest.raises(DataFileError, match=message):
        rank_file(history, out)
    assert list(tmp_path.iterdir()) == [history]  # no output, no temporary file


def test_empty_history_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="no examples"):
        read_history_jsonl(write_lines(tmp_path / "h.jsonl", []))


def test_failed_rank_keeps_existing_output(tmp_path: Path) -> None:
    out = write_lines(tmp_path / "r.jsonl", ["old"])
    with pytest.raises(DataFileError):
        rank_file(write_lines(tmp_path / "h.jsonl", ["{"]), out)
    assert out.read_text() == "old\n"


def test_acc_json_keeps_key_order(tmp_path: Path) -> None:
    path = tmp_path / "acc.json"
    path.write_text('{"9": [0.0, 1.0], "2": [1.0, 0.0], "5": [0.5]}')
    assert history_from_acc_json(path) == [("9", [0.0, 1.0]), ("2", [1.0, 0.0]), ("5", [0.5])]
    assert [r.key for r in rank_examples(history_from_acc_json(path))] == ["9", "2", "5"]
    path.write_text('{"9": [0.0, 2.0]}')
    with pytest.raises(DataFileError, match=r"key '9': accuracy 2\.0"):
        history_from_acc_json(path)


def test_reproduces_authors_pi_ranking(one_shot_dir: Path, tmp_path: Path) -> None:
    expected = [json.loads(line) for line in (one_shot_dir / "pi_ranking.jsonl").read_text().splitlines()]
    ranking = rank_examples(history_from_acc_json(one_shot_dir / "acc_step_500.json"))
    by_pi = {r.pi: int(r.key) for r in ranking}
    assert (by_pi[1], by_pi[2], by_pi[13], by_pi[1209]) == (124, 267, 682, 789)
    assert [int(r.key) for r in ranking] == [row["dsr_index"] for row in expected]
    for r, row in zip(ranking, expected, strict=True):
        assert (r.pi, r.std, r.variance, r.n_epochs) == (
            row["pi"],
            row["hist_std"],
            row["hist_var"],
            row["n_epochs"],
        )
        assert r.mean_acc == pytest.approx(row["hist_mean_acc"], rel=1e-12)

    out = tmp_path / "ranks.jsonl"
    assert rank_file(one_shot_dir / "acc_step_500.json", out) == 1209
    first = json.loads(out.read_text().splitlines()[0])
    assert (first["example"], first["pi"]) == ("124", 1)


def test_written_ranking_is_in_pi_order(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    write_ranking_jsonl(rank_examples(HISTORY), out)
    assert [json.loads(line)["pi"] for line in out.read_text().splitlines()] == [1, 2, 3, 4, 5]
