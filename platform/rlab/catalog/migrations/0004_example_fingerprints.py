"""Fingerprints of every example's problem text (evaluation.fingerprints), filled for existing rows."""

from django.db import migrations, models

BATCH = 1000


def fill(apps, schema_editor):
    from evaluation.fingerprints import Fingerprint

    Example = apps.get_model("catalog", "Example")
    rows = Example.objects.filter(fingerprint="").only("id", "problem").order_by("id")
    batch = []
    for example in rows.iterator(chunk_size=BATCH):
        fingerprint = Fingerprint.of(example.problem)
        example.fingerprint, example.ngrams = fingerprint.exact, sorted(fingerprint.ngrams)
        batch.append(example)
        if len(batch) == BATCH:
            Example.objects.bulk_update(batch, ["fingerprint", "ngrams"])
            batch = []
    Example.objects.bulk_update(batch, ["fingerprint", "ngrams"])


class Migration(migrations.Migration):
    dependencies = [("catalog", "0003_import_jobs")]

    operations = [
        migrations.AddField(
            model_name="example",
            name="fingerprint",
            field=models.CharField(
                blank=True, db_index=True, help_text="Hash of the normalised problem text.", max_length=32
            ),
        ),
        migrations.AddField(
            model_name="example",
            name="ngrams",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="Hashes of the normalised problem's 5-grams (near duplicates).",
            ),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=True),
    ]
