"""What a job reports back while it runs: progress, metrics, checkpoints and whether to stop."""

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from rlab.experiments.models import Checkpoint, Run, TrainMetric
from rlab.spec import SpecV1


class RunCancelled(Exception):
    """Raised between steps when the user cancelled the run."""


@dataclass
class RunReporter:
    run: Run
    artifact_dir: Path

    @property
    def config(self) -> dict:
        return self.run.config

    @cached_property
    def spec(self) -> SpecV1:
        """The run's spec point, validated again: the typed source every trainer config is built from."""
        return SpecV1.model_validate(self.run.config)

    def set_total_steps(self, total: int) -> None:
        self.run.heartbeat(total_steps=total)

    def step_done(self, step: int, metrics: dict) -> None:
        """Record the metrics of `step` (idempotent) and move the progress bar."""
        TrainMetric.record(self.run, step, metrics)
        total = max(self.run.total_steps, 1)
        self.run.heartbeat(step=step, progress=min(step / total, 1.0))

    def checkpoint_saved(self, step: int, path: str, dtype: str) -> Checkpoint:
        return Checkpoint.record(self.run, step, path, dtype)

    def last_checkpoint(self) -> Checkpoint | None:
        """Where a re-delivered run resumes from."""
        return self.run.checkpoints.order_by("-step").first()

    def raise_if_cancelled(self) -> None:
        if Run.objects.filter(pk=self.run.pk, cancel_requested=True).exists():
            raise RunCancelled
