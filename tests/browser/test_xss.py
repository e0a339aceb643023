"""XSS payloads in every kind of imported text, rendered in real Chromium: nothing runs,
nothing is parsed as markup, and every payload reads as the plain text it is.

The payloads go in through the importers (instructions, input material, requirement texts,
responses, judge observations, model and judge names, pair ids, the benchmark's name,
annotator usernames and notes), through the item form (a note), through an import error
message that echoes the file's name and a field, and through a faked translation provider.
Each page is then checked three ways: `window.__xss` is still undefined and no dialog opened;
no element carrying a payload's `data-xss` marker or an inline event handler exists in the
DOM; and payload text is visible as text.
"""

from __future__ import annotations

import contextlib
import csv
import html
import io
import json
import re
from urllib.parse import urlencode

import pytest
import responses
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from annotation import importers
from annotation.adjudication import disagreements
from annotation.models import Assignment, Benchmark, TaskKind
from annotation.services import SampleRequest, batch_create, user_ensure
from annotation.tasks import TASKS, Filters
from tests.conftest import FIXTURES, PASSWORD

from .conftest import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

GOOGLE_URL = "https://translate.google.com/m"

# Every payload that contains a tag carries `data-xss`, so one DOM query finds any that was
# parsed; each script sets window.__xss (or opens a dialog) if it ever runs.
PAYLOADS = [
    "<script data-xss>window.__xss=1</script>",
    "<img data-xss src=x onerror=window.__xss=2>",
    "<svg data-xss onload=window.__xss=3>",
    "\"><script data-xss>window.__xss=4</script>",
    "[click me](javascript:window.__xss=5)",
    "<iframe data-xss srcdoc=\"<script>parent.__xss=6</script>\"></iframe>",
    "' onmouseover='window.__xss=7' data-xss='",
    "\" onfocus=\"window.__xss=8\" autofocus data-xss=\"",
    "{{7*7}} {% debug %} ${7*7}",
    "</textarea><script data-xss>window.__xss=10</script>",
    "<style data-xss>body{display:none !important}</style>",
    "&lt;script&gt;window.__xss=12&lt;/script&gt; &amp; &#x3C;b&#x3E;",
    "\u202eevil\u202c right-to-left \u202egnp.exe",
    "<a data-xss href=\"javascript:window.__xss=14\">link</a>",
    "<details data-xss open ontoggle=window.__xss=15>",
    "<body data-xss onload=window.__xss=16>",
    "<math><mtext><table><mglyph><style><img data-xss src=x onerror=window.__xss=17>",
    "<div data-xss hx-get=\"/\" hx-trigger=\"load\" hx-on::load=\"window.__xss=18\">htmx</div>",
    "</script><script data-xss>window.__xss=19</script>",
    "<object data-xss data=\"javascript:window.__xss=20\"></object>",
    "<input data-xss autofocus onfocus=alert(21)>",
    "<meta data-xss http-equiv=\"refresh\" content=\"0;url=javascript:alert(22)\">",
    "<!-- --><script data-xss>window.__xss=23</script>",
    "<base data-xss href=\"https://evil.example/\">",
    "`-alert(25)-`'-alert(25)-'\"-alert(25)-\"",
    "<img data-xss src=x onerror=alert(26)>" + "A" * 5000 + "<script>window.__xss=26</script>",
]
LONG = PAYLOADS[-1]
# Short payloads used as names: usernames, model and judge names, pair ids.
ANNOTATOR_NAME = "<img data-xss src=x onerror=window.__xss=30>"
ADMIN_NAME = "\"><svg data-xss onload=window.__xss=31>"
MODELS = {"demo-model-large": "<b data-xss onmouseover=window.__xss=32>large</b>",
          "demo-model-small": "'><script data-xss>window.__xss=33</script>small"}
