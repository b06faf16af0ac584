import json
import math
import random
import re
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from rlab.catalog.curation import DataFileError
from rlab.catalog.curation.label_noise import (
    OFFSETS,
    NoiseConfig,
    NoiseSummary,
    corrupt_answer,
    is_corruptible,
    make_noisy_rows,
    noise_file,
)

NON_CORRUPTIBLE = [
    "\\sqrt{2}",
    "x+1",
    "1:2",
    "",
    "\\pi",
    "16.67\\%",
    "90^\\circ",
    "(1, 2)",
    "\\tfrac32",
    "1/0",
]


class ScriptedRng(random.Random):
    """Returns the given draws from choice(), in order (each must be one of the offered options)."""

    def __init__(self, draws: Sequence[int]) -> None:
        super().__init__(0)
        self.draws = list(draws)

    def choice(self, seq: Sequence[Any]) -> Any:
        value = self.draws.pop(0)
        assert value in seq
        return value


def offset_then_flip(original: int | Decimal, new: int | Decimal) -> bool:
    """new = ±(original + d) for some d in ±1..10, and new ≠ original."""
    return new != original and any(abs(original + d) == abs(new) for d in range(-10, 11) if d != 0)


def fraction_parts(answer: str) -> tuple[int, int]:
    """(signed numerator, denominator) of `\\frac{a}{b}`-like or `a/b` answers, for checking results."""
    match = re.fullmatch(r"(-?)\\[dt]?frac\{(-?\d+)\}\{(-?\d+)\}|(-?)(\d+)/(-?\d+)", answer)
    assert match is not None, answer
    sign, num, den = match[1] or match[4] or "", match[2] or match[5], match[3] or match[6]
    return (-int(num) if sign else int(num)), int(den)


def rows_with_answers(answers: Sequence[str]) -> list[dict[str, Any]]:
    return [{"id": i, "answer": answer, "meta": {"level": i % 3}} for i, answer in enumerate(answers)]


INTEGER_ROWS = rows_with_answers([str(7 * i - 30) for i in range(15)] + NON_CORRUPTIBLE[:5])


def test_offsets_are_the_rule() -> None:
    assert sorted(OFFSETS) == [*range(-10, 0), *range(1, 11)]


@pytest.mark.parametrize("answer", ["5", "-5", "0", "1", "-1", "10", "-10", "123456", "007"])
def test_corrupted_integer_differs_by_offset_then_sign(answer: str) -> None:
    for seed in range(300):
        new = corrupt_answer(answer, random.Random(seed))
        assert new is not None and re.fullmatch(r"-?\d+", new)
        assert offset_then_flip(int(answer), int(new))


def test_integer_redrawn_when_it_would_equal_the_original() -> None:
    # 5 + (-10) = -5, negated = 5: the same value, so the next draw (offset +1, no flip) is used.
    assert corrupt_answer("5", ScriptedRng([-10, -1, 1, 1])) == "6"
    assert corrupt_answer("5", ScriptedRng([3, -1])) == "-8"


def test_both_signs_and_all_offsets_occur() -> None:
    results = {int(corrupt_answer("100", random.Random(seed)) or "") for seed in range(2000)}
    assert results == {100 + d for d in OFFSETS} | {-(100 + d) for d in OFFSETS}


def test_fraction_corrupts_numerator_and_denominator() -> None:
    # 3/7: numerator 3+2 = 5 (no flip); denominator -(7-1) = -6; written with the sign in front.
    assert corrupt_answer("\\frac{3}{7}", ScriptedRng([2, 1, -1, -1])) == "-\\frac{5}{6}"
    assert corrupt_answer("3/7", ScriptedRng([2, 1, -1, -1])) == "-5/6"
    # 1/2 -> 2/4 has the same value, and 2/0 is no fraction: both are drawn again.
    assert corrupt_answer("1/2", ScriptedRng([1, 1, 2, 1, 1, 1, -2, 1, 2, 1, 2, 1])) == "3/4"


