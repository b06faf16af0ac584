from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from rlab.teams.middleware import SESSION_KEY
from rlab.teams.models import APIToken, Team, team_ids_of


@login_required
@require_POST
def switch_team(request: HttpRequest) -> HttpResponse:
    team = Team.objects.filter(id__in=team_ids_of(request.user), id=request.POST.get("team")).first()
    if team is None:
        raise Http404("No such team")
    request.session[SESSION_KEY] = team.id
    return redirect(_local_url(request, request.POST.get("next", "")) or "experiments:run_list")


def _local_url(request: HttpRequest, url: str) -> str | None:
    """`url` if it is a path on this site; None for other sites, other schemes (`javascript:`) and junk."""
    if url.startswith("/") and url_has_allowed_host_and_scheme(
        url, {request.get_host()}, request.is_secure()
    ):
        return url
    return None


@login_required
def tokens(request: HttpRequest) -> HttpResponse:
    new_key = None
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            request.user.api_tokens.filter(pk=request.POST.get("token")).delete()
            messages.info(request, "Token revoked.")
        else:
            _, new_key = APIToken.issue(request.user, name=request.POST.get("name") or "cli")
    return render(request, "teams/tokens.html", {"tokens": request.user.api_tokens.all(), "new_key": new_key})
