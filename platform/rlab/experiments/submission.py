"""Turning a validated spec into a Sweep of queued Runs, and sending each run to its worker queue."""

from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils.text import slugify

from rlab.catalog.models import Dataset
from rlab.catalog.rankings import resolve_examples
from rlab.experiments.checkpoint_refs import CheckpointRefError, resolve_run_checkpoint
from rlab.experiments.model_paths import model_path_error
from rlab.experiments.models import Run, Spec, Sweep
from rlab.spec import (
    FieldError,
    SpecError,
    SpecV1,
    content_hash,
    expand_sweep,
    parse_run_ref,
    parse_spec,
)
from training.algorithms import get_algorithm
from training.planner import USABLE_SHARE, PlanError, format_bytes, plan, settings_from_spec

EXECUTE_RUN_TASK = "workers.tasks.execute_run"


def run_name(spec: Spec, sweep: Sweep, point_index: int) -> str:
    """Runs are named <spec>-<content hash>-<sweep>.<point>: unique, and readable in logs and folders."""
    return f"{slugify(spec.name)[:50]}-{spec.content_hash[:8]}-{sweep.pk}.{point_index}"


def planned_steps(config: dict) -> int:
    """The run's step count as far as its spec says: train.steps, or 0 (unknown) for the SFT algorithms,
    whose job sets it once it knows the data (epochs × batches)."""
    return 0 if get_algorithm(config["algorithm"]["name"]).fixed_targets else config["train"]["steps"]


def enqueue_run(run: Run) -> None:
    """Send the run's task by name: the web process never imports the worker code (or torch)."""
    from rlab.celery import RUN_PRIORITY, app

    app.send_task(EXECUTE_RUN_TASK, args=[run.id], queue=run.queue, priority=RUN_PRIORITY)


def check_catalog(team, points: list[SpecV1]) -> None:
    """Names in the spec that must exist in the team's catalog: datasets, examples named by π rank or
    index, and runs named as a model or a re-distillation source (raises SpecError naming the field)."""
    visible = Dataset.objects.usable_by(team)
    datasets = {d.name: d for d in visible}
    errors: dict[str, FieldError] = {}
    for point in points:
        errors.update(run_ref_errors(team, point))
        if (reason := model_path_error(point.model.id)) is not None:
            errors["model.id"] = FieldError("model.id", reason)
        errors.update(benchmark_data_errors(point))
        if point.data is None:
            continue
        dataset = datasets.get(point.data.dataset)
        if dataset is None:
            known = ", ".join(sorted(datasets)) or "none yet"
            errors["data.dataset"] = FieldError(
                "data.dataset",
                f"no dataset named {point.data.dataset!r} in team {team.slug} (known: {known})",
            )
            continue
        for i, ref in enumerate(point.data.examples or []):
            try:
                resolve_examples(dataset, [ref], point.data.ranking)
            except LookupError as error:
                errors[f"data.examples[{i}]"] = FieldError(f"data.examples[{i}]", str(error))
    if errors:
        raise SpecError(list(errors.values()))


def benchmark_data_errors(point: SpecV1) -> dict[str, FieldError]:
    """Benchmarks of the suite whose data the workers cannot load: their local file is missing from the
    site's data folder (RLAB_DATA_DIR) and hub downloads are off (HF_HUB_OFFLINE). Said at submission, not
    hours later by a failed evaluation."""
    from huggingface_hub import constants

    from evaluation.benchmarks.loader import unavailable_reason

    hub = not constants.HF_HUB_OFFLINE
    errors = {}
    for i, benchmark in enumerate(point.eval.suite):
        if (reason := unavailable_reason(benchmark, Path(settings.RLAB_DATA_DIR), hub)) is not None:
            errors[f"eval.suite[{i}]"] = FieldError(f"eval.suite[{i}]", reason)
    return errors


def run_ref_errors(team, point: SpecV1) -> dict[str, FieldError]:
    """Runs the spec names (`model.id: run:NAME[@STEP]`, `algorithm.redistill.source_run`) must have
    succeeded in the team and have the checkpoint; whether its folder is usable the worker checks."""
    refs = []
    if (ref := parse_run_ref(point.model.id)) is not None:
        refs.append(("model.id", ref.name, ref.step))
    if (redistill := point.algorithm.redistill) is not None:
        refs.append(("algorithm.redistill.source_run", redistill.source_run, redistill.source_step))
    errors = {}
    for path, name, step in refs:
        try:
            resolve_run_checkpoint(team, name, step)
        except CheckpointRefError as error:
            errors[path] = FieldError(path, str(error))
    return errors


def check_gpu_fit(points: list[SpecV1]) -> None:
    """Runs on the gpu queue must fit one GPU of RLAB_GPU_MEMORY by the planner's estimate
    (training/planner.py), or they are refused here rather than failing out of memory on a worker. A model
    the planner cannot size (a run: reference, a GGUF file, a hub id it does not know) is not refused."""
    memory = settings.RLAB_GPU_MEMORY_BYTES
    for point in points:
        if point.resources.queue != "gpu":
            continue
        try:
            result = plan(settings_from_spec(point), memory)
        except PlanError:
            continue
        if result.fits:
            continue
        needs = (
            f"needs {format_bytes(result.peak)} per GPU, more than the {format_bytes(USABLE_SHARE * memory)} "
            f"usable of the gpu queue's {settings.RLAB_GPU_MEMORY} GPUs (rlab plan SPEC shows each term)"
        )
        if result.largest_micro_batch:
            message = f"{needs}; at most {result.largest_micro_batch} rows per micro-batch fit"
            raise SpecError([FieldError("train.micro_batch_size", message)])
        message = f"{needs}; the weights and optimizer state alone do not fit: shard them over more GPUs"
        raise SpecError([FieldError("resources.gpus", message)])


@transaction.atomic
def submit_spec(team, user, yaml_text: str, cloned_from: Spec | None = None) -> Sweep:
    """Validate `yaml_text` (raises SpecError), store the spec and create one queued Run per sweep point.

    The tasks are sent after the transaction commits, so a worker never sees a run that is not there yet.
    """
    spec_model = parse_spec(yaml_text)
    points = expand_sweep(spec_model)
    check_catalog(team, [p.spec for p in points])
    check_gpu_fit([p.spec for p in points])
    digest = content_hash(spec_model)
    spec, _ = Spec.objects.get_or_create(
        team=team,
        content_hash=digest,
        defaults={
            "name": spec_model.name,
            "yaml_text": yaml_text,
            "spec_json": spec_model.model_dump(mode="json"),
            "created_by": user,
            "cloned_from": cloned_from,
        },
    )
    sweep = Sweep.objects.create(team=team, spec=spec, created_by=user)
    runs = []
    for point in points:
        config = point.spec.model_dump(mode="json")
        runs.append(
            Run.objects.create(
                team=team,
                spec=spec,
                sweep=sweep,
                point_index=point.index,
                name=run_name(spec, sweep, point.index),
                coordinates=point.coordinates,
                config=config,
                queue=point.spec.resources.queue,
                total_steps=planned_steps(config),
            )
        )
    transaction.on_commit(lambda: [enqueue_run(run) for run in runs])
    return sweep
