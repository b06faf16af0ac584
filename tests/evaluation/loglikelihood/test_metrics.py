"""acc / acc_norm / acc_mutual_info against hand-computed cases (definitions: lm-evaluation-harness 0.4.13
lm_eval/api/task.py, ConfigurableTask.process_results for output_type multiple_choice)."""

import pytest

from evaluation.loglikelihood.metrics import ItemScore, first_argmax, score_items


def item(logprobs, choices=("a", "bbbb", "cc"), gold=0, unconditional=None, problem_id="q"):
    n = len(logprobs)
    return ItemScore(problem_id, gold, tuple(choices), tuple(logprobs), (False,) * n, (1,) * n, unconditional)


def test_acc_takes_the_raw_argmax_and_acc_norm_divides_by_characters():
    # raw: -2.0 > -4.0 > -5.0, so acc picks "a"; per character: -2/1, -4/4 = -1.0, -5/2 = -2.5: "bbbb".
    scored = item([-2.0, -4.0, -5.0], gold=1)
    assert scored.pred == 0
    assert scored.pred_norm == 1
    assert not scored.correct("acc")
    assert scored.correct("acc_norm")


def test_acc_norm_counts_characters_not_bytes():
    # "é" is 1 character (2 bytes): -1.0/1 beats -1.5/1 ("b"), but per byte -0.5 would beat it the other way.
    scored = item([-1.5, -1.0], choices=("é", "b"))
    assert scored.pred_norm == 1


def test_ties_go_to_the_first_option_like_numpy_argmax():
    assert first_argmax([-1.0, -1.0, -3.0]) == 0
    assert item([-3.0, -1.0, -1.0], choices=("x", "y", "z")).pred == 1


def test_mutual_info_subtracts_the_unconditional_loglikelihood():
    # conditional - unconditional: -2-(-1) = -1, -4-(-6) = 2, -5-(-5) = 0: the second option.
    scored = item([-2.0, -4.0, -5.0], gold=1, unconditional=(-1.0, -6.0, -5.0))
    assert scored.pred_mutual_info == 1
    assert scored.correct("acc_mutual_info")
    with pytest.raises(ValueError, match="unconditional"):
        item([-1.0, -2.0, -3.0]).correct("acc_mutual_info")


def test_score_items_means_over_questions_with_their_standard_error():
    items = [
        item([-1.0, -2.0, -3.0], gold=0),
        item([-1.0, -2.0, -3.0], gold=2),
        item([-9.0, -1.0, -3.0], gold=1),
    ]
    score = score_items(items, "acc", subjects=["bio", "bio", None])
    assert score.n_problems == 3
    assert score.accuracy["acc"] == pytest.approx(2 / 3)
    # sample variance of (1, 0, 1) is 1/3; stderr = sqrt(1/3 / 3) = 1/3
    assert score.stderr["acc"] == pytest.approx(1 / 3)
    assert score.by_subject == {"bio": 0.5}
    assert score.value == score.accuracy["acc"]
    assert "acc_mutual_info" not in score.accuracy
    assert score_items(items[:1], "acc", [None]).stderr["acc"] is None
