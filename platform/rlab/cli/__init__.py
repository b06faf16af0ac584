"""The `rlab` command line. Each subcommand is a module with `register(subparsers)` and `run(args) -> int`.

Exit codes: 0 success, 1 the command failed, 2 the input was invalid (bad spec, file or arguments).
"""

import argparse
import os
import sys
from collections.abc import Sequence

from rlab.cli import commands
from rlab.cli.common import CommandError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rlab", description="RLVR Lab: evaluate and train reasoning LLMs.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in commands.COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = args.run(args)
        sys.stdout.flush()  # here, where a closed pipe can still be caught
        return code
    except CommandError as error:
        print(f"rlab {args.command}: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader stopped early (`rlab runs | head -1`): quietly, like other Unix tools. Python would
        # otherwise report the pipe again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
