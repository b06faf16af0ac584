"""Experiment specs, their sweeps and runs, and what runs write back: checkpoints and training metrics."""

import json
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.db.models import Q
from django.utils import timezone

from rlab.teams.models import TeamScopedQuerySet


class Spec(models.Model):
    """A validated experiment spec. Immutable once a run exists: its content hash names its runs."""

    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="specs")
    name = models.CharField(max_length=200)
    yaml_text = models.TextField()
    spec_json = models.JSONField(help_text="The validated spec (defaults filled in).")
    content_hash = models.CharField(max_length=64, db_index=True)
    cloned_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TeamScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["team", "content_hash"], name="unique_spec_per_team")]

    def __str__(self) -> str:
        return f"{self.name} ({self.short_hash})"

    @property
    def short_hash(self) -> str:
        return self.content_hash[:10]

    def save(self, *args, **kwargs) -> None:
        if self.pk and self.runs.exists():
            stored = Spec.objects.values("yaml_text", "spec_json", "content_hash").get(pk=self.pk)
            if stored != {
                "yaml_text": self.yaml_text,
                "spec_json": self.spec_json,
                "content_hash": self.content_hash,
            }:
                raise ValidationError("This spec has runs and can no longer be changed; clone it instead.")
        super().save(*args, **kwargs)


class Sweep(models.Model):
    """One submission of a spec: one run per point of its `sweep:` block (a single point without one)."""

    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="sweeps")
    spec = models.ForeignKey(Spec, on_delete=models.PROTECT, related_name="sweeps")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TeamScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"sweep {self.pk} of {self.spec}"


# The spec field a sweep over training examples varies (the 1-shot paper's per-example comparison).
EXAMPLES_FIELD = "data.examples"


