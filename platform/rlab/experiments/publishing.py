"""Publishing a run: a published run is listed, with its team, on the global leaderboard that every user
sees. Only members of the run's team can publish or withdraw it (the run is looked up among their runs)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views.decorators.http import require_POST

from rlab.experiments.models import Run


def set_published(run: Run, published: bool) -> None:
    """Publish or withdraw `run`; publishing again keeps the first publication time."""
    if published and not run.published:
        run.published_at = timezone.now()
    elif not published:
        run.published_at = None
    run.published = published
    Run.objects.filter(pk=run.pk).update(published=run.published, published_at=run.published_at)


@login_required
@require_POST
def run_publish(request: HttpRequest, pk: int) -> HttpResponse:
    """POST published=1 to publish, published=0 to withdraw."""
    run = get_object_or_404(Run.objects.visible_to(request.user), pk=pk)
    set_published(run, request.POST.get("published") == "1")
    if run.published:
        messages.success(request, f"{run.name} is on the global leaderboard.")
    else:
        messages.info(request, f"{run.name} was withdrawn from the global leaderboard.")
    return redirect("experiments:run_detail", pk=run.pk)
