"""Read-only JSON API over runs, their training metrics and checkpoints, and sweeps (docs/api.md).

Every endpoint starts from the token owner's teams (`visible_to`), so another team's id answers 404, and
pages its rows (rlab.jsonapi.page_of); `?format=csv` streams every matching row instead.
"""

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404

from rlab.experiments.api import run_json, sweep_json
from rlab.experiments.models import Run, Sweep, has_tag
from rlab.experiments.sweep_views import sweep_summaries
from rlab.jsonapi import (
    CSV_CHUNK,
    ApiError,
    csv_response,
    page_of,
    read_endpoint,
    user_teams,
    wants_csv,
    whole_number,
)

RUN_CSV_COLUMNS = (
    "id",
    "name",
    "team",
    "sweep",
    "spec",
    "status",
    "step",
    "total_steps",
    "progress",
    "queue",
    "coordinates",
    "tags",
    "error",
    "published",
    "best_step",
    "best_average",
    "created_at",
    "started_at",
    "finished_at",
)


def _runs(request: HttpRequest) -> QuerySet[Run]:
    return Run.objects.visible_to(request.user).select_related("team")


def _run(request: HttpRequest, pk: int) -> Run:
    return get_object_or_404(_runs(request), pk=pk)


@read_endpoint
def run_list(request: HttpRequest) -> HttpResponse:
    """Runs of the token owner's teams, newest first: `?team=`, `?sweep=`, `?status=`, `?tag=` filter."""
    runs = _runs(request).filter(team__in=user_teams(request))
    if (sweep := whole_number(request, "sweep")) is not None:
        runs = runs.filter(sweep_id=sweep)
    if status := request.GET.get("status"):
        if status not in Run.Status.values:
            raise ApiError(f"status must be one of {', '.join(Run.Status.values)}, not {status!r}")
        runs = runs.filter(status=status)
    if tag := request.GET.get("tag"):
        runs = runs.filter(has_tag(tag, "config__tags"))
    runs = runs.order_by("-created_at", "point_index", "pk")
    if wants_csv(request):
        return csv_response("runs.csv", RUN_CSV_COLUMNS, map(run_json, runs.iterator(chunk_size=CSV_CHUNK)))
    return JsonResponse(page_of(request, runs, run_json))


def _metric_json(row: tuple[int, dict]) -> dict:
    step, values = row
    return {"step": step, "values": values}


@read_endpoint
def run_metrics(request: HttpRequest, pk: int) -> HttpResponse:
    """The run's training metrics by step; the CSV has one column per metric name (pandas-ready)."""
    run = _run(request, pk)
    rows = run.metrics.order_by("step").values_list("step", "values")
    if wants_csv(request):
        names: dict[str, None] = {}
        for values in run.metrics.values_list("values", flat=True).iterator(chunk_size=CSV_CHUNK):
            names.update(dict.fromkeys(values or {}))
        records = ({"step": step, **(values or {})} for step, values in rows.iterator(chunk_size=CSV_CHUNK))
        return csv_response(f"{run.name}-metrics.csv", ["step", *sorted(names)], records)
    return JsonResponse({"run": run.id} | page_of(request, rows, _metric_json))


def _sweep_summary_json(sweep: Sweep) -> dict:
    return {
        "id": sweep.id,
        "team": sweep.team.slug,
        "spec": sweep.spec_id,
        "spec_name": sweep.spec.name,
        "created_at": sweep.created_at.isoformat(),
        "run_count": sweep.total,
        "unfinished": sweep.unfinished,
        "unsuccessful": sweep.unsuccessful,
        "succeeded": sweep.succeeded,
        "url": f"/sweeps/{sweep.id}/",
    }


def _sweeps(request: HttpRequest) -> QuerySet[Sweep]:
    sweeps = Sweep.objects.visible_to(request.user).select_related("team", "spec")
    return sweep_summaries(sweeps.filter(team__in=user_teams(request))).order_by("-created_at", "-pk")


@read_endpoint
def sweep_list(request: HttpRequest) -> HttpResponse:
    """Sweeps of the token owner's teams, newest first, with their run counts by state."""
    return JsonResponse(page_of(request, _sweeps(request), _sweep_summary_json))


@read_endpoint
def sweep_detail(request: HttpRequest, pk: int) -> HttpResponse:
    sweep = get_object_or_404(_sweeps(request), pk=pk)
    return JsonResponse(_sweep_summary_json(sweep) | sweep_json(sweep))
