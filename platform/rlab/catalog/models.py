"""Datasets and their examples (with π rank and historical variance), and the benchmark catalogue."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from evaluation.fingerprints import Fingerprint
from rlab.teams.models import TeamScopedQuerySet, team_ids_of


class DatasetQuerySet(TeamScopedQuerySet):
    def visible_to(self, user) -> "DatasetQuerySet":
        """A team's own datasets plus the shared ones (team = NULL: benchmarks and public data)."""
        return self.filter(Q(team__isnull=True) | Q(team__in=team_ids_of(user)))

    def usable_by(self, team) -> "DatasetQuerySet":
        """What a team's specs may name: its own datasets and the shared ones."""
        return self.filter(Q(team=team) | Q(team__isnull=True))

    def named_for(self, team, name: str) -> "Dataset | None":
        """The dataset a team's spec means by `name`: its own before a shared one of the same name."""
        return self.usable_by(team).filter(name=name).order_by(F("team").asc(nulls_last=True)).first()


class Dataset(models.Model):
    class Kind(models.TextChoices):
        TRAIN = "train"
        BENCHMARK = "benchmark"

    team = models.ForeignKey(
        "teams.Team",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="datasets",
        help_text="Owner; empty for shared datasets visible to every team.",
    )
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.TRAIN)
    source = models.CharField(
        max_length=500, blank=True, help_text="hub:<id>, local:<path>, upload or derived"
    )
    content_hash = models.CharField(max_length=64, blank=True)
    licence_note = models.TextField(blank=True)
    description = models.TextField(blank=True)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="derived",
        help_text="The dataset this one was derived from (label-noise variants, selections).",
    )
    derivation = models.JSONField(
        default=dict, blank=True, help_text="How it was derived: rule, fraction, seed…"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = DatasetQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="unique_dataset_name_per_team"),
            models.UniqueConstraint(
                fields=["name"], condition=Q(team__isnull=True), name="unique_shared_dataset_name"
            ),
        ]

    @property
    def realized_noise_percent(self) -> float | None:
        """A label-noise variant's realized error rate: rows whose label is wrong, in % of all rows."""
        rate = (self.derivation or {}).get("realized_rate")
        return None if rate is None else 100 * rate

    def __str__(self) -> str:
        return self.name


class ExampleQuerySet(models.QuerySet):
    def bulk_create(self, objs, *args, **kwargs):
        """Every new example is fingerprinted, whichever import path creates it."""
        objs = list(objs)
        for example in objs:
            example.fill_fingerprint()
        return super().bulk_create(objs, *args, **kwargs)


class Example(models.Model):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="examples")
    index = models.PositiveIntegerField(help_text="Position in the source (the key rankings refer to).")
    problem = models.TextField()
    answer = models.JSONField(help_text="The gold answer: a string, or a list for multi-part answers.")
    original_answer = models.JSONField(
        null=True, blank=True, help_text="For label-noise variants: the label before corruption."
    )
    solution = models.TextField(blank=True, help_text="Reference solution / demonstration, if any.")
    subject = models.CharField(max_length=100, blank=True)
    level = models.CharField(max_length=50, blank=True)
    category = models.CharField(max_length=100, blank=True)
    choices = models.JSONField(null=True, blank=True, help_text="Options of a multiple-choice problem.")
    pi_rank = models.PositiveIntegerField(null=True, blank=True, help_text="π rank: 1 = highest variance.")
    historical_variance = models.FloatField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    fingerprint = models.CharField(
        max_length=32, blank=True, db_index=True, help_text="Hash of the normalised problem text."
    )
    ngrams = models.JSONField(
        default=list,
        blank=True,
        help_text="Hashes of the normalised problem's 5-grams (near duplicates).",
    )

    objects = ExampleQuerySet.as_manager()

    class Meta:
        ordering = ["dataset", "index"]
        constraints = [models.UniqueConstraint(fields=["dataset", "index"], name="unique_example_index")]
        indexes = [models.Index(fields=["dataset", "pi_rank"])]

    def __str__(self) -> str:
        return f"{self.dataset.name}#{self.index}"

    def save(self, *args, **kwargs):
        self.fill_fingerprint()
        super().save(*args, **kwargs)

    def fill_fingerprint(self) -> None:
        """evaluation.fingerprints of the problem text, when not there yet."""
        if not self.fingerprint:
            fingerprint = Fingerprint.of(self.problem)
            self.fingerprint, self.ngrams = fingerprint.exact, sorted(fingerprint.ngrams)

    @property
    def text_fingerprint(self) -> Fingerprint:
        if not self.fingerprint:
            return Fingerprint.of(self.problem)
        return Fingerprint(self.fingerprint, frozenset(self.ngrams))

    @property
    def pi_name(self) -> str | None:
        return f"π{self.pi_rank}" if self.pi_rank else None

    @property
    def is_noisy(self) -> bool:
        return self.original_answer is not None and self.original_answer != self.answer


