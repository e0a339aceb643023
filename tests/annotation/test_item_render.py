"""What the cheaper item partial must still do: text blocks whose tokens hold for exactly the
text shown, escaped; the real URLs where they are remembered or filled in; question and
skip-reason markup remembered per process (`fragment`) that still follows each annotator's
answers; progress widths as `widthratio` gave them."""

from __future__ import annotations

import json
from types import SimpleNamespace
from unittest.mock import ANY

import pytest
from bs4 import BeautifulSoup
from django.template import Context, Template, engines
from django.test import Client
from django.urls import clear_script_prefix, get_script_prefix, reverse, set_script_prefix
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from annotation.models import Assignment, TaskKind
from annotation.selectors import questions_for_assignment
from annotation.templatetags import accord
from annotation.translation import read_translate_token
from annotation.views.queue import _percent, question_views

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def solo_batch(make_batch, annotator_a):
    def make(kind: str, size: int | None = 6, **options):
        return make_batch(kind, size=size, overlap=0.0, annotators=[annotator_a], **options)

    return make


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def own(user, batch) -> list[Assignment]:
    return list(Assignment.objects.filter(batch=batch, annotator=user).order_by("position"))


def page(client: Client, assignment: Assignment) -> BeautifulSoup:
    url = reverse("queue:item", args=[assignment.batch_id, assignment.pk])
    response = client.get(url, **HTMX)
    assert response.status_code == 200
    return BeautifulSoup(response.content.decode(), "html.parser")


def checked(soup: BeautifulSoup) -> dict[str, str]:
    return {i["name"]: i["value"] for i in soup.select("form[data-answer-form] input[type=radio]")
            if i.has_attr("checked")}


def answer(client: Client, assignment: Assignment, pick: int) -> None:
    answers = {q.answer_key: q.field.choices[pick].value
               for q in questions_for_assignment(assignment)}
    response = client.post(
        reverse("queue:submit", args=[assignment.batch_id, assignment.pk]),
        {**answers, "note": "", "client_id": f"c-{assignment.pk}-{pick}", "rendered": ""},
        **HTMX)
    assert "data-error" not in response.content.decode()


# --- text blocks ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", [k.value for k in TaskKind])
def test_every_text_block_token_carries_exactly_the_text_shown(kind, solo_batch, annotator_a):
    batch = solo_batch(kind, size=3)
    soup = page(client_for(annotator_a), own(annotator_a, batch)[0])
    blocks = soup.select("section.text-block:not(.back-translation)")
    assert blocks
    for block in blocks:
        button = block.select_one("button[data-translate]")
        assert button["hx-post"] == reverse("translate:block")
        assert button["hx-target"] == f"#{block['id']}-translation"
        text = block.select_one(".text")
        assert button["data-translate-text"] == text["id"]  # the text the browser posts
        payload = read_translate_token(json.loads(button["hx-vals"])["token"], text.get_text())
        assert payload == {"h": ANY, "l": text["lang"]}
    ids = [b["id"] for b in soup.select("section.text-block")]
    assert len(ids) == len(set(ids))


def test_a_text_block_escapes_its_text_label_and_language():
    markup = Template("{% load accord %}{% text_block text lang label %}").render(Context({
        "text": '<script>alert(1)</script>"', "lang": '"><b>', "label": "<i>Response</i>"}))
    soup = BeautifulSoup(markup, "html.parser")

    assert not soup.select("script, b, i")
    assert soup.select_one(".text").get_text() == '<script>alert(1)</script>"'
    assert soup.select_one(".text")["lang"] == '"><b>'
    assert soup.select_one(".text-block-label").get_text() == "<i>Response</i>"
    token = json.loads(soup.select_one("button")["hx-vals"])["token"]
    assert read_translate_token(token, '<script>alert(1)</script>"') == {"h": ANY, "l": '"><b>'}


# What templates/annotation/partials/_item_unit_meta.html rendered before `unit_meta` took
# its place: the tag must say the same.
UNIT_META_TEMPLATE = (
    '<p class="unit-meta">\n'
    '  <span class="lang-badge" title="{{ language_name }}">{{ language }}</span>'
    ' <span>{{ language_name }}</span>\n'
    '  {% if item %}\n'
    '  {% if item.group.subset %}<span class="sep">·</span>'
    ' <span>{{ item.group.subset }} set</span>{% endif %}\n'
    '  <span class="sep">·</span> {% if item.group.seed_key %}<span>derived from seed'
    ' <code>{{ item.group.seed_key }}</code></span>{% else %}<span>seed instruction</span>'
    '{% endif %}\n'
    '  {% if item.resource_level %}<span class="sep">·</span>'
    ' <span>{{ item.resource_level }}-resource</span>{% endif %}\n'
    '  {% endif %}\n'
    '</p>')


