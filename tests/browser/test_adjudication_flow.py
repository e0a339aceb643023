"""An admin adjudicates disagreements with the keyboard alone, in real Chromium."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from annotation import importers
from annotation.models import Adjudication
from tests.conftest import DEMO, PASSWORD

from .conftest import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

JUDGE_UNIT = "easy-001-en|demo-model-large|r1|gpt-4o-2024-08-06"
LABELS = f"""task,unit,annotator,field,value,note
instruction_validation,hard-004-en,ana,clarity,yes,reads fine to me
instruction_validation,hard-004-zh,ben,clarity,no,"the zh version can be read two ways"
judge_agreement,{JUDGE_UNIT},ana,agree,no,the answer never says why it is blue
judge_agreement,{JUDGE_UNIT},ben,agree,yes,
"""


def case_key(page) -> str:
    return page.locator("[data-item-root]").get_attribute("data-case-key") or ""


def test_admin_adjudicates_with_the_keyboard(page, demo_benchmark, admin, annotator_a,
                                             annotator_b):
    importers.import_labels(data=LABELS.encode(), file_name="labels.csv", benchmark_name=DEMO)

    login(page, admin.username, PASSWORD)
    page.goto("/manage/")
    page.get_by_role("link", name="Adjudicate").last.click()
    expect(page).to_have_url(re.compile(r"/manage/adjudicate/\?benchmark="))
    expect(page.locator("[data-case]")).to_have_count(2)
    page.keyboard.press("n")

    expect(page.locator("[data-item-root]")).to_have_attribute(
        "data-case-key", "instruction_validation|hard-004|clarity")
    page.evaluate("window.__sameDocument = true")
    labels = page.locator("[data-label]")
    expect(labels).to_have_count(2)
    expect(labels.nth(0)).to_contain_text("ana")
    expect(labels.nth(1)).to_contain_text("the zh version can be read two ways")
    expect(page.locator('[data-rule="conservative"]')).to_contain_text("No")
    expect(page.locator('[data-rule="majority"]')).to_contain_text("No")
    expect(page.locator("[data-question].is-active")).to_have_count(1)
    screenshot(page, "adjudicate-case")

    # Enter without a reason: the page asks for it and nothing is sent.
    page.keyboard.press("n")
    expect(page.locator("#reason")).to_be_focused()
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    expect(page.locator("[data-hint]")).to_contain_text("reason")
    expect(page.locator("#reason")).to_be_focused()
    assert not Adjudication.objects.exists()

    page.keyboard.type("The Chinese wording is ambiguous; the English one is not.")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('[data-item-root]')?.dataset.caseKey"
        " !== 'instruction_validation|hard-004|clarity'")
    expect(page.locator("[data-item-root]")).to_have_attribute(
        "data-case-key", f"judge_agreement|{JUDGE_UNIT}|agree")
    assert page.evaluate("window.__sameDocument") is True  # swapped, not reloaded
    expect(page.locator("[data-decision]")).to_be_visible()
    decision = Adjudication.objects.get()
    assert (decision.unit, decision.value, decision.adjudicator.username) == (
        "hard-004", "no", admin.username)
    assert decision.reason.startswith("The Chinese wording")

    # `s` skips; the only other case is gone, so there is nothing to skip to, and `?` opens
    # the key map listing the keys.
    expect(page.locator("[data-skip-case]")).to_have_count(0)
    page.keyboard.press("?")
    expect(page.locator("#keymap")).to_be_visible()
    expect(page.locator("#keymap")).to_contain_text("Write the reason")
    page.keyboard.press("Escape")

    page.keyboard.press("y")
    page.keyboard.type("The response does explain the scattering.")
    page.keyboard.press("Enter")
    expect(page.locator("[data-done-panel]")).to_be_visible()
    assert Adjudication.objects.count() == 2
