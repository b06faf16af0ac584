"""Columns the user adds to the run list, as W&B's run table has: config values by dotted path
(`train.lr`, `algorithm.name`) and the last logged value of training metrics (`reward_mean`).

Config values come from the runs already loaded for the page; each metric column is one subquery of the
page's query, so the page costs the same number of queries whatever the columns.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from django.db.models import OuterRef, QuerySet, Subquery
from django.db.models.fields.json import KeyTransform
from django.http import HttpRequest

from rlab.experiments.models import Run, TrainMetric

MAX_COLUMNS = 8  # of each kind
NAME = re.compile(r"[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*")
SESSION_KEY = "rlab_run_columns"


def _names(text: str) -> list[str]:
    """Comma-separated names, valid ones only, without repeats, at most MAX_COLUMNS."""
    names = [part.strip() for part in text.split(",")]
    return list(dict.fromkeys(n for n in names if NAME.fullmatch(n)))[:MAX_COLUMNS]


def _config_value(config: dict, path: str) -> object:
    value: object = config
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _text(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


@dataclass(frozen=True)
class RunColumns:
    config: list[str]
    metrics: list[str]

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> RunColumns:
        return cls(_names(params.get("config", "")), _names(params.get("metrics", "")))

    @property
    def query(self) -> dict[str, str]:
        return {"config": ", ".join(self.config), "metrics": ", ".join(self.metrics)}

    def annotate(self, runs: QuerySet[Run]) -> QuerySet[Run]:
        """Each metric's value at the run's last step that logged it, as `metric_<i>`."""
        for i, name in enumerate(self.metrics):
            last = (
                TrainMetric.objects.filter(run=OuterRef("pk"), values__has_key=name)
                .order_by("-step")
                .values_list(KeyTransform(name, "values"))[:1]
            )
            runs = runs.annotate(**{f"metric_{i}": Subquery(last)})
        return runs

    def cells(self, run: Run) -> list[str]:
        """The run's cells: its config values, then its metrics' last values (the page's annotations)."""
        values = [_config_value(run.config, path) for path in self.config]
        values += [getattr(run, f"metric_{i}") for i in range(len(self.metrics))]
        return [_text(value) for value in values]


def chosen(request: HttpRequest) -> RunColumns:
    """The columns asked for (`?config=train.lr, algorithm.name&metrics=reward_mean`), which are then kept
    in the session, else the ones this user chose last."""
    if "config" in request.GET or "metrics" in request.GET:
        columns = RunColumns.from_query(request.GET)
        request.session[SESSION_KEY] = columns.query
        return columns
    return RunColumns.from_query(request.session.get(SESSION_KEY, {}))


def _leaf_paths(data: dict, prefix: str = "") -> list[str]:
    paths = []
    for key, value in data.items():
        path = f"{prefix}{key}"
        paths += _leaf_paths(value, f"{path}.") if isinstance(value, dict) and value else [path]
    return paths


def suggestions(runs: QuerySet[Run]) -> tuple[list[str], list[str]]:
    """Config paths of the newest run and metric names of its latest logged step (two small queries)."""
    newest = runs.order_by("-created_at").values_list("pk", "config").first()
    if newest is None:
        return [], []
    pk, config = newest
    last = TrainMetric.objects.filter(run_id=pk).order_by("-step").values_list("values", flat=True).first()
    return _leaf_paths(config or {}), sorted(last or {})
