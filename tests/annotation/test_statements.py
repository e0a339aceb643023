"""Insert and Update: what they store and return is what the ORM stores and reads back."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotation.models import Assignment, AssignmentStatus, Submission, TaskKind
from annotation.statements import CACHED_ROWS, Insert, Update

FIELDS = ("client_id", "annotator", "assignment", "source", "skipped", "skip_reason",
          "time_spent_ms", "created_at")
NEW = Insert(Submission, FIELDS, tail="ON CONFLICT (client_id) DO NOTHING",
             returning=("id", "client_id", "skipped", "created_at"))
PLAIN = Insert(Submission, FIELDS)
FINISHED = Update(Assignment, ("status", "completed_at", "time_spent_ms"))
WHEN = datetime.datetime(2026, 3, 1, 12, 30, 15, 250_000, tzinfo=datetime.UTC)


def _fields(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


@pytest.fixture
def assignment(make_batch, annotator_a) -> Assignment:
    return Assignment.objects.filter(batch=make_batch(TaskKind.JUDGE_AGREEMENT, size=2),
                                     annotator=annotator_a).first()


@pytest.mark.django_db
def test_rows_stored_and_returned_as_the_orm_stores_and_reads_them(assignment, annotator_a):
    by_orm = Submission.objects.create(
        client_id="orm", annotator=annotator_a, assignment=assignment, source="web",
        skipped=True, skip_reason="unclear", time_spent_ms=700)
    Submission.objects.filter(pk=by_orm.pk).update(created_at=WHEN)
    with CaptureQueriesContext(connection) as queries:
        returned = NEW.run([("ours", annotator_a.pk, assignment.pk, "web", True, "unclear", 700,
                             WHEN)])
    assert len(queries.captured_queries) == 1
    [(pk, client_id, skipped, created_at)] = returned
    # Converted as the ORM converts: a bool and an aware datetime, also on SQLite (text there).
    assert (client_id, skipped, created_at) == ("ours", True, WHEN)
    assert created_at.tzinfo is not None
    ours = _fields(Submission.objects.get(pk=pk))
    theirs = _fields(Submission.objects.get(pk=by_orm.pk))
    assert {**ours, "id": None, "client_id": None} == {**theirs, "id": None, "client_id": None}
    # The stored text itself is the ORM's, so lookups and ordering compare like with like.
    assert Submission.objects.filter(created_at=WHEN).count() == 2


@pytest.mark.django_db
def test_rows_come_back_for_every_row_inserted_and_none_for_those_skipped(assignment,
                                                                          annotator_a):
    def row(client_id: str) -> tuple:
        return (client_id, annotator_a.pk, assignment.pk, "api", False, "", None, WHEN)

    first = NEW.run([row("a"), row("b")])
    assert sorted(client_id for _, client_id, _, _ in first) == ["a", "b"]
    again = NEW.run([row("b"), row("c")])
    assert [client_id for _, client_id, _, _ in again] == ["c"]
    assert sorted(Submission.objects.values_list("client_id", flat=True)) == ["a", "b", "c"]
    assert PLAIN.run([row("d")]) == []  # nothing asked back
    assert Submission.objects.filter(client_id="d").exists()


@pytest.mark.django_db
def test_an_imports_many_rows_go_in_without_keeping_their_sql(assignment, annotator_a):
    many = CACHED_ROWS + 8
    rows = [(f"bulk-{i}", annotator_a.pk, assignment.pk, "import", False, "", None, WHEN)
            for i in range(many)]
    returned = NEW.run(rows)
    assert sorted(client_id for _, client_id, _, _ in returned) == sorted(r[0] for r in rows)
    assert all(count <= CACHED_ROWS for _, count in NEW._sql)


@pytest.mark.django_db
def test_update_sets_the_fields_of_one_row(assignment):
    other = Assignment.objects.exclude(pk=assignment.pk).first()
    assert FINISHED.run(assignment.pk, (AssignmentStatus.DONE, WHEN, 1234)) == 1
    assignment.refresh_from_db()
    assert (assignment.status, assignment.completed_at, assignment.time_spent_ms) == (
        AssignmentStatus.DONE, WHEN, 1234)
    assert Assignment.objects.get(pk=other.pk).status == AssignmentStatus.PENDING
    assert FINISHED.run(10**9, (AssignmentStatus.DONE, WHEN, 1)) == 0


@pytest.mark.django_db
def test_a_row_of_the_wrong_length_is_refused_before_anything_is_sent(assignment, annotator_a):
    with CaptureQueriesContext(connection) as queries, pytest.raises(ValueError, match="8"):
        NEW.run([("short", annotator_a.pk)])
    with pytest.raises(ValueError, match="3"):
        FINISHED.run(assignment.pk, (AssignmentStatus.DONE,))
    assert queries.captured_queries == []
    assert NEW.run([]) == []
