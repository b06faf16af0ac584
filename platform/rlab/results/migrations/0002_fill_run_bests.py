"""Run.best_* of every existing run, as EvalResult.record keeps them from now on (formerly the last step of
experiments.0003_run_published_best; running it again on a database that had it recomputes the same)."""

from django.db import migrations

from rlab.results.bests import refresh_bests


def fill_bests(apps, schema_editor) -> None:
    Run, EvalResult = apps.get_model("experiments", "Run"), apps.get_model("results", "EvalResult")
    refresh_bests(Run.objects.filter(eval_results__isnull=False).distinct(), EvalResult.objects.all())


class Migration(migrations.Migration):
    dependencies = [
        ("results", "0001_initial"),
        ("experiments", "0003_run_published_best"),
    ]

    operations = [migrations.RunPython(fill_bests, migrations.RunPython.noop)]
