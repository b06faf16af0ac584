"""Trainer configs built from a validated spec by field name: one name per field from spec to trainer.

A spec field and the trainer config field it sets have the same name (`train.lr` → `GRPOConfig.lr`,
`loss.kl_coef` → `LossConfig.kl_coef`, `algorithm.srft.sft_weight_scale` → `SRFTConfig.sft_weight_scale`),
so a config is assembled structurally, with no hand-written copy and no second set of defaults: the spec's
values (its defaults included) win, and fields the spec does not have keep the config's own defaults.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

Config = TypeVar("Config")


def config_from(config_class: type[Config], *sources: BaseModel | None, **overrides: Any) -> Config:
    """An instance of the dataclass `config_class`: each field takes, by its name, the value in
    `overrides`, else the first of `sources` (spec blocks; None skipped) that has a field of that name;
    fields found nowhere keep the class's default."""
    values: dict[str, Any] = {}
    for config_field in dataclasses.fields(config_class):  # type: ignore[arg-type]
        name = config_field.name
        if name in overrides:
            values[name] = overrides[name]
            continue
        for source in sources:
            if source is not None and name in type(source).model_fields:
                values[name] = getattr(source, name)
                break
    unknown = set(overrides) - set(values)
    if unknown:
        raise TypeError(f"{config_class.__name__} has no field(s) {sorted(unknown)}")
    return config_class(**values)


def unused_fields(
    block: type[BaseModel], *config_classes: type, used_elsewhere: tuple[str, ...] = ()
) -> set[str]:
    """Fields of a spec block that no config class has (and that the worker does not read itself):
    a non-empty answer means a spec setting that would silently do nothing."""
    names = {f.name for cls in config_classes for f in dataclasses.fields(cls)}
    return set(block.model_fields) - names - set(used_elsewhere)


@dataclass(frozen=True)
class TrainerRuntime:
    """What a worker (or a notebook) supplies to a trainer factory besides the spec and the examples."""

    output_dir: Path | None = None
    on_gpu: bool = False
    callbacks: Any = None  # training.callbacks.TrainerCallbacks
    resume_from: Path | None = None
    distributed: Any = None  # training.distributed.Distributed; None = one process
    template: str | None = None  # the prompt template when not the spec's data.template (re-distillation)
