"""The experiment spec: one pydantic model (version 1) for everything a run needs.

The CLI validates YAML with it, the web form is generated from its JSON schema and workers receive it as
JSON. A `sweep:` block maps dotted field paths to lists of values and expands to the cartesian product.
Errors name the field path and the reason, e.g. ``train.lr: must be greater than 0``.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
import re
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    Field,
    PlainValidator,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from training.algorithms import SpecBlock, algorithms, get_algorithm
from training.loss_names import AGGREGATION_NAMES, KL_ESTIMATOR_NAMES

PI_NAME = re.compile(r"^(?:pi|π)(\d+)$", re.IGNORECASE)
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")
EMBEDDED_MODEL = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
RUN_REF = re.compile(r"^run:(?P<name>[\w][\w.-]*)(?:@(?P<step>\d+))?$")


Block = SpecBlock


SHORT_VALUE_CHARS = 60  # of a value quoted in an error message


def short(value: Any) -> str:
    """A value as an error message quotes it: its repr, cut to a short prefix."""
    text = repr(value)
    return text if len(text) <= SHORT_VALUE_CHARS else text[: SHORT_VALUE_CHARS - 1] + "…"


SWEEP_VALUE_DEPTH = 3  # a scalar, a list (data.examples) or a block (a whole `loss:` of an ablation)
SWEEP_VALUE_NODES = 1000


def _is_field_value(value: Any) -> bool:
    """Whether a sweep value is the size and shape of one field's value: scalars, or lists and mappings of
    them nested at most SWEEP_VALUE_DEPTH deep with at most SWEEP_VALUE_NODES items in all (pydantic then
    checks the field's type at each point)."""
    budget = [SWEEP_VALUE_NODES]

    def fits(node: Any, depth: int) -> bool:
        budget[0] -= 1
        if budget[0] < 0:
            return False
        if isinstance(node, str | int | float | bool | type(None)):
            return True
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None or depth >= SWEEP_VALUE_DEPTH:
            return False
        return all(fits(child, depth + 1) for child in children)

    return fits(value, 0)


@dataclass(frozen=True)
class SpecLimits:
    max_bytes: int = 64 * 1024
    max_sweep_points: int = 1000


def _spec_limits() -> SpecLimits:
    """The site's limits (settings RLAB_MAX_SPEC_BYTES, RLAB_MAX_SWEEP_POINTS) where Django is configured,
    else the defaults (the spec module is also used without a site)."""
    from django.conf import settings

    if not settings.configured:
        return SpecLimits()
    return SpecLimits(settings.RLAB_MAX_SPEC_BYTES, settings.RLAB_MAX_SWEEP_POINTS)


def parse_example_ref(value: Any) -> str | int:
    """A training example named by π rank ("pi1", "π13") or by its index in the dataset."""
    if isinstance(value, bool):
        raise ValueError("must be a π name like pi1 or an example index")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("an example index must be 0 or more")
        return value
    if isinstance(value, str):
        if match := PI_NAME.match(value.strip()):
            if int(match.group(1)) < 1:
                raise ValueError("π ranks start at 1 (pi1)")
            return f"pi{int(match.group(1))}"
        if value.strip().isdigit():
            return int(value)
    raise ValueError(f"must be a π name like pi1 or an example index, not {short(value)}")


ExampleRef = Annotated[str | int, PlainValidator(parse_example_ref, json_schema_input_type=str | int)]


@dataclass(frozen=True)
class RunRef:
    """A checkpoint of a finished run of the same team: `run:NAME` (its best-average checkpoint, else its
    latest) or `run:NAME@STEP`."""

    name: str
    step: int | None


def parse_run_ref(ref: str) -> RunRef | None:
    """The run reference in a model id, None if the id is no `run:` reference (ValueError if malformed)."""
    if not ref.startswith("run:"):
        return None
    if (match := RUN_REF.match(ref)) is None:
        raise ValueError(f"{ref!r} is not a run reference like run:NAME or run:NAME@STEP")
    step = match.group("step")
    return RunRef(match.group("name"), int(step) if step is not None else None)


def looks_like_path(ref: str) -> bool:
    """A model id that names a local file or folder rather than a hub id or an embedded model."""
    return ref.startswith(("/", "./", "../", "~")) or ref.endswith(".gguf")


class ModelSpec(Block):
    id: str = Field(
        description="Hugging Face hub id (org/name), a local path, an embedded model name, or a checkpoint "
        "of a finished run of the team: run:NAME (best-average, else latest checkpoint) or run:NAME@STEP."
    )
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="Weights dtype: auto = bfloat16 on GPU, float32 on CPU."
    )
    revision: str | None = Field(None, description="Hub revision (branch, tag or commit).")

    @field_validator("id")
    @classmethod
    def check_id(cls, ref: str) -> str:
        ref = ref.strip()
        if parse_run_ref(ref) is not None:
            return ref
        if (
            not ref
            or any(c.isspace() for c in ref)
            or not (looks_like_path(ref) or HUB_ID.match(ref) or EMBEDDED_MODEL.match(ref))
        ):
            raise ValueError(
                f"{short(ref)} is neither a hub id like Qwen/Qwen2.5-Math-1.5B, a path, nor an embedded "
                "model name"
            )
        return ref