class Run(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        # Training is done; an evaluation it asked for is not recorded yet (queued or running).
        EVALUATING = "evaluating"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="runs")
    spec = models.ForeignKey(Spec, on_delete=models.PROTECT, related_name="runs")
    sweep = models.ForeignKey(Sweep, on_delete=models.CASCADE, related_name="runs")
    point_index = models.PositiveIntegerField(default=0)
    name = models.CharField(max_length=100, unique=True)
    coordinates = models.JSONField(default=dict, blank=True, help_text="The sweep values of this run.")
    config = models.JSONField(help_text="The spec of this run: the sweep point applied, no sweep block.")
    queue = models.CharField(max_length=10, default="gpu")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.FloatField(default=0.0)
    step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    attempts = models.PositiveIntegerField(default=0)
    artifact_dir = models.CharField(max_length=500, blank=True)
    versions = models.JSONField(
        default=dict, blank=True, help_text="torch/transformers/vllm/trl versions used."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # A queued run that a worker took but could not place (its GPUs busy): what it waits for, and since when.
    waiting_for = models.CharField(max_length=300, blank=True)
    waiting_since = models.DateTimeField(null=True, blank=True)
    published = models.BooleanField(default=False, help_text="Shown on the global leaderboard.")
    published_at = models.DateTimeField(null=True, blank=True)
    # The best-average checkpoint, kept by rlab.results.bests whenever one of the run's checkpoints is
    # evaluated, so that leaderboards sort and page in the database.
    best_step = models.PositiveIntegerField(null=True, blank=True, editable=False)
    best_average = models.FloatField(null=True, blank=True, editable=False)
    best_scores = models.JSONField(
        default=dict, blank=True, editable=False, help_text="benchmark → score, result id, setup"
    )
    best_setup = models.CharField(
        max_length=700, blank=True, editable=False, help_text="[model_ref, template, sampling_hash]"
    )
    best_facets = models.JSONField(
        default=dict, blank=True, editable=False, help_text="benchmarks, model, algorithm, tags"
    )

    objects = TeamScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "point_index"]
        constraints = [models.UniqueConstraint(fields=["sweep", "point_index"], name="unique_run_per_point")]
        indexes = [
            models.Index(fields=["team", "-best_average"], name="run_team_best"),
            models.Index(fields=["published", "-best_average"], name="run_published_best"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def gpus(self) -> int:
        """The GPUs the run holds while it trains: resources.gpus on the gpu queue, none on the cpu queue."""
        return (self.config.get("resources", {}).get("gpus") or 0) if self.queue == "gpu" else 0

    def heartbeat(self, **fields) -> None:
        """Write progress fields and the heartbeat time without touching anything else."""
        fields["heartbeat_at"] = timezone.now()
        Run.objects.filter(pk=self.pk).update(**fields)
        for key, value in fields.items():
            setattr(self, key, value)


def vary_examples_only(runs: Iterable["Run"]) -> bool:
    """Whether `runs` (a sweep's) exist and differ in the training examples (EXAMPLES_FIELD) alone."""
    runs = list(runs)
    return bool(runs) and all(set(run.coordinates) == {EXAMPLES_FIELD} for run in runs)


def has_tag(tag: str, tags_field: str = "best_facets__tags") -> Q:
    """Runs whose tag list (`tags_field`) holds `tag`: JSON containment where the database has it
    (PostgreSQL), else the tag as a quoted JSON string within the list's text (SQLite, the embedded default,
    where text matching ignores ASCII case)."""
    if connection.features.supports_json_field_contains:
        return Q(**{f"{tags_field}__contains": [tag]})
    return Q(**{f"{tags_field}__icontains": json.dumps(tag)})


class Checkpoint(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="checkpoints")
    step = models.PositiveIntegerField()
    path = models.CharField(max_length=500)
    dtype = models.CharField(max_length=20, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run", "step"]
        constraints = [models.UniqueConstraint(fields=["run", "step"], name="unique_checkpoint_step")]

    def __str__(self) -> str:
        return f"{self.run.name}@{self.step}"

    @property
    def on_disk(self) -> bool:
        """Whether its folder is still there (retention prunes evaluated checkpoints; the row stays)."""
        return Path(self.path).is_dir()

    @classmethod
    def record(cls, run: Run, step: int, path: str, dtype: str = "") -> "Checkpoint":
        """Insert or update: a re-delivered task writes the same row again, never a second one."""
        cls.objects.bulk_create(
            [cls(run=run, step=step, path=path, dtype=dtype)],
            update_conflicts=True,
            unique_fields=["run", "step"],
            update_fields=["path", "dtype"],
        )
        return cls.objects.get(run=run, step=step)


class TrainMetric(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="metrics")
    step = models.PositiveIntegerField()
    values = models.JSONField()

    class Meta:
        ordering = ["run", "step"]
        constraints = [models.UniqueConstraint(fields=["run", "step"], name="unique_metric_step")]

    def __str__(self) -> str:
        return f"{self.run.name} step {self.step}"

    @classmethod
    def record(cls, run: Run, step: int, values: dict) -> None:
        cls.objects.bulk_create(
            [cls(run=run, step=step, values=values)],
            update_conflicts=True,
            unique_fields=["run", "step"],
            update_fields=["values"],
        )


class EpochAccuracy(models.Model):
    """Training accuracy of every example in one epoch of a run: the history a π ranking is computed from."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="epoch_accuracies")
    epoch = models.PositiveIntegerField()
    accuracy = models.JSONField(help_text="example index → share of correct rollouts in this epoch")

    class Meta:
        ordering = ["run", "epoch"]
        constraints = [models.UniqueConstraint(fields=["run", "epoch"], name="unique_epoch_accuracy")]

    def __str__(self) -> str:
        return f"{self.run.name} epoch {self.epoch}"

    @classmethod
    def record(cls, run: Run, epoch: int, accuracy: dict) -> None:
        cls.objects.bulk_create(
            [cls(run=run, epoch=epoch, accuracy={str(k): v for k, v in accuracy.items()})],
            update_conflicts=True,
            unique_fields=["run", "epoch"],
            update_fields=["accuracy"],
        )


class EvalRequest(models.Model):
    """An evaluation a run asked for: its base model (no checkpoint) or one checkpoint on the spec's suite.

    Kept until recorded, so that nothing loses it: its checkpoint is not pruned while it is open
    (workers.retention), a worker killed during it leaves it `running` with a stale heartbeat and the
    scheduler sends it again (workers.tasks.requeue_stale_evaluations), and the run is `evaluating`, not
    `succeeded`, until every one is done or failed. A failure keeps its message for the run page.
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    OPEN = (Status.QUEUED, Status.RUNNING)

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="eval_requests")
    checkpoint = models.ForeignKey(
        Checkpoint, null=True, blank=True, on_delete=models.CASCADE, related_name="eval_requests"
    )
    target = models.CharField(max_length=40, help_text="'base' or 'step-<n>': unique per run.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    error = models.TextField(blank=True, help_text="Why it failed, in a line or two (the log has the rest).")
    attempts = models.PositiveIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "created_at"]
        constraints = [models.UniqueConstraint(fields=["run", "target"], name="unique_eval_request")]

    def __str__(self) -> str:
        return f"{self.run.name} {self.target}: {self.status}"

    @staticmethod
    def target_for(checkpoint: Checkpoint | None) -> str:
        return f"step-{checkpoint.step}" if checkpoint is not None else "base"

    @classmethod
    def ask(cls, run: Run, checkpoint: Checkpoint | None = None) -> "EvalRequest":
        """The run's request for this target, made once (a repeated ask returns the same row)."""
        request, _ = cls.objects.get_or_create(
            run=run, target=cls.target_for(checkpoint), defaults={"checkpoint": checkpoint}
        )
        return request

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN


class WorkerNode(models.Model):
    """One `rlab worker` process (a machine, or part of one): its queues and devices, kept alive by a
    heartbeat. A node silent for RLAB_STALE_AFTER_SECONDS is gone: its device leases no longer count."""

    name = models.CharField(max_length=200, unique=True, help_text="host:pid of the worker's main process")
    host = models.CharField(max_length=200, db_index=True)
    queues = models.JSONField(default=list)
    devices = models.JSONField(default=list, help_text="[{id, model, memory_mb}] of the GPUs it places on")
    versions = models.JSONField(default=dict, blank=True, help_text="rlab and the ML packages")
    started_at = models.DateTimeField(auto_now_add=True)
    heartbeat_at = models.DateTimeField()

    class Meta:
        ordering = ["host", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def device_ids(self) -> list[str]:
        return [device["id"] for device in self.devices]


class DeviceLease(models.Model):
    """A GPU of a host held by a run or an evaluation. Unique per host and device, so two workers of one
    machine never hand out the same GPU; deleted when the job ends, ignored (and taken over) once its node's
    heartbeat has expired."""

    node = models.ForeignKey(WorkerNode, on_delete=models.CASCADE, related_name="leases")
    host = models.CharField(max_length=200)
    device = models.CharField(max_length=20)
    run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.CASCADE, related_name="leases")
    eval_request = models.ForeignKey(
        EvalRequest, null=True, blank=True, on_delete=models.CASCADE, related_name="leases"
    )
    acquired_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["host", "device"]
        constraints = [models.UniqueConstraint(fields=["host", "device"], name="unique_device_lease")]

    def __str__(self) -> str:
        return f"{self.host} GPU {self.device}"
