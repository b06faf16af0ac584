"""Leaderboard and sweep reports (tables assembled in rlab.results.reports), the per-problem drill-down of
one evaluation or of two compared (rlab.results.drilldown), and the run page's evaluation table
(rlab.results.run_evaluations)."""

from django.contrib.auth.decorators import login_required
from django.db.models import F, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.http import urlencode

from rlab.experiments.models import Run, Sweep, vary_examples_only
from rlab.jsonapi import text_csv_response
from rlab.results import curves, drilldown, outcomes, reports
from rlab.results.grid import grid
from rlab.results.models import EvalResult
from rlab.results.run_evaluations import run_evaluations_context


def _toggle(sort: str, key: str) -> str:
    """The sort value a header link asks for: descending first, then ascending."""
    return key if sort == f"-{key}" else f"-{key}"


def _csv(table: reports.Table, filename: str) -> HttpResponse:
    return text_csv_response(filename, table.csv())


def _wants_csv(request: HttpRequest) -> bool:
    return request.GET.get("format") == "csv"


def _filters(request: HttpRequest) -> reports.LeaderboardFilters:
    return reports.LeaderboardFilters.from_query(request.GET)


def _page(request: HttpRequest) -> int | None:
    """The page asked for; the CSV has every row (None)."""
    page = request.GET.get("page", "")
    return None if _wants_csv(request) else int(page) if page.isdecimal() else 1


def _board(
    request: HttpRequest, table: reports.Table, option_runs: QuerySet[Run], scope: str
) -> HttpResponse:
    if _wants_csv(request):
        return _csv(table, f"leaderboard{'-global' if scope == 'global' else ''}.csv")
    sort = request.GET.get("sort", f"-{reports.AVERAGE}")
    context = {
        "table": table,
        "scope": scope,
        "filters": _filters(request),
        "options": reports.filter_options(option_runs),
        "name_sort": _toggle(sort, reports.NAME),
        "column_sorts": [(column, _toggle(sort, column.key)) for column in table.columns],
    }
    return render(request, "results/leaderboard.html", context)


@login_required
def leaderboard(request: HttpRequest) -> HttpResponse:
    team_runs = Run.objects.visible_to(request.user).filter(team=request.team)
    results = EvalResult.objects.visible_to(request.user).filter(team=request.team)
    sort = request.GET.get("sort", f"-{reports.AVERAGE}")
    table = reports.leaderboard(team_runs, results, _filters(request), sort, _page(request))
    return _board(request, table, team_runs, "team")


@login_required
def global_leaderboard(request: HttpRequest) -> HttpResponse:
    """Published runs of every team; only the viewer's own teams' runs and results are linked."""
    viewer_teams = {team.pk for team in request.user.teams.all()}
    sort = request.GET.get("sort", f"-{reports.AVERAGE}")
    table = reports.global_leaderboard(viewer_teams, _filters(request), sort, _page(request))
    return _board(request, table, Run.objects.filter(published=True), "global")


def _sweep(request: HttpRequest, pk: int) -> Sweep:
    return get_object_or_404(Sweep.objects.visible_to(request.user).select_related("spec", "team"), pk=pk)


@login_required
def example_comparison(request: HttpRequest, pk: int) -> HttpResponse:
    sweep = _sweep(request, pk)
    reference = request.GET.get("reference", "")
    convention = request.GET.get("checkpoint", "best-average")
    if convention not in reports.CHECKPOINT_CONVENTIONS:
        convention = "best-average"
    try:
        table = reports.example_comparison(
            sweep, int(reference) if reference.isdecimal() else None, convention
        )
    except reports.NotAnExampleSweep as error:
        context = {"sweep": sweep, "error": error}
        return render(request, "results/example_comparison.html", context, status=400)
    if _wants_csv(request):
        return _csv(table, f"sweep-{sweep.pk}-examples.csv")
    context = {
        "sweep": sweep,
        "table": table,
        "overlay_query": _overlay_query(sweep),
        "convention": convention,
        "conventions": reports.CHECKPOINT_CONVENTIONS,
    }
    return render(request, "results/example_comparison.html", context)


@login_required
def ablation(request: HttpRequest, pk: int) -> HttpResponse:
    sweep = _sweep(request, pk)
    baseline = request.GET.get("baseline", "")
    choice: int | str | None = int(baseline) if baseline.isdecimal() else None
    if baseline == reports.BASE_BASELINE:
        choice = baseline
    table = reports.ablation(sweep, choice)
    if _wants_csv(request):
        return _csv(table, f"sweep-{sweep.pk}-ablation.csv")
    context = {
        "sweep": sweep,
        "table": table,
        "varies_examples": vary_examples_only(row.run for row in table.rows if row.run is not None),
        "overlay_query": _overlay_query(sweep),
    }
    return render(request, "results/ablation.html", context)


# ---------------------------------------------------------------- per-problem drill-down


@login_required
def run_evaluations(request: HttpRequest, pk: int) -> HttpResponse:
    """The run page's evaluation table alone, which it polls while results may still arrive."""
    run = get_object_or_404(Run.objects.visible_to(request.user), pk=pk)
    return render(request, "results/_run_evaluations.html", run_evaluations_context(run, timezone.now()))


def _evaluations(request: HttpRequest) -> QuerySet:
    return EvalResult.objects.visible_to(request.user).select_related("benchmark", "run", "checkpoint")