@pytest.mark.parametrize("subset", ["", "hard <b>set</b>"])
@pytest.mark.parametrize("seed_key", ["", "seed-1<script>alert(1)</script>"])
@pytest.mark.parametrize("resource_level", ["", "low&"])
@pytest.mark.parametrize("has_item", [True, False])
def test_the_unit_meta_tag_says_what_its_template_said(subset, seed_key, resource_level,
                                                       has_item):
    item = SimpleNamespace(group=SimpleNamespace(subset=subset, seed_key=seed_key),
                           resource_level=resource_level) if has_item else None
    context = {"language": '"><i>zh', "language_name": "Chinese & <u>co</u>", "item": item}
    old = BeautifulSoup(Template(UNIT_META_TEMPLATE).render(Context(context)), "html.parser")
    new = BeautifulSoup(Template("{% load accord %}{% unit_meta language language_name item %}")
                        .render(Context(context)), "html.parser")

    assert new.get_text(" ", strip=True) == old.get_text(" ", strip=True)
    assert ([(tag.name, tag.attrs) for tag in new.find_all(True)]
            == [(tag.name, tag.attrs) for tag in old.find_all(True)])
    assert not new.select("script, b, i, u")


# --- URLs ----------------------------------------------------------------------------------

def test_remembered_urls_are_what_reverse_gives_under_any_script_prefix(make_batch):
    batch = make_batch(TaskKind.PAIRWISE_PREFERENCE)
    before = get_script_prefix()
    try:
        for prefix in ("/", "/accord/", "/"):
            set_script_prefix(prefix)
            assert accord.cached_url("queue:list") == reverse("queue:list")
            assert accord.cached_url("queue:back", batch.pk) == reverse("queue:back",
                                                                         args=[batch.pk])
            assert reverse("queue:list").startswith(prefix)
    finally:
        clear_script_prefix()
        set_script_prefix(before)


def test_the_item_page_links_to_the_real_urls(solo_batch, annotator_a):
    batch = solo_batch(TaskKind.JUDGE_AGREEMENT)
    first, second, *_ = own(annotator_a, batch)
    client = client_for(annotator_a)
    answer(client, first, 0)

    for assignment, back in ((second, reverse("queue:back", args=[batch.pk])),
                             (first, reverse("queue:back", args=[batch.pk])
                              + f"?before={first.pk}")):
        soup = page(client, assignment)
        submit = reverse("queue:submit", args=[batch.pk, assignment.pk])
        form = soup.select_one("form[data-answer-form]")
        assert form["action"] == form["hx-post"] == submit
        assert soup.select_one(".crumbs a")["href"] == reverse("queue:list")
        previous = soup.select_one('.actions a[data-hotkey="p"]')
        assert previous["href"] == previous["hx-get"] == back
    skip_form = page(client, second).select_one("form[data-skip-form]")
    assert skip_form["action"] == reverse("queue:skip", args=[batch.pk, second.pk])


# --- remembered question and skip markup ----------------------------------------------------

@pytest.mark.parametrize("kind", [TaskKind.JUDGE_AGREEMENT, TaskKind.REQUIREMENT_ASSESSMENT])
def test_remembered_questions_follow_each_annotators_answers(kind, make_batch, annotator_a,
                                                             annotator_b):
    batch = make_batch(kind, size=4, overlap=1.0)
    ana, ben = client_for(annotator_a), client_for(annotator_b)
    theirs = {a.unit_id: a for a in own(annotator_b, batch)}
    mine = [a for a in own(annotator_a, batch) if a.unit_id in theirs]
    assert len(mine) >= 2

    assert not checked(page(ana, mine[0]))
    answer(ana, mine[0], 0)
    answer(ben, theirs[mine[0].unit_id], 1)

    questions = questions_for_assignment(mine[0])
    assert checked(page(ana, mine[0])) == {q.answer_key: q.field.choices[0].value
                                           for q in questions}
    assert checked(page(ben, theirs[mine[0].unit_id])) == {
        q.answer_key: q.field.choices[1].value for q in questions}
    assert not checked(page(ana, mine[1]))
    assert not checked(page(ben, theirs[mine[1].unit_id]))


