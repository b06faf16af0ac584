"""Evaluation results: one EvalResult per (model or checkpoint, benchmark, template, sampling) and one
ExampleResult per problem in it. Their unique constraints make every worker write an idempotent upsert."""

import hashlib
import json

from django.db import models, transaction

from rlab.experiments.models import Run
from rlab.results import outcomes
from rlab.results.bests import refresh_bests
from rlab.teams.models import TeamScopedQuerySet


def overlap_note(record: dict) -> str:
    """What an evaluation did with the benchmark problems that were training examples (its metrics'
    `training_overlap`): " (4 training problems excluded)", " (1 training problem flagged)" or ""."""
    if not record.get("count"):
        return ""
    verb = "excluded" if record["mode"] == "exclude" else "flagged"
    return f" ({record['count']} training problem{'s' if record['count'] != 1 else ''} {verb})"


class EvalResult(models.Model):
    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="eval_results")
    run = models.ForeignKey(
        "experiments.Run", null=True, blank=True, on_delete=models.CASCADE, related_name="eval_results"
    )
    checkpoint = models.ForeignKey(
        "experiments.Checkpoint",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="eval_results",
        help_text="Empty for an evaluation of the base model.",
    )
    model_ref = models.CharField(max_length=500, help_text="Hub id or path of the evaluated model.")
    benchmark = models.ForeignKey("catalog.Benchmark", on_delete=models.PROTECT, related_name="results")
    template = models.CharField(max_length=50)
    sampling = models.JSONField(help_text="temperature, top_p, max_new_tokens, n, seed")
    sampling_hash = models.CharField(max_length=64)
    n = models.PositiveIntegerField(help_text="Number of problems.")
    k = models.PositiveIntegerField(default=1, help_text="Samples per problem (avg@k).")
    score = models.FloatField()
    score_lo = models.FloatField(
        null=True, blank=True, help_text="95% interval of the score over problems (evaluation.statistics)."
    )
    score_hi = models.FloatField(null=True, blank=True)
    outcomes = models.BinaryField(
        default=b"",
        blank=True,
        help_text="Per problem: example index, correct, samples (rlab.results.outcomes), for paired tests.",
    )
    per_subject = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True, help_text="pass@k, lengths, boxed ratio, …")
    samples_path = models.CharField(max_length=500, blank=True)
    target_key = models.CharField(
        max_length=600,
        editable=False,
        help_text="checkpoint:<id> or model:<team>:<ref>: what was evaluated, as one unique key.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TeamScopedQuerySet.as_manager()

    class Meta:
        ordering = ["benchmark", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["target_key", "benchmark", "template", "sampling_hash"],
                name="unique_eval_target",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model_ref} on {self.benchmark}: {self.score:.3f}"

    @property
    def training_overlap(self) -> dict:
        return self.metrics.get("training_overlap") or {}

    @property
    def overlap_note(self) -> str:
        return overlap_note(self.training_overlap)

    @property
    def interval_text(self) -> str:
        """± half the score's 95% interval in points, e.g. "±3.2" ("" where none was computed)."""
        if self.score_lo is None or self.score_hi is None:
            return ""
        return f"±{(self.score_hi - self.score_lo) * 50:.1f}"

    @staticmethod
    def make_target_key(team_id: int, model_ref: str, checkpoint_id: int | None) -> str:
        return f"checkpoint:{checkpoint_id}" if checkpoint_id else f"model:{team_id}:{model_ref}"

    @staticmethod
    def hash_sampling(sampling: dict) -> str:
        return hashlib.sha256(json.dumps(sampling, sort_keys=True).encode()).hexdigest()

    @classmethod
    def record(cls, *, examples: list[dict] | None = None, **fields) -> "EvalResult":
        """Insert or update one evaluation and its per-example rows in one transaction.

        `fields` are the model's fields (team, run, checkpoint, model_ref, benchmark, template, sampling,
        n, k, score, …); `examples` are dicts of ExampleResult fields. The score's 95% interval and the
        per-problem outcomes that paired tests read are computed here, at write time. Writing the same
        evaluation again (a re-delivered task) updates the rows in place.
        """
        fields["sampling_hash"] = cls.hash_sampling(fields["sampling"])
        fields.update(outcomes.interval_fields(fields["score"], fields["n"], examples or []))
        checkpoint = fields.get("checkpoint")
        fields["target_key"] = cls.make_target_key(
            fields["team"].id, fields["model_ref"], checkpoint.id if checkpoint else None
        )
        key = ["target_key", "benchmark", "template", "sampling_hash"]
        with transaction.atomic():
            cls.objects.bulk_create(
                [cls(**fields)],
                update_conflicts=True,
                unique_fields=key,
                update_fields=[f for f in fields if f not in key],
            )
            result = cls.objects.get(**{k: fields[k] for k in key})
            if examples:
                ExampleResult.objects.bulk_create(
                    [ExampleResult(eval_result=result, **row) for row in examples],
                    update_conflicts=True,
                    unique_fields=["eval_result", "example"],
                    update_fields=["samples", "correct", "mean_length", "extracted_answers"],
                )
            if checkpoint is not None and result.run_id is not None:
                # The run's row lock (FOR NO KEY UPDATE, which the insert's key-share lock does not block)
                # serialises concurrent evaluations of its checkpoints: each recomputes the best checkpoint
                # from every committed result plus its own.
                refresh_bests(
                    Run.objects.filter(pk=result.run_id).select_for_update(no_key=True),
                    cls.objects.filter(run_id=result.run_id),
                )
        return result


class ExampleResult(models.Model):
    eval_result = models.ForeignKey(EvalResult, on_delete=models.CASCADE, related_name="example_results")
    example = models.ForeignKey("catalog.Example", on_delete=models.CASCADE, related_name="results")
    samples = models.PositiveIntegerField()
    correct = models.PositiveIntegerField()
    mean_length = models.FloatField(default=0.0)
    extracted_answers = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["eval_result", "example"]
        constraints = [
            models.UniqueConstraint(fields=["eval_result", "example"], name="unique_example_result"),
        ]

    def __str__(self) -> str:
        return f"{self.example}: {self.correct}/{self.samples}"

    @property
    def accuracy(self) -> float:
        return self.correct / self.samples if self.samples else 0.0
