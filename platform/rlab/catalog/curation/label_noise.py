"""Label noise: give a seeded share of a dataset's rows a wrong, but plausible, label.

The 1-shot RLVR paper's noise levels are shares of the DATASET ("60% / 90% of DSR-sub", research notes):
`fraction` is the share of ALL rows whose label is made wrong (scope "all", the default). Rows the numeric
rule below cannot shift (surds, intervals, tuples, text) get another row's different label instead. Scope
"numeric" keeps the earlier reading, a share of the numerically corruptible rows only (0.6 of DSR-sub's
rows → about 47%), for comparison. Every result reports its realized error rate: rows changed / rows.

Numeric rule (docs/data-selection.md has the reasons for each choice):

* A label is *corruptible* if, after stripping whitespace and any wrappers `$…$`, `\\(…\\)`, `\\boxed{…}`
  around the whole label, it is exactly one of: an integer (`-12`; thousands groups `2,600`), a decimal
  (`-6480.25`), a LaTeX fraction of two integers (`\\frac{3}{7}`, `\\dfrac`, `\\tfrac`; optional leading `-`)
  or `a/b` with integers a, b (b ≠ 0). Everything else (surds, π, %, units, tuples, text) is not.
* A number x becomes s·(x + d): d uniform in {-10, …, -1, 1, …, 10}, s = -1 with probability 1/2, else +1.
  A fraction gets this on numerator and denominator independently. Draws are repeated until the new value
  differs from the old one (and, for a fraction, the denominator is not 0). Wrappers, the fraction command,
  thousands groups and decimal places are kept; a fraction is written with its sign in front and positive,
  unreduced numerator and denominator (`-\\frac{9}{7}`, not `\\frac{9}{-7}`).
* Scope "all": round(fraction * N_rows) rows are corrupted (Python round: ties to even): the first ones of
  a seeded shuffle of all rows. A corruptible label gets the numeric rule; any other gets the label of
  another row, drawn with the row's own RNG among the rows whose label differs (a plausible answer of the
  same dataset, and surely wrong). A row can stay unchanged only when no other row has a different label.
* Scope "numeric": round(fraction * N_corruptible) rows, the first ones of a seeded shuffle of the
  corruptible rows.
* Each row's new label comes from its own RNG seeded with (seed, row position): for one seed, a larger
  fraction corrupts a superset of rows, with the same labels.
"""

import copy
import math
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal, TypeVar

from rlab.catalog.curation import DataFileError, read_jsonl, write_jsonl_atomic

Number = TypeVar("Number", int, Decimal)
OFFSETS = tuple(range(-10, 0)) + tuple(range(1, 11))
SIGNS = (1, -1)
ORIGINAL_FIELD = "original_answer"
NOISY_FIELD = "noisy"
_WRAPPERS = (("\\boxed{", "}"), ("$", "$"), ("\\(", "\\)"))

_INTEGER = re.compile(r"-?\d+")
_GROUPED_INTEGER = re.compile(r"-?\d{1,3}(?:,\d{3})+")
_DECIMAL = re.compile(r"-?\d+\.\d+")
_LATEX_FRACTION = re.compile(
    r"(?P<sign>-?)\s*\\(?P<cmd>[dt]?frac)\s*\{\s*(?P<num>-?\d+)\s*\}\s*\{\s*(?P<den>-?\d+)\s*\}"
)
_SLASH_FRACTION = re.compile(r"(?P<sign>-?)(?P<num>\d+)\s*/\s*(?P<den>-?\d+)")


NoiseScope = Literal["all", "numeric"]
SCOPES = ("all", "numeric")
OTHER_LABEL_TRIES = 64  # random draws for another row's different label before a scan from a random start


@dataclass(frozen=True)
class NoiseConfig:
    fraction: float
    seed: int
    answer_field: str = "answer"  # dotted path into nested objects, e.g. "reward_model.ground_truth"
    scope: NoiseScope = "all"  # "all": fraction of all rows; "numeric": of the numerically corruptible ones

    def __post_init__(self) -> None:
        is_number = isinstance(self.fraction, int | float) and not isinstance(self.fraction, bool)
        if not is_number or not 0.0 <= self.fraction <= 1.0:
            raise ValueError(f"fraction must be a number in [0, 1], got {self.fraction!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")
        if not self.answer_field or "" in self.answer_field.split("."):
            raise ValueError(f"answer_field must be a field name or dotted path, got {self.answer_field!r}")
        if self.scope not in SCOPES:
            raise ValueError(f"scope must be one of {SCOPES}, got {self.scope!r}")


