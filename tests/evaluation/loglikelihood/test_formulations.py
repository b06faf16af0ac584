"""The formulations' literal texts, checked against lm-evaluation-harness 0.4.13's task configs written
out by hand (arc/arc_easy.yaml for ll-cloze, mmlu/default/_default_template_yaml for ll-mcf)."""

import pytest

from evaluation.benchmarks import Problem, get_benchmark, list_benchmarks
from evaluation.loglikelihood.formulations import FORMULATIONS, get_formulation, gold_index

QUESTION = Problem(
    id="q1",
    problem="Which gas do plants take in? ",
    answer="B",
    choices=["oxygen", "carbon dioxide", "helium"],
)


def test_cloze_is_the_harness_arc_prompt_with_a_space_before_each_option():
    cloze = get_formulation("ll-cloze")
    assert cloze.context(QUESTION) == "Question: Which gas do plants take in? \nAnswer:"
    assert cloze.continuations(QUESTION) == [" oxygen", " carbon dioxide", " helium"]
    assert cloze.choices(QUESTION) == ["oxygen", "carbon dioxide", "helium"]
    assert cloze.primary == "acc_norm"


def test_mcf_letters_the_options_and_scores_the_letter():
    mcf = get_formulation("ll-mcf")
    assert mcf.context(QUESTION) == (
        "Which gas do plants take in?\nA. oxygen\nB. carbon dioxide\nC. helium\nAnswer:"
    )
    assert mcf.continuations(QUESTION) == [" A", " B", " C"]
    assert mcf.primary == "acc"


def test_gold_index_is_the_answer_letter_position_and_bad_answers_are_named():
    assert gold_index(QUESTION) == 1
    with pytest.raises(ValueError, match="'D' is not the letter of one of its 3 options"):
        gold_index(Problem(id="q2", problem="?", answer="D", choices=["a", "b", "c"]))
    with pytest.raises(ValueError, match="has no options"):
        gold_index(Problem(id="q3", problem="1+1?", answer="2"))


def test_benchmarks_declare_only_known_formulations():
    declared = {b.id: b.formulations for b in list_benchmarks() if b.formulations}
    assert declared == {
        "arc_challenge": ("ll-cloze", "ll-mcf"),
        "arc_easy": ("ll-cloze", "ll-mcf"),
        "gpqa_diamond": ("ll-mcf",),
        "mmlu_pro": ("ll-mcf",),
    }
    assert all(f in FORMULATIONS for formulations in declared.values() for f in formulations)
    assert get_benchmark("arc_easy").default_formulation == "ll-cloze"
    assert get_benchmark("math500").default_formulation is None


def test_unknown_formulation_lists_the_known_ones():
    with pytest.raises(ValueError, match="known: ll-cloze, ll-mcf"):
        get_formulation("cloze")
