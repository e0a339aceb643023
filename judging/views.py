"""The agreement report page and its downloads (staff only).

Thin: the query string is validated by `ReportForm`, turned into `ReportFilters`, passed to
`judging.reports.agreement_report` (the same call the command and the REST endpoint make),
and the dict it returns is rendered by `report_formats`. The filter form sits outside the
report body: an htmx request gets the body alone (`Vary: HX-Request`).
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.vary import vary_on_headers

from annotation.models import Batch, Benchmark, Group, Item, Pair, Requirement
from annotation.selectors import benchmarks_with_counts
from annotation.views.manage import staff_required

from . import report_formats, reports
from .models import Response

FILTER_NAMES = ("languages", "subsets", "models", "categories")
DOWNLOADS = {
    "csv": ("text/csv; charset=utf-8", "csv", report_formats.to_csv),
    "json": ("application/json", "json",
             lambda report: json.dumps(report, indent=2, ensure_ascii=False) + "\n"),
    "latex": ("application/x-tex; charset=utf-8", "tex", report_formats.to_latex),
}


def _distinct(queryset, *fields: str) -> set[str]:
    values: set[str] = set()
    for field in fields:
        values.update(queryset.exclude(**{field: ""}).values_list(field, flat=True).distinct())
    return values


def report_filter_options(benchmark: Benchmark) -> dict[str, list[str]]:
    """What the filters can choose from: one DISTINCT query per source."""
    return {
        "languages": report_formats.language_order(
            _distinct(Item.objects.filter(benchmark=benchmark), "language")
            | _distinct(Pair.objects.filter(benchmark=benchmark), "language")),
        "subsets": sorted(_distinct(Group.objects.filter(benchmark=benchmark), "subset")),
        "models": sorted(_distinct(Response.objects.filter(item__benchmark=benchmark), "model")
                         | _distinct(Pair.objects.filter(benchmark=benchmark),
                                     "model_a", "model_b")),
        "categories": sorted(_distinct(Requirement.objects.filter(group__benchmark=benchmark),
                                       "category")),
    }


class ReportForm(forms.Form):
    batch = forms.ModelChoiceField(queryset=Batch.objects.none(), required=False,
                                   empty_label="All labels of the benchmark")
    languages = forms.MultipleChoiceField(required=False)
    subsets = forms.MultipleChoiceField(required=False)
    models = forms.MultipleChoiceField(required=False)
    categories = forms.MultipleChoiceField(required=False)

    def __init__(self, data: Any, *, benchmark: Benchmark) -> None:
        super().__init__(data)
        self.benchmark = benchmark
        self.options = report_filter_options(benchmark)
        self.fields["batch"].queryset = Batch.objects.filter(benchmark=benchmark).order_by(
            "-created_at", "-id")
        for name in FILTER_NAMES:
            self.fields[name].choices = [(v, v) for v in self.options[name]]

    def report_filters(self) -> reports.ReportFilters:
        return reports.ReportFilters(**{name: tuple(self.cleaned_data[name])
                                        for name in FILTER_NAMES})


def _bound_form(request: HttpRequest) -> ReportForm:
    benchmark = get_object_or_404(Benchmark, name=request.GET["benchmark"])
    return ReportForm(request.GET, benchmark=benchmark)


def _report(form: ReportForm) -> dict[str, Any]:
    return reports.agreement_report(benchmark=form.benchmark, batch=form.cleaned_data["batch"],
                                    filters=form.report_filters())


def benchmark_picker(request: HttpRequest, url_name: str, title: str,
                     lede: str = "") -> HttpResponse:
    """The page a report shows before a benchmark is chosen."""
    return render(request, "judging/benchmark_picker.html", {
        "benchmarks": benchmarks_with_counts(), "url_name": url_name, "title": title,
        "lede": lede})


@staff_required
@vary_on_headers("HX-Request")
def agreement(request: HttpRequest) -> HttpResponse:
    if not request.GET.get("benchmark"):
        return benchmark_picker(
            request, "reports:agreement", "Agreement reports",
            "How far the annotators agree with each other and with the judges, per task and "
            "field. Pick a benchmark; the report then narrows to a batch, languages, subsets, "
            "models or requirement categories.")
    form = _bound_form(request)
    context: dict[str, Any] = {"form": form, "benchmark": form.benchmark,
                               "query": request.GET.urlencode()}
    status = 200
    if form.is_valid():
        context["report"] = report = _report(form)
        context["view"] = report_formats.present(report)
    else:
        status = 400
    partial = request.htmx and not request.htmx.history_restore_request
    template = "judging/_report_body.html" if partial else "judging/report.html"
    return render(request, template, context, status=status)


@staff_required
def agreement_download(request: HttpRequest) -> HttpResponse:
    if not request.GET.get("benchmark"):
        raise Http404("no benchmark given")
    download = DOWNLOADS.get(request.GET.get("format", "csv"))
    if download is None:
        raise Http404("unknown format; one of csv, json, latex")
    form = _bound_form(request)
    if not form.is_valid():
        return HttpResponse(form.errors.as_text(), status=400,
                            content_type="text/plain; charset=utf-8")
    content_type, extension, write = download
    report = _report(form)
    response = HttpResponse(write(report), content_type=content_type)
    name = report_formats.download_name(report, extension)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