JUDGE = "<script data-xss>window.__xss=34</script>judge"
BENCHMARK = "xss <i data-xss>bench</i> \"quoted\" & 'single'"
TRANSLATED = "<img data-xss src=x onerror=window.__xss=35> translated"
NOTE = "</textarea><img data-xss src=x onerror=window.__xss=36> my note"
EVERY = [*PAYLOADS, ANNOTATOR_NAME, ADMIN_NAME, *MODELS.values(), JUDGE, BENCHMARK,
         TRANSLATED, NOTE]
assert len(set(EVERY)) >= 20


def payload(n: int) -> str:
    return PAYLOADS[n % len(PAYLOADS)]


def pair_id(original: str) -> str:
    return f"{original}\"><svg data-xss onload=window.__xss=40>"


# --- the poisoned benchmark -----------------------------------------------------------------

def jsonl(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def dumps(rows: list[dict]) -> bytes:
    return "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode()


def poisoned_files() -> dict[str, bytes]:
    items = jsonl(FIXTURES / "benchmark.jsonl")
    groups = sorted({i["group"] for i in items})
    for n, item in enumerate(items):
        item["instruction"] = f"{payload(n)} {item['instruction']}"
        item["core_instruction"] = item["instruction"]
        item["input_material"] = f"{payload(n + 7)} {item.get('input_material', '')}"
        g = groups.index(item["group"])
        for k, requirement in enumerate(item["requirements"]):
            # The same text in every language of the group, as the importer requires.
            requirement["text"] = f"{payload(g + k + 3)} {requirement['text']}"
    answers = jsonl(FIXTURES / "responses.jsonl")
    for n, row in enumerate(answers):
        row["response"] = f"{payload(n + 11)} {row['response']}"
        row["model"] = MODELS.get(row["model"], row["model"])
        for judgment in row["judgments"]:
            judgment["judge"] = JUDGE
            for m, decision in enumerate(judgment.get("decisions", ())):
                decision["observation"] = f"{payload(n + m + 13)} {decision['observation']}"
    pairs = jsonl(FIXTURES / "pairs.jsonl")
    for n, pair in enumerate(pairs):
        pair["id"] = pair_id(pair["id"])
        pair["instruction"] = f"{payload(n + 17)} {pair['instruction']}"
        pair["response_a"] = f"{payload(n + 19)} {pair['response_a']}"
        pair["response_b"] = f"{payload(n + 23)} {pair['response_b']}"
        pair["model_a"] = MODELS.get(pair["model_a"], pair["model_a"])
        pair["model_b"] = MODELS.get(pair["model_b"], pair["model_b"])
        for judgment in pair["judgments"]:
            judgment["judge"] = JUDGE
    out = io.StringIO()
    writer = csv.writer(out)
    rows = list(csv.reader(io.StringIO((FIXTURES / "labels.csv").read_text(encoding="utf-8"))))
    writer.writerow(rows[0])
    names = {"legacy_annotator_1": ANNOTATOR_NAME, "legacy_annotator_2": ADMIN_NAME}
    for n, (task, unit, annotator, field, value, _note) in enumerate(rows[1:]):
        if task == "pairwise_preference":
            unit = pair_id(unit)
        writer.writerow([task, unit, names.get(annotator, annotator), field, value,
                         payload(n + 2)])
    return {"benchmark.jsonl": dumps(items), "responses.jsonl": dumps(answers),
            "pairs.jsonl": dumps(pairs), "labels.csv": out.getvalue().encode()}


@pytest.fixture
def poisoned(settings, admin):
    settings.ACCORD_IMPORTS_IN_BACKGROUND = False
    evil = user_ensure(username=ANNOTATOR_NAME, password=PASSWORD)
    evil_admin = user_ensure(username=ADMIN_NAME, password=PASSWORD, is_staff=True)
    files = poisoned_files()
    for name, importer in (("benchmark.jsonl", importers.import_benchmark),
                           ("responses.jsonl", importers.import_responses),
                           ("pairs.jsonl", importers.import_pairs),
                           ("labels.csv", importers.import_labels)):
        importer(data=files[name], file_name=name, benchmark_name=BENCHMARK)
    benchmark = Benchmark.objects.get(name=BENCHMARK)
    batches = {
        kind: batch_create(benchmark=benchmark, kind=kind, name=f"{payload(n)} {kind}",
                           annotators=[evil], filters=Filters(), created_by=evil_admin,
                           sample=SampleRequest(size=3, seed=n))
        for n, kind in enumerate(TASKS)
    }
    assert disagreements(benchmark=benchmark), "the labels should leave cases to adjudicate"
    return {"annotator": evil, "admin": evil_admin, "benchmark": benchmark,
            "batches": batches}


@pytest.fixture
def fake_google(settings):
    settings.ACCORD_TRANSLATION_PROVIDER = "google"
    body = ("<html><body><div class='wrapper'><div class=\"result-container\">"
            f"{html.escape(TRANSLATED)}</div></div></body></html>")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.GET, GOOGLE_URL, body=body, status=200)
        mock.add_passthru(re.compile(r"http://(localhost|127\.0\.0\.1)"))
        yield mock


