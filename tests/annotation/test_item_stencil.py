"""A fresh item's partial comes from its batch's stencil (annotation/stencils.py): it must be
the partial a full render gives, for every kind and every annotator, never another's."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.safestring import mark_safe

from annotation.models import Assignment, AssignmentStatus, TaskKind
from annotation.stencils import Stencil, Stencils, marker
from annotation.views import queue as queue_views

HTMX = {"HTTP_HX_REQUEST": "true"}
# What differs between two renders of the same item: random ids and per-render stamps.
RANDOM = [
    (re.compile(r'name="client_id" value="[0-9a-f]+"'), 'name="client_id" value="?"'),
    (re.compile(r'name="rendered" value="[^"]*"'), 'name="rendered" value="?"'),
    (re.compile(r"tb-[0-9a-f]{10}"), "tb-?"),
]


def masked(markup: str) -> str:
    for pattern, replacement in RANDOM:
        markup = pattern.sub(replacement, markup)
    return markup.strip()


def item_in_page(page: str) -> str:
    """The item partial as the whole page includes it (rendered by the template, never from a
    stencil), without the CSRF fields that only a whole page's forms carry."""
    start = page.index('<div class="item-wrap"')
    end = page.index('\n  </div>\n  <aside class="guide"', start)
    return re.sub(r'<input type="hidden" name="csrfmiddlewaretoken" value="[^"]*">', "",
                  page[start:end])


@pytest.fixture
def clients(annotator_a, annotator_b):
    made = {}
    for user in (annotator_a, annotator_b):
        made[user.username] = Client()
        made[user.username].force_login(user)
    return made


@pytest.mark.django_db
@pytest.mark.parametrize("kind", list(TaskKind.values))
def test_the_stencilled_partial_is_the_rendered_one_for_each_annotator(kind, make_batch,
                                                                       clients):
    options = {"dimensions": ("helpfulness", "fluency")} if kind == TaskKind.RESPONSE_RATING else {}
    batch = make_batch(kind, size=4, overlap=1.0, **options)
    url = reverse("queue:work", args=[batch.pk])
    queue_views.ITEM_FRAMES.clear()

    for name, client in clients.items():
        for _ in range(2):  # the second item comes after answering the first
            partial = client.get(url, **HTMX).content.decode()
            whole = client.get(url).content.decode()
            assert masked(partial) == masked(item_in_page(whole)), name
            assignment = Assignment.objects.get(pk=re.search(r'data-assignment="(\d+)"',
                                                             partial).group(1))
            assert assignment.annotator.username == name
            assert assignment.status == AssignmentStatus.PENDING
            assert "Item " in partial and 'data-status="pending"' in partial
            fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"',
                                     partial))
            for question, value in re.findall(
                    r'<input type="radio"[^>]*name="([^"]+)" value="([^"]*)"', partial):
                fields.setdefault(question, value)
            submit = re.search(r'<form id="answer-form"[^>]*action="([^"]+)"', partial)
            assert client.post(submit.group(1), fields, **HTMX).status_code == 200
    # Both annotators' items, first and next, came from one stencil.
    assert len(queue_views.ITEM_FRAMES) == 1


@pytest.mark.django_db
def test_a_renamed_batch_gets_a_new_stencil(make_batch, clients):
    batch = make_batch(TaskKind.INSTRUCTION_VALIDATION, size=4)
    url = reverse("queue:work", args=[batch.pk])
    client = clients["ana"]
    assert batch.name in client.get(url, **HTMX).content.decode()
    batch.name = "Renamed <b>batch</b>"
    batch.save()
    partial = client.get(url, **HTMX).content.decode()
    assert "Renamed &lt;b&gt;batch&lt;/b&gt;" in partial
    assert masked(partial) == masked(item_in_page(client.get(url).content.decode()))


def test_a_stencil_escapes_its_values_unless_they_are_safe():
    stencil = Stencil(f'<p title="{marker("a")}">{marker("b")}</p>{marker("a")}')
    filled = stencil.fill({"a": '"><script>x</script>', "b": mark_safe("<em>ok</em>")})
    assert filled == ('<p title="&quot;&gt;&lt;script&gt;x&lt;/script&gt;"><em>ok</em></p>'
                      "&quot;&gt;&lt;script&gt;x&lt;/script&gt;")
    # A value that looks like a marker is only text.
    assert Stencil(marker("a")).fill({"a": marker("b")}) == marker("b")


def test_stencils_are_kept_per_key_and_bounded():
    stencils = Stencils(size=2)
    template = "annotation/partials/_item_progress.html"
    values = {"progress_total": 9, "progress_done": 3, "progress_skipped": 1,
              "progress_finished": 4, "progress_done_width": "33",
              "progress_skipped_width": "11"}
    slots = list(values)
    first = stencils.render(template, "k1", values, slots)
    assert 'aria-valuemax="9"' in first and "(3 done, 1 skipped)" in first
    again = stencils.render(template, "k1", {**values, "progress_done": 5}, slots)
    assert "(5 done, 1 skipped)" in again
    assert len(stencils) == 1
    stencils.render(template, "k2", values, slots)
    stencils.render(template, "k3", values, slots)
    assert len(stencils) == 1  # full at two: started afresh
