"""The gold pages (staff only): the export of spec section 6 as one zip, and the score shift.

The export runs as a background job (`export_jobs`); its page polls an htmx partial every
500 ms until the job is done, then offers the zip. The score-shift page reads
`gold.score_rows` (the rows of `scores.csv`) and shows them per judge as a table and as an
inline SVG drawn on the server: per language and model, the judge's rate and gold's, joined.
"""

from __future__ import annotations

import math
from itertools import groupby
from typing import Any

from django import forms
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import push_url

from annotation.models import Adjudication, Benchmark, Label
from annotation.views.manage import staff_required

from . import export_jobs
from .export_jobs import ExportJob
from .report_formats import language_order
from .views import benchmark_picker

STRATEGY_HELP = {
    "conservative": "Conservative (the XIFBench rule): a field fails if any annotator fails "
                    "it; a judge decision is reversed if any annotator disagrees.",
    "majority": "Majority: the majority label wins; a tie falls back to conservative.",
}
UNKNOWN_JOB = ("This export is unknown here: it expired (exports are kept for an hour) or "
               "ran in another server process. Start it again.")


class StrategyForm(forms.Form):
    strategy = forms.ChoiceField(widget=forms.RadioSelect, initial="conservative")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["strategy"].choices = [
            (s, STRATEGY_HELP.get(s, s)) for s in export_jobs.gold().STRATEGIES]


def _benchmark(request: HttpRequest) -> Benchmark | None:
    name = request.GET.get("benchmark")
    return get_object_or_404(Benchmark, name=name) if name else None


# --- export ---------------------------------------------------------------------------------

def _export_page(request: HttpRequest, benchmark: Benchmark, form: StrategyForm,
                 job: ExportJob | None, *, status: int = 200) -> HttpResponse:
    return render(request, "judging/export.html", {
        "benchmark": benchmark, "form": form, "job": job,
        "file_rows": list(job.files.items()) if job else [],
    }, status=status)


@staff_required
@require_http_methods(["GET", "POST"])
def export_page(request: HttpRequest) -> HttpResponse:
    benchmark = _benchmark(request)
    if benchmark is None:
        return benchmark_picker(request, "reports:export", "Export gold")
    form = StrategyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        job = export_jobs.export_job_create(benchmark=benchmark,
                                            strategy=form.cleaned_data["strategy"])
        export_jobs.export_job_start(job)
        job_url = reverse("reports:export_job", args=[job.id])
        if not request.htmx:
            return redirect(job_url)
        response = _export_job_partial(request, export_jobs.export_job_get(job.id))
        return push_url(response, job_url)
    return _export_page(request, benchmark, form, None,
                        status=400 if form.is_bound else 200)


def _export_job_partial(request: HttpRequest, job: ExportJob | None) -> HttpResponse:
    return render(request, "judging/_export_job.html", {
        "job": job, "job_missing": UNKNOWN_JOB if job is None else "",
        "file_rows": list(job.files.items()) if job else []})


@staff_required
@vary_on_headers("HX-Request")
def export_job(request: HttpRequest, job_id: str) -> HttpResponse:
    job = export_jobs.export_job_get(job_id)
    if request.htmx:
        # The unknown job's message replaces the polled panel with a 200: htmx does not swap
        # an error response and would keep polling.
        return _export_job_partial(request, job)
    if job is None:
        return render(request, "judging/export_missing.html", {"message": UNKNOWN_JOB},
                      status=404)
    benchmark = get_object_or_404(Benchmark, name=job.benchmark)
    return _export_page(request, benchmark, StrategyForm(initial={"strategy": job.strategy}),
                        job)


@staff_required
def export_download(request: HttpRequest, job_id: str) -> HttpResponse:
    job = export_jobs.export_job_get(job_id)
    if job is None:
        raise Http404(UNKNOWN_JOB)
    if job.status != export_jobs.Status.DONE or not job.zip_path.is_file():
        raise Http404("This export has not finished; its zip is not ready.")
    return FileResponse(job.zip_path.open("rb"), as_attachment=True,
                        filename=job.download_name, content_type="application/zip")


# --- score shift ----------------------------------------------------------------------------

def _pct(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 1)


def _points(text_value: float) -> str:
    return f"{text_value:+.1f}".replace("-", "−") if round(text_value, 1) else "0.0"


def shift(judge: float | None, gold: float | None) -> dict[str, Any]:
    """One judge → gold figure: both in percent and the difference in points."""
    cell: dict[str, Any] = {"judge": _pct(judge), "gold": _pct(gold), "delta": None,
                            "delta_text": "", "direction": "none"}
    if judge is not None and gold is not None:
        delta = 100 * (gold - judge)
        cell.update(delta=round(delta, 1), delta_text=_points(delta),
                    direction="up" if delta >= 0.05 else "down" if delta <= -0.05 else "zero")
    return cell


