from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from rlab.experiments import run_columns
from rlab.experiments.actions import NotRetryable, cancel_runs, retry_run
from rlab.experiments.durations import eta_seconds, format_duration
from rlab.experiments.editor import Check, check_spec, spec_form_for, suggest_names
from rlab.experiments.fleet import sweep_warnings, waiting_note
from rlab.experiments.models import Run, Spec
from rlab.experiments.queue_wait import queue_wait
from rlab.experiments.run_report import (
    config_yaml,
    disk_use,
    evaluation_status,
    log_tail,
    metric_charts,
)
from rlab.experiments.spec_form import SpecForm, dump_yaml, load_yaml
from rlab.experiments.submission import submit_spec
from rlab.experiments.sweep_views import sweep_summaries
from rlab.experiments.worker_status import queue_note
from rlab.spec import SpecError

RUN_PAGE_SIZE = 50
QUEUE_FIELD = "resources.queue"


def _runs(request: HttpRequest):
    return Run.objects.visible_to(request.user).select_related("spec", "team")


def _team(request: HttpRequest):
    if request.team is None:
        raise PermissionDenied("Join a team to launch runs.")
    return request.team


def _redirect(request: HttpRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _partial_request(request: HttpRequest) -> bool:
    return bool(request.htmx) and not request.htmx.history_restore_request


# ---------------------------------------------------------------- runs


@login_required
def run_list(request: HttpRequest) -> HttpResponse:
    """The team's runs, newest first, RUN_PAGE_SIZE a page, with the config and metric columns chosen."""
    runs = _runs(request).filter(team=request.team) if request.team else _runs(request).none()
    sweep = request.GET.get("sweep", "")
    if sweep and not sweep.isdecimal():
        raise Http404("No such sweep")
    if sweep:
        runs = runs.filter(sweep_id=int(sweep))
    columns = run_columns.chosen(request)
    page = Paginator(columns.annotate(runs), RUN_PAGE_SIZE).get_page(request.GET.get("page"))
    shown = list(page.object_list)
    context = {
        "runs": shown,
        "rows": [(run, columns.cells(run)) for run in shown],
        "page": page,
        "columns": columns,
        "sweep": sweep,
        "live": any(not run.is_finished for run in shown),
    }
    if _partial_request(request):
        return render(request, "partials/run_table.html", context)
    context["config_options"], context["metric_options"] = run_columns.suggestions(runs)
    return render(request, "experiments/run_list.html", context)


def _status_context(run: Run) -> dict:
    took = (run.finished_at - run.started_at).total_seconds() if run.finished_at and run.started_at else None
    return {
        "run": run,
        "eta": format_duration(eta_seconds(run, timezone.now())),
        "duration": format_duration(took),
        "evaluations": evaluation_status(run),
        "queue_wait": (wait := queue_wait(run, timezone.now())),
        "queue_wait_text": format_duration(wait.seconds) if wait else "",
        "waiting_note": waiting_note(run),
    }


@login_required
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(_runs(request), pk=pk)
    if _partial_request(request):
        return render(request, "partials/run_status.html", _status_context(run))
    context = _status_context(run) | {
        "charts": metric_charts(run),
        "log_lines": log_tail(run),
        "disk": disk_use(run),
        "config_yaml": config_yaml(run),
    }
    return render(request, "experiments/run_detail.html", context)


@login_required
def run_curves(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(_runs(request), pk=pk)
    return render(request, "partials/run_curves.html", {"run": run, "charts": metric_charts(run)})


@login_required
def run_log(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(_runs(request), pk=pk)
    return render(request, "partials/run_log.html", {"run": run, "log_lines": log_tail(run)})


@login_required
@require_POST
def run_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(_runs(request), pk=pk)
    if cancel_runs(Run.objects.filter(pk=run.pk)):
        messages.info(request, f"Cancellation of {run.name} requested; it stops after its current step.")
    return redirect("experiments:run_detail", pk=run.pk)


@login_required
@require_POST
def run_retry(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(_runs(request), pk=pk)
    try:
        retry = retry_run(run, request.user)
    except NotRetryable as error:
        messages.error(request, str(error))
        return redirect("experiments:run_detail", pk=run.pk)
    messages.success(request, f"Queued {retry.name}, a new run of the same sweep point.")
    return redirect("experiments:run_detail", pk=retry.pk)


# ---------------------------------------------------------------- specs


@login_required
def spec_list(request: HttpRequest) -> HttpResponse:
    specs = (
        Spec.objects.visible_to(request.user).filter(team=request.team).select_related("created_by")
        if request.team
        else Spec.objects.none()
    )
    return render(request, "experiments/spec_list.html", {"specs": specs})


@login_required
def spec_detail(request: HttpRequest, pk: int) -> HttpResponse:
    spec = get_object_or_404(Spec.objects.visible_to(request.user).select_related("cloned_from"), pk=pk)
    context = {"spec": spec, "runs": spec.runs.all(), "sweeps": sweep_summaries(spec.sweeps.all())}
    return render(request, "experiments/spec_detail.html", context)


# ---------------------------------------------------------------- the spec editor


def _cloned_from(request: HttpRequest) -> Spec | None:
    pk = request.GET.get("from") or request.POST.get("cloned_from") or ""
    if not pk:
        return None
    if not pk.isdecimal():
        raise Http404("No such spec")
    return get_object_or_404(Spec.objects.visible_to(request.user), pk=int(pk))


def _editor(
    request: HttpRequest,
    form: SpecForm,
    *,
    yaml_text: str,
    data: dict | None,
    check: Check | None,
    cloned_from: Spec | None,
    template: str = "experiments/spec_editor.html",
) -> HttpResponse:
    values = form.values_from_data(data)
    context = {
        "form": form.bind(values, check.errors if check else []),
        "yaml_text": yaml_text,
        "check": check,
        "cloned_from": cloned_from,
        "queue_note": queue_note(str(values.get(QUEUE_FIELD, ""))),
    }
    return render(request, template, context)


def _editor_template(request: HttpRequest, partial: str) -> str:
    """Without htmx (no JavaScript) every editor round trip shows the whole page again."""
    return partial if request.htmx else "experiments/spec_editor.html"


@login_required
def spec_new(request: HttpRequest) -> HttpResponse:
    """The spec editor (GET; `?from=<spec>` clones a spec, `?dataset=<name>` starts from a dataset), and its
    Launch button (POST): the YAML is submitted and the browser goes to the new runs."""
    team = _team(request)
    form = spec_form_for(team)
    cloned_from = _cloned_from(request)
    if request.method == "POST":
        yaml_text = request.POST.get("yaml", "")
        try:
            sweep = submit_spec(team, request.user, yaml_text, cloned_from=cloned_from)
        except SpecError as error:
            return _editor(
                request,
                form,
                yaml_text=yaml_text,
                data=load_yaml(yaml_text) or form.data_from_post(request.POST),
                check=Check(suggest_names(error.errors), 0),
                cloned_from=cloned_from,
                template=_editor_template(request, "partials/spec_form_update.html"),
            )
        runs = list(sweep.runs.all())
        count = len(runs)
        messages.success(request, f"Launched {count} run{'s' if count != 1 else ''} of {sweep.spec.name}.")
        for warning in sweep_warnings(runs):
            messages.warning(request, f"Warning: {warning}.")
        return _redirect(request, f"{reverse('experiments:run_list')}?sweep={sweep.pk}")
    if cloned_from:
        yaml_text = cloned_from.yaml_text
        data, check = load_yaml(yaml_text), check_spec(team, yaml_text)
    else:
        data, check = {"version": 1}, None
        if dataset := request.GET.get("dataset"):
            data["data"] = {"dataset": dataset}
        yaml_text = dump_yaml(data)
    return _editor(request, form, yaml_text=yaml_text, data=data, check=check, cloned_from=cloned_from)


@login_required
@require_POST
def spec_form_to_yaml(request: HttpRequest) -> HttpResponse:
    """The form was edited: write its YAML and check it (htmx swaps the YAML panel and the error slots)."""
    team = _team(request)
    form = spec_form_for(team)
    data = form.data_from_post(request.POST)
    yaml_text = dump_yaml(data)
    return _editor(
        request,
        form,
        yaml_text=yaml_text,
        data=data,
        check=check_spec(team, yaml_text),
        cloned_from=_cloned_from(request),
        template=_editor_template(request, "partials/spec_yaml_update.html"),
    )


@login_required
@require_POST
def spec_yaml_to_form(request: HttpRequest) -> HttpResponse:
    """The YAML was edited: fill the form from it and check it (htmx swaps the form and the status). While the
    YAML does not parse, the form keeps its values."""
    team = _team(request)
    form = spec_form_for(team)
    yaml_text = request.POST.get("yaml", "")
    data = load_yaml(yaml_text)
    return _editor(
        request,
        form,
        yaml_text=yaml_text,
        data=form.data_from_post(request.POST) if data is None else data,
        check=check_spec(team, yaml_text),
        cloned_from=_cloned_from(request),
        template=_editor_template(request, "partials/spec_form_update.html"),
    )