@dataclass(frozen=True)
class NoiseSummary:
    n_rows: int
    n_corruptible: int  # rows with a numerically corruptible label
    n_corrupted: int

    @property
    def realized_rate(self) -> float:
        """Rows whose label was changed, as a share of all rows."""
        return self.n_corrupted / self.n_rows if self.n_rows else 0.0


def summarize(rows: Sequence[dict[str, Any]]) -> NoiseSummary:
    """The summary of rows made by make_noisy_rows."""
    return NoiseSummary(
        n_rows=len(rows),
        n_corruptible=sum(_is_corruptible_label(row[ORIGINAL_FIELD]) for row in rows),
        n_corrupted=sum(row[NOISY_FIELD] for row in rows),
    )


class RowError(ValueError):
    """A row cannot be processed; `index` is its 0-based position in the input."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(f"row {index} (0-based): {reason}")
        self.index = index
        self.reason = reason


def _shift(value: Number, rng: random.Random) -> Number:
    """s·(value + d) for one draw of offset d and sign s."""
    offset = rng.choice(OFFSETS)
    sign = rng.choice(SIGNS)
    shifted = sign * (value + offset)
    return abs(shifted) if shifted == 0 else shifted  # no "-0.0"


def _wrong_number(value: Number, rng: random.Random) -> Number:
    while True:
        new = _shift(value, rng)
        if new != value:
            return new


def _wrong_fraction(num: int, den: int, rng: random.Random) -> tuple[int, int]:
    while True:
        new_num, new_den = _shift(num, rng), _shift(den, rng)
        if new_den != 0 and Fraction(new_num, new_den) != Fraction(num, den):
            return new_num, new_den


def _rewrite_integer(match: re.Match[str], rng: random.Random) -> str:
    return str(_wrong_number(int(match[0]), rng))


def _rewrite_grouped_integer(match: re.Match[str], rng: random.Random) -> str:
    return f"{_wrong_number(int(match[0].replace(',', '')), rng):,}"


def _rewrite_decimal(match: re.Match[str], rng: random.Random) -> str:
    return format(_wrong_number(Decimal(match[0]), rng), "f")


def _wrong_fraction_parts(match: re.Match[str], rng: random.Random) -> tuple[str, int, int]:
    """(sign, |numerator|, |denominator|) of a wrong value for a matched fraction."""
    num = -int(match["num"]) if match["sign"] else int(match["num"])
    new_num, new_den = _wrong_fraction(num, int(match["den"]), rng)
    return ("-" if new_num * new_den < 0 else ""), abs(new_num), abs(new_den)


def _rewrite_latex_fraction(match: re.Match[str], rng: random.Random) -> str:
    sign, num, den = _wrong_fraction_parts(match, rng)
    return f"{sign}\\{match['cmd']}{{{num}}}{{{den}}}"


def _rewrite_slash_fraction(match: re.Match[str], rng: random.Random) -> str:
    sign, num, den = _wrong_fraction_parts(match, rng)
    return f"{sign}{num}/{den}"


_Rewrite = Callable[[re.Match[str], random.Random], str]
_RULES: tuple[tuple[re.Pattern[str], _Rewrite], ...] = (
    (_INTEGER, _rewrite_integer),
    (_GROUPED_INTEGER, _rewrite_grouped_integer),
    (_DECIMAL, _rewrite_decimal),
    (_LATEX_FRACTION, _rewrite_latex_fraction),
    (_SLASH_FRACTION, _rewrite_slash_fraction),
)


def _peel(core: str) -> tuple[str, str, str] | None:
    """(opening, inside, closing) if `core` is wrapped as a whole, else None."""
    for opening, closing in _WRAPPERS:
        if len(core) >= len(opening) + len(closing) and core.startswith(opening) and core.endswith(closing):
            return opening, core[len(opening) : len(core) - len(closing)].strip(), closing
    return None


def _unwrap(answer: str) -> tuple[str, str, str]:
    """Split `answer` into (prefix, core, suffix), peeling wrappers from the outside in."""
    prefix, core, suffix = "", answer.strip(), ""
    while (peeled := _peel(core)) is not None:
        opening, core, closing = peeled
        prefix, suffix = prefix + opening, closing + suffix
    return prefix, core, suffix


def _match(core: str) -> tuple[re.Match[str], _Rewrite] | None:
    for pattern, rewrite in _RULES:
        match = pattern.fullmatch(core)
        if match is None:
            continue
        if "den" in match.groupdict() and int(match["den"]) == 0:
            return None
        return match, rewrite
    return None


def is_corruptible(answer: str) -> bool:
    """Whether `corrupt_answer` can give this label a wrong value."""
    return _match(_unwrap(answer)[1]) is not None


def corrupt_answer(answer: str, rng: random.Random) -> str | None:
    """A wrong label for `answer` (always a different value), or None if it is not corruptible."""
    prefix, core, suffix = _unwrap(answer)
    found = _match(core)
    if found is None:
        return None
    match, rewrite = found
    return prefix + rewrite(match, rng) + suffix


def _parent_and_key(row: dict[str, Any], field: str, index: int) -> tuple[dict[str, Any], str]:
    """The object holding the (dotted) `field` of `row`, and the last key of the path."""
    *parents, last = field.split(".")
    holder: Any = row
    for name in parents:
        holder = holder.get(name) if isinstance(holder, dict) else None
    if not isinstance(holder, dict) or last not in holder:
        raise RowError(index, f"missing field {field!r}")
    return holder, last


def _label_text(label: Any) -> str | None:
    """Labels may be JSON strings or numbers; numbers are corrupted through their text form."""
    if isinstance(label, str):
        return label
    if isinstance(label, int | float) and not isinstance(label, bool) and math.isfinite(label):
        return str(label)
    return None


def _is_corruptible_label(label: Any) -> bool:
    text = _label_text(label)
    return text is not None and is_corruptible(text)


def _wrong_label(label: Any, rng: random.Random) -> Any:
    """A wrong value for a corruptible label, of the same JSON type (string, integer or float)."""
    text = _label_text(label)
    wrong = None if text is None else corrupt_answer(text, rng)
    if wrong is None:
        raise ValueError(f"label {label!r} is not corruptible")
    return wrong if isinstance(label, str) else type(label)(wrong)


def _label_key(label: Any) -> str:
    text = _label_text(label)
    return (text if text is not None else repr(label)).strip()


def _other_label(labels: list[Any], index: int, rng: random.Random) -> Any | None:
    """A label of another row that differs from row `index`'s, drawn with `rng`; None if there is none."""
    own = _label_key(labels[index])
    for _ in range(OTHER_LABEL_TRIES):
        other = rng.randrange(len(labels))
        if _label_key(labels[other]) != own:
            return copy.deepcopy(labels[other])
    start = rng.randrange(len(labels))
    for offset in range(len(labels)):
        other = (start + offset) % len(labels)
        if _label_key(labels[other]) != own:
            return copy.deepcopy(labels[other])
    return None