class AlgorithmBlocks(Block):
    """Base of `AlgorithmSpec`: `name` picks the algorithm; only its own block may be given."""

    @model_validator(mode="after")
    def one_block(self) -> AlgorithmBlocks:
        name = self.name  # type: ignore[attr-defined]
        for other in algorithms().values():
            if other.name != name and other.block is not None and getattr(self, other.name) is not None:
                raise ValueError(
                    f"a '{other.name}' block is only allowed when algorithm.name is {other.name}"
                )
        chosen = get_algorithm(name)
        if chosen.block is not None and getattr(self, name) is None:
            if chosen.block_required:
                raise ValueError(f"algorithm.{name} is required ({chosen.block_required})")
            setattr(self, name, chosen.block())
        return self


def _algorithm_spec() -> type[AlgorithmBlocks]:
    """`algorithm:` as the registry defines it: a `name` among the registered algorithms and one optional
    block per algorithm that has one (training/algorithms/<name>/entry.py)."""
    registered = algorithms()
    fields: dict[str, Any] = {
        "name": (
            Literal[tuple(registered)],  # type: ignore[valid-type]
            Field("grpo", description=" · ".join(f"{a.name}: {a.summary}" for a in registered.values())),
        )
    }
    for algorithm in registered.values():
        if algorithm.block is not None:
            fields[algorithm.name] = (algorithm.block | None, None)
    return create_model("AlgorithmSpec", __base__=AlgorithmBlocks, **fields)


AlgorithmSpec = _algorithm_spec()


class LossSpec(Block):
    policy_loss: bool = Field(True, description="The clipped policy-gradient term.")
    clip_ratio_low: float = Field(0.2, ge=0, lt=1)
    clip_ratio_high: float = Field(0.2, ge=0)
    dual_clip_c: float | None = Field(3.0, gt=1, description="Dual clip for negative advantages (verl).")
    aggregation: Literal[AGGREGATION_NAMES] = Field(  # type: ignore[valid-type]
        "token-mean", description="How per-token losses become one number."
    )
    kl_coef: float = Field(0.001, ge=0, description="β of the KL term to the frozen reference; 0 = off.")
    kl_estimator: Literal[KL_ESTIMATOR_NAMES] = Field(  # type: ignore[valid-type]
        "k3", description="k3 = verl's low_var_kl (Schulman's unbiased low-variance estimator)."
    )
    entropy_coeff: float = Field(
        -0.001, description="α in the seeds' convention: loss = pg + α·H, so α < 0 is an entropy bonus."
    )


