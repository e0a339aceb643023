"""The admins' pages: dashboard, imports, drawing batches and watching their progress.

Staff only: an annotator gets 403, an anonymous visitor the login page. Each view validates
a form, calls a service (importers through `import_jobs`, `batch_create`, `batch_delete`)
and renders; the reads below are aggregate queries, one per table shown.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from ..forms import BatchForm, ImportForm
from ..import_jobs import import_job_create, import_job_start
from ..models import Batch, Benchmark, ImportJob
from ..selectors import (
    batch_language_counts,
    batch_progress,
    batches_with_progress,
    benchmarks_with_counts,
)
from ..services import (
    ServiceError,
    batch_create,
    batch_delete,
    draw_sample,
    rating_dimensions,
)
from ..tasks import task_spec

RECENT_IMPORT_JOBS = 10


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous: to the login page. Signed in but not staff: 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not (request.user.is_active and request.user.is_staff):
            raise PermissionDenied("only admins manage benchmarks and batches")
        return view(request, *args, **kwargs)

    return wrapper


# --- reads ----------------------------------------------------------------------------------
def duration(ms: float) -> str:
    seconds = round(ms / 1000)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


def annotator_rows(batch: Batch) -> list[dict[str, Any]]:
    """`batch_progress` with each annotator's overlap share and readable times."""
    rows = batch_progress(batch)
    for row in rows:
        progress = row["progress"]
        finished = progress.done + progress.skipped
        row["finished"] = finished
        row["time_spent"] = duration(row["time_spent_ms"])
        row["time_per_item"] = (duration(row["time_spent_ms"] / finished) if finished
                                else "")
    return rows


# --- dashboard ------------------------------------------------------------------------------

@staff_required
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "annotation/manage/dashboard.html", {
        "benchmarks": benchmarks_with_counts(),
        "batches": batches_with_progress().order_by("-created_at", "-id"),
        "jobs": ImportJob.objects.select_related("created_by")[:RECENT_IMPORT_JOBS],
    })


# --- imports --------------------------------------------------------------------------------

def _job_context(job: ImportJob | None) -> dict[str, Any]:
    """The job and its summary as rows (a template would read `created.items` as the dict's
    "items" key, which is also a record kind)."""
    if job is None:
        return {"job": None}
    created, updated = job.summary.get("created", {}), job.summary.get("updated", {})
    rows = [(what, created.get(what, 0), updated.get(what, 0))
            for what in dict.fromkeys([*created, *updated])]
    return {"job": job, "job_rows": rows}


def _import_context(form: ImportForm, job: ImportJob | None = None) -> dict[str, Any]:
    return {
        "form": form,
        **_job_context(job),
        "benchmark_names": Benchmark.objects.order_by("name").values_list("name", flat=True),
        # The job shown above the list is left out of it.
        "jobs": ImportJob.objects.select_related("created_by")
        .exclude(pk=job.pk if job else None)[:RECENT_IMPORT_JOBS],
    }


@staff_required
@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def import_page(request: HttpRequest) -> HttpResponse:
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        job = import_job_create(kind=form.cleaned_data["kind"],
                                benchmark_name=form.cleaned_data["benchmark"],
                                file_name=upload.name, created_by=request.user)
        import_job_start(job, upload.read())
        job.refresh_from_db()
        if not request.htmx:
            return redirect("manage:import_job", pk=job.pk)
        # A fresh form for the next file, with the job's panel below it.
        return render(request, "annotation/manage/_import_panel.html",
                      _import_context(ImportForm(initial={"kind": job.kind,
                                                          "benchmark": job.benchmark_name}),
                                      job))
    template = ("annotation/manage/_import_panel.html" if request.htmx
                else "annotation/manage/import.html")
    return render(request, template, _import_context(form))


