"""What the run page shows besides the Run row: training curves, the time left, and the tail of the run's
log. Its evaluation scores per checkpoint are the results app's (rlab.results.run_evaluations)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from rlab.experiments.charts import Chart, Series, line_chart
from rlab.experiments.models import EvalRequest, Run
from rlab.experiments.spec_form import dump_yaml
from rlab.spec import SpecV1
from training.disk import folder_size

# Shown first after the pinned metrics (the spec's `pinned_metrics`, else its algorithm's), in this order;
# any other numeric metric follows alphabetically.
METRIC_ORDER = ("reward_mean", "train_accuracy", "entropy", "response_length_mean", "kl")
LOG_NAME = "run.log"  # written by workers.artifacts.run_log into the run's artifact folder
LOG_LINES = 200
LOG_MAX_BYTES = 1024 * 1024


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def pinned_metrics(run: Run) -> list[str]:
    """The metrics the run's page shows first: its spec's `pinned_metrics`, else its algorithm's."""
    from training.algorithms import algorithms

    pinned = run.config.get("pinned_metrics") or []
    algorithm = algorithms().get(run.config.get("algorithm", {}).get("name", ""))
    return list(pinned) or list(algorithm.pinned_metrics if algorithm else ())


@dataclass(frozen=True)
class EvaluationStatus:
    """What the run page says of the evaluations the run asked for: open ones and failed ones."""

    open: list[EvalRequest]
    failed: list[EvalRequest]


def evaluation_status(run: Run) -> EvaluationStatus:
    requests = list(run.eval_requests.exclude(status=EvalRequest.Status.DONE).order_by("created_at"))
    return EvaluationStatus(
        open=[r for r in requests if r.is_open],
        failed=[r for r in requests if r.status == EvalRequest.Status.FAILED],
    )


@dataclass(frozen=True)
class Curves:
    main: list[Chart]  # the metrics of METRIC_ORDER that the run reports (all of them if it reports none)
    more: list[Chart]


def metric_charts(run: Run) -> Curves:
    """One chart per numeric key of the run's TrainMetric values, over the training step."""
    series: dict[str, list[tuple[float, float]]] = {}
    for step, values in run.metrics.values_list("step", "values"):
        for key, value in (values or {}).items():
            if _is_number(value):
                series.setdefault(key, []).append((step, value))
    order = list(dict.fromkeys([*pinned_metrics(run), *METRIC_ORDER]))
    main = [key for key in order if key in series]
    more = sorted(key for key in series if key not in order)
    if not main:
        main, more = more, []
    return Curves(
        main=[line_chart(key, [Series(key, series[key])]) for key in main],
        more=[line_chart(key, [Series(key, series[key])]) for key in more],
    )


@dataclass(frozen=True)
class DiskUse:
    """What the run's artifact folder holds now: checkpoints (pruned after their evaluations unless
    pinned), samples and its log."""

    bytes: int
    checkpoints_on_disk: int
    checkpoints_saved: int
    budget_gib: float | None  # train.disk_budget_gib, for the checkpoints

    @property
    def text(self) -> str:
        gib = self.bytes / 2**30
        size = f"{gib:.2f} GiB" if gib >= 0.1 else f"{self.bytes / 2**20:.1f} MiB"
        kept = f"{self.checkpoints_on_disk} of {self.checkpoints_saved} checkpoints on disk"
        budget = f", budget {self.budget_gib:g} GiB" if self.budget_gib else ""
        return f"{size} ({kept}{budget})"


def disk_use(run: Run) -> DiskUse | None:
    """The run's disk use; None before a worker made its folder."""
    if not run.artifact_dir:
        return None
    saved = list(run.checkpoints.values_list("path", flat=True))
    budget = (run.config.get("train") or {}).get("disk_budget_gib")
    on_disk = sum(Path(path).is_dir() for path in saved)
    return DiskUse(folder_size(run.artifact_dir), on_disk, len(saved), budget)


def log_tail(run: Run, lines: int = LOG_LINES) -> list[str] | None:
    """The last lines of the run's log, read from the end of the file; None when there is no log yet."""
    if not run.artifact_dir:
        return None
    try:
        with (Path(run.artifact_dir) / LOG_NAME).open("rb") as handle:
            position = handle.seek(0, os.SEEK_END)
            data = b""
            while position > 0 and data.count(b"\n") <= lines and len(data) < LOG_MAX_BYTES:
                size = min(64 * 1024, position)
                position -= size
                handle.seek(position)
                data = handle.read(size) + data
    except OSError:
        return None
    return data.decode("utf-8", errors="replace").splitlines()[-lines:]


def config_yaml(run: Run) -> str:
    """The run's spec point in the spec's field order (the database keeps JSON keys in its own order)."""
    try:
        data = SpecV1.model_validate(run.config).model_dump(mode="json")
    except ValidationError:  # a config written by an older version of the spec
        data = run.config
    return dump_yaml(data)
