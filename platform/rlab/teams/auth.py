"""Login throttling for the web login, and bearer-token authentication for the JSON API used by the CLI."""

from collections.abc import Callable
from functools import wraps

from axes.backends import AxesStandaloneBackend
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from rlab.teams.models import APIToken


def token_required(view: Callable) -> Callable:
    """Authenticate with `Authorization: Bearer <token>`; a missing object (Http404, which includes another
    team's) answers as JSON too.

    CSRF protects cookie sessions; these views take no cookies, only an explicit header, so they are exempt.
    """

    @csrf_exempt
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        user = APIToken.authenticate(key.strip()) if scheme.lower() == "bearer" and key else None
        if user is None:
            return JsonResponse(
                {"error": "a valid API token is required (Authorization: Bearer …)"}, status=401
            )
        request.user = user
        try:
            return view(request, *args, **kwargs)
        except Http404:
            return JsonResponse({"error": "not found (or not one of your teams')"}, status=404)

    return wrapped


class LoginThrottleBackend(AxesStandaloneBackend):
    """django-axes' lockout check for logins that come with a request (the login page). Code that calls
    `authenticate` without one (management commands, the test client) has no address to throttle by and
    goes straight to the password check."""

    def authenticate(self, request: HttpRequest | None, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
