"""The annotator's pages: queue list, item pages of every task kind, submit, skip, back,
profile. The cast comes from tests/conftest.py: ana and ben share batches, oscar is an
outsider, and every batch is drawn from the demo benchmark through `batch_create`."""

from __future__ import annotations

import time

import pytest
from bs4 import BeautifulSoup
from django.core import signing
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.authtoken.models import Token

from annotation.models import (
    Assignment,
    AssignmentStatus,
    Label,
    LabelEvent,
    Submission,
    TaskKind,
)
from annotation.queue_forms import MAX_ITEM_SECONDS, RENDER_SALT
from annotation.selectors import questions_for_assignment
from annotation.services import label_submit, profile_for
from annotation.tasks import Filters

HTMX = {"HTTP_HX_REQUEST": "true"}
ALL_KINDS = [k.value for k in TaskKind]
# The next-item partial, whatever the item: session with its user, batch, next assignment,
# its unit's content, the group's requirements, the English anchor, progress. Editing adds
# the annotator's labels.
ITEM_QUERIES = {
    TaskKind.INSTRUCTION_VALIDATION: 7,
    TaskKind.REQUIREMENT_ASSESSMENT: 7,
    TaskKind.JUDGE_AGREEMENT: 7,
    TaskKind.TRANSLATION_VALIDATION: 7,
    TaskKind.PAIRWISE_PREFERENCE: 5,
    TaskKind.RESPONSE_RATING: 7,
}
assert set(ITEM_QUERIES) == set(TaskKind)
LIST_QUERIES = 3  # session with user, the aggregate over assignments, the batches in bulk


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def soup_of(response) -> BeautifulSoup:
    return BeautifulSoup(response.content.decode(), "html.parser")


def own(user, batch) -> list[Assignment]:
    return list(Assignment.objects.filter(batch=batch, annotator=user)
                .select_related("unit", "batch").order_by("position"))


def answers_for(assignment: Assignment, pick: int = 0) -> dict[str, str]:
    """A full set of answers: the `pick`-th choice of every question."""
    return {q.answer_key: q.field.choices[pick].value
            for q in questions_for_assignment(assignment)}


def stamp(assignment: Assignment, seconds_ago: float = 0) -> str:
    return signing.dumps({"a": assignment.pk, "t": time.time() - seconds_ago}, salt=RENDER_SALT)


def submit(client: Client, assignment: Assignment, answers: dict[str, str], *,
           client_id: str | None = None, note: str = "", htmx: bool = True,
           seconds_ago: float = 3):
    data = {**answers, "note": note, "client_id": client_id or f"test-{time.time_ns()}",
            "rendered": stamp(assignment, seconds_ago)}
    url = reverse("queue:submit", args=[assignment.batch_id, assignment.pk])
    return client.post(url, data, **(HTMX if htmx else {}))


def skip(client: Client, assignment: Assignment, reason: str, other: str = "", **extra):
    url = reverse("queue:skip", args=[assignment.batch_id, assignment.pk])
    data = {"reason": reason, "other": other, "client_id": f"skip-{time.time_ns()}",
            "rendered": stamp(assignment)}
    return client.post(url, data, **extra)


def item_url(assignment: Assignment) -> str:
    return reverse("queue:item", args=[assignment.batch_id, assignment.pk])


def checked(soup: BeautifulSoup) -> dict[str, str]:
    return {i["name"]: i["value"] for i in soup.select("form[data-answer-form] input[type=radio]")
            if i.has_attr("checked")}


@pytest.fixture
def solo_batch(make_batch, annotator_a):
    """make_batch for ana alone, no overlap: every unit of the sample is hers."""

    def make(kind: str, size: int | None = 6, **options):
        return make_batch(kind, size=size, overlap=0.0, annotators=[annotator_a], **options)

    return make


# --- access --------------------------------------------------------------------------------

def test_anonymous_is_sent_to_login(make_batch, client):
    batch = make_batch(TaskKind.PAIRWISE_PREFERENCE)
    assignment = batch.assignments.first()
    for url in (reverse("queue:list"), reverse("queue:work", args=[batch.pk]),
                item_url(assignment), reverse("queue:back", args=[batch.pk]),
                reverse("queue:profile")):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_outsider_gets_404_everywhere(make_batch, outsider, annotator_a):
    batch = make_batch(TaskKind.JUDGE_AGREEMENT, size=4)
    assignment = own(annotator_a, batch)[0]
    client = client_for(outsider)
    assert client.get(reverse("queue:work", args=[batch.pk])).status_code == 404
    assert client.get(item_url(assignment)).status_code == 404
    assert client.get(reverse("queue:back", args=[batch.pk])).status_code == 404
    assert submit(client, assignment, answers_for(assignment)).status_code == 404
    assert skip(client, assignment, "broken").status_code == 404
    assert not Submission.objects.exists()
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.PENDING


