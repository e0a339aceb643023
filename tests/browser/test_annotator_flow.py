"""An annotator works through queues with the keyboard alone, in real Chromium.

Google Translate is faked with `responses`: it patches `requests` for the whole process, and
the live server (with the translation worker threads) runs in this process too.
"""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.db import connection
from playwright.sync_api import expect

from annotation.models import Assignment, AssignmentStatus, Label, TaskKind
from annotation.tasks import Filters
from annotation.translation import shown_text
from tests.conftest import PASSWORD

from .conftest import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

GOOGLE_URL = "https://translate.google.com/m"
FAKE = "FAKE-TRANSLATION from the mocked Google"


@pytest.fixture
def fake_google(settings):
    settings.ACCORD_TRANSLATION_PROVIDER = "google"
    body = ("<html><body><div class='wrapper'><div class=\"result-container\">"
            f"{html.escape(FAKE)}</div></div></body></html>")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.GET, GOOGLE_URL, body=body, status=200)
        yield mock


def current_assignment(page) -> str:
    return page.locator("[data-item-root]").get_attribute("data-assignment") or ""


def wait_for_swap(page, previous: str) -> None:
    page.wait_for_function(
        "prev => { const r = document.querySelector('[data-item-root]');"
        " return r && r.dataset.assignment !== prev; }", arg=previous)


def finished_count(page) -> str:
    return page.locator("[data-progress-finished]").inner_text()


def test_annotator_labels_with_the_keyboard_alone(page, fake_google, make_batch, annotator_a):
    judge = make_batch(TaskKind.JUDGE_AGREEMENT, name="Judge agreement, Arabic", size=6,
                       overlap=0.0, annotators=[annotator_a],
                       filters=Filters(languages=("ar",)))
    others = {
        kind: make_batch(kind, size=4, overlap=0.0, annotators=[annotator_a])
        for kind in (TaskKind.INSTRUCTION_VALIDATION, TaskKind.REQUIREMENT_ASSESSMENT,
                     TaskKind.TRANSLATION_VALIDATION, TaskKind.PAIRWISE_PREFERENCE)
    }

    login(page, annotator_a.username, PASSWORD)
    expect(page).to_have_url(re.compile(r"/queues/$"))
    expect(page.locator(".queue-card")).to_have_count(5)
    screenshot(page, "queue-list")

    page.get_by_role("link", name=judge.name).first.click()
    expect(page.locator("[data-item-root]")).to_be_visible()
    work_url = page.url
    # A full page load would lose this; htmx swaps keep it.
    page.evaluate("window.__sameDocument = true")
    expect(page.locator("[data-question].is-active")).to_have_count(1)
    expect(page.locator(".text-block .text[lang=ar][dir=auto]").first).to_be_visible()
    screenshot(page, "item-judge-agreement")

    # Three items: agree, disagree (the note takes the focus), agree.
    labelled = []
    for n, key in enumerate(("y", "n", "y"), start=1):
        before = current_assignment(page)
        labelled.append(int(before))
        page.keyboard.press(key)
        if key == "n":
            expect(page.locator("#note")).to_be_focused()
            expect(page.locator("p[data-note-hint]")).to_have_text(
                "Why do you disagree? (optional, recommended)")
        page.keyboard.press("Enter")
        wait_for_swap(page, before)
        assert finished_count(page) == str(n)
        assert page.url == work_url
    assert page.evaluate("window.__sameDocument") is True
    for pk, value in zip(labelled, ("yes", "no", "yes"), strict=True):
        assignment = Assignment.objects.select_related("unit").get(pk=pk)
        assert assignment.status == AssignmentStatus.DONE
        assert assignment.time_spent_ms > 0
        assert Label.objects.get(unit=assignment.unit.unit_key, field="agree").value == value

    # Enter with the question open: nothing is sent, the hint says why.
    before = current_assignment(page)
    page.keyboard.press("Enter")
    expect(page.locator("[data-hint]")).to_contain_text("still open")
    assert current_assignment(page) == before

    # `t` translates every text block of the item in place.
    page.keyboard.press("t")
    expect(page.locator(".translated").filter(has_text=FAKE).first).to_be_visible()
    assert fake_google.calls

    # Skip with a reason chosen by key.
    page.keyboard.press("s")
    expect(page.locator("[data-skip-panel]")).to_have_attribute("open", "")
    page.keyboard.press("2")
    expect(page.locator("#skip-broken")).to_be_checked()
    page.keyboard.press("Enter")
    wait_for_swap(page, before)
    skipped = Assignment.objects.get(pk=before)
    assert skipped.status == AssignmentStatus.SKIPPED
    assert skipped.skip_reason == "Item is broken or empty"
    assert finished_count(page) == "4"
    expect(page.locator("[data-progress]")).to_contain_text("1 skipped")
    assert page.url == work_url

    # Back twice (the skip, then the third label) and change that answer.
    next_pending = current_assignment(page)
    page.keyboard.press("p")
    wait_for_swap(page, next_pending)
    assert current_assignment(page) == str(skipped.pk)
    page.keyboard.press("p")
    wait_for_swap(page, str(skipped.pk))
    assert current_assignment(page) == str(labelled[2])
    expect(page.locator(".status-banner.editing")).to_have_text(
        "Editing your earlier answer (history is kept)")
    expect(page.locator('input[name=agree][value=yes]')).to_be_checked()
    page.keyboard.press("n")
    expect(page.locator("#note")).to_be_focused()
    page.keyboard.type("the response never gives the average")
    page.keyboard.press("Enter")
    wait_for_swap(page, str(labelled[2]))
    assert current_assignment(page) == next_pending
    edited = Label.objects.get(
        unit=Assignment.objects.get(pk=labelled[2]).unit.unit_key, field="agree")
    assert edited.value == "no" and edited.note == "the response never gives the average"
    assert list(edited.events.values_list("value", flat=True)) == ["yes", "no"]
    assert finished_count(page) == "4"
    assert page.url == work_url
    assert page.evaluate("window.__sameDocument") is True

    # The key map lists what the page offers, from the page itself.
    page.keyboard.press("?")
    keymap = page.locator("#keymap")
    expect(keymap).to_be_visible()
    for text in ("Agree", "Disagree", "Skip this item", "Translate every text",
                 "Go back to the previous", "Next question", "Confirm the skip"):
        expect(keymap).to_contain_text(text)
    screenshot(page, "keymap", full_page=False)  # the overlay covers the viewport
    page.keyboard.press("Escape")
    expect(keymap).to_be_hidden()

    # The guideline panel folds away with `g` and comes back.
    page.keyboard.press("g")
    expect(page.locator("#guide-body")).to_be_hidden()
    page.keyboard.press("g")
    expect(page.locator("#guide-body")).to_be_visible()

    # Every other kind of item page.
    names = {
        TaskKind.INSTRUCTION_VALIDATION: "item-instruction-validation",
        TaskKind.REQUIREMENT_ASSESSMENT: "item-requirement-assessment",
        TaskKind.TRANSLATION_VALIDATION: "item-translation-validation",
        TaskKind.PAIRWISE_PREFERENCE: "item-pairwise",
    }
    for kind, batch in others.items():
        page.goto(f"/queues/{batch.pk}/")
        expect(page.locator("[data-question]").first).to_be_visible()
        assert page.locator("input[type=radio]:checked").count() == 0
        if kind == TaskKind.TRANSLATION_VALIDATION:
            expect(page.locator(".back-translation .translated")).to_contain_text(FAKE)
        screenshot(page, names[kind])

    # Requirement assessment with keys only: every cell of the table, then completeness.
    page.goto(f"/queues/{others[TaskKind.REQUIREMENT_ASSESSMENT].pk}/")
    questions = page.locator("[data-question]")
    count = questions.count()
    before = current_assignment(page)
    for _ in range(count):
        page.keyboard.press("y")
    assert page.locator("[data-question] input:checked").count() == count
    expect(page.locator("[data-hint]")).to_contain_text("Enter submits")
    page.keyboard.press("Enter")
    wait_for_swap(page, before)
    assert Assignment.objects.get(pk=before).status == AssignmentStatus.DONE

    # Pairwise with `=` for a tie, after walking the questions with j/k.
    page.goto(f"/queues/{others[TaskKind.PAIRWISE_PREFERENCE].pk}/")
    before = current_assignment(page)
    page.keyboard.press("j")
    page.keyboard.press("k")
    page.keyboard.press("=")
    page.keyboard.press("Enter")
    wait_for_swap(page, before)
    pair_unit = Assignment.objects.select_related("unit").get(pk=before).unit.unit_key
    assert Label.objects.get(unit=pair_unit, field="preference").value == "tie"


