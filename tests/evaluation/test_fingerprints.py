"""Fingerprints of problem texts: exact (normalised) and near-duplicate (5-gram containment, Broder 1997)."""

from evaluation.fingerprints import (
    NEAR_DUPLICATE_CONTAINMENT,
    BenchmarkIndex,
    Fingerprint,
    containment,
    normalise,
    tokens,
)


def test_normalisation_drops_case_spacing_and_latex_markup():
    assert normalise(r"Compute  $\dfrac{1}{2}\,+\left(3\right)$.") == normalise(r"compute \frac{1}{2} + (3).")
    assert tokens("What is 12 + 7?") == ["what", "is", "12", "+", "7", "?"]
    assert Fingerprint.of("What is 12 + 7?").exact == Fingerprint.of("  what IS 12+7 ?").exact


def test_containment_by_hand():
    # "a b c d e f" has the 5-grams "a b c d e", "b c d e f"; "a b c d e x" shares one of its two.
    inner, outer = Fingerprint.of("a b c d e f"), Fingerprint.of("a b c d e x")
    assert containment(inner, outer) == 0.5
    assert containment(inner, Fingerprint.of("z a b c d e f y")) == 1.0
    assert containment(Fingerprint.of(""), outer) == 0.0


def test_index_finds_exact_and_near_duplicates_and_not_mere_shared_phrasing():
    problem = "Let $f(x) = 3x^2 - 5$. What is the value of $f(f(1))$? Express your answer in simplest form."
    index = BenchmarkIndex([("p", Fingerprint.of(problem)), ("q", Fingerprint.of("What is 12 + 8?"))])
    assert index.matches(Fingerprint.of(problem.upper())) == {"p": "exact"}
    verl_prompt = problem + " Let's think step by step and output the final answer within \\boxed{}."
    assert index.matches(Fingerprint.of(verl_prompt)) == {"p": "near"}
    assert index.matches(Fingerprint.of("What is 12 + 7?")) == {}  # one number apart: another problem
    edited = problem.replace("simplest form", "lowest terms")  # 3 of its 29 5-grams change: 26/29 ≈ 0.90
    shared = containment(Fingerprint.of(problem), Fingerprint.of(edited))
    assert shared >= NEAR_DUPLICATE_CONTAINMENT and index.matches(Fingerprint.of(edited)) == {"p": "near"}


def test_exact_wins_over_near_across_examples():
    index = BenchmarkIndex([(0, Fingerprint.of("a b c d e f g"))])
    found = index.matched_by([Fingerprint.of("a b c d e f g h"), Fingerprint.of("A B C D E F G")])
    assert found == {0: "exact"}
