"""The agreement report page and its downloads: who may see them, what the filters reach,
htmx partials, nulls with their reasons, and one report over real labels end to end."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.urls import reverse

from annotation.models import Assignment, Batch, Benchmark, TaskKind
from annotation.selectors import questions_for_assignment
from annotation.services import label_submit
from judging import reports
from tests.conftest import DEMO

from .test_report_formats import ONE_CATEGORY, sample_report

URL = reverse("reports:agreement")
DOWNLOAD = reverse("reports:agreement_download")


@pytest.fixture
def calls(monkeypatch):
    """Replace agreement_report by the sample report; the list records each call's kwargs."""
    seen: list[dict] = []

    def fake(**kwargs):
        seen.append(kwargs)
        report = sample_report()
        report["benchmark"] = kwargs["benchmark"].name
        return report

    monkeypatch.setattr(reports, "agreement_report", fake)
    return seen


@pytest.fixture
def staff_client(client, admin):
    client.force_login(admin)
    return client


# --- access ---------------------------------------------------------------------------------

@pytest.mark.parametrize("url", [URL, f"{URL}?benchmark={DEMO}",
                                 f"{DOWNLOAD}?benchmark={DEMO}&format=csv"])
def test_anonymous_visitors_are_sent_to_the_login_page(client, demo_benchmark, calls, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert calls == []


@pytest.mark.parametrize("url", [URL, f"{URL}?benchmark={DEMO}",
                                 f"{DOWNLOAD}?benchmark={DEMO}&format=csv"])
def test_annotators_are_refused(client, annotator_a, demo_benchmark, calls, url):
    client.force_login(annotator_a)
    assert client.get(url).status_code == 403
    assert calls == []


def test_without_a_benchmark_the_page_offers_a_picker(staff_client, demo_benchmark, calls):
    response = staff_client.get(URL)
    assert response.status_code == 200
    assert f'href="{URL}?benchmark={DEMO}"' in response.content.decode()
    assert calls == []


def test_an_unknown_benchmark_is_404(staff_client, db, calls):
    assert staff_client.get(URL, {"benchmark": "nope"}).status_code == 404
    assert staff_client.get(DOWNLOAD, {"benchmark": "nope"}).status_code == 404


def test_the_dashboard_links_to_the_reports(staff_client, demo_benchmark):
    page = staff_client.get(reverse("manage:dashboard")).content.decode()
    assert f'href="{URL}"' in page
    assert f'href="{URL}?benchmark={DEMO}"' in page


# --- filters --------------------------------------------------------------------------------

def test_filters_reach_agreement_report(staff_client, make_batch, calls):
    batch = make_batch(TaskKind.INSTRUCTION_VALIDATION)
    response = staff_client.get(URL, {"benchmark": DEMO, "batch": batch.pk,
                                      "languages": ["zh", "en"], "subsets": ["hard"]})
    assert response.status_code == 200
    (kwargs,) = calls
    assert kwargs["benchmark"] == batch.benchmark and kwargs["batch"] == batch
    assert isinstance(kwargs["filters"], reports.ReportFilters)
    assert kwargs["filters"] == reports.ReportFilters(languages=("zh", "en"), subsets=("hard",))


def test_no_filter_means_the_whole_benchmark(staff_client, demo_benchmark, calls):
    staff_client.get(URL, {"benchmark": DEMO})
    assert calls == [{"benchmark": demo_benchmark, "batch": None,
                      "filters": reports.ReportFilters()}]


def test_the_filter_form_offers_the_benchmarks_values(staff_client, demo_benchmark, calls):
    page = staff_client.get(URL, {"benchmark": DEMO, "languages": "zh"}).content.decode()
    for language in ("en", "zh", "ar", "sw"):
        assert f'name="languages" value="{language}"' in page
    assert 'name="languages" value="zh" checked' in page
    assert 'name="subsets" value="hard"' in page


def test_unknown_filter_values_are_a_400_not_a_silent_report(staff_client, make_batch, calls):
    other = Benchmark.objects.create(name="other")
    foreign = Batch.objects.create(benchmark=other, name="b", kind=TaskKind.PAIRWISE_PREFERENCE)
    for bad in ({"languages": "xx"}, {"batch": foreign.pk}, {"batch": "seven"}):
        response = staff_client.get(URL, {"benchmark": DEMO, **bad})
        assert response.status_code == 400
        assert "cannot be applied" in response.content.decode()
    assert calls == []


def test_page_query_count_does_not_grow_with_the_options(staff_client, demo_benchmark, calls,
                                                         django_assert_max_num_queries):
    # Session and user, the benchmark, seven DISTINCT option queries, the batches.
    with django_assert_max_num_queries(11):
        staff_client.get(URL, {"benchmark": DEMO})


# --- htmx -----------------------------------------------------------------------------------

def test_full_page_has_the_htmx_filter_form(staff_client, demo_benchmark, calls):
    response = staff_client.get(URL, {"benchmark": DEMO})
    page = response.content.decode()
    assert "<html" in page and 'id="report-body"' in page
    assert f'hx-get="{URL}"' in page and 'hx-target="#report-body"' in page
    assert 'hx-push-url="true"' in page
    assert "HX-Request" in response["Vary"]


def test_htmx_requests_get_the_report_body_alone(staff_client, demo_benchmark, calls):
    response = staff_client.get(URL, {"benchmark": DEMO, "languages": "en"},
                                headers={"HX-Request": "true"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in page and 'id="report-filters"' not in page
    assert "Instruction validation" in page
    assert "HX-Request" in response["Vary"]


def test_a_history_restore_gets_the_full_page(staff_client, demo_benchmark, calls):
    response = staff_client.get(URL, {"benchmark": DEMO}, headers={
        "HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in response.content.decode()


# --- what the page shows --------------------------------------------------------------------

def test_nulls_show_a_dash_with_the_reason_as_tooltip_and_footnote(staff_client,
                                                                    demo_benchmark, calls):
    page = staff_client.get(URL, {"benchmark": DEMO}).content.decode()
    assert f'<span class="null" title="{ONE_CATEGORY}">—' in page
    assert f'<li id="note-1">{ONE_CATEGORY}</li>' in page
    assert 'href="#note-1"' in page
    assert "consensus has one category only" in page
    assert "the judge did not judge both orders" in page


def test_the_page_shows_the_paper_tables_warnings_charts_and_legend(staff_client,
                                                                    demo_benchmark, calls):
    page = staff_client.get(URL, {"benchmark": DEMO}).content.decode()
    assert "Ratio (%)" in page and "Agreement (%)" in page and "Gwet&#x27;s AC1" in page
    assert "96.6" in page and "[−0.050, 0.790]" in page
    assert "Prevalence paradox" in page
    assert page.count("<svg") >= 3  # language breakdown, judge rows, pairwise judge
    assert "<script" not in page.split('id="report-body"')[1]
    assert "gpt-4o_2024-08-06" in page
    for term in ("Cohen&#x27;s κ", "Fleiss&#x27; κ", "Krippendorff&#x27;s α",
                 "Brennan-Prediger", "Confirmed (%)", "Position consistency",
                 "Which to read when"):
        assert term in page


def test_the_page_shows_score_judges_per_dimension(staff_client, demo_benchmark, calls):
    page = staff_client.get(URL, {"benchmark": DEMO}).content.decode()
    assert "Score judges: correlation with the mean human rating" in page
    assert "<code>gpt-4_rts</code></th><td>Coherence</td><td class=\"num\">1200</td>" in page
    assert "0.446" in page and "Spearman's ρ" in page
    assert "the judge gave every one of these responses the same score" in page
    assert "Summary-level correlation" in page  # the legend line


def test_download_links_carry_the_filters(staff_client, demo_benchmark, calls):
    page = staff_client.get(URL, {"benchmark": DEMO, "languages": "zh"}).content.decode()
    assert f'href="{DOWNLOAD}?benchmark={DEMO}&amp;languages=zh&amp;format=latex"' in page


# --- downloads ------------------------------------------------------------------------------

@pytest.mark.parametrize(("fmt", "content_type", "name"), [
    ("csv", "text/csv; charset=utf-8", "agreement-xifbench-demo-batch-7.csv"),
    ("json", "application/json", "agreement-xifbench-demo-batch-7.json"),
    ("latex", "application/x-tex; charset=utf-8", "agreement-xifbench-demo-batch-7.tex"),
])
def test_downloads_are_attachments_of_the_right_type(staff_client, demo_benchmark, calls, fmt,
                                                     content_type, name):
    response = staff_client.get(DOWNLOAD, {"benchmark": DEMO, "format": fmt,
                                           "languages": ["en"]})
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"] == f'attachment; filename="{name}"'
    assert calls[0]["filters"] == reports.ReportFilters(languages=("en",))


def test_download_contents(staff_client, demo_benchmark, calls):
    get = lambda fmt: staff_client.get(DOWNLOAD, {"benchmark": DEMO, "format": fmt})  # noqa: E731
    assert json.loads(get("json").content)["fields"][0]["field"] == "clarity"
    rows = list(csv.DictReader(io.StringIO(get("csv").content.decode())))
    assert rows and rows[0]["section"] == "field"
    assert r"\toprule" in get("latex").content.decode()


def test_an_unknown_download_format_is_404(staff_client, demo_benchmark, calls):
    assert staff_client.get(DOWNLOAD, {"benchmark": DEMO, "format": "xlsx"}).status_code == 404
    assert calls == []


# --- end to end, through judging.reports ----------------------------------------------------

def label_batch(batch: Batch, annotator, *, disagree_on: set[str] = frozenset()) -> None:
    """Label every assignment of `annotator`: all yes, except clarity "no" on `disagree_on`."""
    for assignment in (Assignment.objects.select_related("batch", "unit__item__group")
                       .filter(batch=batch, annotator=annotator)):
        answers = {q.answer_key: ("no" if q.field.name == "clarity"
                                  and assignment.unit.unit_key in disagree_on else "yes")
                   for q in questions_for_assignment(assignment)}
        label_submit(assignment=assignment, annotator=annotator, answers=answers,
                     client_id=f"e2e-{assignment.pk}", time_spent_ms=1000)


def test_report_over_real_labels(staff_client, make_batch, annotator_a, annotator_b):
    batch = make_batch(TaskKind.INSTRUCTION_VALIDATION, fraction=1.0, overlap=1.0)
    overlap = list(batch.units.filter(is_overlap=True).values_list("unit_key", flat=True))
    assert len(overlap) >= 4
    label_batch(batch, annotator_a)
    label_batch(batch, annotator_b, disagree_on={overlap[0]})

    response = staff_client.get(URL, {"benchmark": DEMO, "batch": batch.pk})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Instruction validation" in page and "Clarity" in page
    assert "Linguistic Independence" in page
    # Everyone said yes to linguistic independence: kappa is undefined and says why.
    assert '<span class="null" title="' in page and 'id="note-1"' in page

    filtered = staff_client.get(URL, {"benchmark": DEMO, "batch": batch.pk, "languages": "zh"},
                                headers={"HX-Request": "true"})
    assert filtered.status_code == 200 and "languages: zh" in filtered.content.decode()

    download = staff_client.get(DOWNLOAD, {"benchmark": DEMO, "batch": batch.pk,
                                           "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(download.content.decode())))
    agreement = next(r for r in rows if r["field"] == "clarity" and r["section"] == "field"
                     and r["statistic"] == "percent_agreement")
    n = len(overlap)
    assert float(agreement["value"]) == pytest.approx((n - 1) / n)