def test_an_annotator_cannot_open_a_colleagues_item(make_batch, annotator_a, annotator_b):
    batch = make_batch(TaskKind.PAIRWISE_PREFERENCE, overlap=0.0)
    bens = own(annotator_b, batch)[0]
    client = client_for(annotator_a)
    assert client.get(item_url(bens)).status_code == 404
    assert submit(client, bens, answers_for(bens)).status_code == 404
    url = reverse("queue:back", args=[batch.pk]) + f"?before={bens.pk}"
    assert client.get(url).status_code == 404


def test_an_item_under_another_batch_id_is_404(make_batch, annotator_a):
    first = make_batch(TaskKind.PAIRWISE_PREFERENCE, name="first")
    second = make_batch(TaskKind.INSTRUCTION_VALIDATION, name="second", size=4)
    assignment = own(annotator_a, first)[0]
    url = reverse("queue:item", args=[second.pk, assignment.pk])
    assert client_for(annotator_a).get(url).status_code == 404


# --- queue list ----------------------------------------------------------------------------

def test_list_shows_only_own_batches_with_their_counts(make_batch, annotator_a, annotator_b,
                                                       django_assert_max_num_queries):
    shared = make_batch(TaskKind.PAIRWISE_PREFERENCE, name="shared pairs")
    make_batch(TaskKind.JUDGE_AGREEMENT, name="ben only", size=5, overlap=0.0,
               annotators=[annotator_b])
    mine = own(annotator_a, shared)
    client = client_for(annotator_a)
    submit(client, mine[0], answers_for(mine[0]))
    skip(client, mine[1], "unsure")

    with django_assert_max_num_queries(LIST_QUERIES):
        response = client.get(reverse("queue:list"))
    soup = soup_of(response)
    cards = soup.select(".queue-card")
    assert [c.select_one(".queue-name").get_text(strip=True) for c in cards] == ["shared pairs"]
    counts = {s["data-count"]: s.get_text() for s in cards[0].select("[data-count]")}
    assert counts["done"].startswith("1 ")
    assert counts["skipped"].startswith("1 ")
    assert counts["total"].startswith(f"{len(mine)} ")
    assert counts["pending"].startswith(f"{len(mine) - 2} ")
    assert cards[0].select_one("a")["href"] == reverse("queue:work", args=[shared.pk])


def test_list_query_count_does_not_grow_with_the_number_of_batches(
        make_batch, annotator_a, django_assert_max_num_queries):
    for seed in range(5):
        make_batch(TaskKind.PAIRWISE_PREFERENCE, seed=seed, size=3)
    client = client_for(annotator_a)
    with django_assert_max_num_queries(LIST_QUERIES):
        response = client.get(reverse("queue:list"))
    assert len(soup_of(response).select(".queue-card")) == 5


# --- item pages ----------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ALL_KINDS)
def test_fresh_item_of_every_kind_has_no_answer_checked(kind, solo_batch, annotator_a):
    batch = solo_batch(kind)
    response = client_for(annotator_a).get(reverse("queue:work", args=[batch.pk]))
    assert response.status_code == 200
    soup = soup_of(response)
    radios = soup.select("form[data-answer-form] input[type=radio]")
    assert radios
    assert not [r for r in radios if r.has_attr("checked")]
    assert "Editing your earlier answer" not in response.content.decode()
    # The full page: the guideline panel of the kind and the keyboard script.
    assert soup.select_one("aside.guide .guideline")
    assert soup.select_one('script[src$="accord.js"]')


def test_instruction_validation_shows_instruction_anchor_and_seed_questions(
        solo_batch, annotator_a):
    batch = solo_batch(TaskKind.INSTRUCTION_VALIDATION, size=None)
    client = client_for(annotator_a)
    seen_seed = seen_derived = False
    for assignment in own(annotator_a, batch):
        item = assignment.unit.item
        soup = soup_of(client.get(item_url(assignment), **HTMX))
        keys = {f["data-answer-key"] for f in soup.select("[data-question]")}
        assert {"clarity", "linguistic_independence", "cultural_accessibility"} <= keys
        texts = [t.get_text() for t in soup.select(".text-block .text")]
        assert item.instruction in texts
        if item.language != "en":
            assert any(t.startswith(item.group.items.get(language="en").instruction[:20])
                       for t in texts)
        if item.group.seed_key:
            seen_derived = True
            assert "max_constraints" not in keys
            assert f"derived from seed {item.group.seed_key}" in soup.get_text(" ", strip=True)
        else:
            seen_seed = True
            assert {"max_constraints", "max_content_constraints"} <= keys
            assert "seed instruction" in soup.get_text()
    assert seen_seed and seen_derived


