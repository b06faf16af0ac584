"""The JSONL pairs contract used by `rlab grade PAIRS.jsonl`."""

import io
import json

from evaluation.grading.pairs import grade_pairs, grade_pairs_file


def test_lines_come_back_with_equal_and_a_summary(pool):
    lines = [
        {"gold": r"\frac{1}{2}", "pred": "0.5", "kind": "math", "id": 7},
        {"gold": "10", "pred": "1000", "kind": "math"},
        {"gold": "B", "pred": "(B)", "kind": "choice"},
        {"gold": ["1,3"], "pred": "3, 1"},
        {"gold": r"\sqrt{8}", "pred": r"2\sqrt{2}"},
        {"gold": "5", "pred": None},
    ]
    outputs, summary = grade_pairs(lines, pool=pool)
    assert [output["equal"] for output in outputs] == [True, False, True, True, True, False]
    assert outputs[0] == {**lines[0], "equal": True}
    assert summary == {"count": 6, "equal": 4, "not_equal": 2, "errors": 0}


def test_bad_lines_are_reported_with_their_number(pool):
    lines = [
        {"gold": "1", "pred": "1"},
        {"pred": "1"},
        {"gold": "1", "pred": "1", "kind": "essay"},
        {"gold": "42", "pred": "B", "kind": "choice"},
        {"gold": "1", "pred": 1},
        ["not", "an", "object"],
        {"gold": {"a": 1}, "pred": "1"},
    ]
    outputs, summary = grade_pairs(lines, pool=pool)
    assert summary == {"count": 7, "equal": 1, "not_equal": 0, "errors": 6}
    errors = [output.get("error") for output in outputs]
    assert errors[0] is None
    assert errors[1] == "line 2: missing field 'gold'"
    assert errors[2].startswith("line 3: field 'kind': unknown answer kind 'essay'")
    assert errors[3].startswith("line 4: field 'gold': choice gold must be one letter")
    assert errors[4] == "line 5: field 'pred' must be a string or null, got int"
    assert errors[5] == "line 6: expected a JSON object, got list"
    assert errors[6].startswith("line 7: field 'gold'")
    assert outputs[5] == {"line": 6, "input": ["not", "an", "object"], "equal": None, "error": errors[5]}
    assert all(output["equal"] is None for output in outputs[1:])


def test_file_round_trip_keeps_file_line_numbers(tmp_path, pool):
    path = tmp_path / "pairs.jsonl"
    good, wrong = json.dumps({"gold": "x=3", "pred": "3"}), json.dumps({"gold": "2", "pred": "3"})
    path.write_text(f"{good}\n\n{{broken json\n{wrong}\n", encoding="utf-8")
    out = io.StringIO()
    summary = grade_pairs_file(str(path), out, pool=pool)
    outputs = [json.loads(line) for line in out.getvalue().splitlines()]
    assert summary == {"count": 3, "equal": 1, "not_equal": 1, "errors": 1}
    assert [output["equal"] for output in outputs] == [True, None, False]
    assert outputs[1]["error"].startswith("line 3: invalid JSON")
    assert outputs[1]["input"] == "{broken json"


def test_a_response_is_extracted_as_evaluation_does_then_graded():
    lines = [
        {"gold": "12.8", "response": "We get 12.8 mph. The final answer is \\boxed{12.8}."},
        {"gold": "B", "kind": "choice", "response": "Looking at the options, the answer is (B)."},
        {"gold": "C", "kind": "choice", "response": "So the answer is A."},
        {"gold": "1", "pred": "1", "response": "1"},
    ]
    outputs, summary = grade_pairs(lines)
    assert [o["equal"] for o in outputs] == [True, True, False, None]
    assert [o.get("extracted") for o in outputs[:3]] == ["12.8", "B", "A"]
    assert "either 'pred'" in outputs[3]["error"]
    assert summary == {"count": 4, "equal": 2, "not_equal": 1, "errors": 1}


def test_a_choice_pred_that_states_its_letter_is_read_as_the_letter():
    outputs, _ = grade_pairs([{"gold": "B", "kind": "choice", "pred": "The answer is (B)."}])
    assert outputs[0]["equal"] is True
