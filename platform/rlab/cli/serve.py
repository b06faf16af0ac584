"""`rlab serve` (web, worker and scheduler on embedded defaults) and `rlab demo` (serve, then run the demo
spec)."""

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from rlab.bootstrap import setup_django
from rlab.cli.common import CommandError, read_text_file

DEMO_SPEC = Path(__file__).resolve().parents[3] / "examples" / "specs" / "demo.yaml"
DEMO_TEAM = "demo"
DEMO_USER = "demo"
READY_TIMEOUT_SECONDS = 60


def _migrate() -> None:
    setup_django()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def _check_port_free(host: str, port: int) -> None:
    """Refuse a taken port up front: another server there would answer for ours."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise CommandError(
                f"{host}:{port} is taken ({error.strerror}): stop what runs there or choose another --port"
            ) from None


def _exit_on_sigterm(signum: int, frame: object) -> None:
    sys.exit(128 + signum)  # unwinds through _services, which stops the children


@contextmanager
def _services(host: str, port: int, worker: bool):
    """Start the web server and a worker as child processes; stop both on exit, SIGTERM included."""
    _check_port_free(host, port)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "rlab.settings", "PYTHONUNBUFFERED": "1"}
    web = [sys.executable, "-m", "django", "runserver", f"{host}:{port}", "--noreload"]
    children = [subprocess.Popen(web, env=env)]
    if worker:
        for command in ("worker", "beat"):
            children.append(subprocess.Popen([sys.executable, "-m", "rlab.cli", command], env=env))
    try:
        _wait_until_up(f"http://{host}:{port}/accounts/login/", children)
        yield children
    finally:
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()


def _wait_until_up(url: str, children: list[subprocess.Popen]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if any(child.poll() is not None for child in children):
            raise CommandError("the web server or the worker exited during start-up (see its output above)")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise CommandError(f"the web server did not answer at {url} within {READY_TIMEOUT_SECONDS} s")


def _serve_forever(children: list[subprocess.Popen]) -> int:
    while all(child.poll() is None for child in children):
        time.sleep(1)
    return 1


def _add_server_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)


class Serve:
    @staticmethod
    def register(subparsers) -> None:
        parser = subparsers.add_parser("serve", help="web server + worker on the configured database/broker")
        _add_server_arguments(parser)
        parser.add_argument("--no-worker", action="store_true", help="start the web server only")
        parser.set_defaults(run=Serve.run)

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        _migrate()
        with _services(args.host, args.port, worker=not args.no_worker) as children:
            print(f"RLVR Lab is up at http://{args.host}:{args.port}/  (Ctrl-C stops it)", flush=True)
            return _serve_forever(children)


def ensure_demo_account() -> str:
    """The demo team and user; the user's password is new at every demo start and printed once."""
    from django.contrib.auth import get_user_model

    from rlab.teams.models import Membership, Team

    team, _ = Team.objects.get_or_create(slug=DEMO_TEAM, defaults={"name": "Demo team"})
    user, _ = get_user_model().objects.get_or_create(username=DEMO_USER, defaults={"is_staff": True})
    password = os.environ.get("RLAB_DEMO_PASSWORD") or secrets.token_urlsafe(9)
    user.is_staff = user.is_superuser = True
    user.set_password(password)
    user.save()
    Membership.objects.get_or_create(team=team, user=user, defaults={"role": Membership.Role.OWNER})
    return password


EVALUATION_TIMEOUT_SECONDS = 900


def _evaluation_summary(run_ids: list[int]) -> str:
    """Wait for the evaluations the runs queued (base model + checkpoints), then tabulate them."""
    from rlab.experiments.models import Run
    from rlab.results.models import EvalResult

    runs = list(Run.objects.filter(id__in=run_ids))
    expected = 0
    for run in runs:
        every, total = run.config["eval"]["every"], run.config["train"]["steps"]
        evaluated = run.checkpoints.filter(
            step__in=[s for s in range(1, total + 1) if s % every == 0 or s == total]
        )
        expected += len(run.config["eval"]["suite"]) * (
            evaluated.count() + int(run.config["eval"]["base_model"])
        )
    results = EvalResult.objects.filter(run__in=runs)
    deadline = time.monotonic() + EVALUATION_TIMEOUT_SECONDS
    print(f"waiting for {expected} evaluation(s) of the checkpoints …", flush=True)
    while results.count() < expected and time.monotonic() < deadline:
        time.sleep(2)
    lines = [f"{'model':<12}{'benchmark':<12}{'avg@k':>8}  boxed"]
    for result in results.select_related("checkpoint", "benchmark").order_by("checkpoint__step"):
        label = f"step {result.checkpoint.step}" if result.checkpoint else "base"
        boxed = result.metrics.get("boxed_ratio", 0.0)
        lines.append(f"{label:<12}{result.benchmark.key:<12}{100 * result.score:>7.1f}%  {100 * boxed:.0f}%")
    return "\n".join(lines)


class Demo:
    @staticmethod
    def register(subparsers) -> None:
        parser = subparsers.add_parser("demo", help="serve on embedded defaults and run the demo spec")
        _add_server_arguments(parser)
        parser.add_argument("--spec", default=str(DEMO_SPEC), help="spec to run (default: the demo spec)")
        parser.add_argument("--exit-when-done", action="store_true", help="stop once the demo runs finished")
        parser.set_defaults(run=Demo.run)

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        from rlab.cli.spec_commands import _submit_local
        from rlab.cli.waiting import wait_for_runs

        yaml_text = read_text_file(args.spec)
        _migrate()
        from rlab.catalog.seeding import seed_catalog

        seed_catalog()
        password = ensure_demo_account()
        url = f"http://{args.host}:{args.port}/"
        with _services(args.host, args.port, worker=True) as children:
            runs = _submit_local(yaml_text, DEMO_TEAM, DEMO_USER)["runs"]
            print(f"\nRLVR Lab is up at {url}  (log in as {DEMO_USER} / {password})", flush=True)
            print(f"Submitted {args.spec}: {', '.join(r['name'] for r in runs)}", flush=True)
            status = wait_for_runs([r["id"] for r in runs])
            if status == 0:
                print(_evaluation_summary([r["id"] for r in runs]), flush=True)
            print(
                f"\nDemo runs finished ({'all succeeded' if status == 0 else 'some failed'}). "
                f"See them at {url}runs/ and in the admin at {url}admin/",
                flush=True,
            )
            print(f"Log in as {DEMO_USER} / {password}", flush=True)
            if args.exit_when_done:
                return status
            print("Serving until Ctrl-C.", flush=True)
            return _serve_forever(children)