def test_requirement_assessment_shows_the_requirement_table(solo_batch, annotator_a):
    batch = solo_batch(TaskKind.REQUIREMENT_ASSESSMENT, size=3)
    assignment = own(annotator_a, batch)[0]
    requirements = list(assignment.unit.item.group.requirements.order_by("position"))
    soup = soup_of(client_for(annotator_a).get(item_url(assignment), **HTMX))
    rows = soup.select("table.req-table tbody tr")
    assert len(rows) == len(requirements)
    for row, requirement in zip(rows, requirements, strict=True):
        assert row.select_one(".req-key").get_text() == requirement.key
        assert row.select_one(".req-text").get_text() == requirement.text
        assert row.select_one(".req-cat").get_text() == requirement.category
        assert row.select_one(".req-dim").get_text() == requirement.dimension
        keys = [f["data-answer-key"] for f in row.select("[data-question]")]
        assert keys == [f"{requirement.key}#{f}"
                        for f in ("explicitness", "atomicity", "category", "dimension")]
    assert soup.select_one('[data-question][data-answer-key="completeness"]')


def test_judge_agreement_shows_response_decision_and_observation(solo_batch, annotator_a):
    batch = solo_batch(TaskKind.JUDGE_AGREEMENT, size=8)
    client = client_for(annotator_a)
    for assignment in own(annotator_a, batch)[:4]:
        decision = assignment.unit.decision
        soup = soup_of(client.get(item_url(assignment), **HTMX))
        box = soup.select_one(".judge-box")
        assert box.select_one(".req-text").get_text() == decision.requirement.text
        assert decision.requirement.category in box.select_one(".req-meta").get_text()
        assert box.select_one(".judge-name").get_text() == decision.judgment.judge
        verdict = box.select_one("[data-decision]")
        assert verdict.get_text() == ("YES" if decision.decision else "NO")
        if decision.observation:
            assert decision.observation in [t.get_text() for t in box.select(".text")]
            assert "may be wrong" in box.get_text()
        texts = [t.get_text() for t in soup.select(".text-block .text")]
        assert decision.judgment.response.text in texts
        # The unit shown names no model: item, requirement and judge only.
        item_key, model, requirement_key, judge = assignment.unit.unit_key.split("|")
        assert soup.select_one(".unit-key").get_text() == \
            f"{item_key}|{requirement_key}|{judge}"
        assert model not in soup.get_text()
        question = soup.select_one('[data-question][data-answer-key="agree"]')
        assert question["data-note-on"] == "no"
        assert "disagree" in question["data-note-prompt"].lower()


def test_translation_validation_shows_original_translation_back_translation_and_scale(
        solo_batch, annotator_a):
    batch = solo_batch(TaskKind.TRANSLATION_VALIDATION, size=4)
    assignment = own(annotator_a, batch)[0]
    item = assignment.unit.item
    anchor = item.group.items.get(language="en")
    soup = soup_of(client_for(annotator_a).get(item_url(assignment), **HTMX))
    texts = {t.get_text(): t for t in soup.select(".text-block .text")}
    assert texts[anchor.instruction]["lang"] == "en"
    assert texts[item.instruction]["lang"] == item.language
    assert soup.select_one(".back-translation .translation[hx-trigger=load]")
    assert [li.select_one(".req-key").get_text() for li in soup.select(".req-list li")] == \
        list(item.group.requirements.order_by("position").values_list("key", flat=True))
    choices = soup.select('[data-answer-key="quality"] .choice')
    assert [c.select_one("kbd").get_text() for c in choices] == ["1", "2", "3", "4", "5"]
    assert all(c.select_one(".choice-desc").get_text() for c in choices)


def test_pairwise_shows_instruction_and_both_responses(solo_batch, annotator_a):
    batch = solo_batch(TaskKind.PAIRWISE_PREFERENCE, size=3)
    assignment = own(annotator_a, batch)[0]
    pair = assignment.unit.pair
    soup = soup_of(client_for(annotator_a).get(item_url(assignment), **HTMX))
    assert soup.select_one(".text-block .text").get_text() == pair.instruction
    side_a = soup.select_one('[data-side="a"] .text')
    side_b = soup.select_one('[data-side="b"] .text')
    assert (side_a.get_text(), side_b.get_text()) == (pair.response_a, pair.response_b)
    assert [i["data-key"] for i in soup.select('[data-answer-key="preference"] input')] == \
        ["a", "b", "="]


