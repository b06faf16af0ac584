from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from rlab.catalog.background import imports_in_background, queue_import, read_progress
from rlab.catalog.forms import ExampleFilterForm, HubImportForm, MappingForm, NoiseForm, UploadForm
from rlab.catalog.hub import HubUnavailable, import_hub_dataset
from rlab.catalog.importing import MAX_ERRORS_SHOWN, DatasetNameTaken, ImportFailed, RowError, import_dataset
from rlab.catalog.models import Dataset, Example, ImportJob
from rlab.catalog.overlaps import benchmark_overlaps
from rlab.catalog.uploads import Preview, preview_file
from rlab.catalog.variants import label_noise_variant, variant_name

EXAMPLES_PER_PAGE = 50
RECENT_IMPORTS = timedelta(days=1)


def _datasets(request: HttpRequest):
    return Dataset.objects.visible_to(request.user)


def _team(request: HttpRequest):
    """The team new datasets go to: the one chosen in the team switcher."""
    if request.team is None:
        raise PermissionDenied("Join a team to add datasets.")
    return request.team


def _redirect(request: HttpRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@login_required
def dataset_list(request: HttpRequest) -> HttpResponse:
    datasets = _datasets(request).select_related("team", "parent").annotate(n_examples=Count("examples"))
    imports = (
        ImportJob.objects.visible_to(request.user)
        .filter(team=request.team, created_at__gte=timezone.now() - RECENT_IMPORTS)
        .exclude(status=ImportJob.Status.SUCCEEDED)
    )
    return render(request, "catalog/dataset_list.html", {"datasets": datasets, "imports": imports})


def _distinct(dataset: Dataset, field: str) -> list[str]:
    values = dataset.examples.exclude(**{field: ""}).order_by(field).values_list(field, flat=True)
    return list(values.distinct())


def _detail(request: HttpRequest, dataset: Dataset, noise_form: NoiseForm | None = None) -> HttpResponse:
    filters = ExampleFilterForm(
        request.GET, subjects=_distinct(dataset, "subject"), levels=_distinct(dataset, "level")
    )
    page = Paginator(filters.apply(dataset.examples.all()), EXAMPLES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = {"dataset": dataset, "page": page, "filters": filters}
    if request.htmx and not request.htmx.history_restore_request and request.method == "GET":
        return render(request, "partials/example_table.html", context)
    context |= {
        "derived": _datasets(request).filter(parent=dataset).annotate(n_examples=Count("examples")),
        "rankings": dataset.rankings.all(),
        "noise_form": noise_form or NoiseForm(),
        "is_variant": bool(dataset.derivation.get("rule")),
    }
    overlaps = benchmark_overlaps(dataset)
    context |= {"overlaps": overlaps, "overlaps_found": [o for o in overlaps if o.matches]}
    return render(request, "catalog/dataset_detail.html", context)


@login_required
def dataset_detail(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = get_object_or_404(_datasets(request).select_related("parent", "team", "created_by"), pk=pk)
    return _detail(request, dataset)


@login_required
def example_detail(request: HttpRequest, pk: int, index: int) -> HttpResponse:
    example = get_object_or_404(
        Example.objects.select_related("dataset"), dataset__in=_datasets(request), dataset_id=pk, index=index
    )
    return render(request, "catalog/example_detail.html", {"example": example, "dataset": example.dataset})


@login_required
@require_POST
def dataset_noise(request: HttpRequest, pk: int) -> HttpResponse:
    """Create (or find) the label-noise variant of a dataset for a fraction and seed."""
    parent = get_object_or_404(_datasets(request).select_related("parent", "team", "created_by"), pk=pk)
    form = NoiseForm(request.POST)
    if not form.is_valid():
        return _detail(request, parent, noise_form=form)
    fraction, seed = form.cleaned_data["fraction"], form.cleaned_data["seed"]
    existing = set(parent.derived.values_list("pk", flat=True))
    try:
        variant = label_noise_variant(
            parent, fraction, seed, team=parent.team or _team(request), user=request.user
        )
    except IntegrityError:  # the variant's name is taken by a dataset that is not this variant
        form.add_error(None, f"A dataset named {variant_name(parent, fraction, seed)} already exists.")
        return _detail(request, parent, noise_form=form)
    if variant.pk in existing:
        messages.info(request, f"{variant.name} already exists (same fraction and seed): here it is.")
    else:
        n = variant.derivation["n_corrupted"]
        messages.success(request, f"Created {variant.name}: {n} label(s) corrupted.")
    return redirect("catalog:dataset_detail", pk=variant.pk)


def _upload_page(request: HttpRequest, upload: UploadForm, mapping: MappingForm, **context) -> HttpResponse:
    return render(request, "catalog/dataset_upload.html", {"form": upload, "mapping": mapping, **context})


def _import_errors(failed: ImportFailed) -> dict:
    shown = failed.errors[:MAX_ERRORS_SHOWN]
    return {"failed": failed, "row_errors": shown, "more_errors": failed.total - len(shown)}


def _preview_or_none(upload: UploadForm) -> Preview | None:
    """A preview of the posted file, so a page re-shown after an error keeps its column choices."""
    if "file" in upload.errors or "file" not in upload.cleaned_data:
        return None
    file = upload.cleaned_data["file"]
    file.seek(0)
    try:
        return preview_file(file.name, file)
    except ImportFailed:
        return None


@login_required
def dataset_upload(request: HttpRequest) -> HttpResponse:
    """Upload a JSONL/JSON/CSV/Parquet file and import it all or nothing into the current team: a small
    file in this request, a large one by a worker while its import page shows the progress."""
    team = _team(request)
    if request.method != "POST":
        return _upload_page(request, UploadForm(), MappingForm())
    upload, mapping = UploadForm(request.POST, request.FILES, team=team), MappingForm(request.POST)
    context: dict = {}
    if upload.is_valid() and mapping.is_valid():
        file = upload.cleaned_data["file"]
        details = {
            "team": team,
            "user": request.user,
            "name": upload.dataset_name(),
            "mapping": mapping.to_mapping(),
            "licence_note": upload.cleaned_data["licence_note"],
        }
        if imports_in_background(file):
            job = queue_import(upload=file, **details)
            return _redirect(request, reverse("catalog:import_detail", args=[job.pk]))
        try:
            dataset = import_dataset(filename=file.name, data=file.read(), **details)
        except DatasetNameTaken as taken:  # another upload took the name since the form checked it
            upload.add_error("name", str(taken))
        except ImportFailed as failed:
            context = _import_errors(failed)
        else:
            messages.success(request, f"Imported {dataset.examples.count()} examples into {dataset.name}.")
            return _redirect(request, reverse("catalog:dataset_detail", args=[dataset.pk]))
    if request.htmx:
        return render(request, "partials/upload_errors.html", {"form": upload, "mapping": mapping, **context})
    preview = _preview_or_none(upload)
    columns = preview.columns if preview else None
    return _upload_page(
        request, upload, MappingForm(request.POST, columns=columns), preview=preview, **context
    )


@login_required
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A background import: its progress while it runs (polled by htmx), then the new dataset's page or
    the rows that stopped it."""
    job = get_object_or_404(ImportJob.objects.visible_to(request.user).select_related("dataset"), pk=pk)
    if job.status == ImportJob.Status.SUCCEEDED and job.dataset is not None and request.htmx:
        n = job.dataset.examples.count()
        messages.success(request, f"Imported {n} examples into {job.dataset.name}.")
        return HttpResponseClientRedirect(reverse("catalog:dataset_detail", args=[job.dataset.pk]))
    errors = [RowError(line, message) for line, message in job.row_errors]
    context = {
        "job": job,
        "percent": round(100 * read_progress(job)),
        "failed": ImportFailed(job.filename, errors, job.n_errors) if errors else None,
        "row_errors": errors,
        "more_errors": job.n_errors - len(errors),
    }
    template = "partials/import_status.html" if request.htmx else "catalog/import_detail.html"
    return render(request, template, context)


@login_required
@require_POST
def upload_preview(request: HttpRequest) -> HttpResponse:
    """The columns and first rows of the chosen file, and the column mapping guessed from them (htmx)."""
    _team(request)
    upload = UploadForm(request.POST, request.FILES)
    upload.is_valid()
    if "file" in upload.errors:
        return render(request, "partials/upload_preview.html", {"file_errors": upload.errors["file"]})
    file = upload.cleaned_data["file"]
    try:
        preview = preview_file(file.name, file)
    except ImportFailed as failed:
        return render(
            request, "partials/upload_preview.html", {"file_errors": [e.message for e in failed.errors]}
        )
    mapping = MappingForm(columns=preview.columns, initial=preview.guess)
    return render(request, "partials/upload_preview.html", {"preview": preview, "mapping": mapping})


@login_required
def dataset_import_hub(request: HttpRequest) -> HttpResponse:
    """Import a split of a Hugging Face hub dataset; says so plainly when the hub cannot be reached."""
    team = _team(request)
    form, mapping = HubImportForm(request.POST or None, team=team), MappingForm(request.POST or None)
    context: dict = {"form": form, "mapping": mapping}
    if request.method == "POST" and form.is_valid() and mapping.is_valid():
        try:
            dataset = import_hub_dataset(
                team=team,
                user=request.user,
                name=form.dataset_name(),
                hub_id=form.cleaned_data["hub_id"],
                config=form.cleaned_data["config"],
                split=form.cleaned_data["split"],
                mapping=mapping.to_mapping(),
            )
        except HubUnavailable as error:
            context["hub_error"] = str(error)
        except DatasetNameTaken as taken:
            form.add_error("name", str(taken))
        except ImportFailed as failed:
            context |= _import_errors(failed)
        else:
            messages.success(request, f"Imported {dataset.examples.count()} examples into {dataset.name}.")
            return redirect("catalog:dataset_detail", pk=dataset.pk)
    return render(request, "catalog/dataset_import_hub.html", context)