def test_translate_sends_the_text_the_page_shows(page, fake_google, make_batch, annotator_a):
    # The token signs a hash of the text; the browser posts the block's own text with it. HTML
    # parsing turns CRLF and CR into LF and drops NUL; markup in the text stays text.
    batch = make_batch(TaskKind.INSTRUCTION_VALIDATION, size=1, overlap=0.0,
                       annotators=[annotator_a], filters=Filters(languages=("ar",)))
    item = Assignment.objects.get(batch=batch).unit.item
    nul = "\x00" if connection.vendor == "sqlite" else ""  # PostgreSQL stores no NUL
    item.instruction = f"اكتب <b>قصة</b> &amp;\r\nسطر\rثالث{nul}\tنهاية 🙂"
    item.core_instruction = item.input_material = ""
    item.save()

    login(page, annotator_a.username, PASSWORD)
    page.goto(f"/queues/{batch.pk}/")
    block = page.locator(".text-block").filter(has=page.locator(".text[lang=ar]"))
    block.get_by_role("button", name="Translate").click()
    expect(block.locator(".translated")).to_contain_text(FAKE)

    sent = [params_of(call) for call in fake_google.calls]
    assert sent == [{"sl": "ar", "tl": "en", "q": shown_text(item.instruction)}]


def params_of(call) -> dict[str, str]:
    query = parse_qs(urlsplit(call.request.url).query)
    return {key: query[key][0] for key in ("sl", "tl", "q")}
