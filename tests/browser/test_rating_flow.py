"""An annotator rates responses on several dimensions with the keyboard alone, in real
Chromium: each key 1-5 answers the highlighted dimension and moves to the next."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from annotation.models import Assignment, AssignmentStatus, Label, TaskKind
from annotation.tasks import Filters
from tests.conftest import PASSWORD

from .conftest import login, screenshot
from .test_annotator_flow import current_assignment, finished_count, wait_for_swap

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DIMENSIONS = ["helpfulness", "fluency", "coherence"]


def test_annotator_rates_a_response_on_each_dimension_by_keyboard(page, make_batch,
                                                                   annotator_a):
    batch = make_batch(TaskKind.RESPONSE_RATING, name="Rate responses, Chinese", size=3,
                       overlap=0.0, annotators=[annotator_a], dimensions=DIMENSIONS,
                       filters=Filters(languages=("zh",)))
    login(page, annotator_a.username, PASSWORD)
    page.goto(f"/queues/{batch.pk}/")
    questions = page.locator("[data-question]")
    expect(questions).to_have_count(len(DIMENSIONS))
    expect(page.locator(".text-block .text[lang=zh]").first).to_be_visible()
    first = Assignment.objects.select_related("unit__response").get(
        pk=current_assignment(page))
    # The model stays hidden from the rater.
    assert first.unit.response.model not in page.locator("[data-item-root]").inner_text()

    expect(questions.nth(0)).to_have_class(r"question rating is-active")
    page.keyboard.press("4")
    expect(page.locator('input[name=helpfulness][value="4"]')).to_be_checked()
    expect(questions.nth(1)).to_have_class(r"question rating is-active")
    page.keyboard.press("2")
    expect(questions.nth(2)).to_have_class(r"question rating is-active")
    screenshot(page, "item-response-rating")

    # Enter with a dimension open sends nothing and points at it.
    page.keyboard.press("Enter")
    expect(page.locator("[data-hint]")).to_contain_text("still open")
    page.keyboard.press("5")
    expect(page.locator("[data-hint]")).to_contain_text("Enter submits")
    # k goes back to fix an answer already given; the next key replaces it.
    page.keyboard.press("k")
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    wait_for_swap(page, str(first.pk))
    assert finished_count(page) == "1"

    first.refresh_from_db()
    assert first.status == AssignmentStatus.DONE
    unit = f"{first.unit.item.key}|{first.unit.response.model}"
    assert dict(Label.objects.filter(unit=unit).values_list("field", "value")) == {
        "helpfulness": "4", "fluency": "3", "coherence": "5"}

    # The key map lists the five levels once, not once per dimension.
    page.keyboard.press("?")
    keymap = page.locator("#keymap")
    expect(keymap).to_be_visible()
    for level in ("Very poor", "Poor", "Fair", "Good", "Excellent"):
        expect(keymap.get_by_text(f"{level} (answers the highlighted question)",
                                  exact=True)).to_have_count(1)
    page.keyboard.press("Escape")


def test_admin_names_the_dimensions_of_a_rating_batch(page, demo_benchmark, admin,
                                                      annotator_a):
    login(page, admin.username, PASSWORD)
    page.goto("/manage/batches/new/")
    page.select_option("#id_benchmark", label=demo_benchmark.name)
    dimensions = page.locator("#id_dimensions")
    page.select_option("#id_kind", "instruction_validation")
    expect(dimensions).to_be_hidden()  # asked of response rating only
    page.select_option("#id_kind", "response_rating")
    expect(dimensions).to_be_visible()
    expect(dimensions).to_have_attribute("placeholder", "fluency, helpfulness")
    preview = page.locator("#batch-preview")
    expect(preview).to_contain_text("rated 1-5 on fluency, helpfulness")
    dimensions.fill("helpfulness, coherence")
    dimensions.press("Tab")
    expect(preview).to_contain_text("rated 1-5 on helpfulness, coherence")
    page.fill("#id_size", "4")
    page.fill("#id_overlap_fraction", "0")
    page.check(f"input[name=annotators][value='{annotator_a.pk}']")
    page.fill("#id_name", "Rating")
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "manage-batch-form-rating")
    page.get_by_role("button", name="Create batch").click()
    page.wait_for_url(re.compile(r"/manage/batches/\d+/$"))
    expect(page.locator("dd[data-dimensions]")).to_have_text(
        "helpfulness, coherence (each 1-5)")