@pytest.mark.parametrize(
    "answer", ["\\frac{3}{7}", "\\dfrac{5}{8}", "-\\frac{1}{2}", "\\frac{-15647}{390625}", "126/29", "-1/2"]
)
def test_corrupted_fraction_keeps_form_and_changes_value(answer: str) -> None:
    command = re.match(r"-?(\\[dt]?frac)", answer)
    num, den = fraction_parts(answer)
    for seed in range(300):
        new = corrupt_answer(answer, random.Random(seed))
        assert new is not None
        assert re.search(r"\{-|/-", new) is None  # the sign is written in front
        new_num, new_den = fraction_parts(new)
        assert new_den != 0 and Fraction(new_num, new_den) != Fraction(num, den)
        assert any(abs(num + d) == abs(new_num) for d in OFFSETS)
        assert any(abs(den + d) == new_den for d in OFFSETS)
        if command:
            assert command[1] in new


@pytest.mark.parametrize(
    ("answer", "pattern"),
    [
        ("$25$", r"\$-?\d+\$"),
        ("\\boxed{5}", r"\\boxed\{-?\d+\}"),
        ("$\\boxed{-3}$", r"\$\\boxed\{-?\d+\}\$"),
        ("\\( \\frac{2}{3} \\)", r"\\\(-?\\frac\{\d+\}\{\d+\}\\\)"),
        ("  42 ", r"-?\d+"),
        ("2,600", r"-?\d{1,3}(,\d{3})*"),
        ("66.450", r"-?\d+\.450"),
        ("0.01", r"-?\d+\.\d\d"),
    ],
)
def test_wrappers_groups_and_decimals_are_kept(answer: str, pattern: str) -> None:
    for seed in range(50):
        new = corrupt_answer(answer, random.Random(seed))
        assert new is not None and re.fullmatch(pattern, new), new


def test_decimal_gets_the_integer_rule() -> None:
    for seed in range(300):
        new = corrupt_answer("-6480.25", random.Random(seed))
        assert new is not None and offset_then_flip(Decimal("-6480.25"), Decimal(new))
    assert corrupt_answer("3.0", ScriptedRng([-3, -1])) == "0.0"  # never "-0.0"


@pytest.mark.parametrize("answer", NON_CORRUPTIBLE)
def test_non_numeric_answers_are_not_corruptible(answer: str) -> None:
    assert not is_corruptible(answer)
    assert corrupt_answer(answer, random.Random(0)) is None


def test_fraction_is_exact_over_corruptible_rows() -> None:
    out = make_noisy_rows(INTEGER_ROWS, NoiseConfig(fraction=0.4, seed=1, scope="numeric"))
    assert sum(row["noisy"] for row in out) == 6  # round(0.4 * 15); the 5 other rows do not count
    for row in out[15:]:
        assert row["noisy"] is False


@pytest.mark.parametrize(("fraction", "expected"), [(0.5, 2), (0.7, 4), (0.1, 0), (0.3, 2)])
def test_count_is_python_round_of_fraction_times_corruptible(fraction: float, expected: int) -> None:
    rows = rows_with_answers(["1", "2", "3", "4", "5", "\\sqrt{2}"])
    out = make_noisy_rows(rows, NoiseConfig(fraction=fraction, seed=0, scope="numeric"))
    assert sum(row["noisy"] for row in out) == expected == round(fraction * 5)  # 2.5 -> 2, 3.5 -> 4


def test_rows_keep_every_field_and_the_original() -> None:
    out = make_noisy_rows(INTEGER_ROWS, NoiseConfig(fraction=0.5, seed=3, scope="numeric"))
    for before, after in zip(INTEGER_ROWS, out, strict=True):
        assert after["original_answer"] == before["answer"]
        assert {k: v for k, v in after.items() if k not in ("answer", "original_answer", "noisy")} == {
            k: v for k, v in before.items() if k != "answer"
        }
        if after["noisy"]:
            assert offset_then_flip(int(before["answer"]), int(after["answer"]))
        else:
            assert after["answer"] == before["answer"]
    assert "noisy" not in INTEGER_ROWS[0]  # the input is not modified


