"""`rlab validate SPEC` and `rlab submit SPEC [--server URL --token T]`."""

import argparse
import json
import sys

from rlab.cli.common import INVALID_INPUT, CommandError, open_database, read_text_file
from rlab.spec import SpecError, apply_overrides, expand_sweep, parse_spec


def _add_set_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a spec field (VALUE is YAML), e.g. --set train.steps=4; repeatable",
    )


def _spec_text(args: argparse.Namespace) -> str:
    return apply_overrides(read_text_file(args.spec), args.overrides)


def _print_errors(path: str, error: SpecError) -> None:
    print(f"{path}: invalid spec", file=sys.stderr)
    for field_error in error.errors:
        print(f"  {field_error}", file=sys.stderr)


class Validate:
    @staticmethod
    def register(subparsers) -> None:
        parser = subparsers.add_parser("validate", help="check a spec file; print the runs it expands to")
        parser.add_argument("spec", help="YAML spec file")
        parser.add_argument(
            "--team", help="check the spec against this team's catalogue too (default: the only team)"
        )
        _add_set_option(parser)
        parser.set_defaults(run=Validate.run)

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        try:
            spec = parse_spec(_spec_text(args))
            points = expand_sweep(spec)
            checked = _check_catalog(points, args.team)
        except SpecError as error:
            _print_errors(args.spec, error)
            return INVALID_INPUT
        runs = f"{len(points)} run(s)"
        print(f"{args.spec}: valid spec '{spec.name}' ({spec.algorithm.name}), {runs} {checked}")
        for point in points:
            if point.coordinates:
                print("  " + ", ".join(f"{k}={v!r}" for k, v in point.coordinates.items()))
        return 0


class Submit:
    @staticmethod
    def register(subparsers) -> None:
        parser = subparsers.add_parser("submit", help="submit a spec: creates its runs and queues them")
        parser.add_argument("spec", help="YAML spec file")
        parser.add_argument("--server", help="URL of an RLVR Lab server (default: the local database)")
        parser.add_argument("--token", help="API token for --server (or env RLAB_TOKEN)")
        parser.add_argument("--team", help="team slug (needed when you belong to several)")
        parser.add_argument("--user", help="local submissions: the submitting user (default: none)")
        parser.add_argument("--wait", action="store_true", help="wait until every run has finished")
        _add_set_option(parser)
        parser.set_defaults(run=Submit.run)

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        try:
            yaml_text = _spec_text(args)
        except SpecError as error:
            _print_errors(args.spec, error)
            return INVALID_INPUT
        if args.server:
            from rlab.cli.remote import submit_remote

            submitted = submit_remote(args.server, args.token, yaml_text, args.team)
        else:
            submitted = _submit_local(yaml_text, args.team, args.user)
        runs = submitted["runs"]
        for run in runs:
            coordinates = json.dumps(run["coordinates"]) if run["coordinates"] else ""
            print(f"queued run {run['id']} {run['name']} {coordinates}".rstrip())
        for warning in submitted.get("warnings", []):
            print(f"warning: {warning}", file=sys.stderr)
        if args.wait:
            from rlab.cli.waiting import wait_for_runs

            return wait_for_runs([r["id"] for r in runs], args.server, args.token)
        return 0


def _team(slug: str | None, user=None):
    """The team a local command acts for: --team, else the only one (of the user's teams)."""
    from rlab.teams.models import Team

    teams = Team.objects.filter(memberships__user=user) if user else Team.objects.all()
    if slug:
        team = teams.filter(slug=slug).first()
        if team is None:
            raise CommandError(
                f"no team {slug!r}" + (f" with member {user.username}" if user else ""), INVALID_INPUT
            )
        return team
    if teams.count() == 1:
        return teams.get()
    names = ", ".join(t.slug for t in teams) or "none; create one in the admin or with `rlab demo`"
    raise CommandError(f"name the team with --team (teams: {names})", INVALID_INPUT)


def _check_catalog(points: list, team_slug: str | None) -> str:
    """Check the points against a team's catalogue in the local database, as the web editor and submission
    do (datasets, π names, runs, model folders, benchmark data); raises SpecError. Without a database or a
    team to check against, say so instead (what was not checked)."""
    try:
        open_database()
        team = _team(team_slug)
    except CommandError as error:
        if team_slug:
            raise
        return f"(the team's catalogue was not checked: {error})"
    from rlab.experiments.submission import check_catalog

    check_catalog(team, [point.spec for point in points])
    return f"(checked against team {team.slug}'s catalogue)"


def _submit_local(yaml_text: str, team_slug: str | None, username: str | None) -> dict:
    """{"runs": [...], "warnings": [...]} as the API answers."""
    try:
        parse_spec(yaml_text)
    except SpecError as error:
        raise CommandError(
            "invalid spec\n  " + "\n  ".join(str(e) for e in error.errors), INVALID_INPUT
        ) from None
    open_database()
    from django.contrib.auth import get_user_model

    from rlab.experiments.api import run_json
    from rlab.experiments.fleet import sweep_warnings
    from rlab.experiments.submission import submit_spec

    user = None
    if username:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user named {username!r}", INVALID_INPUT)
    team = _team(team_slug, user)
    sweep = submit_spec(team, user, yaml_text)
    runs = list(sweep.runs.select_related("team").order_by("point_index"))
    return {"runs": [run_json(run) for run in runs], "warnings": sweep_warnings(runs)}
