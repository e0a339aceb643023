"""An admin imports the demo benchmark, draws a batch through the form and watches it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from annotation.models import Assignment, Batch
from annotation.selectors import questions_for_assignment
from annotation.services import label_submit
from tests.conftest import FIXTURES, PASSWORD

from .conftest import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BENCHMARK = "browser-demo"


def label_first(batch: Batch, annotator, n: int) -> None:
    for assignment in (Assignment.objects.select_related("batch", "unit__item__group")
                       .filter(batch=batch, annotator=annotator)[:n]):
        answers = {q.answer_key: "yes" for q in questions_for_assignment(assignment)}
        label_submit(assignment=assignment, annotator=annotator, answers=answers,
                     client_id=f"browser-{assignment.pk}", time_spent_ms=42_000)


def test_admin_imports_draws_a_batch_and_sees_progress(page, settings, admin, annotator_a,
                                                        annotator_b):
    # Inline: the live server shares this test's in-memory SQLite connection, where a second
    # writing thread would meet table locks. The thread path is tested in test_import_jobs.py.
    settings.ACCORD_IMPORTS_IN_BACKGROUND = False
    login(page, admin.username, PASSWORD)
    expect(page).to_have_url(re.compile(r"/manage/$"))

    # Import, with the job panel polling until the summary appears.
    page.get_by_role("link", name="Import", exact=True).click()
    page.get_by_label("Benchmark (JSONL").check()
    page.get_by_label("Benchmark name").fill(BENCHMARK)
    page.set_input_files("#id_file", str(FIXTURES / "benchmark.jsonl"))
    page.get_by_role("button", name="Import").click()
    job = page.locator("#import-job")
    expect(job.locator(".status")).to_have_text("Done", timeout=20_000)
    expect(job.locator("table.summary")).to_contain_text("items")
    expect(job).not_to_have_attribute("hx-trigger", re.compile(".*"))
    expect(page.get_by_text("Imported 48 lines.")).to_be_visible()
    screenshot(page, "manage-import")

    # Draw a batch: half of three languages, a fifth of it labelled by both annotators.
    page.get_by_role("link", name="New batch").click()
    page.select_option("#id_benchmark", label=BENCHMARK)
    page.select_option("#id_kind", "instruction_validation")
    for language in ("en", "zh", "ar"):
        page.check(f"input[name=languages][value={language}]")
    page.fill("#id_fraction", "0.5")
    page.fill("#id_overlap_fraction", "0.2")
    page.fill("#id_seed", "11")
    page.press("#id_seed", "Tab")
    page.check(f"input[name=annotators][value='{annotator_a.pk}']")
    page.check(f"input[name=annotators][value='{annotator_b.pk}']")
    page.fill("#id_name", "Validation, en/zh/ar")
    preview = page.locator("#batch-preview")
    expect(preview.locator("tbody tr")).to_have_count(3)
    expect(preview.locator("tr[data-language=zh] td").nth(1)).to_have_text("4")
    expect(preview).to_contain_text("12 would be drawn")
    expect(preview).to_contain_text("per annotator")
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "manage-batch-form")

    page.get_by_role("button", name="Create batch").click()
    page.wait_for_url(re.compile(r"/manage/batches/\d+/$"))
    batch = Batch.objects.get(name="Validation, en/zh/ar")
    assert batch.units.count() == 12
    assert batch.parameters["seed"] == 11 and batch.parameters["fraction"] == 0.5
    assert set(batch.units.values_list("language", flat=True)) == {"en", "zh", "ar"}

    label_first(batch, annotator_a, 5)
    label_first(batch, annotator_b, 2)
    page.reload()
    for name in ("ana", "ben"):
        expect(page.locator(f"tr[data-annotator={name}] progress")).to_be_visible()
    expect(page.locator("tr[data-annotator=ana]")).to_contain_text("3 min 30 s")
    screenshot(page, "manage-batch-detail")

    page.get_by_role("link", name="Dashboard", exact=True).click()
    expect(page.get_by_role("row", name=re.compile(rf"^{BENCHMARK} 48 8 6 "))).to_be_visible()
    expect(page.get_by_role("link", name="Validation, en/zh/ar")).to_be_visible()
    screenshot(page, "manage-dashboard")