def test_same_seed_same_output_and_different_seeds_differ() -> None:
    config = NoiseConfig(fraction=0.5, seed=11)
    assert make_noisy_rows(INTEGER_ROWS, config) == make_noisy_rows(INTEGER_ROWS, config)
    other = make_noisy_rows(INTEGER_ROWS, NoiseConfig(fraction=0.5, seed=12))
    assert other != make_noisy_rows(INTEGER_ROWS, config)


def test_larger_fraction_extends_the_same_corruption() -> None:
    for scope, expected in (("numeric", 9), ("all", 12)):
        small = make_noisy_rows(INTEGER_ROWS, NoiseConfig(fraction=0.2, seed=5, scope=scope))
        large = make_noisy_rows(INTEGER_ROWS, NoiseConfig(fraction=0.6, seed=5, scope=scope))
        for a, b in zip(small, large, strict=True):
            if a["noisy"]:
                assert b["noisy"] and b["answer"] == a["answer"]
        assert sum(b["noisy"] for b in large) == expected  # round(0.6 · 15) and round(0.6 · 20)


def test_zero_fraction_changes_nothing() -> None:
    out = make_noisy_rows(INTEGER_ROWS, NoiseConfig(fraction=0.0, seed=0))
    assert [row["answer"] for row in out] == [row["answer"] for row in INTEGER_ROWS]
    assert not any(row["noisy"] for row in out)


def test_fraction_one_changes_every_corruptible_row() -> None:
    out = make_noisy_rows(INTEGER_ROWS, NoiseConfig(fraction=1.0, seed=0, scope="numeric"))
    assert [row["noisy"] for row in out] == [True] * 15 + [False] * 5
    assert all(row["answer"] != row["original_answer"] for row in out[:15])


def test_dotted_answer_field() -> None:
    rows = [{"reward_model": {"ground_truth": "3", "style": "rule"}, "extra_info": {"index": 0}}]
    out = make_noisy_rows(rows, NoiseConfig(fraction=1.0, seed=0, answer_field="reward_model.ground_truth"))
    assert out[0]["reward_model"]["style"] == "rule" and out[0]["original_answer"] == "3"
    assert offset_then_flip(3, int(out[0]["reward_model"]["ground_truth"]))
    assert rows[0]["reward_model"]["ground_truth"] == "3"


def test_numeric_json_labels_keep_their_type() -> None:
    rows = [{"answer": 12}, {"answer": 27.0}, {"answer": True}]
    out = make_noisy_rows(rows, NoiseConfig(1.0, seed=0, scope="numeric"))
    assert isinstance(out[0]["answer"], int) and offset_then_flip(12, out[0]["answer"])
    assert isinstance(out[1]["answer"], float) and offset_then_flip(Decimal(27), Decimal(out[1]["answer"]))
    assert out[2] == {"answer": True, "original_answer": True, "noisy": False}


@pytest.mark.parametrize("fraction", [-0.1, 1.5, math.nan, True, "0.5"])
def test_fraction_outside_unit_interval_is_rejected(fraction: Any) -> None:
    with pytest.raises(ValueError, match="fraction must be a number in"):
        NoiseConfig(fraction=fraction, seed=0)