class LabelNoiseSpec(Block):
    fraction: float = Field(
        ge=0, le=1, description="Share of the dataset's rows whose label is made wrong (paper: 0.6, 0.9)."
    )
    seed: int = Field(0, ge=0)
    scope: Literal["all", "numeric"] = Field(
        "all",
        description="all: a share of all rows (non-numeric labels get another row's label); numeric: a "
        "share of the numerically corruptible rows only (the earlier rule).",
    )


class DataSpec(Block):
    dataset: str = Field(description="Name of a catalog dataset.")
    examples: list[ExampleRef] | None = Field(
        None, description="Train on these examples only (π names or indices): 1-shot = one."
    )
    ranking: str | None = Field(None, description="Which π ranking names the examples (default: the latest).")
    label_noise: LabelNoiseSpec | None = None
    repeat_to_batch: bool = Field(True, description="Repeat the selected examples to fill the batch.")
    template: str = Field("qwen25-math-cot", description="Prompt template.")

    @model_validator(mode="after")
    def non_empty_selection(self) -> DataSpec:
        if self.examples is not None and not self.examples:
            raise ValueError("data.examples must name at least one example, or be left out")
        return self


class TrainSpec(Block):
    lr: float = Field(1e-6, gt=0, description="Learning rate (AdamW).")
    batch_size: int = Field(128, ge=1, description="Prompts per rollout batch.")
    mini_batch_size: int = Field(128, ge=1, description="Prompts per optimizer step.")
    max_prompt_length: int = Field(1024, ge=1)
    max_response_length: int = Field(3072, ge=1)
    steps: int = Field(500, ge=1)
    weight_decay: float = Field(0.01, ge=0)
    grad_clip: float = Field(1.0, gt=0)
    save_every: int = Field(20, ge=1, description="Checkpoint every N steps.")
    keep_last: int = Field(
        3,
        ge=0,
        description="Evaluated checkpoints kept besides the best and keep_steps (and the newest, until the "
        "run's training has succeeded); a checkpoint is never pruned before its evaluation is recorded.",
    )
    keep_steps: list[int] = Field(
        default_factory=list, description="Steps whose checkpoints are never pruned (e.g. [0, 1540])."
    )
    checkpoint_dtype: Literal["model", "float32", "bfloat16", "float16"] = Field(
        "model",
        description="Weights dtype of checkpoints: model = the loaded model's own; float32 = the fp32 master "
        "weights (as verl saves them). When it differs, step 0 is saved and evaluated too (paper App. B.6).",
    )
    disk_budget_gib: float | None = Field(
        None, gt=0, description="Most GiB this run's checkpoints may use; empty = no budget."
    )
    seed: int = Field(0, ge=0)
    micro_batch_size: int | None = Field(
        None,
        ge=1,
        description="Rows per forward/backward pass (responses for GRPO-family algorithms, sequences for "
        "SFT); gradients accumulate over the micro-batches and the update is the whole mini-batch's. Empty = "
        "the whole mini-batch (docs/training-engine.md, memory).",
    )
    max_tokens_per_micro_batch: int | None = Field(
        None,
        ge=1,
        description="Dynamic batching: micro-batches are packed so that rows × (longest prompt + longest "
        "response) stays within this many tokens; at least max_prompt_length + max_response_length. "
        "Empty = off.",
    )
    logprob_chunk_tokens: int = Field(
        1024,
        ge=1,
        description="Response positions whose full-vocabulary float32 logits exist at once (log-probs and "
        "entropies are computed through the LM head in chunks of this many tokens).",
    )
    activation_checkpointing: bool = Field(
        False,
        description="Recompute each decoder layer in the backward pass instead of keeping its activations.",
    )

    @model_validator(mode="after")
    def mini_batch_divides(self) -> TrainSpec:
        if self.mini_batch_size > self.batch_size:
            raise ValueError("train.mini_batch_size must not exceed train.batch_size")
        return self


