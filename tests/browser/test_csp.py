"""The Content-Security-Policy blocks nothing Accord itself needs, in real Chromium.

Chromium reports every blocked script, style, eval, image or connection on the console
("Refused to ... because it violates the following Content Security Policy directive") and
fires a `securitypolicyviolation` event; both are collected on every main page, for an admin
and for an annotator, including pages changed by htmx swaps.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

from annotation.models import TaskKind
from tests.conftest import DEMO, PASSWORD
from tests.judging.test_report_page import label_batch

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', e => window.__csp.push(
  `${e.violatedDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`));
"""


class CspWatch:
    def __init__(self, page) -> None:
        self.console: list[str] = []
        self.errors: list[str] = []
        self.events: list[str] = []
        page.context.add_init_script(RECORD_VIOLATIONS)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _console(self, message) -> None:
        text = message.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            self.console.append(f"{message.type}: {text}")

    def visit(self, page, path: str) -> None:
        response = page.goto(path)
        assert response is not None and response.status < 400, (path, response and response.status)
        assert "Content-Security-Policy" in {k.title(): v for k, v in
                                             response.headers.items()}, path
        page.wait_for_load_state("networkidle")
        self.collect(page, path)

    def collect(self, page, where: str) -> None:
        self.events += [f"{where}: {e}" for e in page.evaluate("window.__csp || []")]
        page.evaluate("window.__csp = []")

    def assert_clean(self) -> None:
        assert self.console == []
        assert self.events == []
        assert self.errors == []


def test_no_page_violates_the_content_security_policy(page, make_batch, admin, annotator_a,
                                                      annotator_b, settings):
    settings.ACCORD_TRANSLATION_PROVIDER = "none"
    validation = make_batch(TaskKind.INSTRUCTION_VALIDATION, fraction=1.0, overlap=1.0,
                            name="Validation")
    overlap = list(validation.units.filter(is_overlap=True).order_by("id")
                   .values_list("unit_key", flat=True))
    label_batch(validation, annotator_a)
    label_batch(validation, annotator_b, disagree_on={overlap[0], overlap[1]})
    rating = make_batch(TaskKind.RESPONSE_RATING, size=6, name="Rating")
    watch = CspWatch(page)
    query = urlencode({"benchmark": DEMO})

    watch.visit(page, "/accounts/login/")

    # An annotator: queue list (progress bars), an item, an htmx skip, the profile.
    login(page, annotator_a.username, PASSWORD)
    watch.collect(page, "after login")
    watch.visit(page, "/queues/")
    watch.visit(page, f"/queues/{rating.pk}/")
    assignment = page.locator("[data-item-root]").get_attribute("data-assignment")
    page.locator("details.skip-panel summary").first.click()
    page.locator("input[name=reason]").first.check()
    page.locator("form[action$='/skip/'] button[type=submit]").click()
    page.wait_for_function(
        "prev => { const r = document.querySelector('[data-item-root]');"
        " return !r || r.dataset.assignment !== prev; }", arg=assignment)
    watch.collect(page, "after an htmx skip")
    # Progress segments are sized by an SVG width attribute, not by style="" (CSP).
    bar = page.locator("[data-progress] .progress").bounding_box()
    skipped = page.locator("[data-progress] .progress-skipped").bounding_box()
    assert 0 < skipped["width"] < bar["width"]
    watch.visit(page, "/queues/profile/")

    # An admin: every management and report page, one htmx swap of the report body.
    page.context.clear_cookies()
    login(page, admin.username, PASSWORD)
    for path in ("/", "/manage/", "/manage/import/", "/manage/batches/new/",
                 f"/manage/batches/{validation.pk}/", f"/manage/batches/{rating.pk}/delete/",
                 f"/manage/adjudicate/?{query}", f"/reports/agreement/?{query}",
                 f"/reports/score-shift/?{query}", f"/reports/export/?{query}",
                 "/queues/profile/", "/admin/", "/admin/auth/user/"):
        watch.visit(page, path)

    page.goto(f"/reports/agreement/?{query}")
    page.locator("#id_batch").select_option(label="Validation")
    expect(page.locator("#report-body .scope")).to_contain_text("Validation")
    page.locator("details.field-detail").first.evaluate("d => d.open = true")
    prevalence = page.locator(".prevalence-bar").first
    segments = [box["width"] for box in (seg.bounding_box()
                                         for seg in prevalence.locator(".seg").all())]
    assert len(segments) >= 2 and all(w > 0 for w in segments)
    assert sum(segments) == pytest.approx(prevalence.bounding_box()["width"], abs=2)
    watch.collect(page, "after an htmx swap of the report")

    page.goto(f"/manage/adjudicate/?{query}")
    page.keyboard.press("n")
    expect(page.locator("[data-item-root]")).to_have_count(1)
    watch.collect(page, "an adjudication case")

    watch.assert_clean()