def write_lines(path: Path, lines: Sequence[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_noise_file_writes_rows_and_summary(tmp_path: Path) -> None:
    source = write_lines(tmp_path / "in.jsonl", [json.dumps(row) for row in INTEGER_ROWS])
    out = tmp_path / "out.jsonl"
    summary = noise_file(source, out, fraction=0.4, seed=1)
    assert summary == NoiseSummary(n_rows=20, n_corruptible=15, n_corrupted=8)  # round(0.4 · 20 rows)
    assert summary.realized_rate == 0.4
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows == make_noisy_rows(INTEGER_ROWS, NoiseConfig(fraction=0.4, seed=1))


@pytest.mark.parametrize(
    ("lines", "kwargs", "message"),
    [
        (['{"answer": "1"}', "{oops"], {}, r"in.jsonl line 2: not valid JSON"),
        (['{"answer": "1"}', '"just a string"'], {}, r"in.jsonl line 2: expected a JSON object"),
        (['{"answer": "1"}', "", '{"label": "2"}'], {}, r"in.jsonl line 3: missing field 'answer'"),
        (['{"a": {"b": "1"}}', '{"a": "2"}'], {"answer_field": "a.b"}, r"line 2: missing field 'a.b'"),
        (['{"answer": "1", "noisy": true}'], {}, r"in.jsonl line 1: already has"),
        (['{"answer": "1"}'], {"fraction": 1.01}, r"fraction must be a number in \[0, 1\]"),
    ],
)
def test_bad_input_names_the_line_and_writes_nothing(
    tmp_path: Path, lines: list[str], kwargs: dict[str, Any], message: str
) -> None:
    source = write_lines(tmp_path / "in.jsonl", lines)
    arguments: dict[str, Any] = {"fraction": 0.5, "seed": 0, **kwargs}
    with pytest.raises((DataFileError, ValueError), match=message):
        noise_file(source, tmp_path / "out.jsonl", **arguments)
    assert list(tmp_path.iterdir()) == [source]  # no output, no temporary file


def test_failed_run_keeps_existing_output(tmp_path: Path) -> None:
    out = write_lines(tmp_path / "out.jsonl", ["old"])
    with pytest.raises(DataFileError):
        noise_file(write_lines(tmp_path / "in.jsonl", ["{"]), out, fraction=0.5, seed=0)
    assert out.read_text() == "old\n"


def test_dsr_sub_ground_truths(one_shot_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "noisy.jsonl"
    summary = noise_file(
        one_shot_dir / "dsr_sub.jsonl",
        out,
        fraction=0.5,
        seed=0,
        answer_field="reward_model.ground_truth",
        scope="numeric",
    )
    assert summary == NoiseSummary(n_rows=1209, n_corruptible=943, n_corrupted=472)  # round(471.5) = 472
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    for row in rows:
        label, original = row["reward_model"]["ground_truth"], row["original_answer"]
        assert (label != original) == row["noisy"]
        if row["noisy"] and re.fullmatch(r"-?\d+", original):
            assert offset_then_flip(int(original), int(label))
    pi1 = next(row for row in rows if row["extra_info"]["index"] == 124)
    assert pi1["original_answer"] == "12.8"


def test_scope_all_makes_a_share_of_all_rows_wrong_including_non_numeric_ones() -> None:
    out = make_noisy_rows(INTEGER_ROWS, NoiseConfig(fraction=1.0, seed=0))
    assert all(row["noisy"] and row["answer"] != row["original_answer"] for row in out)
    labels = {row["answer"] for row in INTEGER_ROWS}
    for row in out[15:]:  # not numeric: another row's (different) label
        assert row["answer"] in labels and row["answer"] != row["original_answer"]


def test_a_label_no_other_row_differs_from_stays_and_is_not_counted() -> None:
    rows = rows_with_answers(["\\sqrt{2}"] * 4)
    out = make_noisy_rows(rows, NoiseConfig(fraction=1.0, seed=0))
    assert not any(row["noisy"] for row in out)


@pytest.mark.parametrize(("fraction", "wrong"), [(0.6, 725), (0.9, 1088)])
def test_dsr_sub_variants_have_the_papers_share_of_wrong_rows(
    one_shot_dir: Path, tmp_path: Path, fraction: float, wrong: int
) -> None:
    """The 1-shot RLVR paper's label-noise levels, "60% / 90% of DSR-sub" (research notes): shares of its
    1,209 rows, not of its 943 numeric labels."""
    out = tmp_path / "noisy.jsonl"
    summary = noise_file(
        one_shot_dir / "dsr_sub.jsonl", out, fraction, seed=0, answer_field="reward_model.ground_truth"
    )
    assert summary.n_corrupted == wrong == round(fraction * 1209)
    assert abs(summary.realized_rate - fraction) <= 0.001
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sum(row["reward_model"]["ground_truth"] != row["original_answer"] for row in rows) == wrong
    assert all("original_answer" in row for row in rows)
    again = tmp_path / "again.jsonl"
    noise_file(
        one_shot_dir / "dsr_sub.jsonl", again, fraction, seed=0, answer_field="reward_model.ground_truth"
    )
    assert again.read_text() == out.read_text()  # seeded
