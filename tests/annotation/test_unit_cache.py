"""The item pages' in-memory units (selectors.UNITS): a unit shown once is not read again,
and nothing changed by an import or an admin edit is ever shown from memory."""

from __future__ import annotations

import json

import pytest
from django.contrib import admin as admin_site
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils.html import escape

from annotation import importers
from annotation.admin import ContentAdmin
from annotation.models import (
    Assignment,
    Benchmark,
    Group,
    Item,
    Pair,
    Requirement,
    TaskKind,
)
from annotation.selectors import ASSIGNMENT_RELATED, UNITS, UnitCache
from judging.models import JudgeDecision, Judgment, PairJudgment, Response
from tests.annotation.test_queue_views import HTMX, client_for, own
from tests.conftest import FIXTURES


def _next_item_page(client, batch) -> str:
    response = client.get(f"/queues/{batch.pk}/", **HTMX)
    assert response.status_code == 200
    return response.content.decode()


def _responses_with_text(item_key: str, model: str, text: str) -> bytes:
    lines = []
    for line in (FIXTURES / "responses.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["item"] == item_key and record["model"] == model:
            record["response"] = text
        lines.append(json.dumps(record, ensure_ascii=False))
    return "\n".join(lines).encode()


def test_a_unit_shown_again_is_not_read_again(make_batch, annotator_a):
    batch = make_batch(TaskKind.JUDGE_AGREEMENT)
    client = client_for(annotator_a)
    first = _next_item_page(client, batch)
    with CaptureQueriesContext(connection) as again:
        second = _next_item_page(client, batch)
    assert second.count("data-item-root") == first.count("data-item-root") == 1
    tables = " ".join(q["sql"] for q in again.captured_queries)
    # The session with its user, the assignment with its progress: no unit content, no anchor.
    assert len(again.captured_queries) == 2, tables
    assert "judging_judgedecision" not in tables and "annotation_item" not in tables


def test_reimported_text_reaches_a_page_shown_before(make_batch, annotator_a):
    batch = make_batch(TaskKind.JUDGE_AGREEMENT)
    client = client_for(annotator_a)
    response = own(annotator_a, batch)[0].unit.decision.judgment.response
    old_text = escape(response.text)
    assert old_text in _next_item_page(client, batch)
    assert len(UNITS) == 1

    new_text = "A corrected response, imported after the item was shown."
    importers.import_responses(
        data=_responses_with_text(response.item.key, response.model, new_text),
        file_name="responses.jsonl", benchmark_name=batch.benchmark.name)

    page = _next_item_page(client, batch)
    assert new_text in page
    assert old_text not in page


def test_an_import_that_changes_nothing_keeps_the_units(make_batch, annotator_a):
    batch = make_batch(TaskKind.JUDGE_AGREEMENT)
    version = Benchmark.objects.get(pk=batch.benchmark_id).content_version
    importers.import_responses(data=(FIXTURES / "responses.jsonl").read_bytes(),
                               file_name="responses.jsonl", benchmark_name=batch.benchmark.name)
    assert Benchmark.objects.get(pk=batch.benchmark_id).content_version == version


@pytest.mark.parametrize("model", [Group, Requirement, Item, Pair,
                                   Response, Judgment, JudgeDecision, PairJudgment])
def test_every_admin_of_shown_content_marks_it_changed(model):
    assert isinstance(admin_site.site._registry[model], ContentAdmin)


def test_an_admin_edit_reaches_a_page_shown_before(make_batch, annotator_a, admin):
    batch = make_batch(TaskKind.INSTRUCTION_VALIDATION)
    client = client_for(annotator_a)
    item = own(annotator_a, batch)[0].unit.item
    assert escape(item.instruction) in _next_item_page(client, batch)

    item.instruction = "An instruction corrected in the admin."
    request = RequestFactory().post("/admin/")
    request.user = admin
    admin_site.site._registry[Item].save_model(request, item, form=None, change=True)

    assert "An instruction corrected in the admin." in _next_item_page(client, batch)


def test_the_cache_keeps_the_most_recently_used_units(make_batch, annotator_a):
    batch = make_batch(TaskKind.JUDGE_AGREEMENT)
    cache = UnitCache(size=2)
    first, second, third = (Assignment.objects.select_related(*ASSIGNMENT_RELATED)
                            .filter(batch=batch, annotator=annotator_a).order_by("position")[:3])

    def reads(assignment) -> int:
        with CaptureQueriesContext(connection) as queries:
            cache.get(assignment)
        return len(queries.captured_queries)

    assert [reads(a) for a in (first, second, first, third)] == [1, 1, 0, 1]
    # `second` was the least recently used when `third` came: it went, the others stayed.
    assert [reads(a) for a in (first, third, second)] == [0, 0, 1]
    assert len(cache) == 2