class SamplingSpec(Block):
    """Unset fields take each benchmark's own default (AIME/AMC: avg@8 at temperature 0.6, others greedy)."""

    temperature: float | None = Field(None, ge=0, le=2, description="0 = greedy; default per benchmark.")
    top_p: float | None = Field(None, gt=0, le=1)
    max_new_tokens: int | None = Field(None, ge=1, description="Default 3072.")
    n: int | None = Field(None, ge=1, description="Samples per problem; default the benchmark's avg@k.")
    seed: int = Field(0, ge=0)


EvalMode = Literal["generate", "loglikelihood"]


class EvalSpec(Block):
    suite: list[str] = Field(["math500"], min_length=1, description="Benchmark ids.")
    template: str | None = Field(
        None,
        description="One prompt template for every benchmark; empty = each benchmark's own (maths: "
        "qwen25-math-cot; multiple choice: mc-cot, which asks for the letter).",
    )
    templates: dict[str, str] = Field(
        default_factory=dict, description="Benchmark id → prompt template, over `template` for those."
    )
    every: int = Field(20, ge=1, description="Evaluate every N training steps (each checkpoint).")
    sampling: SamplingSpec = Field(default_factory=SamplingSpec)
    limit: int | None = Field(None, ge=1, description="First N problems per benchmark (smoke runs).")
    base_model: bool = Field(True, description="Also evaluate the untrained model once.")
    training_overlap: Literal["exclude", "flag"] = Field(
        "exclude",
        description="Benchmark problems among the run's training examples (exact or near-duplicate text): "
        "left out of every evaluation of the run, its base model's included (exclude; the count is shown), "
        "or evaluated and flagged (flag).",
    )
    backend: Literal["auto", "vllm", "transformers"] = "auto"
    mode: EvalMode | dict[str, EvalMode] = Field(
        "generate",
        description="generate: sample and grade a response; loglikelihood: score each option by its "
        "log-likelihood in the benchmark's default formulation (multiple-choice benchmarks only). One mode "
        "for the suite, or a mapping {benchmark: mode} (unlisted ones generate).",
    )

    def mode_of(self, benchmark: str) -> EvalMode:
        return self.mode if isinstance(self.mode, str) else self.mode.get(benchmark, "generate")


class ResourcesSpec(Block):
    queue: Literal["gpu", "cpu"] = "gpu"
    gpus: int | None = Field(None, ge=0, le=64, description="Default 1 on the gpu queue, 0 on the cpu queue.")
    processes: int | None = Field(
        None,
        ge=1,
        le=64,
        description="Data-parallel training processes, launched with torchrun on the worker's machine "
        "(docs/distributed.md). Default resources.gpus on the gpu queue (one per GPU, at most that many), "
        "1 on the cpu queue.",
    )

    @model_validator(mode="after")
    def gpus_fit_the_queue(self) -> ResourcesSpec:
        if self.gpus is None:
            self.gpus = 1 if self.queue == "gpu" else 0
        if self.queue == "cpu" and self.gpus:
            raise ValueError("resources.gpus must be 0 on the cpu queue")
        if self.queue == "gpu" and not self.gpus:
            raise ValueError("resources.gpus must be at least 1 on the gpu queue")
        if self.processes is None:
            self.processes = self.gpus if self.queue == "gpu" else 1
        if self.queue == "gpu" and self.processes > self.gpus:
            raise ValueError(
                f"resources.processes: at most one process per GPU ({self.processes} processes, "
                f"{self.gpus} gpus)"
            )
        return self