def test_response_rating_shows_the_response_and_one_question_per_dimension(
        solo_batch, annotator_a):
    batch = solo_batch(TaskKind.RESPONSE_RATING, size=None,
                       filters=Filters(languages=("ar",)))
    assert batch.parameters["dimensions"] == ["fluency", "helpfulness"]  # what the judges scored
    assignment = own(annotator_a, batch)[0]
    response = assignment.unit.response
    item = assignment.unit.item
    soup = soup_of(client_for(annotator_a).get(item_url(assignment), **HTMX))
    blocks = {b.select_one(".text-block-label").get_text(): b.select_one(".text")
              for b in soup.select(".text-block")}
    assert blocks["Instruction"].get_text() == item.instruction
    assert blocks["English original (anchor)"].get_text() == \
        item.group.items.get(language="en").instruction
    assert blocks["Response"].get_text() == response.text
    assert blocks["Response"]["lang"] == "ar"
    # The model is never named: not beside the response, not in the unit shown.
    assert response.model not in soup.get_text()
    assert soup.select_one(".unit-key").get_text() == item.key
    questions = soup.select("[data-question]")
    assert [q["data-answer-key"] for q in questions] == ["fluency", "helpfulness"]
    for question in questions:
        assert question.select_one("legend").get_text() in ("Fluency", "Helpfulness")
        assert question.select_one(".question-hint").get_text()
        assert "rating" in question["class"]
        assert [i["data-key"] for i in question.select("input")] == ["1", "2", "3", "4", "5"]
        assert [c.get_text() for c in question.select(".choice-label")] == \
            ["Very poor", "Poor", "Fair", "Good", "Excellent"]
    assert not checked(soup)


def test_response_rating_asks_the_dimensions_the_batch_names(make_batch, annotator_a):
    batch = make_batch(TaskKind.RESPONSE_RATING, size=2, overlap=0.0, annotators=[annotator_a],
                       dimensions=["coherence", "consistency", "relevance", "fluency"])
    soup = soup_of(client_for(annotator_a).get(reverse("queue:work", args=[batch.pk]), **HTMX))
    assert [q["data-answer-key"] for q in soup.select("[data-question]")] == \
        ["coherence", "consistency", "relevance", "fluency"]


def test_a_rating_stores_one_label_per_dimension_on_the_response(solo_batch, annotator_a):
    batch = solo_batch(TaskKind.RESPONSE_RATING, size=3)
    first, second, _ = own(annotator_a, batch)
    response = first.unit.response
    client = client_for(annotator_a)

    page = submit(client, first, {"helpfulness": "2", "fluency": "5"}, note="fluent but wrong")

    assert soup_of(page).select_one("[data-item-root]")["data-assignment"] == str(second.pk)
    labels = Label.objects.filter(annotator=annotator_a, task=TaskKind.RESPONSE_RATING)
    unit = f"{response.item.key}|{response.model}"
    assert first.unit.unit_key == unit
    assert sorted(labels.values_list("unit", "field", "value", "note")) == [
        (unit, "fluency", "5", "fluent but wrong"), (unit, "helpfulness", "2", "fluent but wrong")]
    assert {(lb.item_id, lb.model) for lb in labels} == {(response.item_id, response.model)}
    # Editing shows the ratings again.
    assert checked(soup_of(client.get(item_url(first), **HTMX))) == \
        {"helpfulness": "2", "fluency": "5"}


def test_a_rating_needs_every_dimension_and_a_level_from_1_to_5(solo_batch, annotator_a):
    batch = solo_batch(TaskKind.RESPONSE_RATING, size=2)
    first = own(annotator_a, batch)[0]
    client = client_for(annotator_a)
    soup = soup_of(submit(client, first, {"helpfulness": "4"}))
    assert "missing" in soup.select_one("[data-error]").get_text()
    assert checked(soup) == {"helpfulness": "4"}
    soup = soup_of(submit(client, first, {"helpfulness": "4", "fluency": "6"}))
    assert "not one of" in soup.select_one("[data-error]").get_text()
    assert not Label.objects.exists()


