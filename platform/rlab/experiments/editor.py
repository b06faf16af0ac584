"""The spec editor's server side: the form with the names a team's spec may use, and checking a spec as the
launch would (schema, registries, and the team's catalog), counting the runs it creates."""

from dataclasses import dataclass, field

from django.conf import settings

from rlab.catalog.models import Dataset
from rlab.experiments.spec_form import SpecForm
from rlab.experiments.submission import check_catalog, check_gpu_fit
from rlab.spec import FieldError, SpecError, expand_sweep, json_schema, parse_spec
from training.planner import PlanError, plan, report_lines, settings_from_spec


@dataclass(frozen=True)
class Check:
    """The outcome of checking the editor's YAML: errors, or how many runs launching creates; and the
    memory plan of its first run (training.planner), when the planner can size its model."""

    errors: list[FieldError]
    run_count: int
    plan: list[str] = field(default_factory=list)


def check_spec(team, yaml_text: str) -> Check:
    estimate: list[str] = []
    try:
        points = expand_sweep(parse_spec(yaml_text))
        estimate = memory_plan(points[0].spec)
        check_catalog(team, [point.spec for point in points])
        check_gpu_fit([point.spec for point in points])
    except SpecError as error:
        return Check(error.errors, 0, estimate)
    return Check([], len(points), estimate)


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
