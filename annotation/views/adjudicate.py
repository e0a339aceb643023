"""The admins' adjudication queue: every case where annotators disagree or overrule the judge,
one at a time, with all labels side by side (annotator names are shown here and nowhere else),
the rule-based resolutions, and a form that records the final value with a reason.

Staff only (403 for annotators, the login page for anonymous visitors). Like the annotator
queue, the case page is a partial (`annotation/adjudicate/_case.html`) that htmx swaps after
each decision; the same URL serves the full page to a plain request.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST

from ..adjudication import (
    Case,
    CaseDetail,
    Resolutions,
    case_after,
    case_detail,
    disagreements,
    field_choices,
    open_case_counts,
)
from ..models import Benchmark
from ..services import ServiceError, adjudication_set
from ..tasks import TASKS, Question, task_spec
from .manage import staff_required
from .queue import CHOICE_LABELS, language_name, question_views

CASE_PARTIAL = "annotation/adjudicate/_case.html"
CASE_PAGE = "annotation/adjudicate/case.html"


class AdjudicationForm(forms.Form):
    task = forms.ChoiceField(choices=[(k, k) for k in TASKS])
    unit = forms.CharField(max_length=500)
    field = forms.CharField(max_length=50)
    value = forms.CharField(max_length=50, required=False)
    # Required by the service, which says so in its own words.
    reason = forms.CharField(max_length=5000, required=False, strip=True)
    only = forms.CharField(max_length=40, required=False)


def _is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _benchmark(request: HttpRequest) -> Benchmark:
    name = request.GET.get("benchmark") or request.POST.get("benchmark") or ""
    return get_object_or_404(Benchmark, name=name)


def _only(value: str | None) -> str:
    """The queue's task filter; anything that is not a task kind means all tasks."""
    return value if value in TASKS else ""


def case_url(benchmark: Benchmark, case: Case | CaseDetail, only: str = "") -> str:
    params = {"benchmark": benchmark.name, "task": case.task, "unit": case.unit,
              "field": case.field}
    if only:
        params["only"] = only
    return f"{reverse('adjudicate:case')}?{urlencode(params)}"


def queue_url(benchmark: Benchmark, only: str = "") -> str:
    params = {"benchmark": benchmark.name, **({"task": only} if only else {})}
    return f"{reverse('adjudicate:queue')}?{urlencode(params)}"


def _value_label(task: str, field_name: str, value: str | None) -> str:
    if value is None:
        return "—"
    labels = {c.value: c.label for c in field_choices(task, field_name)}
    return CHOICE_LABELS.get((task, field_name), {}).get(value, labels.get(value, value))


def _resolution_rows(detail: CaseDetail, resolutions: Resolutions) -> list[dict[str, str]]:
    return [
        {"rule": "Conservative", "value": resolutions.conservative or "",
         "label": _value_label(detail.task, detail.field, resolutions.conservative),
         "how": ("any “no” (disagree) reverses the judge's decision"
                 if detail.task == "judge_agreement" else "any “no” fails the field")
         if resolutions.conservative else "not defined on this scale"},
        {"rule": "Majority", "value": resolutions.majority or "",
         "label": _value_label(detail.task, detail.field, resolutions.majority),
         "how": "the most common value; a tie falls back to conservative"
                if resolutions.conservative else "the most common value; a tie resolves nothing"},
    ]


def _case_context(request: HttpRequest, benchmark: Benchmark, detail: CaseDetail, *,
                  only: str, value: str = "", reason: str = "", error: str = ""
                  ) -> dict[str, Any]:
    open_cases = disagreements(benchmark=benchmark, task=only or None)
    keys = [c.key for c in open_cases]
    here = (detail.task, detail.unit, detail.field)
    following = case_after(open_cases, here)
    field_def = task_spec(detail.task).field(detail.field)
    questions = question_views(detail.task, [
        Question(answer_key="value", label_unit=detail.unit, field=field_def),
    ], {"value": value}) if field_def is not None else []
    item = detail.item
    language = item.language if item else detail.extra["pair"].language if (
        "pair" in detail.extra) else ""
    return {
        "benchmark": benchmark, "detail": detail, "kind": detail.task, "only": only,
        "task_label": TASKS[detail.task].kind.label,
        "position": keys.index(here) + 1 if here in keys else None,
        "n_open": len(open_cases),
        "next_url": case_url(benchmark, following, only) if following and
        following.key != here else "",
        "queue_url": queue_url(benchmark, only),
        "submit_url": reverse("adjudicate:submit"),
        "questions": questions, "reason": reason, "error": error,
        "item": item, "anchor": detail.anchor if item is None or item.language != "en" or
        detail.group_items else None,
        "language": language, "language_name": language_name(language),
        "counts": [(v, _value_label(detail.task, detail.field, v), n)
                   for v, n in detail.counts],
        "resolutions": _resolution_rows(detail, detail.resolutions),
        "label_rows": [
            {"label": lb, "value_label": _value_label(detail.task, detail.field, lb.value),
             "is_no": lb.value == "no"}
            for lb in detail.labels
        ],
        "adjudication": detail.adjudication,
        "adjudication_label": _value_label(detail.task, detail.field,
                                           detail.adjudication.value
                                           if detail.adjudication else None),
        "earlier": [(a, _value_label(detail.task, detail.field, a.value))
                    for a in detail.earlier_adjudications],
        "choices": field_choices(detail.task, detail.field),
    }