def make_noisy_rows(rows: Sequence[dict[str, Any]], config: NoiseConfig) -> list[dict[str, Any]]:
    """Copies of `rows` with round(fraction * N) labels replaced by wrong ones: N = all rows (scope "all")
    or the numerically corruptible ones (scope "numeric"); see the module's rule.

    Every row keeps all its fields and gains `original_answer` (its label before noise) and `noisy`
    (True where the label was changed). A numeric JSON label stays numeric.
    """
    out = [copy.deepcopy(row) for row in rows]
    labels: list[tuple[dict[str, Any], str]] = []
    for index, row in enumerate(out):
        if ORIGINAL_FIELD in row or NOISY_FIELD in row:
            raise RowError(index, f"already has {ORIGINAL_FIELD!r} or {NOISY_FIELD!r} (noised twice?)")
        holder, key = _parent_and_key(row, config.answer_field, index)
        labels.append((holder, key))
        row[ORIGINAL_FIELD] = holder[key]
        row[NOISY_FIELD] = False

    originals = [holder[key] for holder, key in labels]
    if config.scope == "numeric":
        candidates = [index for index, label in enumerate(originals) if _is_corruptible_label(label)]
    else:
        candidates = list(range(len(out)))
    random.Random(config.seed).shuffle(candidates)
    for index in candidates[: round(config.fraction * len(candidates))]:
        holder, key = labels[index]
        rng = random.Random(f"{config.seed}:{index}")
        if _is_corruptible_label(holder[key]):
            holder[key] = _wrong_label(holder[key], rng)
        elif (other := _other_label(originals, index, rng)) is not None:
            holder[key] = other
        else:
            continue  # every row has this label: none can be made wrong
        out[index][NOISY_FIELD] = True
    return out


def noise_file(
    in_path: str | Path,
    out_path: str | Path,
    fraction: float,
    seed: int,
    answer_field: str = "answer",
    scope: NoiseScope = "all",
) -> NoiseSummary:
    """`rlab data noise IN.jsonl --fraction F --seed S -o OUT.jsonl`; nothing is written on any error."""
    config = NoiseConfig(fraction=fraction, seed=seed, answer_field=answer_field, scope=scope)
    numbered = read_jsonl(in_path)
    try:
        noisy = make_noisy_rows([row for _, row in numbered], config)
    except RowError as error:
        raise DataFileError(f"{in_path} line {numbered[error.index][0]}: {error.reason}") from error
    write_jsonl_atomic(noisy, out_path)
    return summarize(noisy)
