"""Answer shapes from the peers' test suites (Math-Verify, Qwen2.5-Math), with cases written here.

Each category of issue 18 has equal pairs and near-miss pairs that must stay "not equal".
"""

import pytest

from evaluation.grading import GradeConfig, extract_answer, grade, grade_response

EQUAL = [
    pytest.param("(a,b)=(4,1)", "(4,1)", id="labelled-tuple"),
    pytest.param("|PQ|=7", "7", id="labelled-length"),
    pytest.param("S_{1}:S_{2}=3:5", "3:5", id="labelled-ratio"),
    pytest.param(r"\frac{AM}{MB}=\frac{2}{3}", r"\frac{2}{3}", id="labelled-fraction"),
    pytest.param("PQ=3,RS=8", "3, 8", id="labelled-list"),
    pytest.param("a=1,b=4;a=6,b=4", "(6,4),(1,4)", id="assignment-groups"),
    pytest.param("(1,5),(2,6)", "(2,6),(1,5),(2,6)", id="repeated-solution-tuple"),
    pytest.param("(1;2;3)", "(1,2,3)", id="semicolon-coordinates"),
    pytest.param("(2,9)or(9,2)", "(9,2), (2,9)", id="or-between-tuples"),
    pytest.param("y < 4", "-y > -4", id="negated-inequality"),
    pytest.param(r"y \geq -2", r"-y \leq 2", id="negated-inequality-non-strict"),
    pytest.param("t = 2/7", r"t = 2/7 \approx 0.29", id="approximation-tail"),
    pytest.param(r"\pm 17", "{-17, 17}", id="pm-as-set"),
    pytest.param("(2,5)", "{2,5}", id="grouping-braces-keep-order"),
    pytest.param("42.75", "42,75", id="decimal-comma"),
    pytest.param("0,125", "0.125", id="decimal-comma-leading-zero"),
    pytest.param("9:30", "9:30", id="time-same"),
    pytest.param("2:3", "4:6", id="ratio-proportional"),
]

NOT_EQUAL = [
    pytest.param("3x + y = 2", "2", id="equation-is-not-a-label"),
    pytest.param("5 = 2a+b", "2a+b", id="number-on-the-left-is-not-a-label"),
    pytest.param("(a,b)=(4,1)", "(1,4)", id="labelled-tuple-order"),
    pytest.param("a=1,b=4;a=6,b=4", "(1,4),(4,6)", id="assignment-groups-wrong"),
    pytest.param("(1,5),(2,6)", "(1,5),(1,5)", id="repeated-tuple-does-not-replace-another"),
    pytest.param("-3,-3", "-3", id="repeated-root-still-counts"),
    pytest.param("y < 4", "y > -4", id="inequality-not-negated"),
    pytest.param("y < 4", "-y < -4", id="negated-without-flip"),
    pytest.param(r"\pm 17", "17", id="pm-needs-both"),
    pytest.param("(5,2)", "{2,5}", id="grouping-braces-order"),
    pytest.param("2,500", "2.500", id="thousands-group-is-not-a-decimal-comma"),
    pytest.param("3, 75", "3.75", id="spaced-list-is-not-a-decimal"),
    pytest.param("11:00", "1:00", id="times-are-not-ratios"),
    pytest.param("9:30", "19:30", id="time-hour"),
]


@pytest.mark.parametrize(("gold", "pred"), EQUAL)
def test_equal(gold, pred, pool):
    assert grade(gold, pred, pool=pool) is True


@pytest.mark.parametrize(("gold", "pred"), NOT_EQUAL)
def test_not_equal(gold, pred, pool):
    assert grade(gold, pred, pool=pool) is False


@pytest.mark.parametrize(
    ("gold", "pred", "precision", "equal"),
    [
        (r"\frac{2}{3}", "0.67", 2, True),  # 0.666… and 0.67 both round to 0.67
        (r"\frac{2}{3}", "0.67", 4, False),  # 0.6667 vs 0.67
        (r"\frac{2}{3}", "0.6667", 4, True),
        (r"\sqrt{3}", "1.73", 2, True),
        (r"\sqrt{3}", "1.74", 2, False),
        (r"\frac{2}{3}", "0.67", None, False),  # default: at least 6 significant digits
        ("5", r"5\sqrt{3}", 2, False),  # no decimal literal: exact as always
        (r"(\frac{1}{4},\frac{5}{3}]", "(0.25,1.667]", 3, True),
        (r"\begin{pmatrix}\frac{1}{7}\\ 2\end{pmatrix}", r"\begin{pmatrix}0.14\\2\end{pmatrix}", 2, True),
    ],
)
def test_precision(gold, pred, precision, equal, pool):
    assert grade(gold, pred, config=GradeConfig(precision=precision), pool=pool) is equal