def test_requirement_questions_name_their_requirement(solo_batch, annotator_a):
    batch = solo_batch(TaskKind.REQUIREMENT_ASSESSMENT, size=2)
    assignment = own(annotator_a, batch)[0]
    soup = page(client_for(annotator_a), assignment)
    for row in soup.select("table.req-table tbody tr"):
        key = row.select_one(".req-key").get_text()
        for legend in row.select("[data-question] legend"):
            assert legend.get_text().startswith(f"{key}: ")
    views = question_views(batch.kind, questions_for_assignment(assignment), {})
    unit_question = soup.select_one('.question-list [data-answer-key="completeness"] legend')
    assert unit_question.get_text() == next(
        q.prompt for q in views if q.answer_key == "completeness")


def test_question_views_are_values(solo_batch, annotator_a):
    batch = solo_batch(TaskKind.REQUIREMENT_ASSESSMENT, size=2)
    questions = questions_for_assignment(own(annotator_a, batch)[0])
    first = question_views(batch.kind, questions, {})
    again = question_views(batch.kind, questions, {})
    answered = question_views(batch.kind, questions, {questions[0].answer_key: "yes"})

    assert first == again and hash(first[0]) == hash(again[0])
    assert first[0] != answered[0] and first[1:] == answered[1:]


def test_a_refused_skip_keeps_its_reason_and_a_bogus_one_checks_none(solo_batch, annotator_a):
    batch = solo_batch(TaskKind.JUDGE_AGREEMENT)
    assignment = own(annotator_a, batch)[0]
    client = client_for(annotator_a)
    url = reverse("queue:skip", args=[batch.pk, assignment.pk])

    def refused(data: dict[str, str]) -> BeautifulSoup:
        response = client.post(url, {**data, "client_id": "c1", "rendered": ""}, **HTMX)
        return BeautifulSoup(response.content.decode(), "html.parser")

    soup = refused({"reason": "other", "other": ""})
    panel = soup.select_one("[data-skip-panel]")
    assert panel.has_attr("open")
    assert [i["value"] for i in panel.select("input[name=reason][checked]")] == ["other"]
    assert [i["data-reason-key"] for i in panel.select("input[name=reason]")] == \
        ["1", "2", "3", "4"]

    soup = refused({"reason": '"><b>x', "other": '"><i>y'})
    panel = soup.select_one("[data-skip-panel]")
    assert not panel.select("input[name=reason][checked]") and not panel.select("b, i")
    assert panel.select_one("input[name=other]")["value"] == '"><i>y'
    assert not page(client, assignment).select_one("[data-skip-panel]").has_attr("open")


def test_fragments_are_escaped_per_context_and_their_store_is_bounded(monkeypatch):
    monkeypatch.setattr(accord, "FRAGMENT_VARIANTS", 3)
    name = "annotation/partials/_item_skip_reasons.html"
    tag = "{% load accord %}{% fragment name reasons=reasons checked='' %}"
    reasons = (("a", "<b>A</b>"),)

    escaped = Template(tag).render(Context({"name": name, "reasons": reasons}))
    raw = Template(tag).render(Context({"name": name, "reasons": reasons}, autoescape=False))
    assert "&lt;b&gt;A&lt;/b&gt;" in escaped and "<b>A</b>" not in escaped
    assert "<b>A</b>" in raw

    store = accord._FRAGMENTS[engines["django"].engine.get_template(name)]
    for n in range(10):
        Template(tag).render(Context({"name": name, "reasons": (("v", str(n)),)}))
        assert 1 <= len(store) <= 3


# --- progress ------------------------------------------------------------------------------

@pytest.mark.parametrize(("part", "whole"), [
    (0, 0), (0, 3), (1, 3), (2, 3), (1, 8), (3, 8), (170, 563), (563, 563), (5, 1000),
])
def test_progress_widths_are_what_widthratio_gave(part, whole):
    expected = Template("{% widthratio part whole 100 %}").render(
        Context({"part": part, "whole": whole}))
    assert _percent(part, whole) == expected


def test_text_block_markup_is_filled_exactly_as_format_html_would():
    values = {"block_id": "b<1>", "label": "<i>L</i> & 'q'", "badge": '"', "unknown": mark_safe(
        "<em>safe</em>"), "url": "/t?a=1&b=2", "hx_vals": '{"token": "x:y"}', "language": "ar",
        "text": "<script>alert(1)</script>\nمرحبا & \"'"}
    assert accord._fill(accord.TEXT_BLOCK_HTML, **values) == format_html(
        accord.TEXT_BLOCK_HTML, **values)
