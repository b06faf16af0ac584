"""The algorithm registry: one entry per folder of `training/algorithms/`, found without importing torch.

Each algorithm folder holds an `entry.py` that defines `ALGORITHM = Algorithm(...)`: its name, its spec
block (a pydantic model, the `algorithm.<name>:` block of an experiment spec), the train defaults it changes,
how its run gets its training data, whether it trains data-parallel, and a `"module:function"` reference to
the function that builds its trainer from a validated spec. Entries import only pydantic and other
torch-free modules, so the web process can list the algorithms, generate the spec schema and validate specs
without loading torch; the trainer is imported when a worker builds it (as lm-evaluation-harness registers
tasks by `"module:Object"` strings and verl registers policy losses by name).

Adding an algorithm = adding a folder with an `entry.py`; nothing else needs to change (docs/architecture.md).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

PACKAGE = "training.algorithms"
ENTRY_MODULE = "entry"

Inputs = Literal["dataset", "source_run"]


class SpecBlock(BaseModel):
    """Base of every spec block: unknown fields are errors, not silently ignored, and a YAML yes/no/true is
    no number (pydantic would read `lr: yes` as 1.0)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def no_booleans_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        field_info = cls.model_fields.get(info.field_name or "")
        values = value if isinstance(value, list) else [value]
        if field_info is not None and _numeric(field_info.annotation) and any(
            isinstance(item, bool) for item in values
        ):
            raise ValueError(f"must be a number, not {value!r} (YAML reads yes/no/on/off as true/false)")
        return value


def _numeric(annotation: Any) -> bool:
    """Whether a field holds numbers (int, float, numeric Literal, lists or optionals of them) and no bool."""
    if annotation is bool:
        return False
    if annotation in (int, float):
        return True
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is Literal:
        return all(isinstance(a, int | float) and not isinstance(a, bool) for a in args)
    return any(_numeric(arg) for arg in args) and bool not in args


@dataclass(frozen=True)
class Algorithm:
    name: str = field(metadata={"help": "The spec's algorithm.name; also the folder's name."})
    summary: str = field(metadata={"help": "One line for the web form and `rlab algorithms`."})
    build: str = field(
        metadata={
            "help": "'module:function' of the trainer factory: (spec, model, tokenizer, examples, "
            "TrainerRuntime) -> a training.base_trainer.Trainer. Imported only when a run starts."
        }
    )
    block: type[SpecBlock] | None = field(
        default=None,
        metadata={"help": "The spec's `algorithm.<name>:` block; None = the algorithm has none."},
    )
    block_required: str | None = field(
        default=None,
        metadata={"help": "Why the block must be given (it has a field without default); None = optional."},
    )
    train_defaults: Mapping[str, Any] = field(
        default_factory=dict, metadata={"help": "train.* defaults this algorithm changes (SFT: lr 1e-5)."}
    )
    fixed_targets: bool = field(
        default=False,
        metadata={
            "help": "Fine-tunes on fixed responses (SFT): its epochs decide its steps, not train.steps, "
            "and the 1-shot batch check does not apply."
        },
    )
    inputs: Inputs = field(
        default="dataset",
        metadata={
            "help": "Where the run's training examples come from: 'dataset' (the spec's data block) or "
            "'source_run' (samples of another run's checkpoint: re-distillation)."
        },
    )
    needs_data: bool = field(default=True, metadata={"help": "The spec must have a data block."})
    data_parallel: bool = field(
        default=False,
        metadata={"help": "Its trainer runs as several torchrun processes (resources.processes)."},
    )
    pinned_metrics: tuple[str, ...] = field(
        default=(), metadata={"help": "Step metrics the run page shows first, in this order."}
    )

    def load_build(self) -> Callable[..., Any]:
        return load_reference(self.build)


def load_reference(reference: str) -> Any:
    """The object a `"package.module:attribute"` string names."""
    module_name, _, attribute = reference.partition(":")
    if not attribute:
        raise ValueError(f"{reference!r} is not a 'module:attribute' reference")
    return getattr(importlib.import_module(module_name), attribute)


@functools.cache
def algorithms() -> dict[str, Algorithm]:
    """Every registered algorithm by name, in folder order (imports each folder's entry module only)."""
    found: dict[str, Algorithm] = {}
    folder = Path(__file__).parent
    for module in sorted(pkgutil.iter_modules([str(folder)]), key=lambda m: m.name):
        if not module.ispkg or not (folder / module.name / f"{ENTRY_MODULE}.py").is_file():
            continue
        entry = importlib.import_module(f"{PACKAGE}.{module.name}.{ENTRY_MODULE}")
        algorithm = entry.ALGORITHM
        if algorithm.name != module.name:
            raise ValueError(f"{entry.__name__} registers {algorithm.name!r}; it must be named as its folder")
        found[algorithm.name] = algorithm
    return found


def get_algorithm(name: str) -> Algorithm:
    try:
        return algorithms()[name]
    except KeyError:
        raise ValueError(f"unknown algorithm {name!r}; known: {', '.join(algorithms())}") from None


def algorithm_names() -> tuple[str, ...]:
    return tuple(algorithms())
