"""What every read endpoint of the JSON API shares: bearer-token authentication, JSON errors (never an HTML
page), the team a request names, paging, and CSV export streamed row by row (docs/api.md)."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import wraps

from django.core.paginator import EmptyPage, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.http import require_GET

from rlab.teams.auth import token_required
from rlab.teams.models import Team, team_ids_of

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
CSV_CHUNK = 1000  # rows fetched from the database at a time while a CSV streams


class ApiError(Exception):
    """A request the API refuses: its message and HTTP status go back as {"error": message}."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def read_endpoint(view: Callable) -> Callable:
    """A GET endpoint with a bearer token; ApiError (and, by token_required, Http404) answers as JSON."""

    @token_required
    @require_GET
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except ApiError as error:
            return JsonResponse({"error": str(error)}, status=error.status)

    return wrapped


def whole_number(request: HttpRequest, name: str) -> int | None:
    """A query parameter that must be a whole number when given."""
    text = request.GET.get(name, "")
    if not text:
        return None
    if not text.isdigit():
        raise ApiError(f"{name} must be a whole number, not {text!r}")
    return int(text)


def user_teams(request: HttpRequest) -> QuerySet[Team]:
    """The token owner's teams, or only the one `?team=<slug>` names (404 when it is not theirs)."""
    teams = Team.objects.filter(id__in=team_ids_of(request.user))
    if slug := request.GET.get("team"):
        teams = teams.filter(slug=slug)
        if not teams.exists():
            raise Http404
    return teams


def one_team(user, slug: str | None) -> Team:
    """The team a request acts for: the one `slug` names, else the user's only team (ApiError otherwise)."""
    teams = Team.objects.filter(id__in=team_ids_of(user))
    if slug:
        team = teams.filter(slug=slug).first()
        if team is None:
            raise Http404
        return team
    if teams.count() != 1:
        names = ", ".join(t.slug for t in teams)
        raise ApiError(f"you belong to {teams.count()} teams; name one with team ({names})")
    return teams.get()


def page_of(request: HttpRequest, items: QuerySet | Sequence, to_json: Callable[[object], dict]) -> dict:
    """One page of `items` (`?page=`, `?page_size=` up to MAX_PAGE_SIZE): count, pages, next and results."""
    size = whole_number(request, "page_size") or DEFAULT_PAGE_SIZE
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise ApiError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
    number = whole_number(request, "page") or 1
    paginator = Paginator(items, size)
    try:
        page = paginator.page(number)
    except EmptyPage:
        raise ApiError(f"page {number} does not exist: there are {paginator.num_pages}", 404) from None

    def link(to: int) -> str:
        query = request.GET.copy()
        query["page"] = str(to)
        return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")

    return {
        "count": paginator.count,
        "page": page.number,
        "pages": paginator.num_pages,
        "page_size": size,
        "next": link(page.number + 1) if page.has_next() else None,
        "previous": link(page.number - 1) if page.has_previous() else None,
        "results": [to_json(item) for item in page.object_list],
    }


def wants_csv(request: HttpRequest) -> bool:
    return request.GET.get("format") == "csv"


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: object) -> object:
    """A CSV cell: nested values as JSON text, None as empty."""
    if value is None:
        return ""
    return json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else value


def csv_lines(columns: Sequence[str], rows: Iterable[dict]) -> Iterator[str]:
    """CSV text line by line: the header, then `rows` (dicts; other keys ignored) as they are produced."""
    writer = csv.writer(_Echo())
    yield writer.writerow(columns)
    for row in rows:
        yield writer.writerow([_cell(row.get(column)) for column in columns])


def csv_response(filename: str, columns: Sequence[str], rows: Iterable[dict]) -> StreamingHttpResponse:
    """A CSV download streamed as `rows` are produced, so memory stays flat."""
    response = StreamingHttpResponse(csv_lines(columns, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def text_csv_response(filename: str, text: str) -> HttpResponse:
    """A CSV already written (a report table's)."""
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
