"""The registry of subcommands, in the order `rlab --help` lists them."""

from rlab.cli import (
    beat,
    data_commands,
    eval_command,
    grade_command,
    plan_command,
    results_command,
    runs_command,
    serve,
    spec_commands,
    worker,
)

COMMANDS = [
    spec_commands.Validate,
    plan_command.Plan,
    spec_commands.Submit,
    runs_command.Runs,
    results_command.Results,
    data_commands.Data,
    eval_command.Eval,
    grade_command.Grade,
    serve.Serve,
    worker.Worker,
    beat.Beat,
    serve.Demo,
]
