"""`rlab plan SPEC [--gpu-memory 80GiB] [--gpus 8]`: per-device memory and step time of a spec's runs."""

import argparse

from rlab.cli.common import INVALID_INPUT, CommandError
from rlab.cli.spec_commands import _add_set_option, _print_errors, _spec_text
from rlab.spec import SpecError, expand_sweep, parse_spec
from training.planner import PlanError, parse_size, plan, report_lines, settings_from_spec


class Plan:
    @staticmethod
    def register(subparsers) -> None:
        parser = subparsers.add_parser(
            "plan",
            help="estimate a spec's memory per GPU, the largest micro-batch that fits and the step time",
        )
        parser.add_argument("spec", help="YAML spec file")
        parser.add_argument(
            "--gpu-memory", help="memory of one GPU, e.g. 80GiB (default: report without a fit check)"
        )
        parser.add_argument("--gpus", type=int, help="GPUs per run (default: the spec's resources.gpus)")
        parser.add_argument(
            "--decode-tokens-per-second", type=float, help="measured vLLM decode rate per GPU (bench-gpu)"
        )
        parser.add_argument(
            "--train-tokens-per-second", type=float, help="measured training rate per GPU (bench-gpu)"
        )
        _add_set_option(parser)
        parser.set_defaults(run=Plan.run)

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        try:
            spec = parse_spec(_spec_text(args))
        except SpecError as error:
            _print_errors(args.spec, error)
            return INVALID_INPUT
        if args.gpus is not None and args.gpus < 1:
            raise CommandError("--gpus must be at least 1", INVALID_INPUT)
        try:
            memory = parse_size(args.gpu_memory) if args.gpu_memory else None
            points = expand_sweep(spec)
            fits = True
            for point in points:
                if point.coordinates:
                    print(", ".join(f"{k}={v!r}" for k, v in point.coordinates.items()))
                result = plan(
                    settings_from_spec(point.spec, args.gpus),
                    memory,
                    args.decode_tokens_per_second,
                    args.train_tokens_per_second,
                )
                print("\n".join(report_lines(result)))
                fits = fits and result.fits is not False
        except PlanError as error:
            raise CommandError(str(error), INVALID_INPUT) from None
        return 0 if fits else 1
