"""Run.best_scores with each score's problems × samples (n, k) and Run.best_facets with each column's
setup, which the leaderboards flag mixed columns by: recomputed for every evaluated run."""

from django.db import migrations

from rlab.results.bests import refresh_bests


def fill_setups(apps, schema_editor) -> None:
    Run, EvalResult = apps.get_model("experiments", "Run"), apps.get_model("results", "EvalResult")
    refresh_bests(Run.objects.filter(eval_results__isnull=False).distinct(), EvalResult.objects.all())


class Migration(migrations.Migration):
    dependencies = [("results", "0003_eval_intervals")]

    operations = [migrations.RunPython(fill_setups, migrations.RunPython.noop)]