class SpecV1(Block):
    version: Literal[1] = 1
    name: str = Field(min_length=1, max_length=120, pattern=r"^[\w][\w .,:()+=-]*$")
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    pinned_metrics: list[str] = Field(
        default_factory=list,
        description="Step metrics the run page shows first (e.g. boxed_ratio, reward_mean); empty = the "
        "algorithm's own.",
    )
    model: ModelSpec
    algorithm: AlgorithmSpec = Field(default_factory=AlgorithmSpec)
    loss: LossSpec = Field(default_factory=LossSpec)
    data: DataSpec | None = Field(None, description="Training data (not needed for evaluation-only specs).")
    train: TrainSpec = Field(default_factory=TrainSpec)
    eval: EvalSpec = Field(default_factory=EvalSpec)
    resources: ResourcesSpec = Field(default_factory=ResourcesSpec)
    sweep: dict[str, list[Any]] | None = Field(
        None, description="Dotted field path → list of values; one run per point of the product."
    )

    @model_validator(mode="before")
    @classmethod
    def algorithm_train_defaults(cls, data: Any) -> Any:
        """train fields whose default depends on the algorithm (SFT: lr 1e-5, weight decay 0), filled
        in where the spec leaves them out."""
        if not isinstance(data, dict) or not isinstance(data.get("algorithm"), dict):
            return data
        chosen = algorithms().get(data["algorithm"].get("name"))
        defaults = chosen.train_defaults if chosen is not None else {}
        train = data.get("train", {})
        if defaults and isinstance(train, dict):
            data = {**data, "train": {**defaults, **train}}
        return data

    @model_validator(mode="after")
    def needs_data(self) -> SpecV1:
        if self.data is None and get_algorithm(self.algorithm.name).needs_data:
            raise ValueError("data is required for training (give data.dataset)")
        return self

    @model_validator(mode="after")
    def examples_fit_the_batch(self) -> SpecV1:
        data = self.data
        repeated = len(data.examples) if data and data.examples and data.repeat_to_batch else 0
        if not get_algorithm(self.algorithm.name).fixed_targets and repeated > self.train.batch_size:
            raise ValueError(
                f"data.examples: {repeated} examples do not fit in train.batch_size "
                f"{self.train.batch_size}; raise the batch size or set data.repeat_to_batch: false"
            )
        return self

    @model_validator(mode="after")
    def batches_split_over_processes(self) -> SpecV1:
        processes = self.resources.processes or 1
        for field in ("batch_size", "mini_batch_size"):
            if getattr(self.train, field) % processes:
                raise ValueError(
                    f"train.{field} ({getattr(self.train, field)}) must be divisible by resources.processes "
                    f"({processes}): each process trains on an equal share"
                )
        return self


# ---------------------------------------------------------------- errors


@dataclass(frozen=True)
class FieldError:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class SpecError(ValueError):
    """A spec that does not validate; `errors` name each offending field."""

    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


_MESSAGE_REWRITES = (
    (re.compile(r"^Input should be "), "must be "),
    (re.compile(r"^Value error, "), ""),
    (re.compile(r"^Field required$"), "is required"),
    (re.compile(r"^Extra inputs are not permitted$"), "unknown field"),
    (re.compile(r"^String should (.*)$"), r"must \1"),
    (re.compile(r"^List should (.*)$"), r"must \1"),
)


def _message(text: str) -> str:
    for pattern, replacement in _MESSAGE_REWRITES:
        text = pattern.sub(replacement, text)
    return text


def _path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _field_errors(error: ValidationError) -> list[FieldError]:
    return [FieldError(_path(e["loc"]), _message(e["msg"])) for e in error.errors()]


# ---------------------------------------------------------------- parsing and sweeps