@pytest.mark.parametrize("kind", [TaskKind.JUDGE_AGREEMENT, TaskKind.RESPONSE_RATING])
def test_response_html_is_shown_as_escaped_text(kind, solo_batch, annotator_a):
    batch = solo_batch(kind, size=None, filters=Filters(languages=("en",)))
    assignment = next(
        a for a in own(annotator_a, batch)
        if "<script>" in (a.unit.response or a.unit.decision.judgment.response).text
    )
    response = client_for(annotator_a).get(item_url(assignment))
    body = response.content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<b>13.5</b>" not in body


def test_arabic_text_renders_right_to_left(solo_batch, annotator_a):
    batch = solo_batch(TaskKind.INSTRUCTION_VALIDATION, size=None)
    assignment = next(a for a in own(annotator_a, batch) if a.unit.language == "ar")
    soup = soup_of(client_for(annotator_a).get(item_url(assignment), **HTMX))
    block = next(t for t in soup.select(".text-block .text")
                 if t.get_text() == assignment.unit.item.instruction)
    assert block["lang"] == "ar"
    assert block["dir"] == "auto"
    assert soup.select_one("#note")["dir"] == "auto"


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_item_partial_query_count_is_fixed(kind, solo_batch, annotator_a,
                                           django_assert_max_num_queries):
    """The same bound for every item, whatever its number of requirements or language."""
    batch = solo_batch(kind, size=None)
    client = client_for(annotator_a)
    assignments = own(annotator_a, batch)[:8]
    for assignment in assignments:
        with django_assert_max_num_queries(ITEM_QUERIES[kind]):
            response = client.get(item_url(assignment), **HTMX)
        assert response.status_code == 200
    # The next-item partial of the queue page itself.
    with django_assert_max_num_queries(ITEM_QUERIES[kind]):
        client.get(reverse("queue:work", args=[batch.pk]), **HTMX)


def test_the_next_item_brings_the_progress_in_its_own_query(solo_batch, annotator_a):
    batch = solo_batch(TaskKind.JUDGE_AGREEMENT, size=6)
    first, second, *_ = own(annotator_a, batch)
    Assignment.objects.filter(pk=first.pk).update(status=AssignmentStatus.DONE)
    Assignment.objects.filter(pk=second.pk).update(status=AssignmentStatus.SKIPPED)
    client = client_for(annotator_a)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("queue:work", args=[batch.pk]), **HTMX)
    reads = [q["sql"] for q in queries.captured_queries
             if q["sql"].startswith('SELECT "annotation_assignment"')]
    assert len(reads) == 1, reads
    progress = soup_of(response).select_one("[data-progress]").get_text(" ", strip=True)
    assert "2 / 6" in progress and "1 skipped" in progress
    assert soup_of(response).select_one("[data-item-root]")["data-assignment"] == \
        str(own(annotator_a, batch)[2].pk)


def test_requirement_count_does_not_change_the_query_count(solo_batch, annotator_a,
                                                            django_assert_num_queries):
    batch = solo_batch(TaskKind.REQUIREMENT_ASSESSMENT, size=None)
    client = client_for(annotator_a)
    by_size = {}
    for assignment in own(annotator_a, batch):
        by_size.setdefault(assignment.unit.item.group.requirements.count(), assignment)
    assert len(by_size) >= 3  # the demo has groups of 2 to 6 requirements
    for assignment in by_size.values():
        # The item URL needs no batch lookup (the assignment brings it); English has no anchor.
        english = assignment.unit.item.language == "en"
        with django_assert_num_queries(ITEM_QUERIES[TaskKind.REQUIREMENT_ASSESSMENT] - 1
                                       - (1 if english else 0)):
            client.get(item_url(assignment), **HTMX)


# --- htmx and full page --------------------------------------------------------------------

def test_htmx_gets_the_partial_and_a_plain_request_the_full_page(solo_batch, annotator_a):
    batch = solo_batch(TaskKind.PAIRWISE_PREFERENCE)
    client = client_for(annotator_a)
    url = reverse("queue:work", args=[batch.pk])
    partial = client.get(url, **HTMX)
    full = client.get(url)
    assert "HX-Request" in partial["Vary"] and "HX-Request" in full["Vary"]
    assert b"<html" not in partial.content
    assert b"<html" in full.content
    assert soup_of(partial).select_one("[data-item-root] [data-progress]")
    assert soup_of(full).select_one("#item-slot [data-item-root]")


# --- submit --------------------------------------------------------------------------------