class Benchmark(models.Model):
    """A benchmark known to the platform. `key` is the evaluation registry's id (math500, aime24, …)."""

    key = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    grader = models.CharField(max_length=20, default="math")
    default_template = models.CharField(max_length=50, blank=True)
    repeats = models.PositiveSmallIntegerField(default=1, help_text="k of avg@k")
    dataset = models.ForeignKey(
        Dataset,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="benchmarks",
        help_text="Its problems as Example rows, once loaded (per-example results point at them).",
    )

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key


class Ranking(models.Model):
    """One π ranking of a dataset's examples, e.g. by the historical variance of one training run.

    A dataset may have several (one per source run); Example.pi_rank and historical_variance mirror the
    dataset's latest ranking, and specs name another one with `data.ranking`.
    """

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="rankings")
    name = models.CharField(max_length=200)
    source_run = models.ForeignKey(
        "experiments.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="rankings"
    )
    source = models.CharField(max_length=500, blank=True, help_text="file or run it was computed from")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["dataset", "-created_at"]
        constraints = [models.UniqueConstraint(fields=["dataset", "name"], name="unique_ranking_name")]

    def __str__(self) -> str:
        return f"{self.dataset.name}: {self.name}"


class RankEntry(models.Model):
    ranking = models.ForeignKey(Ranking, on_delete=models.CASCADE, related_name="entries")
    example = models.ForeignKey(Example, on_delete=models.CASCADE, related_name="rank_entries")
    pi = models.PositiveIntegerField()
    variance = models.FloatField()
    mean_accuracy = models.FloatField(null=True, blank=True)
    n_epochs = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["ranking", "pi"]
        constraints = [
            models.UniqueConstraint(fields=["ranking", "pi"], name="unique_rank_pi"),
            models.UniqueConstraint(fields=["ranking", "example"], name="unique_rank_example"),
        ]

    def __str__(self) -> str:
        return f"π{self.pi} = {self.example}"


class ImportJob(models.Model):
    """An uploaded file being imported by a worker (rlab.catalog.background): the web request stores the
    file and returns at once; the dataset appears, whole, when the job succeeds, or not at all."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="import_jobs")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    name = models.CharField(max_length=200, help_text="The dataset it creates.")
    filename = models.CharField(max_length=255, help_text="The uploaded file's name.")
    size = models.BigIntegerField(help_text="Bytes.")
    stored_path = models.CharField(max_length=500, help_text="The stored copy, deleted once imported.")
    mapping = models.JSONField(help_text="The FieldMapping, field by field.")
    licence_note = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    row_errors = models.JSONField(default=list, blank=True, help_text="[[line, message], …] of a failure")
    n_errors = models.PositiveIntegerField(default=0)
    dataset = models.ForeignKey(Dataset, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = TeamScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"import of {self.filename} as {self.name} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)
