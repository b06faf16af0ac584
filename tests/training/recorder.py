"""Trainer callbacks that record what a trainer reports, for the training tests."""

from training.callbacks import NullCallbacks


class Recorder(NullCallbacks):
    """Steps, per-example accuracies and checkpoints as reported; `should_stop` after `stop_after` steps."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.steps: list[tuple[int, dict]] = []
        self.accuracy: list[tuple[int, dict]] = []
        self.checkpoints: list[tuple[int, str, str]] = []
        self.stop_after = stop_after

    def on_step(self, step, metrics):
        self.steps.append((step, metrics))

    def on_example_accuracy(self, epoch, accuracy):
        self.accuracy.append((epoch, accuracy))

    def on_checkpoint(self, step, path, dtype):
        self.checkpoints.append((step, path, dtype))

    def should_stop(self):
        return self.stop_after is not None and len(self.steps) >= self.stop_after
