"""The spec editor's server side: the form with the names a team's spec may use, and checking a spec as the
launch would (schema, registries, and the team's catalog), counting the runs it creates."""

from dataclasses import dataclass, field
from difflib import get_close_matches
from functools import cache

from django.conf import settings

from rlab.catalog.models import Dataset
from rlab.experiments.fleet import capacity_warnings
from rlab.experiments.spec_form import SpecForm
from rlab.experiments.submission import check_catalog, check_gpu_fit
from rlab.spec import FieldError, SpecError, expand_sweep, json_schema, parse_spec
from training.planner import PlanError, plan, report_lines, settings_from_spec


@dataclass(frozen=True)
class Check:
    """The outcome of checking the editor's YAML: errors, or how many runs launching creates and what no
    live worker can take (capacity warnings: the spec is still accepted); and the memory plan of its first
    run (training.planner), when the planner can size its model."""

    errors: list[FieldError]
    run_count: int
    warnings: list[str] = field(default_factory=list)
    plan: list[str] = field(default_factory=list)


UNKNOWN_FIELD = "unknown field"  # rlab.spec's message for a key the schema does not have


@cache
def _schema_form() -> SpecForm:
    """The form without choices: enough to know which names each block holds."""
    return SpecForm(json_schema())


def suggest_names(errors: list[FieldError]) -> list[FieldError]:
    """Unknown keys with the closest name their block does have: a typo such as `trian:` would otherwise
    leave its whole section at the defaults in the form, with only a general "unknown field" to go by."""
    form = _schema_form()
    suggested = []
    for error in errors:
        parent, _, name = error.path.rpartition(".")
        close = get_close_matches(name, form.names_under(parent), n=1, cutoff=0.6)
        if error.message == UNKNOWN_FIELD and close:
            error = FieldError(error.path, f"{UNKNOWN_FIELD}: did you mean '{close[0]}'?")
        suggested.append(error)
    return suggested


def check_spec(team, yaml_text: str) -> Check:
    estimate: list[str] = []
    try:
        points = expand_sweep(parse_spec(yaml_text))
        estimate = memory_plan(points[0].spec)
        check_catalog(team, [point.spec for point in points])
        check_gpu_fit([point.spec for point in points])
    except SpecError as error:
        return Check(suggest_names(error.errors), 0, plan=estimate)
    needs = ((point.spec.resources.queue, point.spec.resources.gpus or 0) for point in points)
    return Check([], len(points), capacity_warnings(needs), estimate)


def memory_plan(spec) -> list[str]:
    """`rlab plan`'s report for one validated spec, against the gpu queue's GPU memory on that queue."""
    memory = settings.RLAB_GPU_MEMORY_BYTES if spec.resources.queue == "gpu" else None
    try:
        return report_lines(plan(settings_from_spec(spec), memory))
    except PlanError as error:
        return [f"no memory estimate: {error}"]


def spec_form_for(team) -> SpecForm:
    """The form, with the names the spec may use as choices: the team's datasets, benchmarks and templates."""
    from evaluation.benchmarks import list_benchmarks
    from evaluation.templates import list_templates

    datasets = Dataset.objects.usable_by(team).order_by("name")
    templates = [t.id for t in list_templates()]
    return SpecForm(
        json_schema(),
        {
            "data.dataset": list(dict.fromkeys(datasets.values_list("name", flat=True))),
            "data.template": templates,
            "eval.template": templates,
            "eval.suite": [b.id for b in list_benchmarks()],
        },
    )
