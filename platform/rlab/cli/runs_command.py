"""`rlab runs`: the team's runs in the local database with their status and best-average result."""

import argparse

from rlab.bootstrap import setup_django
from rlab.cli.common import INVALID_INPUT, CommandError


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of 1 or more, not {text!r}")
    return int(text)


class Runs:
    @staticmethod
    def register(subparsers) -> None:
        parser = subparsers.add_parser("runs", help="list runs: status, progress and best-average result")
        parser.add_argument("--team", help="team slug (default: every team)")
        parser.add_argument("--sweep", type=int, help="only the runs of this sweep")
        parser.add_argument("--limit", type=_positive, default=20, help="newest N runs (default 20)")
        parser.set_defaults(run=Runs.run)

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        setup_django()
        from rlab.experiments.models import Run

        runs = Run.objects.select_related("team").order_by("-created_at", "point_index")
        if args.team:
            runs = runs.filter(team__slug=args.team)
            if not runs.exists():
                raise CommandError(f"no runs for a team {args.team!r}", INVALID_INPUT)
        if args.sweep is not None:
            runs = runs.filter(sweep_id=args.sweep)
        rows = [
            (
                str(run.id),
                run.team.slug,
                run.name,
                run.status,
                f"{run.step}/{run.total_steps or '?'}",
                _percent(run.best_average),
                "-" if run.best_step is None else str(run.best_step),
                ", ".join(f"{k}={v}" for k, v in run.coordinates.items()),
            )
            for run in runs[: args.limit]
        ]
        header = ("id", "team", "name", "status", "step", "best avg", "at step", "sweep point")
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        return 0