# --- the checks -----------------------------------------------------------------------------

INJECTED = ("[data-xss], iframe, object, embed, base, meta[http-equiv=refresh], "
            "[onerror], [onload], [onmouseover], [onfocus], [ontoggle], [hx-on\\:\\:load], "
            "[href^='javascript:' i], [src^='javascript:' i]")


class Watch:
    """Dialogs seen on a page, and the payload texts seen across pages."""

    def __init__(self, page) -> None:
        self.dialogs: list[str] = []
        self.seen: set[str] = set()
        page.on("dialog", self._dialog)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def check(self, page, where: str, *, expect_text: int = 1) -> list[str]:
        page.wait_for_load_state("load")
        # Let onload/onerror handlers and htmx's load triggers have their chance to run.
        page.wait_for_timeout(150)
        assert page.evaluate("typeof window.__xss") == "undefined", f"script ran on {where}"
        assert page.evaluate("typeof parent.__xss") == "undefined", where
        assert not self.dialogs, f"dialog on {where}: {self.dialogs}"
        injected = page.evaluate(
            "sel => Array.from(document.querySelectorAll(sel)).map(e => e.outerHTML"
            ".slice(0, 120))", INJECTED)
        assert not injected, f"markup from a payload was parsed on {where}: {injected}"
        scripts = page.evaluate(
            "Array.from(document.scripts).filter(s => s.text.includes('__xss')).length")
        assert scripts == 0, f"a payload became a <script> on {where}"
        text = page.inner_text("body")
        shown = [p for p in EVERY if p.strip() in text]
        assert len(shown) >= expect_text, (
            f"{where} shows {len(shown)} payloads as text; expected {expect_text}")
        # Entities stay entities: the text shows "&lt;", never a decoded "<script>" from them.
        if PAYLOADS[11] in text:
            assert "&lt;script&gt;window.__xss=12" in text
        self.seen.update(shown)
        return shown


def hover_everything(page) -> None:
    """Attribute-breaking payloads would need a hover or a focus: give them both."""
    for selector in (".text", "td", "th", "label", "a"):
        for element in page.locator(selector).all()[:15]:
            with contextlib.suppress(PlaywrightError):  # hidden or detached: fine
                element.hover(timeout=500)


# --- the test -------------------------------------------------------------------------------

