"""An admin exports the gold from the dashboard, watches the job finish, and reads the score
shift: the real export in a real background thread, polled by htmx."""

from __future__ import annotations

import re
import zipfile

import pytest
from playwright.sync_api import expect

from annotation.models import Assignment, TaskKind
from annotation.selectors import questions_for_assignment
from annotation.services import label_submit
from tests.conftest import DEMO, PASSWORD
from tests.judging.test_report_page import label_batch

from .conftest import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def disagree_with_every_third(batch, annotator) -> None:
    for i, assignment in enumerate(Assignment.objects.select_related("batch", "unit")
                                   .filter(batch=batch, annotator=annotator).order_by("id")):
        answers = {q.answer_key: "no" if i % 3 == 0 else "yes"
                   for q in questions_for_assignment(assignment)}
        label_submit(assignment=assignment, annotator=annotator, answers=answers,
                     client_id=f"shift-{assignment.pk}", time_spent_ms=1000)


def test_admin_exports_gold_and_reads_the_score_shift(page, make_batch, admin, annotator_a,
                                                      settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.ACCORD_EXPORTS_IN_BACKGROUND = True
    validation = make_batch(TaskKind.INSTRUCTION_VALIDATION, fraction=1.0, overlap=0.0,
                            name="Validation")
    label_batch(validation, annotator_a,
                disagree_on={validation.units.order_by("id")[0].unit_key})
    judged = make_batch(TaskKind.JUDGE_AGREEMENT, fraction=1.0, overlap=0.0, name="Judge check")
    disagree_with_every_third(judged, annotator_a)

    login(page, admin.username, PASSWORD)
    page.goto("/manage/")
    page.get_by_role("row").filter(has_text=DEMO).get_by_role("link", name="Export gold").click()
    page.wait_for_url(re.compile(rf"/reports/export/\?benchmark={DEMO}$"))
    expect(page.get_by_role("heading", name=f"Export gold: {DEMO}")).to_be_visible()

    page.evaluate("window.__same_page = true")
    page.get_by_role("radio", name=re.compile("Majority")).check()
    page.get_by_role("button", name="Start the export").click()
    job = page.locator("#export-job")
    download = job.get_by_role("link", name="Download zip")
    expect(download).to_be_visible(timeout=30_000)
    expect(job).to_have_attribute("data-status", "done")
    assert page.evaluate("window.__same_page") is True  # htmx swapped the panel in place
    assert re.search(r"/reports/export/[0-9a-f-]{36}/$", page.url)  # a URL to come back to
    expect(job.locator("table.export-files")).to_contain_text("scores.csv")
    expect(job.locator("progress")).to_have_attribute("value", "1")
    screenshot(page, "export-gold")

    with page.expect_download() as info:
        download.click()
    assert info.value.suggested_filename == f"gold-{DEMO}-majority.zip"
    with zipfile.ZipFile(info.value.path()) as archive:
        assert {"benchmark.jsonl", "removed.jsonl", "judgments_gold.jsonl", "labels.csv",
                "agreement.json", "scores.csv"} <= set(archive.namelist())

    page.get_by_role("link", name="Score shift").click()
    page.wait_for_url(re.compile(rf"/reports/score-shift/\?benchmark={DEMO}$"))
    expect(page.get_by_role("heading", name=f"Score shift: {DEMO}")).to_be_visible()
    expect(page.locator("table.shift-table").first).to_be_visible()
    expect(page.locator("figure.score-chart svg").first).to_be_visible()
    expect(page.locator("td.delta-down, td.delta-up").first).to_be_visible()
    screenshot(page, "score-shift")

    page.get_by_role("link", name="Majority").click()
    page.wait_for_url(re.compile(r"strategy=majority"))
    expect(page.get_by_role("link", name="Majority")).to_have_attribute("aria-current", "page")
