"""Read-only JSON API over evaluations (with their per-problem results and sampled responses), the team
and global leaderboards, and a sweep's ablation and per-example reports (docs/api.md).

The numbers come from the same code as the pages (rlab.results.reports, rlab.results.drilldown); every
query starts from the token owner's teams, so another team's id answers 404.
"""

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404

from rlab.experiments.models import Checkpoint, Run, Sweep
from rlab.jsonapi import (
    CSV_CHUNK,
    ApiError,
    csv_response,
    one_team,
    page_of,
    read_endpoint,
    text_csv_response,
    user_teams,
    wants_csv,
    whole_number,
)
from rlab.results import drilldown, reports
from rlab.results.models import EvalResult
from rlab.results.samples import Sample

EVALUATION_CSV_COLUMNS = (
    "id",
    "team",
    "run",
    "checkpoint_step",
    "model_ref",
    "benchmark",
    "template",
    "sampling",
    "n",
    "k",
    "score",
    "per_subject",
    "metrics",
    "created_at",
)
PROBLEM_CSV_COLUMNS = (
    "example_id",
    "index",
    "subject",
    "level",
    "kind",
    "a_correct",
    "a_samples",
    "b_correct",
    "b_samples",
)


def evaluation_json(result: EvalResult) -> dict:
    """One evaluation (loaded with team, benchmark and checkpoint)."""
    return {
        "id": result.id,
        "team": result.team.slug,
        "run": result.run_id,
        "checkpoint_step": result.checkpoint.step if result.checkpoint else None,
        "model_ref": result.model_ref,
        "benchmark": result.benchmark.key,
        "template": result.template,
        "sampling": result.sampling,
        "n": result.n,
        "k": result.k,
        "score": result.score,
        "per_subject": result.per_subject,
        "metrics": result.metrics,
        "created_at": result.created_at.isoformat(),
        "url": f"/results/evaluations/{result.id}/",
    }


def _evaluations(request: HttpRequest) -> QuerySet[EvalResult]:
    return EvalResult.objects.visible_to(request.user).select_related("team", "benchmark", "checkpoint")


def _evaluation(request: HttpRequest, pk: int | str) -> EvalResult:
    return get_object_or_404(_evaluations(request), pk=pk)


@read_endpoint
def evaluation_list(request: HttpRequest) -> HttpResponse:
    """Evaluations, newest first: `?team=`, `?run=`, `?benchmark=<key>`, `?base=1` (base models only)."""
    results = _evaluations(request).filter(team__in=user_teams(request))
    if (run := whole_number(request, "run")) is not None:
        results = results.filter(run_id=run)
    if benchmark := request.GET.get("benchmark"):
        results = results.filter(benchmark__key=benchmark)
    if request.GET.get("base") in ("1", "true"):
        results = results.filter(checkpoint__isnull=True)
    results = results.order_by("-created_at", "-pk")
    if wants_csv(request):
        rows = map(evaluation_json, results.iterator(chunk_size=CSV_CHUNK))
        return csv_response("evaluations.csv", EVALUATION_CSV_COLUMNS, rows)
    return JsonResponse(page_of(request, results, evaluation_json))


@read_endpoint
def evaluation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return JsonResponse(evaluation_json(_evaluation(request, pk)))


def _sample_json(sample: Sample) -> dict:
    return {
        "index": sample.index,
        "text": sample.text,
        "extracted": sample.extracted,
        "correct": sample.correct,
        "n_tokens": sample.n_tokens,
        "finish_reason": sample.finish_reason,
    }


def _side_json(side: drilldown.Side | None) -> dict | None:
    if side is None:
        return None
    return {
        "correct": side.correct,
        "samples": side.samples,
        "accuracy": side.accuracy,
        "right": side.right,
        "answers": [{"text": a.text, "correct": a.correct} for a in side.answers],
        "responses": None if side.responses is None else [_sample_json(s) for s in side.responses],
    }


def _problem_json(row: drilldown.ProblemRow) -> dict:
    return {
        "example_id": row.example.id,
        "index": row.example.index,
        "problem_id": drilldown.problem_id(row.example),
        "subject": row.example.subject,
        "level": row.example.level,
        "problem": row.example.problem,
        "gold": row.gold,
        "kind": row.kind,
        "a": _side_json(row.a),
        "b": _side_json(row.b),
    }


def _entry_json(entry: drilldown.Entry) -> dict:
    b_correct, b_samples = entry.b or (None, None)
    return {
        "example_id": entry.example_id,
        "index": entry.index,
        "subject": entry.subject,
        "level": entry.level,
        "kind": entry.kind,
        "a_correct": entry.a[0],
        "a_samples": entry.a[1],
        "b_correct": b_correct,
        "b_samples": b_samples,
    }


@read_endpoint
def evaluation_problems(request: HttpRequest, pk: int) -> HttpResponse:
    """The evaluation's problems (against evaluation `?b=` when given) with their answers and sampled
    responses, filtered by `?subject=`, `?level=`, `?kind=`, 25 a page; the CSV has every problem's counts."""
    a = _evaluation(request, pk)
    b = _evaluation(request, request.GET["b"]) if request.GET.get("b", "").isdigit() else None
    if request.GET.get("b") and b is None:
        raise ApiError("b must be an evaluation id")
    if b is not None:
        try:
            drilldown.check_comparable(a, b)
        except drilldown.NotComparable as error:
            raise ApiError(str(error)) from None
    if wants_csv(request):
        index, _ = drilldown.entries(a, b)
        return csv_response(f"evaluation-{a.id}-problems.csv", PROBLEM_CSV_COLUMNS, map(_entry_json, index))
    found = drilldown.drilldown(a, b, request.GET)
    return JsonResponse(
        {
            "evaluation": a.id,
            "compared_with": b.id if b else None,
            "problems": found.total,
            "unmatched": found.unmatched,
            "kinds": {k.kind: k.count for k in found.kinds},
            "count": found.page.paginator.count,
            "page": found.page.number,
            "pages": found.page.paginator.num_pages,
            "samples_unreadable": [result.id for result in found.problems.unreadable],
            "results": [_problem_json(row) for row in found.problems.rows],
        }
    )