def test_submit_records_labels_events_time_and_returns_the_next_item(solo_batch, annotator_a):
    batch = solo_batch(TaskKind.REQUIREMENT_ASSESSMENT, size=3)
    first, second, *_ = own(annotator_a, batch)
    answers = answers_for(first)
    client = client_for(annotator_a)

    response = submit(client, first, answers, note="looks fine", seconds_ago=42)

    assert response.status_code == 200
    assert "HX-Request" in response["Vary"]
    first.refresh_from_db()
    assert first.status == AssignmentStatus.DONE
    assert 42_000 <= first.time_spent_ms < 60_000
    submission = Submission.objects.get()
    assert submission.assignment == first and submission.source == Submission.Source.WEB
    assert 42_000 <= submission.time_spent_ms < 60_000
    labels = Label.objects.filter(annotator=annotator_a)
    assert labels.count() == len(answers)
    assert LabelEvent.objects.filter(submission=submission).count() == len(answers)
    item_key = first.unit.unit_key
    assert labels.get(unit=item_key, field="completeness").value == "yes"
    assert labels.filter(unit__startswith=f"{item_key}#", field="atomicity").count() == \
        first.unit.item.group.requirements.count()
    assert set(labels.values_list("note", flat=True)) == {"looks fine"}

    soup = soup_of(response)
    assert b"<html" not in response.content
    root = soup.select_one("[data-item-root]")
    assert root["data-assignment"] == str(second.pk)
    assert soup.select_one("[data-progress-finished]").get_text() == "1"
    assert not checked(soup)


def test_time_spent_is_capped_and_a_bad_stamp_records_none(solo_batch, annotator_a):
    batch = solo_batch(TaskKind.PAIRWISE_PREFERENCE, size=3)
    first, second, _ = own(annotator_a, batch)
    client = client_for(annotator_a)
    submit(client, first, answers_for(first), seconds_ago=5 * 3600)
    first.refresh_from_db()
    assert first.time_spent_ms == MAX_ITEM_SECONDS * 1000

    url = reverse("queue:submit", args=[batch.pk, second.pk])
    client.post(url, {**answers_for(second), "client_id": "forged", "rendered": stamp(first)},
                **HTMX)
    assert Submission.objects.get(client_id="forged").time_spent_ms is None


def test_submit_without_htmx_redirects_to_the_queue(solo_batch, annotator_a):
    batch = solo_batch(TaskKind.PAIRWISE_PREFERENCE)
    first = own(annotator_a, batch)[0]
    response = submit(client_for(annotator_a), first, answers_for(first), htmx=False)
    assert response.status_code == 302
    assert response["Location"] == reverse("queue:work", args=[batch.pk])


def test_double_submit_with_the_same_client_id_stores_one_submission(solo_batch, annotator_a):
    batch = solo_batch(TaskKind.INSTRUCTION_VALIDATION)
    first = own(annotator_a, batch)[0]
    client = client_for(annotator_a)
    for _ in range(2):
        response = submit(client, first, answers_for(first), client_id="same-click")
        assert response.status_code == 200
    assert Submission.objects.count() == 1
    assert LabelEvent.objects.count() == len(answers_for(first))


def test_the_form_carries_a_fresh_client_id_and_a_signed_render_time(solo_batch, annotator_a):
    batch = solo_batch(TaskKind.PAIRWISE_PREFERENCE)
    client = client_for(annotator_a)
    url = reverse("queue:work", args=[batch.pk])
    ids = set()
    for _ in range(2):
        form = soup_of(client.get(url, **HTMX)).select_one("form[data-answer-form]")
        ids.add(form.select_one("[name=client_id]")["value"])
        rendered = signing.loads(form.select_one("[name=rendered]")["value"], salt=RENDER_SALT)
        assert rendered["a"] == own(annotator_a, batch)[0].pk
    assert len(ids) == 2


def test_missing_answers_show_an_error_keep_the_choices_and_save_nothing(solo_batch,
                                                                        annotator_a):
    batch = solo_batch(TaskKind.INSTRUCTION_VALIDATION)
    first = own(annotator_a, batch)[0]
    partial = {"clarity": "no"}
    client = client_for(annotator_a)

    response = submit(client, first, partial, note="half done", client_id="first-try")

    assert response.status_code == 200  # htmx swaps only 2xx
    soup = soup_of(response)
    # Nothing was stored under that id, and the next try gets an id of its own.
    assert soup.select_one("[name=client_id]")["value"] != "first-try"
    assert "missing" in soup.select_one("[data-error]").get_text()
    assert soup.select_one("[data-item-root]")["data-assignment"] == str(first.pk)
    assert checked(soup) == partial
    assert soup.select_one("#note").get_text() == "half done"
    assert not Submission.objects.exists() and not Label.objects.exists()
    first.refresh_from_db()
    assert first.status == AssignmentStatus.PENDING

    plain = submit(client, first, partial, htmx=False)
    assert plain.status_code == 422
    assert b"<html" in plain.content


