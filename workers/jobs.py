"""The job registry: which function executes a run of each algorithm."""

from collections.abc import Callable

from workers.reporting import RunReporter
from workers.sft_job import redistill_job, sft_job
from workers.training_job import grpo_job, luffy_job, srft_job

Job = Callable[[RunReporter], None]


JOBS: dict[str, Job] = {
    "grpo": grpo_job,
    "entropy_only": grpo_job,  # GRPO with no policy loss and the `none` reward (grpo_config)
    "srft": srft_job,
    "luffy": luffy_job,  # SRFT's trainer with LUFFY's objective (SRFTConfig.luffy)
    "redistill": redistill_job,
    "sft": sft_job,
}
