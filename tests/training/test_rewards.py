import logging
import sys
import types

import pytest

from evaluation.grading.extract import last_boxed
from training.rewards import REWARDS, score_completions


def _grader_importable() -> bool:
    try:
        from evaluation.grading import grade_response  # noqa: F401
    except ImportError:
        return False
    return True


needs_grader = pytest.mark.skipif(not _grader_importable(), reason="evaluation.grading not importable yet")


@pytest.fixture
def exact_grader(monkeypatch):
    """A stand-in evaluation.grading: an answer is correct iff it equals the gold (or one of the golds)."""

    def grade(gold: str | list[str], pred: str | None) -> bool:
        return pred in ([gold] if isinstance(gold, str) else gold)

    def grade_response(response: str, gold: str | list[str]) -> bool:
        return grade(gold, last_boxed(response))

    module = types.ModuleType("evaluation.grading")
    module.grade = grade
    module.grade_response = grade_response
    monkeypatch.setitem(sys.modules, "evaluation.grading", module)


def test_registry_names():
    assert set(REWARDS) == {"outcome", "outcome_lenient", "format", "none", "r1"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The answer is \\boxed{42}.", 1.0),
        ("\\boxed{\\frac{1}{2}}", 1.0),
        ("\\boxed{wrong value}", 1.0),
        ("\\boxed{  }", 0.0),
        ("\\boxed{12", 0.0),
        ("The answer is 42.", 0.0),
        ("", 0.0),
    ],
)
def test_format_reward(text, expected):
    assert REWARDS["format"](text, "42") == expected


def test_none_reward_is_always_zero():
    assert REWARDS["none"]("\\boxed{42}", "42") == 0.0
    assert REWARDS["none"]("anything", None) == 0.0


@needs_grader
def test_outcome_with_the_real_grader():
    assert REWARDS["outcome"]("so the answer is \\boxed{4}", "4") == 1.0
    assert REWARDS["outcome"]("so the answer is \\boxed{5}", "4") == 0.0
    assert REWARDS["outcome"]("no answer at all", "4") == 0.0
    assert REWARDS["outcome"]("\\boxed{\\frac{1}{2}} then \\boxed{0.5}", "1/2") == 1.0  # the last box counts


@needs_grader
@pytest.mark.parametrize(
    "text", ["So the velocity is 12.8 mph.", "The final answer is 12.8", "12.8", "$12.8$", "\\boxed{}"]
)
def test_outcome_gives_nothing_without_a_box_as_the_seeds_reward(text):
    """The 1-shot RLVR code's reward is DeepScaleR's compute_score (verl fork,
    verl/utils/reward_score/deepscaler.py): no \\boxed{} in the response → 0, however right the answer."""
    assert REWARDS["outcome"](text, "12.8") == 0.0


@needs_grader
def test_outcome_lenient_reads_the_answer_as_the_evaluation_does():
    assert REWARDS["outcome_lenient"]("So the velocity is 12.8 mph.", "12.8") == 1.0
    assert REWARDS["outcome_lenient"]("The final answer is 12.8", "12.8") == 1.0
    assert REWARDS["outcome_lenient"]("So the velocity is 12.9 mph.", "12.8") == 0.0
    assert REWARDS["outcome_lenient"]("\\boxed{12.8}", "12.8") == 1.0


def test_outcome_with_a_grader_stand_in(exact_grader):
    assert REWARDS["outcome"]("\\boxed{4}", "4") == 1.0
    assert REWARDS["outcome"]("\\boxed{5}", "4") == 0.0
    assert REWARDS["outcome"]("\\boxed{5}", ["4", "5"]) == 1.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # What the r1 template asks, "<think> reasoning </think> <answer> answer </answer>": format 1 +
        # accuracy 1, with or without the closing tag (the template's stop string "</answer>" cuts it off)
        ("<think> 2 + 2 = 4 </think> <answer> 4 </answer>", 2.0),
        ("<think>2 + 2 = 4</think> <answer>4", 2.0),
        ("\n<think>\nadd\n</think>\n<answer>\n\\boxed{4}\n</answer>\n", 2.0),
        # format 1, wrong answer
        ("<think>2 + 2 = 5</think> <answer>5</answer>", 1.0),
        # a right answer outside the layout: no <answer> block → nothing to grade, no format
        ("The answer is \\boxed{4}.", 0.0),
        ("<think>2 + 2 = 4</think> \\boxed{4}", 0.0),
        # right answer, broken layout → accuracy only: empty reasoning; text before <think>; two think
        # blocks; text after </answer>
        ("<think></think> <answer>4</answer>", 1.0),
        ("Sure! <think>a</think> <answer>4</answer>", 1.0),
        ("<think>a</think><think>b</think> <answer>4</answer>", 1.0),
        ("<think>a</think> <answer>4</answer> and more", 1.0),
        # empty answer; the answer inside the think block only
        ("<think>a</think> <answer> </answer>", 0.0),
        ("<think><answer>4</answer></think>", 0.0),
    ],
)
def test_r1_reward(exact_grader, text, expected):
    assert REWARDS["r1"](text, "4") == expected


@pytest.mark.parametrize("name", ["outcome", "outcome_lenient", "format", "none", "r1"])
@pytest.mark.parametrize("odd", [None, 17, b"\\boxed{4}", ["\\boxed{4}"]])
def test_odd_output_scores_zero_with_a_warning(exact_grader, caplog, name, odd):
    with caplog.at_level(logging.WARNING, logger="training.rewards"):
        assert REWARDS[name](odd, "4") == 0.0
    if name != "none":
        assert "scored 0.0" in caplog.text


def test_grader_errors_and_missing_gold_score_zero(monkeypatch, caplog):
    module = types.ModuleType("evaluation.grading")
    module.grade = lambda gold, pred: 1 / 0
    monkeypatch.setitem(sys.modules, "evaluation.grading", module)
    with caplog.at_level(logging.WARNING, logger="training.rewards"):
        assert REWARDS["outcome"]("\\boxed{4}", "4") == 0.0
        assert REWARDS["outcome"]("\\boxed{4}", None) == 0.0
    assert "ZeroDivisionError" in caplog.text and "ValueError" in caplog.text


def test_missing_grader_is_a_setup_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "evaluation.grading", None)
    with pytest.raises(ImportError):
        REWARDS["outcome"]("\\boxed{4}", "4")


def test_score_completions(exact_grader):
    completions = ["\\boxed{4}", "\\boxed{5}", None, "<think>x</think> <answer>\\boxed{4}</answer>"]
    golds = ["4", "4", "4", "4"]
    assert score_completions("outcome", completions, golds) == [1.0, 0.0, 0.0, 1.0]
    assert score_completions("r1", completions, golds) == [0.0, 0.0, 0.0, 2.0]
    assert score_completions(REWARDS["format"], completions, golds) == [1.0, 1.0, 0.0, 1.0]
    with pytest.raises(ValueError):
        score_completions("outcome", completions, golds[:2])
    with pytest.raises(ValueError):
        score_completions("bleu", completions, golds)