def test_an_unknown_value_is_refused(solo_batch, annotator_a):
    batch = solo_batch(TaskKind.PAIRWISE_PREFERENCE)
    first = own(annotator_a, batch)[0]
    response = submit(client_for(annotator_a), first, {"preference": "c"})
    assert "not one of" in soup_of(response).select_one("[data-error]").get_text()
    assert not Label.objects.exists()


# --- skip ----------------------------------------------------------------------------------

def test_skip_needs_a_reason_and_marks_the_item_skipped(solo_batch, annotator_a):
    batch = solo_batch(TaskKind.JUDGE_AGREEMENT)
    first, second, *_ = own(annotator_a, batch)
    client = client_for(annotator_a)

    response = skip(client, first, "", **HTMX)
    assert "Choose why" in soup_of(response).select_one("[data-error]").get_text()
    response = skip(client, first, "other", "", **HTMX)
    assert "few words" in soup_of(response).select_one("[data-error]").get_text()
    assert soup_of(response).select_one("[data-skip-panel]").has_attr("open")
    first.refresh_from_db()
    assert first.status == AssignmentStatus.PENDING

    response = skip(client, first, "unreadable", **HTMX)
    first.refresh_from_db()
    assert first.status == AssignmentStatus.SKIPPED
    assert first.skip_reason == "Text unreadable / language I can't judge"
    assert soup_of(response).select_one("[data-item-root]")["data-assignment"] == str(second.pk)
    assert "1 skipped" in soup_of(response).select_one("[data-progress]").get_text()

    skip(client, second, "other", "the response is cut off", **HTMX)
    second.refresh_from_db()
    assert second.skip_reason == "Other: the response is cut off"
    assert Submission.objects.filter(skipped=True).count() == 2


def test_skip_without_htmx_redirects(solo_batch, annotator_a):
    batch = solo_batch(TaskKind.PAIRWISE_PREFERENCE)
    first = own(annotator_a, batch)[0]
    response = skip(client_for(annotator_a), first, "broken")
    assert response.status_code == 302


def test_a_labelled_item_cannot_be_skipped_and_its_page_offers_no_skip(solo_batch,
                                                                      annotator_a):
    batch = solo_batch(TaskKind.PAIRWISE_PREFERENCE)
    first = own(annotator_a, batch)[0]
    client = client_for(annotator_a)
    submit(client, first, answers_for(first))
    response = skip(client, first, "unsure", **HTMX)
    assert "already labelled" in soup_of(response).select_one("[data-error]").get_text()
    first.refresh_from_db()
    assert first.status == AssignmentStatus.DONE
    assert not soup_of(client.get(item_url(first), **HTMX)).select_one("[data-skip-panel]")


def test_a_skipped_item_can_be_revisited_and_labelled(solo_batch, annotator_a):
    batch = solo_batch(TaskKind.PAIRWISE_PREFERENCE)
    first = own(annotator_a, batch)[0]
    client = client_for(annotator_a)
    skip(client, first, "unsure")
    soup = soup_of(client.get(item_url(first), **HTMX))
    assert "You skipped this item" in soup.select_one(".status-banner.skipped").get_text()
    assert not checked(soup)
    submit(client, first, answers_for(first))
    first.refresh_from_db()
    assert (first.status, first.skip_reason) == (AssignmentStatus.DONE, "")


def test_the_finished_queue_lists_skipped_items_to_revisit(solo_batch, annotator_a):
    batch = solo_batch(TaskKind.PAIRWISE_PREFERENCE, size=3)
    first, second, third = own(annotator_a, batch)
    client = client_for(annotator_a)
    submit(client, first, answers_for(first))
    skip(client, second, "broken")
    response = submit(client, third, answers_for(third))
    soup = soup_of(response)
    panel = soup.select_one("[data-finished-panel]")
    assert "Queue finished" in panel.get_text()
    assert "2 labelled" in panel.get_text(" ", strip=True)
    links = panel.select(".skipped-list a")
    assert [a["href"] for a in links] == [item_url(second)]
    assert "3 / 3" in soup.select_one("[data-progress]").get_text(" ", strip=True)


# --- back and edit -------------------------------------------------------------------------

