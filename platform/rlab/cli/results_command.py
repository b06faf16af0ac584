"""`rlab results`: the team (or global) leaderboard, or one run's evaluations, as a table or CSV; from the
local database or, with `--server URL --token T`, from a server's JSON API."""

import argparse
import sys

from rlab.cli.common import INVALID_INPUT, CommandError, open_database, print_table
from rlab.cli.runs_command import add_server_options, percent, positive

EVALUATION_HEADER = ("id", "benchmark", "step", "score", "n", "k", "template", "model")


def _board_rows(table: dict) -> tuple[list[str], list[list[str]]]:
    """A report table (rlab.results.api.table_json) as a header and rows of cells: scores in %."""
    teams = any(row["team"] for row in table["rows"])
    header = ["row", "step", *(["team"] if teams else []), *(c["label"] for c in table["columns"])]
    rows = [
        [
            row["label"],
            "-" if row["step"] is None else str(row["step"]),
            *([row["team"] or ""] if teams else []),
            *(percent(row["cells"][c["key"]]["score"]) for c in table["columns"]),
        ]
        for row in table["rows"]
    ]
    return header, rows


def _evaluation_rows(evaluations: list[dict]) -> list[list[str]]:
    return [
        [
            str(e["id"]),
            e["benchmark"],
            "base" if e["checkpoint_step"] is None else str(e["checkpoint_step"]),
            percent(e["score"]),
            str(e["n"]),
            str(e["k"]),
            e["template"],
            e["model_ref"],
        ]
        for e in evaluations
    ]


def _local_team(slug: str | None):
    from rlab.teams.models import Team

    teams = Team.objects.all()
    if slug:
        team = teams.filter(slug=slug).first()
        if team is None:
            raise CommandError(f"no team {slug!r}", INVALID_INPUT)
        return team
    if teams.count() != 1:
        names = ", ".join(t.slug for t in teams) or "none yet"
        raise CommandError(f"name the team with --team (teams: {names})", INVALID_INPUT)
    return teams.get()


def _local_board(args: argparse.Namespace, page: int | None):
    from rlab.experiments.models import Run
    from rlab.results import reports
    from rlab.results.models import EvalResult
    from rlab.teams.models import Team

    filters = reports.LeaderboardFilters(args.model or "", args.algorithm or "", args.tag or "")
    if args.scope_global:
        viewer_teams = set(Team.objects.values_list("pk", flat=True))  # the local database is all yours
        return reports.global_leaderboard(viewer_teams, filters, args.sort, page)
    team = _local_team(args.team)
    return reports.leaderboard(
        Run.objects.filter(team=team), EvalResult.objects.filter(team=team), filters, args.sort, page
    )


def _local(args: argparse.Namespace) -> str | tuple[list[str], list[list[str]], str]:
    """CSV text, or (header, rows, footnote)."""
    open_database()
    from rlab.results.api import EVALUATION_CSV_COLUMNS, evaluation_json, table_json
    from rlab.results.models import EvalResult

    if args.run_id is not None:
        results = EvalResult.objects.filter(run_id=args.run_id).select_related(
            "team", "benchmark", "checkpoint"
        )
        evaluations = [evaluation_json(r) for r in results.order_by("benchmark__key", "checkpoint__step")]
        if args.csv:
            return _csv_text(EVALUATION_CSV_COLUMNS, evaluations)
        return list(EVALUATION_HEADER), _evaluation_rows(evaluations), ""
    table = _local_board(args, None if args.csv else args.page)
    if args.csv:
        return table.csv()
    return (*_board_rows(table_json(table)), _page_note(table.page, table.pages))


def _remote(args: argparse.Namespace) -> str | tuple[list[str], list[list[str]], str]:
    from rlab.cli.remote import api_csv, api_request

    if args.run_id is not None:
        params = {"run": args.run_id, "page_size": 500}
        if args.csv:
            return api_csv(args.server, "evaluations/", args.token, params)
        evaluations = api_request("GET", args.server, "evaluations/", args.token, params=params)["results"]
        return list(EVALUATION_HEADER), _evaluation_rows(evaluations), ""
    path = "leaderboard/global/" if args.scope_global else "leaderboard/"
    filters = {"team": args.team, "model": args.model, "algorithm": args.algorithm, "tag": args.tag}
    params = {k: v for k, v in filters.items() if v} | {"sort": args.sort}
    if args.csv:
        return api_csv(args.server, path, args.token, params)
    table = api_request("GET", args.server, path, args.token, params=params | {"page": args.page})
    return (*_board_rows(table), _page_note(table["page"], table["pages"]))


def _csv_text(columns: tuple[str, ...], rows: list[dict]) -> str:
    from rlab.jsonapi import csv_lines

    return "".join(csv_lines(columns, rows))


def _page_note(page: int, pages: int) -> str:
    return f"page {page} of {pages} (--page N; --csv for every row)" if pages > 1 else ""


class Results:
    @staticmethod
    def register(subparsers) -> None:
        parser = subparsers.add_parser(
            "results", help="the leaderboard (best-average checkpoint per run), or a run's evaluations"
        )
        parser.add_argument("--team", help="team slug (needed when there are several)")
        parser.add_argument(
            "--global", dest="scope_global", action="store_true", help="published runs of every team"
        )
        parser.add_argument(
            "--run", dest="run_id", type=int, help="this run's evaluations instead of the leaderboard"
        )
        parser.add_argument("--model", help="leaderboard: only runs of this base model")
        parser.add_argument("--algorithm", help="leaderboard: only runs of this algorithm")
        parser.add_argument("--tag", help="leaderboard: only runs with this tag")
        parser.add_argument("--sort", default="-average", help="column key, '-' first for descending")
        parser.add_argument("--page", type=positive, default=1, help="leaderboard page (50 runs a page)")
        parser.add_argument("--csv", action="store_true", help="print CSV (every row) for pandas")
        add_server_options(parser)
        parser.set_defaults(run=Results.run)

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        found = _remote(args) if args.server else _local(args)
        if isinstance(found, str):
            sys.stdout.write(found)
            return 0
        header, rows, note = found
        if not rows:
            print("no evaluations yet" if args.run_id is not None else "no evaluated runs yet")
            return 0
        print_table(header, rows)
        if note:
            print(note, file=sys.stderr)
        return 0