def _row_view(row: dict[str, Any]) -> dict[str, Any]:
    rfr, ifr = shift(row["rfr_judge"], row["rfr_gold"]), shift(row["ifr_judge"], row["ifr_gold"])
    return {
        "language": row["language"], "model": row["model"],
        "n_instructions": row["n_instructions"], "n_requirements": row["n_requirements"],
        "rfr": rfr, "ifr": ifr, "rates": (rfr, ifr),
    }


# Chart geometry, in SVG user units.
CHART_WIDTH = 600
CHART_LEFT = 170  # model names
CHART_RIGHT = 70  # the delta
ROW_HEIGHT = 22
HEADER_HEIGHT = 26
TOP = 34  # the legend
MODEL_LABEL_CHARS = 24


def _domain(values: list[float]) -> tuple[int, int]:
    """Whole tens around the values, at least 20 points wide, within 0..100: a shift of a
    few points stays visible without pretending the rates start at zero."""
    lo = max(0, math.floor(min(values) / 10) * 10)
    hi = min(100, math.ceil(max(values) / 10) * 10)
    while hi - lo < 20:
        lo, hi = (lo, hi + 10) if hi < 100 else (lo - 10, hi)
    return lo, hi


def dumbbell_chart(rows: list[dict[str, Any]], metric: str) -> dict[str, Any] | None:
    """Judge dot → gold dot per model, grouped by language; `metric` is "ifr" or "rfr"."""
    values = [v for r in rows for v in (r[metric]["judge"], r[metric]["gold"]) if v is not None]
    if not values:
        return None
    lo, hi = _domain(values)
    plot = CHART_WIDTH - CHART_LEFT - CHART_RIGHT

    def x(value: float) -> float:
        return round(CHART_LEFT + plot * (value - lo) / (hi - lo), 1)

    y = TOP
    groups = []
    for language, members in groupby(rows, key=lambda r: r["language"]):
        group: dict[str, Any] = {"language": language, "y": y + 17, "rows": []}
        y += HEADER_HEIGHT
        for r in members:
            cell = r[metric]
            model = r["model"]
            short = (model if len(model) <= MODEL_LABEL_CHARS
                     else model[:MODEL_LABEL_CHARS - 1] + "…")
            entry = {"model": model, "label": short, "y": y, "mid": y + ROW_HEIGHT // 2,
                     "cell": cell, "defined": cell["delta"] is not None}
            if entry["defined"]:
                entry.update(x_judge=x(cell["judge"]), x_gold=x(cell["gold"]))
            group["rows"].append(entry)
            y += ROW_HEIGHT
        groups.append(group)
    step = 10 if hi - lo <= 50 else 20
    axis_y = y + 4
    return {
        "width": CHART_WIDTH, "height": axis_y + 40, "left": CHART_LEFT, "plot_width": plot,
        "right_x": CHART_LEFT + plot + 10, "axis_y": axis_y, "groups": groups,
        "ticks": [{"x": x(t), "label": t} for t in range(lo, hi + 1, step)],
        "axis_label_x": CHART_LEFT + plot // 2, "label": "IFR" if metric == "ifr" else "RFR",
        "lo": lo, "hi": hi, "zoomed": (lo, hi) != (0, 100),
    }


def score_shift_view(score_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of `gold.score_rows` per judge, languages in the paper's order, with their
    charts."""
    order = {lang: i for i, lang in enumerate(language_order(r["language"] for r in score_rows))}
    ordered = sorted(score_rows, key=lambda r: (r["judge"], order[r["language"]], r["model"]))
    judges = []
    for judge, members in groupby(ordered, key=lambda r: r["judge"]):
        rows = [_row_view(r) for r in members]
        judges.append({
            "judge": judge, "rows": rows,
            "shifted": any(r[m]["direction"] in ("up", "down") for r in rows
                           for m in ("rfr", "ifr")),
            "charts": [c for c in (dumbbell_chart(rows, "ifr"), dumbbell_chart(rows, "rfr"))
                       if c],
        })
    return judges


@staff_required
def score_shift(request: HttpRequest) -> HttpResponse:
    benchmark = _benchmark(request)
    if benchmark is None:
        return benchmark_picker(request, "reports:score_shift", "Score shift")
    form = StrategyForm(request.GET if "strategy" in request.GET else None)
    if form.is_bound and not form.is_valid():
        raise Http404("unknown strategy")
    strategy = form.cleaned_data["strategy"] if form.is_bound else "conservative"
    rows = export_jobs.gold().score_rows(benchmark=benchmark, strategy=strategy)
    has_labels = (Label.objects.filter(benchmark=benchmark).exists()
                  or Adjudication.objects.filter(benchmark=benchmark).exists())
    return render(request, "judging/score_shift.html", {
        "benchmark": benchmark, "strategy": strategy, "has_labels": has_labels,
        "strategies": [(s, STRATEGY_HELP.get(s, s)) for s in export_jobs.gold().STRATEGIES],
        "judges": score_shift_view(rows), "n_rows": len(rows),
    })