def _registry_errors(spec: SpecV1) -> list[FieldError]:
    """Names that must exist in the evaluation registries (imported lazily: no torch in the web app)."""
    from evaluation.benchmarks import list_benchmarks
    from evaluation.templates import list_templates

    benchmarks = {b.id for b in list_benchmarks()}
    templates = {t.id for t in list_templates()}
    errors = [
        FieldError(f"eval.suite[{i}]", f"unknown benchmark {name!r}; known: {', '.join(sorted(benchmarks))}")
        for i, name in enumerate(spec.eval.suite)
        if name not in benchmarks
    ]
    declared = {b.id: b.formulations for b in list_benchmarks()}
    modes = spec.eval.mode if isinstance(spec.eval.mode, dict) else {}
    for field, named in (("eval.templates", spec.eval.templates), ("eval.mode", modes)):
        errors += [
            FieldError(f"{field}.{name}", f"{name!r} is not in eval.suite")
            for name in named
            if name not in spec.eval.suite
        ]
    errors += [
        FieldError(
            f"eval.mode.{name}" if modes else "eval.mode", f"{name!r} has no log-likelihood formulation"
        )
        for name in spec.eval.suite
        if name in declared and spec.eval.mode_of(name) == "loglikelihood" and not declared[name]
    ]
    template_fields = [(f"eval.templates.{b}", t) for b, t in spec.eval.templates.items()]
    if spec.eval.template is not None:
        template_fields.append(("eval.template", spec.eval.template))
    if spec.data is not None:
        template_fields.append(("data.template", spec.data.template))
    errors += [
        FieldError(path, f"unknown template {name!r}; known: {', '.join(sorted(templates))}")
        for path, name in template_fields
        if name not in templates
    ]
    return errors


