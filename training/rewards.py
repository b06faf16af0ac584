"""Rule-based reward functions, by name.

Every reward has the signature `(completion_text: str, gold: str | list[str] | None, **kwargs) -> float` and
never raises on odd model output: any exception is logged as a warning and scored 0.0. The one exception is
a missing grader (`evaluation.grading` not importable), which is a setup error and propagates.

outcome          1.0 if the content of the completion's LAST \\boxed{...} equals `gold` (the grader),
                 else 0.0; 0.0 when there is no box. This is the 1-shot RLVR code's reward: DeepScaleR's
                 `compute_score` (verl fork, `verl/utils/reward_score/deepscaler.py`) takes the last boxed
                 string and scores 0 without one (research notes evaluation.md).
outcome_lenient  1.0 if the grader accepts the answer the evaluation extracts (last box, else "the answer
                 is …", else the last number: the Qwen2.5-Math harness's extraction), else 0.0. Not the
                 seeds' reward: "So the velocity is 12.8 mph." earns 1.0 here and 0.0 under `outcome`.
format           1.0 if the completion has a non-empty \\boxed{...} answer, whatever its value (the box is
                 found by evaluation.grading.extract.last_boxed, as the evaluation's boxed ratio does).
none             always 0.0 (entropy-only training: no outcome signal).
r1               DeepSeek-R1-style accuracy + format with weights 1.0 and 1.0 (range 0..2), for what the `r1`
                 template asks: "<think> reasoning </think> <answer> answer </answer>" (the template stops
                 generation at "</answer>", so a completion may end without it).
                 format = 1 for: the text starts with <think>, has exactly one <think>, one </think> and one
                 <answer> after </think>, non-empty reasoning and a non-empty answer, nothing after
                 </answer>. accuracy = the answer inside <answer> (its last box if it has one, else the
                 whole answer) graded against `gold`; 0 without an <answer> block.
                 DeepSeek-R1 (arXiv 2501.12948, sec. 2.2.2) defines the two rule rewards without weights; the
                 tags follow its Table 1 template and open-r1's format_reward; the equal weights follow
                 open-r1's accuracy_reward + format_reward (huggingface/open-r1, src/open_r1/rewards.py at
                 0056faa6b77d73663b353d5422a4828bc9d83218), which TRL sums with weight 1 each by default
                 (GRPOConfig.reward_weights=None).
"""

import functools
import logging
import re
from collections.abc import Callable, Sequence

from evaluation.grading.extract import last_boxed

logger = logging.getLogger(__name__)

Gold = str | list[str] | None
RewardFn = Callable[..., float]

REWARDS: dict[str, RewardFn] = {}

R1_ACCURACY_WEIGHT = 1.0
R1_FORMAT_WEIGHT = 1.0


def register_reward(name: str) -> Callable[[RewardFn], RewardFn]:
    """Register `fn` under `name`, wrapped so that odd output scores 0.0 instead of raising."""

    def decorator(fn: RewardFn) -> RewardFn:
        @functools.wraps(fn)
        def safe(completion_text: str, gold: Gold = None, **kwargs: object) -> float:
            try:
                return float(fn(completion_text, gold, **kwargs))
            except ImportError:
                raise
            except Exception as error:
                logger.warning("reward %r scored 0.0 after %s: %s (completion %.80r)",
                               name, type(error).__name__, error, completion_text)
                return 0.0

        REWARDS[name] = safe
        return safe

    return decorator


def _has_boxed_answer(text: str) -> bool:
    content = last_boxed(text)
    return content is not None and content.strip() != ""


def _grade_answer(answer: str, gold: Gold) -> bool:
    """Whether an already-extracted answer equals `gold`."""
    if gold is None:
        raise ValueError("no gold answer to grade against")
    # Imported on use: evaluation.grading is developed alongside; a missing module must fail loudly.
    from evaluation.grading import grade

    return bool(grade(gold=gold, pred=answer))


@register_reward("outcome")
def outcome_reward(completion_text: str, gold: Gold, **kwargs: object) -> float:
    boxed = last_boxed(completion_text)
    if boxed is None or not boxed.strip():
        return 0.0
    return 1.0 if _grade_answer(boxed, gold) else 0.0


@register_reward("outcome_lenient")
def outcome_lenient_reward(completion_text: str, gold: Gold, **kwargs: object) -> float:
    if gold is None:
        raise ValueError("no gold answer to grade against")
    from evaluation.grading import grade_response

    return 1.0 if grade_response(gold=gold, response=completion_text) else 0.0


@register_reward("format")
def format_reward(completion_text: str, gold: Gold = None, **kwargs: object) -> float:
    return 1.0 if _has_boxed_answer(completion_text) else 0.0


@register_reward("none")
def no_reward(completion_text: str, gold: Gold = None, **kwargs: object) -> float:
    return 0.0


_R1_LAYOUT = re.compile(
    r"^<think>(?P<reasoning>.*?)</think>\s*<answer>(?P<answer>(?:(?!</answer>).)*)(?:</answer>)?$", re.DOTALL
)


def _r1_parts(text: str) -> tuple[str, str] | None:
    """(reasoning, answer) of a completion laid out as the r1 template asks, else None."""
    stripped = text.strip()
    if any(stripped.count(tag) != 1 for tag in ("<think>", "</think>", "<answer>")):
        return None
    if stripped.count("</answer>") > 1 or (match := _R1_LAYOUT.match(stripped)) is None:
        return None
    return match.group("reasoning").strip(), match.group("answer").strip()


def _r1_answer(text: str) -> str | None:
    """The content of the <answer> block after </think> (to the end when the stop string cut it)."""
    tail = text.rsplit("</think>", 1)[-1]
    if "<answer>" not in tail:
        return None
    answer = tail.split("<answer>", 1)[1].split("</answer>", 1)[0].strip()
    return (last_boxed(answer) or answer) or None


@register_reward("r1")
def r1_reward(completion_text: str, gold: Gold, **kwargs: object) -> float:
    answer = _r1_answer(completion_text)
    accuracy = 1.0 if answer is not None and _grade_answer(answer, gold) else 0.0
    parts = _r1_parts(completion_text)
    form = 1.0 if parts is not None and all(parts) else 0.0
    return R1_ACCURACY_WEIGHT * accuracy + R1_FORMAT_WEIGHT * form


def score_completions(
    reward: str | RewardFn, completions: Sequence[str], golds: Sequence[Gold], **kwargs: object
) -> list[float]:
    """Score `completions[i]` against `golds[i]` with a registered reward (by name) or any reward function;
    `kwargs` go to every call."""
    if len(completions) != len(golds):
        raise ValueError(f"{len(completions)} completions but {len(golds)} golds")
    if isinstance(reward, str):
        if reward not in REWARDS:
            raise ValueError(f"unknown reward {reward!r}; choose one of {sorted(REWARDS)}")
        reward = REWARDS[reward]
    return [reward(text, gold, **kwargs) for text, gold in zip(completions, golds, strict=True)]
