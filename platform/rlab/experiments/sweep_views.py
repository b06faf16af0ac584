"""The sweep page: a submission's runs as one group, with cancel-all, retry-failed and its reports."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from rlab.experiments import run_columns
from rlab.experiments.actions import UNSUCCESSFUL, cancel_sweep, retry_sweep
from rlab.experiments.models import Run, Sweep, vary_examples_only


def sweep_summaries(sweeps: QuerySet[Sweep]) -> QuerySet[Sweep]:
    """Sweeps with their run counts by state (`total`, `unfinished`, `unsuccessful`, `succeeded`)."""
    return sweeps.annotate(
        total=Count("runs"),
        unfinished=Count("runs", filter=~Q(runs__status__in=Run.FINISHED)),
        unsuccessful=Count("runs", filter=Q(runs__status__in=UNSUCCESSFUL)),
        succeeded=Count("runs", filter=Q(runs__status=Run.Status.SUCCEEDED)),
    )


def _sweep(request: HttpRequest, pk: int) -> Sweep:
    sweeps = Sweep.objects.visible_to(request.user).select_related("spec", "created_by")
    return get_object_or_404(sweep_summaries(sweeps), pk=pk)


@login_required
def sweep_detail(request: HttpRequest, pk: int) -> HttpResponse:
    sweep = _sweep(request, pk)
    columns = run_columns.chosen(request)  # the run list's columns, on these runs too
    runs = list(columns.annotate(sweep.runs.select_related("spec")).order_by("point_index"))
    context = {
        "sweep": sweep,
        "runs": runs,
        "rows": [(run, columns.cells(run)) for run in runs],
        "columns": columns,
        "live": sweep.unfinished > 0,
        "varies_examples": vary_examples_only(runs),
    }
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, "partials/sweep_runs.html", context)
    context["other_sweeps"] = sweep_summaries(sweep.spec.sweeps.exclude(pk=sweep.pk))
    return render(request, "experiments/sweep_detail.html", context)


@login_required
@require_POST
def sweep_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    sweep = _sweep(request, pk)
    count = cancel_sweep(sweep)
    messages.info(
        request, f"Cancelled {count} unfinished run{'s' if count != 1 else ''} of sweep {sweep.pk}."
    )
    return redirect("experiments:sweep_detail", pk=sweep.pk)


@login_required
@require_POST
def sweep_retry(request: HttpRequest, pk: int) -> HttpResponse:
    sweep = _sweep(request, pk)
    retry = retry_sweep(sweep, request.user)
    if retry is None:
        messages.info(request, f"Sweep {sweep.pk} has no failed or cancelled run to retry.")
        return redirect("experiments:sweep_detail", pk=sweep.pk)
    count = retry.runs.count()
    messages.success(request, f"Queued {count} run{'s' if count != 1 else ''} again as sweep {retry.pk}.")
    return redirect("experiments:sweep_detail", pk=retry.pk)
