"""How a multiple-choice Problem is posed for log-likelihood scoring: a context shared by all options and
one continuation per option, each scored as log P(continuation | context).

Sources of the literal texts (lm-evaluation-harness 0.4.13, `lm_eval/tasks/...`):
- ll-cloze: `arc/arc_easy.yaml`: doc_to_text "Question: {{question}}\\nAnswer:", doc_to_choice the option
  texts, the task's default target_delimiter " " before each choice.
- ll-mcf: `mmlu/default/_default_template_yaml`: "{{question.strip()}}\\nA. …\\nB. …\\nAnswer:" with the
  letters as choices (lighteval's "MCF" formulation of the same idea), generalised to any option count.

A formulation id is stored as an evaluation's template (EvalResult.template), so results of different
formulations never share a key, a setup or a leaderboard column.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from evaluation.benchmarks.problem import Problem
from evaluation.templates import LETTERS

TARGET_DELIMITER = " "  # lm-evaluation-harness's default target_delimiter
PrimaryMetric = Literal["acc", "acc_norm"]


@dataclass(frozen=True)
class Formulation:
    """`choices` are the option strings as lm-evaluation-harness's doc_to_choice gives them: acc_norm divides
    by their length in characters. Each continuation is TARGET_DELIMITER + choice. `primary` is the metric
    reported as the evaluation's score."""

    id: str
    description: str
    context: Callable[[Problem], str]
    choices: Callable[[Problem], list[str]]
    primary: PrimaryMetric

    def continuations(self, problem: Problem) -> list[str]:
        return [f"{TARGET_DELIMITER}{choice}" for choice in self.choices(problem)]


def gold_index(problem: Problem) -> int:
    """The position of the correct option (Problem.answer is its letter)."""
    options = _options(problem)
    if not isinstance(problem.answer, str) or problem.answer not in LETTERS[: len(options)]:
        raise ValueError(
            f"problem {problem.id!r}: answer {problem.answer!r} is not the letter of one of its "
            f"{len(options)} options"
        )
    return LETTERS.index(problem.answer)


def _options(problem: Problem) -> list[str]:
    if not problem.choices:
        raise ValueError(f"problem {problem.id!r} has no options; log-likelihood scoring needs them")
    return problem.choices


def cloze_context(problem: Problem) -> str:
    return f"Question: {problem.problem}\nAnswer:"


def lettered_context(problem: Problem) -> str:
    options = "".join(f"\n{letter}. {text}" for letter, text in zip(LETTERS, _options(problem), strict=False))
    return f"{problem.problem.strip()}{options}\nAnswer:"


def option_letters(problem: Problem) -> list[str]:
    return list(LETTERS[: len(_options(problem))])


_FORMULATIONS = (
    Formulation(
        id="ll-cloze",
        description="Log-likelihood of each option's text after 'Question: …\\nAnswer:' "
        "(lm-evaluation-harness ARC); score acc_norm",
        context=cloze_context,
        choices=_options,
        primary="acc_norm",
    ),
    Formulation(
        id="ll-mcf",
        description="Log-likelihood of each option's letter after the question with lettered options "
        "(lm-evaluation-harness MMLU, lighteval MCF); score acc",
        context=lettered_context,
        choices=option_letters,
        primary="acc",
    ),
)

FORMULATIONS: dict[str, Formulation] = {formulation.id: formulation for formulation in _FORMULATIONS}


def get_formulation(formulation_id: str) -> Formulation:
    try:
        return FORMULATIONS[formulation_id]
    except KeyError:
        raise ValueError(
            f"unknown log-likelihood formulation {formulation_id!r}; known: {', '.join(sorted(FORMULATIONS))}"
        ) from None


def is_formulation(template: str) -> bool:
    """Whether an evaluation's template names a log-likelihood formulation (else a generation template)."""
    return template in FORMULATIONS
