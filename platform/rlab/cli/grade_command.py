"""`rlab grade PAIRS.jsonl`: the grader's public contract.

Reads lines `{"gold": …, "pred": …, "kind": "math"|"choice"}` (or `"response"`, a whole completion, in
place of `"pred"`: extracted as evaluation extracts, then graded) and writes each back with `"equal"`, then
a summary line. A bad line is written back with `"equal": null` and its error; the others are graded.
"""

import argparse
import json
import sys

from rlab.cli.common import INVALID_INPUT, CommandError


def _run(args: argparse.Namespace) -> int:
    from evaluation.grading.api import GradeConfig
    from evaluation.grading.pairs import grade_pairs_file

    try:
        config = GradeConfig(precision=args.precision)
    except ValueError as error:
        raise CommandError(f"--precision: {error}", INVALID_INPUT) from None
    out = sys.stdout if args.output == "-" else open(args.output, "w", encoding="utf-8")  # noqa: SIM115
    try:
        summary = grade_pairs_file(args.pairs, out, config=config)
        out.write(json.dumps({"summary": summary}) + "\n")
    except FileNotFoundError:
        raise CommandError(f"{args.pairs}: no such file", INVALID_INPUT) from None
    finally:
        if out is not sys.stdout:
            out.close()
    return INVALID_INPUT if summary["errors"] else 0


class Grade:
    @staticmethod
    def register(subparsers) -> None:
        parser = subparsers.add_parser(
            "grade", help="grade answers: {gold, pred or response, kind} per JSONL line"
        )
        parser.add_argument("pairs", help="JSONL file of pairs")
        parser.add_argument(
            "-o", "--output", default="-", help="where to write the graded lines (default stdout)"
        )
        parser.add_argument(
            "--precision",
            type=int,
            metavar="N",
            help="compare decimal answers at N decimal places (both sides rounded, as Math-Verify's "
            "precision); default: a decimal needs >= 6 significant digits and matches only values with "
            "no finite decimal expansion",
        )
        parser.set_defaults(run=_run)