def test_payloads_never_run_and_read_as_text(page, poisoned, fake_google, settings):
    watch = Watch(page)
    evil = poisoned["annotator"]
    benchmark = poisoned["benchmark"]

    # The annotator: every task kind's item page, one label with a payload note each.
    login(page, evil.username, PASSWORD)
    watch.check(page, "queue list", expect_text=2)
    for kind, batch in poisoned["batches"].items():
        page.goto(f"/queues/{batch.pk}/")
        watch.check(page, f"{kind} item", expect_text=2)
        hover_everything(page)
        watch.check(page, f"{kind} item after hovering")
        if kind == TaskKind.JUDGE_AGREEMENT:
            screenshot(page, "xss-item")
        assignment = page.locator("[data-item-root]").get_attribute("data-assignment")
        for question in page.locator("[data-question]").all():
            question.locator("input[type=radio]").first.evaluate(
                "el => { el.checked = true;"
                " el.dispatchEvent(new Event('change', {bubbles: true})); }")
        page.fill("#note", NOTE)
        page.locator("#answer-form button[type=submit]").click()
        page.wait_for_function(
            "prev => { const r = document.querySelector('[data-item-root]');"
            " return !r || r.dataset.assignment !== prev; }", arg=assignment)
        watch.check(page, f"{kind} next item")
        stored = Assignment.objects.get(pk=assignment)
        assert stored.status == "done", f"{kind}: the label was not stored"
        # Editing it shows the note back inside the textarea, as text.
        page.goto(f"/queues/{batch.pk}/items/{assignment}/")
        watch.check(page, f"{kind} edited item")
        expect(page.locator("#note")).to_have_value(NOTE)

    # `t`: every block translated by the faked provider, whose answer is a payload.
    page.goto(f"/queues/{poisoned['batches'][TaskKind.TRANSLATION_VALIDATION].pk}/")
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("t")
    expect(page.locator(".translated").filter(has_text=TRANSLATED).first).to_be_visible()
    assert TRANSLATED in watch.check(page, "translated item")
    assert len(fake_google.calls) >= 1

    # The admin, whose own name is a payload too.
    page.goto("/accounts/login/")
    page.context.clear_cookies()
    login(page, poisoned["admin"].username, PASSWORD)
    watch.check(page, "dashboard", expect_text=3)
    for batch in poisoned["batches"].values():
        page.goto(f"/manage/batches/{batch.pk}/")
        watch.check(page, "batch page", expect_text=3)
    query = urlencode({"benchmark": benchmark.name})
    page.goto(f"/manage/adjudicate/?{query}")
    watch.check(page, "adjudication queue", expect_text=2)
    for case in disagreements(benchmark=benchmark)[:4]:
        page.goto("/manage/adjudicate/case/?" + urlencode({
            "benchmark": benchmark.name, "task": case.task, "unit": case.unit,
            "field": case.field}))
        watch.check(page, f"case {case.task}", expect_text=3)
        hover_everything(page)
        watch.check(page, f"case {case.task} after hovering")
    page.goto(f"/reports/agreement/?{query}")
    watch.check(page, "agreement report", expect_text=2)
    page.goto(f"/reports/score-shift/?{query}")
    watch.check(page, "score shift", expect_text=2)
    page.goto(f"/reports/export/?{query}")
    watch.check(page, "export page")

    # An import whose problems echo the file's name and a field's value.
    bad_name = "<img data-xss src=x onerror=window.__xss=50>.jsonl"
    bad_line = json.dumps({"item": "easy-001-en", "model": "m", "response": "r",
                           "judgments": [{"judge": "j", "protocol": PAYLOADS[0]}]})
    page.goto("/manage/import/")
    watch.check(page, "import page", expect_text=0)
    page.locator("input[name=kind][value=responses]").check()
    page.fill("input[name=benchmark]", benchmark.name)
    page.set_input_files("#id_file", files=[{"name": bad_name, "mimeType": "text/plain",
                                             "buffer": bad_line.encode()}])
    page.get_by_role("button", name="Import").click()
    expect(page.locator("#import-job")).to_contain_text("problems", timeout=20_000)
    problems = page.locator("#import-job").inner_text()
    assert bad_name in problems and PAYLOADS[0] in problems, problems
    watch.check(page, "import errors")
    page.goto("/manage/")
    watch.check(page, "dashboard with the failed import", expect_text=3)
    screenshot(page, "xss-admin")

    assert len(watch.seen) >= 20, f"only {len(watch.seen)} payloads were seen as text"
