"""π ranking of training examples by historical variance score (1-shot RLVR, Wang et al. 2025).

Each example has a history of training accuracies a_1 … a_E (one per epoch of a full-dataset GRPO run).
Its score is the population standard deviation of that history, `np.std(acc)`, exactly as the authors'
`data/data_selection.py`; `variance` is reported as std * std (bit-identical to `hist_var` of the shared
`pi_ranking.jsonl`). Examples are sorted by std, descending, with a stable sort (ties keep the input
order); the example at position i is π_i (1-based).

The sort key is the float std, not np.var: the two round differently in the last bit, and sorting DSR-sub
by np.var puts 33 examples at other π numbers than the authors'. See docs/data-selection.md.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rlab.catalog.curation import DataFileError, read_jsonl, write_jsonl_atomic

ExampleKey = str | int
History = list[tuple[ExampleKey, list[float]]]


@dataclass(frozen=True)
class RankedExample:
    key: ExampleKey
    variance: float
    std: float
    mean_acc: float
    n_epochs: int
    pi: int


def historical_std(acc: Sequence[float]) -> float:
    """Population standard deviation of an accuracy history (np.std, ddof=0): the ranking score."""
    return float(np.std(np.asarray(acc, dtype=np.float64)))


def historical_variance(acc: Sequence[float]) -> float:
    """Population variance of an accuracy history, computed as std * std (see module docstring)."""
    std = historical_std(acc)
    return std * std


def rank_examples(history: Sequence[tuple[ExampleKey, Sequence[float]]]) -> list[RankedExample]:
    """Rank examples by historical std, descending; ties keep input order. π starts at 1."""
    keys = [key for key, _ in history]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate example keys in history")
    for key, acc in history:
        if len(acc) == 0:
            raise ValueError(f"example {key!r}: empty accuracy history")
    scored = [(key, historical_std(acc), acc) for key, acc in history]
    ordered = sorted(scored, key=lambda item: item[1], reverse=True)  # sorted() is stable
    return [
        RankedExample(
            key=key,
            variance=std * std,
            std=std,
            mean_acc=float(np.mean(np.asarray(acc, dtype=np.float64))),
            n_epochs=len(acc),
            pi=pi,
        )
        for pi, (key, std, acc) in enumerate(ordered, start=1)
    ]


def _check_acc(acc: Any, where: str) -> list[float]:
    """Validate an accuracy history: a non-empty list of numbers in [0, 1]."""
    if not isinstance(acc, list) or not acc:
        raise DataFileError(f"{where}: 'acc' must be a non-empty list of accuracies")
    for value in acc:
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if not is_number or not 0.0 <= value <= 1.0:
            raise DataFileError(f"{where}: accuracy {value!r} is not a number in [0, 1]")
    return [float(value) for value in acc]


def read_history_jsonl(path: str | Path) -> History:
    """Read `{"example": id, "acc": [a_1, …, a_E]}` lines (id: string or integer), in file order."""
    history: History = []
    seen: dict[ExampleKey, int] = {}
    for line_no, row in read_jsonl(path):
        where = f"{path} line {line_no}"
        if "example" not in row or "acc" not in row:
            raise DataFileError(f"{where}: needs the fields 'example' and 'acc'")
        key = row["example"]
        if not isinstance(key, str | int) or isinstance(key, bool):
            raise DataFileError(f"{where}: 'example' must be a string or an integer, got {key!r}")
        if key in seen:
            raise DataFileError(f"{where}: example {key!r} already given on line {seen[key]}")
        seen[key] = line_no
        history.append((key, _check_acc(row["acc"], where)))
    if not history:
        raise DataFileError(f"{path}: no examples")
    return history


def history_from_acc_json(path: str | Path) -> History:
    """Read the authors' `acc_step_500.json`: `{"<index>": [acc per epoch, …]}`, key order preserved."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise DataFileError(f"{path}: not valid JSON ({error.msg}, line {error.lineno})") from error
    if not isinstance(data, dict) or not data:
        raise DataFileError(f"{path}: expected a non-empty JSON object of accuracy lists")
    return [(key, _check_acc(acc, f"{path} key {key!r}")) for key, acc in data.items()]


def ranking_row(example: RankedExample) -> dict[str, Any]:
    """One output line of RANKS.jsonl."""
    return {
        "example": example.key,
        "pi": example.pi,
        "variance": example.variance,
        "std": example.std,
        "mean_acc": example.mean_acc,
        "n_epochs": example.n_epochs,
    }


def write_ranking_jsonl(ranking: Sequence[RankedExample], path: str | Path) -> None:
    """Write the ranking, one line per example in π order (written atomically)."""
    write_jsonl_atomic((ranking_row(example) for example in ranking), path)


def rank_file(in_path: str | Path, out_path: str | Path) -> int:
    """`rlab data rank HISTORY -o RANKS.jsonl`; returns the number of examples ranked.

    HISTORY is JSONL (`{"example", "acc"}` lines); a `.json` file is read as the authors' format.
    """
    if Path(in_path).suffix == ".json":
        history = history_from_acc_json(in_path)
    else:
        history = read_history_jsonl(in_path)
    ranking = rank_examples(history)
    write_ranking_jsonl(ranking, out_path)
    return len(ranking)