@staff_required
@vary_on_headers("HX-Request")
def import_job(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(ImportJob.objects.select_related("created_by"), pk=pk)
    if request.htmx:
        return render(request, "annotation/manage/_import_job.html", _job_context(job))
    form = ImportForm(initial={"kind": job.kind, "benchmark": job.benchmark_name})
    return render(request, "annotation/manage/import.html", _import_context(form, job))


# --- batches --------------------------------------------------------------------------------

@staff_required
@require_http_methods(["GET", "POST"])
def batch_create_page(request: HttpRequest) -> HttpResponse:
    form = BatchForm(request.POST or None)
    preview = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            batch = batch_create(
                benchmark=data["benchmark"], kind=data["kind"], name=data["name"],
                annotators=list(data["annotators"]), filters=form.filters(),
                sample=form.sample(), created_by=request.user,
                dimensions=form.dimensions_to_rate(),
            )
        except ServiceError as exc:
            preview = preview_for(form)
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Batch “{batch.name}” created.")
            return redirect("manage:batch_detail", pk=batch.pk)
    elif form.is_bound:
        preview = preview_for(form)
    form.hint_dimensions()
    return render(request, "annotation/manage/batch_form.html",
                  {"form": form, "preview": preview})


# Fields the preview can do without: it only needs the filters and the sample.
PREVIEW_OPTIONAL = frozenset({"name", "annotators"})


def preview_for(form: BatchForm) -> dict[str, Any]:
    """What the form's filters match per language and what its sample would draw."""
    form.is_valid()
    errors = [e for field, field_errors in form.errors.items()
              if field not in PREVIEW_OPTIONAL for e in field_errors]
    if errors:
        return {"errors": errors}
    data = form.cleaned_data
    candidates = list(task_spec(data["kind"]).candidates(data["benchmark"], form.filters()))
    matching = Counter(c.language for c in candidates)
    drawn: Counter[str] = Counter()
    overlap: Counter[str] = Counter()
    preview: dict[str, Any] = {"matching_total": len(candidates), "errors": []}
    sample = form.sample()
    try:
        for candidate, is_overlap in draw_sample(candidates, sample):
            drawn[candidate.language] += 1
            overlap[candidate.language] += is_overlap
    except ServiceError as exc:
        preview["errors"].append(str(exc))
    preview["rows"] = [
        {"language": lang, "matching": matching[lang], "drawn": drawn[lang],
         "overlap": overlap[lang]}
        for lang in sorted(matching)
    ]
    n_drawn, n_overlap = sum(drawn.values()), sum(overlap.values())
    preview.update(drawn_total=n_drawn, overlap_total=n_overlap)
    if task_spec(data["kind"]).open_scale:
        # What each response will be asked: the form's dimensions, or the judges'.
        preview["dimensions"] = form.dimensions_to_rate() or rating_dimensions(data["benchmark"])
        if not preview["dimensions"]:
            preview["errors"].append("Name the dimensions to rate: the judges of this "
                                     "benchmark scored none.")
    annotators = data.get("annotators")
    if n_drawn and annotators:
        n_assignments = n_drawn - n_overlap + n_overlap * sample.overlap_k
        # Balanced: each unit goes to the annotators with the fewest so far.
        preview.update(n_assignments=n_assignments,
                       per_annotator=-(-n_assignments // len(annotators)))
    return preview


@staff_required
@require_POST
def batch_preview(request: HttpRequest) -> HttpResponse:
    form = BatchForm(request.POST, preview=True)
    return render(request, "annotation/manage/_batch_preview.html",
                  {"preview": preview_for(form)})


@staff_required
def batch_detail(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_object_or_404(Batch.objects.select_related("benchmark", "created_by"), pk=pk)
    by_language = batch_language_counts(batch)
    return render(request, "annotation/manage/batch_detail.html", {
        "batch": batch,
        "kind_label": task_spec(batch.kind).kind.label,
        "params": batch.parameters,
        "by_language": by_language,
        "n_units": sum(r["units"] for r in by_language),
        "n_overlap": sum(r["overlap"] for r in by_language),
        "annotators": annotator_rows(batch),
    })


@staff_required
@require_http_methods(["GET", "POST"])
def batch_delete_page(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation (the page without JavaScript); POST deletes."""
    batch = get_object_or_404(Batch.objects.select_related("benchmark"), pk=pk)
    if request.method == "GET":
        return render(request, "annotation/manage/batch_delete.html", {
            "batch": batch, "n_assignments": batch.assignments.count(),
        })
    name = batch.name
    batch_delete(batch=batch)
    messages.success(request, f"Batch “{name}” deleted; labels already given are kept.")
    if request.htmx:
        return HttpResponseClientRedirect(reverse("manage:dashboard"))
    return redirect("manage:dashboard")


urlpatterns = [
    path("", dashboard, name="dashboard"),
    path("import/", import_page, name="import"),
    path("import/jobs/<int:pk>/", import_job, name="import_job"),
    path("batches/new/", batch_create_page, name="batch_create"),
    path("batches/preview/", batch_preview, name="batch_preview"),
    path("batches/<int:pk>/", batch_detail, name="batch_detail"),
    path("batches/<int:pk>/delete/", batch_delete_page, name="batch_delete"),
]