def validate_spec(data: Any) -> SpecV1:
    """Validate a parsed spec (a dict). Raises SpecError listing every offending field."""
    if not isinstance(data, dict):
        raise SpecError([FieldError("", "a spec must be a mapping of fields (YAML key: value)")])
    try:
        spec = SpecV1.model_validate(data)
    except ValidationError as error:
        raise SpecError(_field_errors(error)) from None
    errors = _registry_errors(spec)
    if spec.sweep is not None:
        errors += _sweep_errors(spec)
    if errors:
        raise SpecError(errors)
    return spec


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without aliases: `*name` would let a few hundred bytes expand to gigabytes (a billion laughs)."""

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.constructor.ConstructorError(
                None, None, "YAML aliases (*name) are not supported in a spec: write the value out",
                event.start_mark,
            )
        return super().compose_node(parent, index)


def load_yaml(yaml_text: str) -> Any:
    """The spec's YAML as Python data: bounded in size, no aliases; SpecError saying where it is broken."""
    limit = _spec_limits().max_bytes
    size = len(yaml_text.encode())
    if size > limit:
        raise SpecError([FieldError("", f"the spec is {size:,} bytes; at most {limit:,} are accepted")])
    try:
        return yaml.load(yaml_text, Loader=_NoAliasLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        raise SpecError([FieldError(where, f"not valid YAML: {getattr(error, 'problem', error)}")]) from None


def parse_spec(yaml_text: str) -> SpecV1:
    """Parse and validate a YAML spec."""
    return validate_spec(load_yaml(yaml_text))


def _field_model(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation such as `X`, `X | None`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        for arg in typing.get_args(annotation):
            if (found := _field_model(arg)) is not None:
                return found
    return None


def _check_sweep_path(path: str) -> str | None:
    """None if `path` names a spec field, else the reason it does not."""
    parts = path.split(".")
    if parts[0] in ("sweep", "version"):
        return f"{parts[0]} cannot be swept"
    model: type[BaseModel] | None = SpecV1
    for depth, part in enumerate(parts):
        if model is None or part not in model.model_fields:
            where = ".".join(parts[:depth]) or "the spec"
            return f"{where} has no field {part!r}"
        model = _field_model(model.model_fields[part].annotation)
    return None


def _set_path(data: dict, path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = data
    for part in parents:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[leaf] = copy.deepcopy(value)


@dataclass(frozen=True)
class SweepPoint:
    index: int
    coordinates: dict[str, Any]
    spec: SpecV1


def _points(spec: SpecV1) -> list[tuple[dict[str, Any], dict]]:
    base = spec.model_dump(mode="json", exclude={"sweep"})
    if not spec.sweep:
        return [({}, base)]
    keys = list(spec.sweep)
    points = []
    for values in itertools.product(*(spec.sweep[k] for k in keys)):
        data = copy.deepcopy(base)
        for key, value in zip(keys, values, strict=True):
            _set_path(data, key, value)
        points.append((dict(zip(keys, values, strict=True)), data))
    return points


def _sweep_errors(spec: SpecV1) -> list[FieldError]:
    assert spec.sweep is not None
    errors = []
    for key, values in spec.sweep.items():
        if (reason := _check_sweep_path(key)) is not None:
            errors.append(FieldError(f"sweep.{key}", reason))
        elif not values:
            errors.append(FieldError(f"sweep.{key}", "must list at least one value"))
        else:
            errors += [
                FieldError(f"sweep.{key}[{i}]", f"{short(value)} is too large or deep for one field's value")
                for i, value in enumerate(values)
                if not _is_field_value(value)
            ]
    if errors:
        return errors
    points = math.prod(len(values) for values in spec.sweep.values())
    limit = _spec_limits().max_sweep_points
    if points > limit:
        return [
            FieldError(
                "sweep",
                f"{points:,} points (the product of the value lists); at most {limit:,} runs per spec",
            )
        ]
    for index, (coordinates, data) in enumerate(_points(spec)):
        try:
            SpecV1.model_validate(data)
        except ValidationError as error:
            where = ", ".join(f"{k}={short(v)}" for k, v in coordinates.items())
            errors += [
                FieldError(f"sweep point {index} ({where}): {e.path}", e.message)
                for e in _field_errors(error)
            ]
    return errors


def expand_sweep(spec: SpecV1) -> list[SweepPoint]:
    """One fully validated spec (without a sweep block) per point of the sweep's cartesian product."""
    return [
        SweepPoint(i, coords, SpecV1.model_validate(data)) for i, (coords, data) in enumerate(_points(spec))
    ]


def content_hash(spec: SpecV1) -> str:
    """sha256 of the validated spec in canonical JSON: the same content gives the same hash."""
    canonical = json.dumps(spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def json_schema() -> dict:
    return SpecV1.model_json_schema()


def _apply_override(data: dict, path: str, value: Any) -> str | None:
    """Set one `--set` override in the parsed YAML; the reason when `path` names no settable field.
    `sweep.<dotted path>` sets one sweep axis (its key keeps the dots)."""
    if path == "sweep" or path.startswith("sweep."):
        axis = path.removeprefix("sweep").removeprefix(".")
        if axis:
            if not isinstance(data.get("sweep"), dict):
                data["sweep"] = {}
            data["sweep"][axis] = value
        else:
            data["sweep"] = value
        return None
    if (reason := _check_sweep_path(path)) is not None:
        return reason.replace("cannot be swept", "cannot be set")
    _set_path(data, path, value)
    return None


def apply_overrides(yaml_text: str, overrides: list[str]) -> str:
    """The spec's YAML with `PATH=VALUE` overrides applied (VALUE read as YAML: `train.steps=4`,
    `data.examples=[pi1]`, `sweep.train.lr=[1e-6, 1e-5]`), e.g. from `rlab submit --set`. Unknown paths
    raise SpecError. Without overrides the text is returned as it is (comments kept)."""
    if not overrides:
        return yaml_text
    try:
        data = load_yaml(yaml_text)
    except SpecError:
        return yaml_text  # parse_spec reports where the YAML is broken
    if not isinstance(data, dict):
        return yaml_text
    errors = []
    for override in overrides:
        path, sep, text = override.partition("=")
        path = path.strip()
        if not sep or not path:
            errors.append(FieldError(f"--set {override}", "must be PATH=VALUE, e.g. train.steps=4"))
            continue
        try:
            value = yaml.load(text, Loader=_NoAliasLoader)
        except yaml.YAMLError as error:
            errors.append(FieldError(f"--set {path}", f"not a YAML value: {error}"))
            continue
        if (reason := _apply_override(data, path, value)) is not None:
            errors.append(FieldError(f"--set {path}", reason))
    if errors:
        raise SpecError(errors)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
