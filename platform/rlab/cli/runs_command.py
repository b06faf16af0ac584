"""`rlab runs`: the team's runs with their status and best-average result, from the local database or, with
`--server URL --token T`, from a server's JSON API."""

import argparse

from rlab.cli.common import INVALID_INPUT, CommandError, open_database, print_table

STATUSES = ("queued", "running", "evaluating", "succeeded", "failed", "cancelled")
HEADER = ("id", "team", "name", "status", "step", "best avg", "at step", "sweep point")


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of 1 or more, not {text!r}")
    return int(text)


def add_server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", help="URL of an RLVR Lab server (default: the local database)")
    parser.add_argument("--token", help="API token for --server (or env RLAB_TOKEN)")


def _row(run: dict) -> tuple[str, ...]:
    """A run as the API (rlab.experiments.api.run_json) gives it, as table cells."""
    return (
        str(run["id"]),
        run["team"],
        run["name"],
        run["status"],
        f"{run['step']}/{run['total_steps'] or '?'}",
        percent(run["best_average"]),
        "-" if run["best_step"] is None else str(run["best_step"]),
        ", ".join(f"{k}={v}" for k, v in run["coordinates"].items()),
    )


def _local_runs(args: argparse.Namespace) -> list[dict]:
    open_database()
    from rlab.experiments.api import run_json
    from rlab.experiments.models import Run, has_tag

    runs = Run.objects.select_related("team").order_by("-created_at", "point_index")
    if args.team:
        runs = runs.filter(team__slug=args.team)
        if not runs.exists():
            raise CommandError(f"no runs for a team {args.team!r}", INVALID_INPUT)
    if args.sweep is not None:
        runs = runs.filter(sweep_id=args.sweep)
    if args.status:
        runs = runs.filter(status=args.status)
    if args.tag:
        runs = runs.filter(has_tag(args.tag, "config__tags"))
    return [run_json(run) for run in runs[: args.limit]]


def _remote_runs(args: argparse.Namespace) -> list[dict]:
    from rlab.cli.remote import api_list

    filters = {"team": args.team, "sweep": args.sweep, "status": args.status, "tag": args.tag}
    params = {key: value for key, value in filters.items() if value is not None}
    return api_list(args.server, "runs/", args.token, params, args.limit)


class Runs:
    @staticmethod
    def register(subparsers) -> None:
        parser = subparsers.add_parser("runs", help="list runs: status, progress and best-average result")
        parser.add_argument("--team", help="team slug (default: every team)")
        parser.add_argument("--sweep", type=int, help="only the runs of this sweep")
        parser.add_argument("--status", choices=STATUSES, help="only runs in this state")
        parser.add_argument("--tag", help="only runs whose spec has this tag")
        parser.add_argument("--limit", type=positive, default=20, help="newest N runs (default 20)")
        add_server_options(parser)
        parser.set_defaults(run=Runs.run)

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        runs = _remote_runs(args) if args.server else _local_runs(args)
        print_table(HEADER, [_row(run) for run in runs])
        return 0