def _render_case(request: HttpRequest, context: dict[str, Any], status: int = 200
                 ) -> HttpResponse:
    template = CASE_PARTIAL if _is_htmx(request) else CASE_PAGE
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ("HX-Request",))
    return response


def _render_done(request: HttpRequest, benchmark: Benchmark, only: str) -> HttpResponse:
    context = {"benchmark": benchmark, "done": True, "only": only,
               "queue_url": queue_url(benchmark, only)}
    return _render_case(request, context)


@staff_required
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    if not request.GET.get("benchmark"):
        counts = open_case_counts()
        return render(request, "annotation/adjudicate/benchmarks.html", {
            "benchmarks": [(b, counts.get(b.pk, 0)) for b in Benchmark.objects.order_by("name")],
        })
    benchmark = _benchmark(request)
    only = _only(request.GET.get("task"))
    cases = disagreements(benchmark=benchmark, include_resolved=True)
    open_cases = [c for c in cases if not c.resolved]
    per_task = {kind: [0, 0] for kind in TASKS}
    for c in cases:
        per_task[c.task][1 if c.resolved else 0] += 1
    shown = [c for c in open_cases if not only or c.task == only]
    return render(request, "annotation/adjudicate/queue.html", {
        "benchmark": benchmark, "only": only,
        "cases": [(c, case_url(benchmark, c, only)) for c in shown],
        "per_task": [(kind, spec.kind.label, *per_task[kind], queue_url(benchmark, kind))
                     for kind, spec in TASKS.items() if any(per_task[kind])],
        "resolved": [(c, case_url(benchmark, c, only)) for c in cases
                     if c.resolved and (not only or c.task == only)],
        "n_open": len(open_cases),
        "start_url": case_url(benchmark, shown[0], only) if shown else "",
        "all_url": queue_url(benchmark),
    })


@staff_required
@require_GET
def case(request: HttpRequest) -> HttpResponse:
    benchmark = _benchmark(request)
    task = request.GET.get("task", "")
    if task not in TASKS:
        raise Http404("no such task")
    detail = case_detail(benchmark=benchmark, task=task, unit=request.GET.get("unit", ""),
                         field_name=request.GET.get("field", ""))
    if detail is None:
        raise Http404("no labels on this unit and field")
    only = _only(request.GET.get("only"))
    return _render_case(request, _case_context(request, benchmark, detail, only=only))


@staff_required
@require_POST
def submit(request: HttpRequest) -> HttpResponse:
    benchmark = _benchmark(request)
    form = AdjudicationForm(request.POST)
    if not form.is_valid():
        raise Http404("no such case")
    data = form.cleaned_data
    only = _only(data["only"])
    detail = case_detail(benchmark=benchmark, task=data["task"], unit=data["unit"],
                         field_name=data["field"])
    if detail is None:
        raise Http404("no labels on this unit and field")
    try:
        if not data["value"]:
            raise ServiceError("choose the final value first")
        adjudication_set(benchmark=benchmark, task=data["task"], unit=data["unit"],
                         field=data["field"], value=data["value"], reason=data["reason"],
                         adjudicator=request.user)
    except ServiceError as exc:
        context = _case_context(request, benchmark, detail, only=only, value=data["value"],
                                reason=data["reason"], error=str(exc))
        return _render_case(request, context, status=200 if _is_htmx(request) else 422)
    following = case_after(disagreements(benchmark=benchmark, task=only or None),
                           (detail.task, detail.unit, detail.field))
    if following is None:
        if not _is_htmx(request):
            return redirect(queue_url(benchmark, only))
        return _render_done(request, benchmark, only)
    url = case_url(benchmark, following, only)
    if not _is_htmx(request):
        return redirect(url)
    next_detail = case_detail(benchmark=benchmark, task=following.task, unit=following.unit,
                              field_name=following.field)
    response = _render_case(request, _case_context(request, benchmark, next_detail, only=only))
    response["HX-Push-Url"] = url
    return response


urlpatterns = [
    path("", queue, name="queue"),
    path("case/", case, name="case"),
    path("case/submit/", submit, name="submit"),
]