def _evaluation(request: HttpRequest, pk: str | int) -> EvalResult:
    if not str(pk).isdecimal():
        raise Http404("not an evaluation id")
    return get_object_or_404(_evaluations(request), pk=int(pk))


def _choices(results: QuerySet) -> list[drilldown.Choice]:
    base_first = F("checkpoint").asc(nulls_first=True)
    ordered = results.order_by("benchmark__key", base_first, "run__name", "checkpoint__step")
    return drilldown.choices(ordered)


def _problems_page(
    request: HttpRequest, template: str, a: EvalResult, b: EvalResult | None, context: dict
) -> HttpResponse:
    context["dd"] = drilldown.drilldown(a, b, request.GET)
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, "results/_problems.html", context)
    return render(request, template, context)


@login_required
def evaluation(request: HttpRequest, pk: int) -> HttpResponse:
    """One evaluation's problems: gold answers, extracted answers and verdicts, filtered and paged."""
    result = _evaluation(request, pk)
    same_benchmark = _evaluations(request).filter(team=result.team_id, benchmark=result.benchmark_id)
    label = drilldown.evaluation_label(result)
    series = [
        curves.pass_at_k_series("pass@k", result.outcomes),
        curves.maj_at_k_series("maj@k", result.metrics),
    ]
    context = {
        "a": result,
        "label": label,
        "choices": _choices(same_benchmark),
        "k_curves": curves.k_chart("pass@k and maj@k (%)", [s for s in series if s is not None]),
        "no_maj_at_k": curves.no_maj_at_k_reason(result),
    }
    return _problems_page(request, "results/evaluation.html", result, None, context)


@login_required
def compare(request: HttpRequest) -> HttpResponse:
    """Two evaluations of one benchmark problem by problem: `?a=<id>&b=<id>`, A the reference."""
    a_id, b_id = request.GET.get("a", ""), request.GET.get("b", "")
    a = _evaluation(request, a_id) if a_id else None
    b = _evaluation(request, b_id) if b_id else None
    team_id = a.team_id if a else getattr(request.team, "id", None)
    context = {"a": a, "b": b, "choices": _choices(_evaluations(request).filter(team=team_id))}
    if a is None or b is None:
        context["error"] = "Choose two evaluations of the same benchmark: A (the reference) and B."
        return render(request, "results/compare.html", context)
    try:
        drilldown.check_comparable(a, b)
    except drilldown.NotComparable as error:
        context["error"] = str(error)
        return render(request, "results/compare.html", context, status=400)
    context |= {
        "a_label": drilldown.evaluation_label(a),
        "b_label": drilldown.evaluation_label(b),
        "differences": drilldown.setting_differences(a, b),
        "paired": outcomes.paired(a.outcomes, b.outcomes),
    }
    return _problems_page(request, "results/compare.html", a, b, context)


@login_required
def problem(request: HttpRequest, pk: int, example_pk: int) -> HttpResponse:
    """One problem's sampled responses (A's beside B's with `?b=<id>`): the row a drill-down table expands."""
    a = _evaluation(request, pk)
    b = _evaluation(request, request.GET["b"]) if request.GET.get("b") else None
    if b is not None:
        try:
            drilldown.check_comparable(a, b)
        except drilldown.NotComparable as error:
            return HttpResponse(str(error), status=400, content_type="text/plain; charset=utf-8")
    found = drilldown.problems(a, b, [example_pk])
    if not found.rows:
        raise Http404("no such problem in this evaluation")
    context = {"row": found.rows[0], "unreadable": found.unreadable, "a": a, "b": b}
    return render(request, "results/_problem_detail.html", context)


@login_required
def problem_grid(request: HttpRequest, pk: int) -> HttpResponse:
    """Problems × checkpoints of one run on one benchmark (`?benchmark=<key>`, default the first)."""
    run = get_object_or_404(Run.objects.visible_to(request.user), pk=pk)
    benchmark = request.GET.get("benchmark", "")
    if not benchmark:
        keys = run.eval_results.filter(checkpoint__isnull=False).values_list("benchmark__key", flat=True)
        benchmark = min(keys, default="")
    found = grid(run, benchmark, request.GET)
    context = {
        "run": run,
        "benchmark": benchmark,
        "g": found,
        "benchmarks": found.benchmarks if found else [],
    }
    return render(request, "results/grid.html", context, status=200 if found or not benchmark else 404)


@login_required
def overlay(request: HttpRequest) -> HttpResponse:
    """Selected runs' curves on one chart: `?run=<id>&run=<id>…&metric=<key>&smooth=<0..0.99>`."""
    run_ids = [int(pk) for pk in request.GET.getlist("run") if pk.isdigit()]
    smooth = request.GET.get("smooth") or "0"
    context: dict = {"smooth": smooth}
    try:
        found = curves.overlay(
            Run.objects.visible_to(request.user),
            run_ids,
            request.GET.get("metric", ""),
            curves.smoothing(smooth),
        )
    except ValueError as error:  # a bad smoothing value, or too many runs
        context["error"] = str(error)
        return render(request, "results/overlay.html", context, status=400)
    context["overlay"] = found
    return render(request, "results/overlay.html", context)


def _overlay_query(sweep: Sweep) -> str:
    """The overlay page's query for the sweep's first runs (as many as one chart shows)."""
    return urlencode(
        [
            ("run", pk)
            for pk in sweep.runs.order_by("point_index").values_list("pk", flat=True)[: curves.MAX_RUNS]
        ]
    )
