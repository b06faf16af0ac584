"""Production settings, login throttling and hostile query parameters (issue 14)."""

import json
import subprocess
import sys

import pytest
from django.test import Client
from django.urls import reverse

from tests.platform.conftest import PASSWORD, logged_in
from tests.services import REPO_ROOT, service_env

# A key as `manage.py check --deploy` wants it: long, random-looking, no `django-insecure-` prefix.
PRODUCTION_KEY = "k3Yq9-vZ7rT1pWm4xNc8bLd2fHs6jGa0uEo5iRy-QwXzPl3MnBv7CtK2"


def _settings_process(tmp_path, argv: list[str], **env: str) -> subprocess.CompletedProcess:
    """A fresh Python process that imports the settings from this environment (no test overrides)."""
    child = service_env(
        f"sqlite:///{tmp_path / 'db.sqlite3'}", "memory://", RLAB_VAR_DIR=str(tmp_path), **env
    )
    for name in ("RLAB_ENV", "DJANGO_DEBUG", "SECRET_KEY"):
        if name not in env:
            child.pop(name, None)
    return subprocess.run(
        [sys.executable, *argv], env=child, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )


SHOW_SETTINGS = (
    "import django, json; django.setup(); from django.conf import settings as s; print(json.dumps({"
    "'debug': s.DEBUG, 'ssl_redirect': s.SECURE_SSL_REDIRECT, 'hsts': s.SECURE_HSTS_SECONDS,"
    "'proxy': s.SECURE_PROXY_SSL_HEADER, 'secure_cookies': s.SESSION_COOKIE_SECURE}))"
)


def _settings(tmp_path, **env: str) -> dict:
    done = _settings_process(tmp_path, ["-c", SHOW_SETTINGS], **env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_debug_is_off_unless_asked_for(tmp_path):
    assert _settings(tmp_path)["debug"] is False
    assert _settings(tmp_path, DJANGO_DEBUG="1")["debug"] is True


def test_production_profile_turns_https_on(tmp_path):
    production = _settings(
        tmp_path,
        RLAB_ENV="production",
        SECRET_KEY=PRODUCTION_KEY,
        RLAB_PROXY_SSL_HEADER="X-Forwarded-Proto: https",
    )
    assert production == {
        "debug": False,
        "ssl_redirect": True,
        "hsts": 365 * 24 * 3600,
        "proxy": ["HTTP_X_FORWARDED_PROTO", "https"],
        "secure_cookies": True,
    }
    development = _settings(tmp_path)
    assert (development["ssl_redirect"], development["hsts"], development["proxy"]) == (False, 0, None)


def test_check_deploy_is_clean_in_production(tmp_path):
    done = _settings_process(
        tmp_path,
        ["platform/manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        RLAB_ENV="production",
        SECRET_KEY=PRODUCTION_KEY,
        ALLOWED_HOSTS="rlab.example.org",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


@pytest.mark.django_db
def test_login_is_locked_after_repeated_failures(alice, settings):
    client, url = Client(), reverse("login")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post(url, {"username": "alice", "password": "wrong"})
        assert response.status_code == 200 and "Wrong username or password" in response.content.decode()
    locked = client.post(url, {"username": "alice", "password": "wrong"})
    assert locked.status_code == 429 and "Too many login attempts" in locked.content.decode()
    # Now even the right password is refused from this address…
    refused = client.post(url, {"username": "alice", "password": PASSWORD})
    assert refused.status_code == 429 and "_auth_user_id" not in client.session
    # …while another address may still log in.
    other = Client(REMOTE_ADDR="10.0.0.2")
    assert other.post(url, {"username": "alice", "password": PASSWORD}).status_code == 302


@pytest.mark.django_db
@pytest.mark.parametrize(
    "next_url", ["https://evil.example/", "//evil.example/", "javascript:alert(1)", "/\\evil.example", "x"]
)
def test_team_switch_stays_on_this_site(alice, team_a, next_url):
    response = logged_in(alice).post(reverse("teams:switch"), {"team": team_a.pk, "next": next_url})
    assert response.status_code == 302 and response.url == reverse("experiments:run_list")


@pytest.mark.django_db
def test_team_switch_returns_to_the_page(alice, team_a):
    response = logged_in(alice).post(reverse("teams:switch"), {"team": team_a.pk, "next": "/datasets/"})
    assert response.url == "/datasets/"


@pytest.mark.django_db
def test_login_ignores_a_javascript_next(alice):
    client, url = Client(), reverse("login") + "?next=javascript:alert(1)"
    assert client.get(url).status_code == 200
    response = client.post(url, {"username": "alice", "password": PASSWORD, "next": "javascript:alert(1)"})
    assert response.status_code == 302 and response.url == reverse("experiments:run_list")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/runs/?sweep=x",
        "/runs/?sweep=%C2%B2",  # "²": a digit to str.isdigit, not to int()
        "/runs/?sweep=99999999999999999999",
        "/results/leaderboard/?page=%C2%B2",
        "/results/compare/?a=%C2%B2&b=1",
        "/specs/new/?from=%C2%B2",
        "/datasets/?page=x",
    ],
)
def test_junk_query_parameters_are_not_server_errors(alice, path):
    assert logged_in(alice).get(path).status_code in (200, 400, 404)