@pytest.mark.parametrize("precision", [-1, 51, 2.5, True])
def test_precision_must_be_a_small_integer(precision):
    with pytest.raises(ValueError, match="precision"):
        GradeConfig(precision=precision)


@pytest.mark.parametrize(
    ("response", "answer"),
    [
        (r"so \boxed{4} and \boxed{9}.", "4, 9"),
        (r"$\boxed{(1, 3)} \quad \text{and} \quad \boxed{(3, 1)}$", "(1, 3), (3, 1)"),
        (r"\boxed{5} apples and \boxed{7} pears", "5, 7"),
        (r"\boxed{2}, \boxed{3}, \boxed{5}", "2, 3, 5"),
        (r"maybe \boxed{4} but wait, actually \boxed{9}", "9"),  # a retraction, not a list
        ("Hence $y \\leq 3$ is what we need.", "y \\leq 3"),
        ("The roots are $4$ and $-1$", "4, -1"),
        ("Final Answer: The smallest $k$ is 12.", "12"),
    ],
)
def test_multi_part_extraction(response, answer):
    assert extract_answer(response) == answer


@pytest.mark.parametrize(
    ("response", "answer"),
    [
        # A labelled part between two boxes: "(b)", "for part (a)", "(ii)".
        (r"$\boxed{7} \text{ for part (a) and } \boxed{12}$", "7, 12"),
        (r"\boxed{x=1} (i) and \boxed{y=5} (ii)", "x=1, y=5"),
        # A divider of repeated symbols between boxes lists them; a single operator does not.
        (r"\boxed{5 kg} ---- \boxed{8}", "5 kg, 8"),
        (r"\boxed{5} + \boxed{8}", "8"),
        # An escaped string's "\\boxed" is still a box.
        (r"\\boxed{3} |||| \\boxed{6}", "3, 6"),
        # A "Final Answer:" written after the last box restates or corrects it.
        (r"so \boxed{40} for the first year. Final Answer: The final answer is $1,250$.", "1,250"),
        (r"\boxed{40}. Final Answer: see above.", "40"),  # no value in the statement: the box stands
        (r"The final answer is $\boxed{40}$.", "40"),
        # A quoted run of spans after the phrase.
        ('Final Answer: The final answer is "$4$ and $9$". I hope it is correct.', "4, 9"),
        # Prose after "Final Answer:": its one number, or its last math span.
        ("Final Answer: Tom reads 17 pages a day. I hope it is correct.", "17"),
        ("Final Answer: so the width is $w = 6$ metres.", "w = 6"),
        ("Final Answer: Tom reads 17 pages in 2 days.", "Tom reads 17 pages in 2 days"),  # two numbers
        # A decimal comma in prose; a thousands group and a list are not decimals.
        ("Total: 13,5 kg of flour.", "13,5"),
        ("We need 12,500 bricks.", "12,500"),
        ("The values 1,2,3 are used, so 4", "4"),
        # Inline maths cannot break lines: "$ ⏎ 7 ⏎ $" is not read, display maths is.
        ("Result $\n7\n$", None),
        ("Result \\(\n7\n\\)", None),
        ("Result $$\n7\n$$", "7"),
        ("Result \\[\n7\n\\]", "7"),
        ("costs $\n5 today and $7$ tomorrow", "7"),
    ],
)
def test_response_extraction_rules(response, answer):
    assert extract_answer(response) == answer


@pytest.mark.parametrize(
    ("gold", "response", "equal"),
    [
        ("13.5", "Total: 13,5 kg of flour.", True),
        ("135", "Total: 13,5 kg of flour.", False),
        ("7", "Result $\n7\n$", False),
        ("(7), (12)", r"$\boxed{(7)} \text{ for part (a) and } \boxed{(12)}$", True),
        ("1250", r"so \boxed{40} for the first year. Final Answer: The final answer is $1,250$.", True),
        ("40", r"so \boxed{40} for the first year. Final Answer: The final answer is $1,250$.", False),
    ],
)
def test_response_grading_rules(gold, response, equal, pool):
    assert grade_response(gold, response, pool=pool) is equal
