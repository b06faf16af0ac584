"""How a training run reports out and is told to stop, without the trainer knowing who listens.

The Celery worker implements `TrainerCallbacks` on top of its ORM reporter (metrics rows, checkpoint rows,
per-example accuracy, the run's cancel flag); notebooks and tests use `NullCallbacks` or a subclass.
"""

from collections.abc import Collection
from typing import Protocol, runtime_checkable

from training.examples import ExampleKey

Metrics = dict[str, float | None]


@runtime_checkable
class TrainerCallbacks(Protocol):
    def on_step(self, step: int, metrics: Metrics) -> None:
        """After every step (1-based), with that step's metrics (see GRPOTrainer.train_step)."""
        ...

    def on_example_accuracy(self, epoch: int, accuracy: dict[ExampleKey, float]) -> None:
        """After the last step of each epoch (0-based): every example's accuracy over its rollouts in it."""
        ...

    def on_checkpoint(self, step: int, path: str, dtype: str) -> None:
        """After a complete checkpoint was written (and older ones pruned)."""
        ...

    def should_stop(self) -> bool:
        """Asked before every step; True ends training cleanly (cancellation)."""
        ...

    def protected_checkpoints(self) -> Collection[int]:
        """Steps whose checkpoints must not be pruned yet (their evaluation is still to come)."""
        ...


class NullCallbacks:
    """Does nothing and never stops: subclass it and override what you need."""

    def on_step(self, step: int, metrics: Metrics) -> None:
        pass

    def on_example_accuracy(self, epoch: int, accuracy: dict[ExampleKey, float]) -> None:
        pass

    def on_checkpoint(self, step: int, path: str, dtype: str) -> None:
        pass

    def should_stop(self) -> bool:
        return False

    def protected_checkpoints(self) -> Collection[int]:
        return ()