# ---------------------------------------------------------------- report tables


def table_json(table: reports.Table) -> dict:
    """A report table: its columns (with the setups of a column that mixes them), and rows of cells by
    column key (scores 0..1 with their 95% interval, problems × samples, the setup note of a cell unlike
    most of its column, deltas to the reference row in score points, the evaluation behind a cell where
    the viewer may open it)."""
    return {
        "columns": [{"key": c.key, "label": c.label, "mixed_setups": c.mixed or None} for c in table.columns],
        "reference": table.reference,
        "page": table.page,
        "pages": table.pages,
        "count": table.total,
        "rows": [
            {
                "label": row.label,
                "run": row.run.pk if row.run and row.linked else None,
                "run_name": row.run.name if row.run else None,
                "step": row.step,
                "team": row.team or None,
                "is_reference": row.is_reference,
                "cells": {
                    column.key: {
                        "score": cell.score,
                        "lo": cell.lo,
                        "hi": cell.hi,
                        "n": cell.size or None,
                        "setup_note": cell.setup_note or None,
                        "delta": cell.delta,
                        "evaluation": cell.result,
                    }
                    for column, cell in zip(table.columns, row.cells, strict=True)
                },
            }
            for row in table.rows
        ],
    }


def _table_response(request: HttpRequest, table: reports.Table, filename: str) -> HttpResponse:
    if wants_csv(request):
        return text_csv_response(filename, table.csv())
    return JsonResponse(table_json(table))


def _board_page(request: HttpRequest) -> int | None:
    """The leaderboard page asked for; a CSV has every row (None)."""
    return None if wants_csv(request) else whole_number(request, "page") or 1


def _sort(request: HttpRequest) -> str:
    return request.GET.get("sort", f"-{reports.AVERAGE}")


@read_endpoint
def leaderboard(request: HttpRequest) -> HttpResponse:
    """The team leaderboard (`?team=` unless the token owner has one team): `?model=`, `?algorithm=`,
    `?tag=`, `?select_on=` (a column key: each run at its checkpoint best there), `?sort=`, `?page=`."""
    team = one_team(request.user, request.GET.get("team"))
    runs = Run.objects.filter(team=team)
    results = EvalResult.objects.filter(team=team)
    filters = reports.LeaderboardFilters.from_query(request.GET)
    table = reports.leaderboard(runs, results, filters, _sort(request), _board_page(request))
    return _table_response(request, table, f"leaderboard-{team.slug}.csv")


@read_endpoint
def global_leaderboard(request: HttpRequest) -> HttpResponse:
    """Published runs of every team; only the token owner's teams' runs and evaluations have ids."""
    viewer_teams = set(user_teams(request).values_list("pk", flat=True))
    filters = reports.LeaderboardFilters.from_query(request.GET)
    table = reports.global_leaderboard(viewer_teams, filters, _sort(request), _board_page(request))
    return _table_response(request, table, "leaderboard-global.csv")


def _sweep(request: HttpRequest, pk: int) -> Sweep:
    return get_object_or_404(Sweep.objects.visible_to(request.user).select_related("team"), pk=pk)


@read_endpoint
def ablation(request: HttpRequest, pk: int) -> HttpResponse:
    """The sweep's runs by their coordinates, with deltas to `?baseline=<run id>` (default the first)."""
    sweep = _sweep(request, pk)
    table = reports.ablation(sweep, whole_number(request, "baseline"))
    return _table_response(request, table, f"sweep-{sweep.pk}-ablation.csv")


@read_endpoint
def example_comparison(request: HttpRequest, pk: int) -> HttpResponse:
    """A sweep over data.examples: one row per example, with deltas to the base model."""
    sweep = _sweep(request, pk)
    try:
        table = reports.example_comparison(sweep)
    except reports.NotAnExampleSweep as error:
        raise ApiError(str(error)) from None
    return _table_response(request, table, f"sweep-{sweep.pk}-examples.csv")


def _checkpoint_page(request: HttpRequest, run: Run) -> dict:
    """A page of the run's checkpoints, each with its evaluations (one query for the whole page)."""
    page = page_of(request, run.checkpoints.order_by("step"), lambda checkpoint: checkpoint)
    checkpoints: list[Checkpoint] = page["results"]
    evaluations: dict[int, list[dict]] = {}
    results = EvalResult.objects.filter(checkpoint__in=checkpoints).select_related("benchmark")
    for result in results.order_by("benchmark__key", "created_at"):
        evaluations.setdefault(result.checkpoint_id, []).append(
            {"id": result.id, "benchmark": result.benchmark.key, "score": result.score, "n": result.n}
        )
    page["results"] = [
        {
            "step": c.step,
            "path": c.path,
            "dtype": c.dtype,
            "created_at": c.created_at.isoformat(),
            "evaluations": evaluations.get(c.id, []),
        }
        for c in checkpoints
    ]
    return page


@read_endpoint
def run_checkpoints(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(Run.objects.visible_to(request.user), pk=pk)
    return JsonResponse({"run": run.id} | _checkpoint_page(request, run))
