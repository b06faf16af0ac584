"""JSON API for the CLI: validate and submit specs, read run status, cancel or retry a sweep, publish a run.
Token-authenticated; the read-only endpoints are in rlab.experiments.read_api and rlab.results.api."""

import json
from datetime import datetime

from django.http import Http404, HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from rlab.experiments.actions import cancel_sweep, retry_sweep
from rlab.experiments.fleet import sweep_warnings
from rlab.experiments.models import Run, Sweep
from rlab.experiments.publishing import set_published
from rlab.experiments.queue_wait import queue_wait
from rlab.experiments.submission import submit_spec
from rlab.jsonapi import ApiError, one_team
from rlab.spec import SpecError, expand_sweep, parse_spec
from rlab.teams.auth import token_required


def _payload(request: HttpRequest) -> dict:
    try:
        payload = json.loads(request.body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValueError('the request body must be JSON: {"yaml": "…", "team": "slug"}') from None
    if not isinstance(payload, dict) or not isinstance(payload.get("yaml"), str):
        raise ValueError("the request body must be a JSON object with a string field 'yaml'")
    return payload


def _errors(error: SpecError) -> JsonResponse:
    return JsonResponse(
        {"errors": [{"path": e.path, "message": e.message} for e in error.errors]}, status=400
    )


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def queue_json(run: Run) -> dict | None:
    """A queued run's place in its queue and the estimated wait in seconds (None: nothing to estimate
    from yet), with what the estimate rests on; None unless the run is queued."""
    wait = queue_wait(run, timezone.now())
    return None if wait is None else {"position": wait.position, "seconds": wait.seconds, "basis": wait.basis}


def run_json(run: Run) -> dict:
    """A run as every endpoint shows it (`run.team` should be loaded with it)."""
    return {
        "id": run.id,
        "name": run.name,
        "team": run.team.slug,
        "sweep": run.sweep_id,
        "spec": run.spec_id,
        "status": run.status,
        "step": run.step,
        "total_steps": run.total_steps,
        "progress": run.progress,
        "queue": run.queue,
        "coordinates": run.coordinates,
        "tags": run.config.get("tags", []),
        "error": run.error,
        "waiting_for": run.waiting_for,
        "published": run.published,
        "best_step": run.best_step,
        "best_average": run.best_average,
        "created_at": _time(run.created_at),
        "started_at": _time(run.started_at),
        "finished_at": _time(run.finished_at),
        "url": f"/runs/{run.id}/",
    }


@token_required
@require_POST
def validate(request: HttpRequest) -> JsonResponse:
    try:
        spec = parse_spec(_payload(request)["yaml"])
    except ValueError as error:
        return (
            _errors(error)
            if isinstance(error, SpecError)
            else JsonResponse({"error": str(error)}, status=400)
        )
    return JsonResponse({"valid": True, "name": spec.name, "runs": len(expand_sweep(spec))})


@token_required
@require_POST
def submit(request: HttpRequest) -> JsonResponse:
    try:
        payload = _payload(request)
        team = one_team(request.user, payload.get("team"))
        sweep = submit_spec(team, request.user, payload["yaml"])
    except SpecError as error:
        return _errors(error)
    except ValueError as error:
        return JsonResponse({"error": str(error)}, status=400)
    except ApiError as error:
        return JsonResponse({"error": str(error)}, status=error.status)
    except Http404:
        return JsonResponse({"error": "no such team"}, status=404)
    runs = list(sweep.runs.order_by("point_index"))
    return JsonResponse(
        {
            "sweep": sweep.id,
            "spec": sweep.spec_id,
            "runs": [run_json(r) for r in runs],
            "warnings": sweep_warnings(runs),
        },
        status=201,
    )


@token_required
@require_GET
def run_status(request: HttpRequest, pk: int) -> JsonResponse:
    run = get_object_or_404(Run.objects.visible_to(request.user).select_related("team"), pk=pk)
    return JsonResponse(run_json(run) | {"config": run.config, "queue_wait": queue_json(run)})


def sweep_json(sweep: Sweep) -> dict:
    return {
        "sweep": sweep.id,
        "spec": sweep.spec_id,
        "url": f"/sweeps/{sweep.id}/",
        "runs": [run_json(r) for r in sweep.runs.select_related("team").order_by("point_index")],
    }


@token_required
@require_POST
def sweep_cancel(request: HttpRequest, pk: int) -> JsonResponse:
    """Cancel every unfinished run of the sweep: {"cancelled": n, ...the sweep}."""
    sweep = get_object_or_404(Sweep.objects.visible_to(request.user), pk=pk)
    cancelled = cancel_sweep(sweep)
    return JsonResponse({"cancelled": cancelled, **sweep_json(sweep)})


@token_required
@require_POST
def sweep_retry(request: HttpRequest, pk: int) -> JsonResponse:
    """Queue the sweep's failed and cancelled runs again as one new sweep (201), or 409 with none to retry."""
    sweep = get_object_or_404(Sweep.objects.visible_to(request.user), pk=pk)
    retry = retry_sweep(sweep, request.user)
    if retry is None:
        message = f"sweep {sweep.id} has no failed or cancelled run to retry"
        return JsonResponse({"error": message}, status=409)
    return JsonResponse({"retry_of": sweep.id, **sweep_json(retry)}, status=201)


@token_required
@require_POST
def run_publish(request: HttpRequest, pk: int) -> JsonResponse:
    """Publish (body {"published": true}) or withdraw ({"published": false}) a run of one's team."""
    run = get_object_or_404(Run.objects.visible_to(request.user).select_related("team"), pk=pk)
    try:
        published = json.loads(request.body or b"{}").get("published")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        published = None
    if not isinstance(published, bool):
        return JsonResponse({"error": 'the request body must be {"published": true} or false'}, status=400)
    set_published(run, published)
    return JsonResponse(run_json(run))
