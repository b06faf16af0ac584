"""`rlab data noise` and `rlab data rank`: label-noise variants and π rankings outside the web app."""

import argparse
from pathlib import Path

from rlab.bootstrap import setup_django
from rlab.cli.common import INVALID_INPUT, CommandError


def _noise(args: argparse.Namespace) -> int:
    from rlab.catalog.curation import DataFileError
    from rlab.catalog.curation.label_noise import noise_file

    try:
        summary = noise_file(args.input, args.output, args.fraction, args.seed, args.field, args.scope)
    except (DataFileError, ValueError, FileNotFoundError) as error:
        raise CommandError(str(error), INVALID_INPUT) from None
    print(
        f"{args.output}: {summary.n_corrupted} of {summary.n_rows} rows corrupted, a realized error rate of "
        f"{summary.realized_rate:.1%} of all rows ({summary.n_corruptible} had a numeric label)"
    )
    return 0


def _rank(args: argparse.Namespace) -> int:
    from rlab.catalog.curation import DataFileError
    from rlab.catalog.curation.ranking import rank_file

    try:
        count = rank_file(args.input, args.output)
    except (DataFileError, ValueError, FileNotFoundError) as error:
        raise CommandError(str(error), INVALID_INPUT) from None
    print(f"{args.output}: {count} examples ranked π1…π{count} by historical variance")
    return 0


def _ranked_examples(path: str) -> list:
    """A ranking from RANKS.jsonl (`rlab data rank` output) or computed from an accuracy history."""
    from rlab.catalog.curation import read_jsonl
    from rlab.catalog.curation.ranking import (
        RankedExample,
        history_from_acc_json,
        rank_examples,
        read_history_jsonl,
    )

    if path.endswith(".json"):
        return rank_examples(history_from_acc_json(path))
    rows = read_jsonl(path)
    if rows and "pi" in rows[0][1]:
        fields = ("variance", "std", "mean_acc", "n_epochs")
        return [
            RankedExample(key=row["example"], pi=row["pi"], **{f: row.get(f) for f in fields})
            for _, row in rows
        ]
    return rank_examples(read_history_jsonl(path))


def _import(args: argparse.Namespace) -> int:
    setup_django()
    from dataclasses import replace

    from rlab.catalog.curation import DataFileError
    from rlab.catalog.importing import MAPPING_PRESETS, ImportFailed, import_dataset
    from rlab.catalog.rankings import RankingMismatch, store_ranking
    from rlab.teams.models import Team

    team = None
    if not args.shared:
        team = Team.objects.filter(slug=args.team).first()
        if team is None:
            raise CommandError(
                f"no team {args.team!r} (or pass --shared for a dataset every team sees)", INVALID_INPUT
            )
    overrides = {
        name: getattr(args, f"{name}_field")
        for name in ("problem", "answer", "solution", "subject", "level", "choices", "index")
        if getattr(args, f"{name}_field") is not None
    }
    mapping = replace(MAPPING_PRESETS[args.format], **overrides)
    source = Path(args.file)
    if not source.is_file():
        raise CommandError(f"{args.file}: no such file", INVALID_INPUT)
    try:
        from django.db import transaction

        with transaction.atomic():
            dataset = import_dataset(
                team=team,
                name=args.name,
                filename=source.name,
                data=source.read_bytes(),
                mapping=mapping,
                kind=args.kind,
                licence_note=args.licence or "",
            )
            ranking = None
            if args.ranking:
                ranking = store_ranking(
                    dataset, _ranked_examples(args.ranking), args.ranking_name, source=args.ranking
                )
    except (ImportFailed, RankingMismatch, DataFileError) as error:
        raise CommandError(str(error), INVALID_INPUT) from None
    owner = "shared" if team is None else f"team {team.slug}"
    print(f"imported {dataset.examples.count()} examples as dataset {dataset.name!r} ({owner})")
    if empty := dataset.examples.filter(answer="").count():
        print(f"warning: {empty} example(s) have an empty answer; no rollout of them can be rewarded")
    if ranking is not None:
        print(f"stored ranking {ranking.name!r}: π1 = example {ranking.entries.get(pi=1).example.index}")
    return 0


def _rank_run(args: argparse.Namespace) -> int:
    setup_django()
    from rlab.catalog.rankings import RankingMismatch, store_ranking_of_run
    from rlab.experiments.models import Run

    run = Run.objects.filter(name=args.run_name).first()
    if run is None:
        raise CommandError(f"no run named {args.run_name!r}", INVALID_INPUT)
    try:
        ranking = store_ranking_of_run(run, args.name)
    except RankingMismatch as error:
        raise CommandError(str(error), INVALID_INPUT) from None
    top = ranking.entries.select_related("example").order_by("pi")[:3]
    print(
        f"stored ranking {ranking.name!r} of {ranking.dataset.name!r}: "
        + ", ".join(f"π{e.pi} = example {e.example.index}" for e in top)
    )
    return 0


class Data:
    @staticmethod
    def register(subparsers) -> None:
        parser = subparsers.add_parser("data", help="make label-noise variants and π rankings of data files")
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

        noise = actions.add_parser("noise", help="corrupt a fraction of the labels (the 1-shot paper's rule)")
        noise.add_argument("input", help="JSONL file, one example per line")
        noise.add_argument(
            "--fraction", type=float, required=True, help="share of the rows whose label is made wrong"
        )
        noise.add_argument(
            "--scope",
            choices=("all", "numeric"),
            default="all",
            help="all: a share of all rows (the paper's reading, default); numeric: of numeric labels only",
        )
        noise.add_argument("--seed", type=int, default=0)
        noise.add_argument("--field", default="answer", help="label field (dotted path for nested fields)")
        noise.add_argument("-o", "--output", required=True, help="JSONL file to write")
        noise.set_defaults(run=_noise)

        rank = actions.add_parser("rank", help="rank examples by historical variance: π1 = most variable")
        rank.add_argument(
            "input", help='JSONL lines {"example": id, "acc": [a_1 … a_E]} (or acc_step_N.json)'
        )
        rank.add_argument("-o", "--output", required=True, help="JSONL file to write")
        rank.set_defaults(run=_rank)

        importer = actions.add_parser("import", help="import a JSONL/JSON/CSV/Parquet file as a dataset")
        importer.add_argument("file")
        importer.add_argument("--name", required=True, help="dataset name (what specs call data.dataset)")
        owner = importer.add_mutually_exclusive_group(required=True)
        owner.add_argument("--team", help="owning team slug")
        owner.add_argument("--shared", action="store_true", help="visible to every team")
        importer.add_argument("--kind", default="train", choices=["train", "benchmark"])
        importer.add_argument(
            "--format",
            default="plain",
            choices=["plain", "verl"],
            help="field preset; verl = prompt.0.content / reward_model.ground_truth",
        )
        for name in ("problem", "answer", "solution", "subject", "level", "choices", "index"):
            importer.add_argument(f"--{name}-field", help=f"dotted path of the {name} in each row")
        importer.add_argument("--licence", help="licence / provenance note")
        importer.add_argument("--ranking", help="π ranking: RANKS.jsonl, a history JSONL or acc_step_N.json")
        importer.add_argument("--ranking-name", default="historical-variance")
        importer.set_defaults(run=_import)

        rank_run = actions.add_parser(
            "rank-run", help="π-rank a dataset by a finished run's epoch accuracies"
        )
        rank_run.add_argument("run_name", metavar="RUN", help="name of a run trained on the full dataset")
        rank_run.add_argument("--name", help="ranking name (default historical-variance-<run>)")
        rank_run.set_defaults(run=_rank_run)