def test_back_opens_the_previous_item_with_its_answers_and_an_edit_keeps_history(
        solo_batch, annotator_a):
    batch = solo_batch(TaskKind.INSTRUCTION_VALIDATION)
    first, second, *_ = own(annotator_a, batch)
    client = client_for(annotator_a)
    original = answers_for(first, pick=0)
    submit(client, first, original, note="first try")
    submit(client, second, answers_for(second, pick=1))

    back_url = reverse("queue:back", args=[batch.pk])
    soup = soup_of(client.get(back_url, **HTMX))
    assert soup.select_one("[data-item-root]")["data-assignment"] == str(second.pk)
    soup = soup_of(client.get(f"{back_url}?before={second.pk}", **HTMX))
    assert soup.select_one("[data-item-root]")["data-assignment"] == str(first.pk)
    assert "Editing your earlier answer (history is kept)" in soup.get_text()
    assert checked(soup) == original
    assert soup.select_one("#note").get_text() == "first try"
    # Walking back from the first finished item stays there and says so.
    soup = soup_of(client.get(f"{back_url}?before={first.pk}", **HTMX))
    assert soup.select_one("[data-item-root]")["data-assignment"] == str(first.pk)
    assert "no earlier item" in soup.select_one(".notice").get_text()

    labels_before = Label.objects.count()
    changed = {**original, "clarity": "no"}
    submit(client, first, changed, note="changed my mind")

    assert Label.objects.count() == labels_before
    clarity = Label.objects.get(unit=first.unit.unit_key, field="clarity",
                                annotator=annotator_a)
    assert clarity.value == "no" and clarity.note == "changed my mind"
    assert list(clarity.events.values_list("value", flat=True)) == ["yes", "no"]
    assert Submission.objects.filter(assignment=first).count() == 2


def test_back_without_htmx_redirects_to_the_item_page(solo_batch, annotator_a):
    batch = solo_batch(TaskKind.PAIRWISE_PREFERENCE)
    first = own(annotator_a, batch)[0]
    client = client_for(annotator_a)
    submit(client, first, answers_for(first))
    response = client.get(reverse("queue:back", args=[batch.pk]))
    assert response.status_code == 302
    assert response["Location"] == item_url(first)
    page = client.get(item_url(first))
    assert page.status_code == 200 and b"<html" in page.content


def test_annotators_never_see_each_others_answers(make_batch, annotator_a, annotator_b):
    batch = make_batch(TaskKind.INSTRUCTION_VALIDATION, size=6, overlap=1.0)
    anas = own(annotator_a, batch)[0]
    bens = Assignment.objects.get(unit=anas.unit, annotator=annotator_b)
    label_submit(assignment=bens, annotator=annotator_b, answers=answers_for(bens, pick=1),
                 note="ben's private note", client_id="ben-1")
    client = client_for(annotator_a)

    fresh = soup_of(client.get(item_url(anas), **HTMX))
    assert not checked(fresh)
    assert "ben's private note" not in fresh.get_text()

    submit(client, anas, answers_for(anas, pick=0))
    editing = soup_of(client.get(item_url(anas), **HTMX))
    assert set(checked(editing).values()) == {"yes"}
    assert "ben's private note" not in editing.get_text()


# --- profile -------------------------------------------------------------------------------

def test_profile_sets_the_working_language(annotator_a):
    client = client_for(annotator_a)
    page = soup_of(client.get(reverse("queue:profile")))
    assert page.select_one("#id_working_language")["value"] == "en"
    response = client.post(reverse("queue:profile"), {"working_language": "ar"})
    assert response.status_code == 302
    assert profile_for(annotator_a).working_language == "ar"

    response = client.post(reverse("queue:profile"), {"working_language": "not a code"})
    assert response.status_code == 422
    assert profile_for(annotator_a).working_language == "ar"


def test_profile_creates_and_regenerates_the_api_token(annotator_a, annotator_b):
    client = client_for(annotator_a)
    assert "no API token yet" in client.get(reverse("queue:profile")).content.decode()
    assert client.get(reverse("queue:token")).status_code == 405

    client.post(reverse("queue:token"))
    first = Token.objects.get(user=annotator_a).key
    assert first in client.get(reverse("queue:profile")).content.decode()
    client.post(reverse("queue:token"))
    second = Token.objects.get(user=annotator_a).key
    assert second != first
    assert not Token.objects.filter(user=annotator_b).exists()


@pytest.mark.parametrize(("code", "name"), [
    ("en", "English"), ("zh", "Chinese"), ("zh-Hans", "Simplified Chinese"), ("ar", "Arabic"),
    ("hi", "Hindi"), ("sw", "Swahili"), ("ru", "Russian"), ("xx", "xx"),
])
def test_items_name_their_language(code, name):
    from annotation.views.queue import language_name

    assert language_name(code) == name
