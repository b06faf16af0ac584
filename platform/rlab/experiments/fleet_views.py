"""`/workers/`: the fleet page (live with htmx), and the same as JSON in the API (`/api/v1/workers/`)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from rlab.experiments.fleet import fleet_for
from rlab.teams.auth import token_required

REFRESH_SECONDS = 5


@login_required
@require_GET
def fleet_page(request: HttpRequest) -> HttpResponse:
    """Each worker node, its devices and who holds them (runs of one's teams by name and link, others as
    "another team's run"), its free devices and last heartbeat; what waits in each queue."""
    partial = bool(request.htmx) and not request.htmx.history_restore_request
    template = "partials/fleet.html" if partial else "experiments/fleet.html"
    return render(request, template, {"fleet": fleet_for(request.user), "refresh_seconds": REFRESH_SECONDS})


@token_required
@require_GET
def fleet_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse(fleet_for(request.user).as_json())
