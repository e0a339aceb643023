"""An admin opens the agreement report from the dashboard and narrows it with the filters."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from annotation.models import TaskKind
from tests.conftest import DEMO, PASSWORD
from tests.judging.test_report_page import label_batch

from .conftest import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_reads_and_filters_the_agreement_report(page, make_batch, admin, annotator_a,
                                                       annotator_b):
    validation = make_batch(TaskKind.INSTRUCTION_VALIDATION, fraction=1.0, overlap=1.0,
                            name="Validation, all languages")
    overlap = list(validation.units.filter(is_overlap=True).order_by("id")
                   .values_list("unit_key", flat=True))
    label_batch(validation, annotator_a, disagree_on={overlap[1]})
    label_batch(validation, annotator_b, disagree_on={overlap[0], overlap[1]})
    judged = make_batch(TaskKind.JUDGE_AGREEMENT, size=24, overlap=1.0, name="Judge check")
    label_batch(judged, annotator_a)
    label_batch(judged, annotator_b)

    login(page, admin.username, PASSWORD)
    page.goto("/manage/")
    benchmark_row = page.get_by_role("row").filter(has_text=DEMO)
    benchmark_row.get_by_role("link", name="Agreement reports").click()
    page.wait_for_url(re.compile(rf"/reports/agreement/\?benchmark={DEMO}$"))
    expect(page.get_by_role("heading", name=f"Agreement report: {DEMO}")).to_be_visible()
    body = page.locator("#report-body")
    expect(body.get_by_role("heading", name="Instruction validation")).to_be_visible()
    expect(body.get_by_role("heading", name="Judges against humans")).to_be_visible()
    expect(body.locator("#notes li").first).to_be_visible()

    # A filter: the body is swapped by htmx, the URL follows, the page is not reloaded.
    page.evaluate("window.__same_page = true")
    page.locator("label.chip", has_text=re.compile(r"^\s*zh\s*$")).click()
    page.wait_for_url(re.compile(r"languages=zh"))
    expect(body.locator(".scope")).to_contain_text("languages: zh")
    assert page.evaluate("window.__same_page") is True
    expect(page.locator("input[name=languages][value=zh]")).to_be_checked()

    page.locator("#id_batch").select_option(label="Validation, all languages")
    page.wait_for_url(re.compile(rf"batch={validation.pk}"))
    expect(body.locator(".scope")).to_contain_text("Validation, all languages")
    assert page.evaluate("window.__same_page") is True
    page.locator("label.chip", has_text=re.compile(r"^\s*zh\s*$")).click()
    page.wait_for_url(lambda url: "languages=zh" not in url)
    expect(body.locator(".scope-filter")).to_have_count(0)

    # The download links follow the filters.
    latex = body.get_by_role("link", name="LaTeX")
    expect(latex).to_have_attribute("href", re.compile(rf"batch={validation.pk}.*format=latex"))

    # Back: htmx restores the previous state of the report.
    page.go_back()
    page.wait_for_url(re.compile(r"languages=zh"))
    expect(body.locator(".scope")).to_contain_text("languages: zh")
    expect(page.locator("input[name=languages][value=zh]")).to_be_checked()

    page.locator("#id_batch").select_option(label="All labels of the benchmark")
    page.wait_for_url(lambda url: "batch=&" in url or url.endswith("batch="))
    expect(body.get_by_role("heading", name="Judges against humans")).to_be_visible()
    page.locator("label.chip", has_text=re.compile(r"^\s*zh\s*$")).click()
    page.wait_for_url(lambda url: "languages=" not in url)
    expect(body.locator(".scope-filter")).to_have_count(0)
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "report-agreement")
    screenshot(page, "report-agreement-viewport", full_page=False)
