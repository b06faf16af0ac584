"""Talking to an RLVR Lab server's JSON API with an API token."""

import os

import requests

from rlab.cli.common import INVALID_INPUT, CommandError

TIMEOUT_SECONDS = 30
MAX_PAGE_SIZE = 500  # rlab.jsonapi.MAX_PAGE_SIZE (the client does not import the server)


def _token(token: str | None) -> str:
    token = token or os.environ.get("RLAB_TOKEN")
    if not token:
        raise CommandError("--server needs an API token: --token T or env RLAB_TOKEN", INVALID_INPUT)
    return token


def _send(method: str, server: str, path: str, token: str | None, **kwargs) -> requests.Response:
    """The server's answer; a failure (unreachable, bad token, an error status) is a CommandError."""
    url = server.rstrip("/") + "/api/v1/" + path
    try:
        response = requests.request(
            method,
            url,
            headers={"Authorization": f"Bearer {_token(token)}"},
            timeout=TIMEOUT_SECONDS,
            **kwargs,
        )
    except requests.RequestException as error:
        raise CommandError(f"cannot reach {server}: {error.__class__.__name__}") from None
    if response.ok and response.headers.get("Content-Type", "").startswith("text/csv"):
        return response
    try:
        body = response.json()
    except ValueError:
        raise CommandError(
            f"{url} answered {response.status_code} without JSON; is it an RLVR Lab server?"
        ) from None
    if response.status_code == 401:
        raise CommandError("the server rejected the API token", INVALID_INPUT)
    if response.status_code == 400 and "errors" in body:
        lines = "\n  ".join(
            f"{e['path']}: {e['message']}" if e["path"] else e["message"] for e in body["errors"]
        )
        raise CommandError(f"invalid spec\n  {lines}", INVALID_INPUT)
    if response.status_code >= 400:
        raise CommandError(
            f"the server answered {response.status_code}: {body.get('error', body)}",
            INVALID_INPUT if response.status_code < 500 else 1,
        )
    return response


def api_request(method: str, server: str, path: str, token: str | None, **kwargs) -> dict:
    return _send(method, server, path, token, **kwargs).json()


def api_csv(server: str, path: str, token: str | None, params: dict) -> str:
    """A CSV export (`?format=csv`) as text."""
    return _send("GET", server, path, token, params=params | {"format": "csv"}).text


def api_list(server: str, path: str, token: str | None, params: dict, limit: int) -> list[dict]:
    """Up to `limit` rows of a paged list endpoint, following its pages."""
    rows: list[dict] = []
    page, size = 1, min(limit, MAX_PAGE_SIZE)
    while len(rows) < limit:
        query = params | {"page": page, "page_size": size}
        body = api_request("GET", server, path, token, params=query)
        rows += body["results"]
        if body["next"] is None:
            break
        page += 1
    return rows[:limit]


def submit_remote(server: str, token: str | None, yaml_text: str, team: str | None) -> dict:
    """The server's answer: {"runs": [...], "warnings": [...], ...}."""
    payload = {"yaml": yaml_text, **({"team": team} if team else {})}
    return api_request("POST", server, "specs/submit/", token, json=payload)
