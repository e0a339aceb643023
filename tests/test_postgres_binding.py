"""PostgreSQL binds parameters server-side (to prepare statements), and a statement carries at
most 65,535 of them: the ORM's statements over large sets must still work
(config/postgresql/base.py). Each test checks that it did reach past the limit."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Value

from annotation.models import Assignment, Batch, BatchUnit, Benchmark, Submission, TaskKind
from config.postgresql.base import MAX_QUERY_PARAMS

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's limit"),
]

MANY = MAX_QUERY_PARAMS + 4_467  # 70,002: more ids than a statement may carry


@contextmanager
def parameter_counts():
    """The number of parameters of each statement run inside."""
    counts: list[int] = []

    def record(execute, sql, params, many, context):
        if not many:
            counts.append(len(params or ()))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield counts


def users(n: int) -> list:
    User = get_user_model()
    return User.objects.bulk_create([User(username=f"bind{i}") for i in range(n)])


def test_postgresql_binds_server_side_and_prepares_statements():
    assert connection.features.uses_server_side_binding
    connection.ensure_connection()
    assert connection.connection.prepare_threshold is not None


def test_deleting_a_batch_of_more_assignments_than_a_statement_has_parameters():
    annotators = users(10)
    benchmark = Benchmark.objects.create(name="bind")
    batch = Batch.objects.create(benchmark=benchmark, name="big", kind=TaskKind.JUDGE_AGREEMENT)
    units = BatchUnit.objects.bulk_create(
        [BatchUnit(batch=batch, unit_key=f"u{i}") for i in range(MANY // len(annotators) + 1)])
    Assignment.objects.bulk_create(
        [Assignment(unit=unit, batch=batch, annotator=annotator, position=i)
         for i, unit in enumerate(units) for annotator in annotators])
    assert Assignment.objects.filter(batch=batch).count() > MANY

    # The cascade looks up the Submissions of all 70,010 assignments.
    with parameter_counts() as counts:
        batch.delete()

    assert not Assignment.objects.exists()
    assert not BatchUnit.objects.exists()
    # Its lookups were cut into statements under the limit.
    assert max(counts) <= MAX_QUERY_PARAMS
    assert sum(counts) > MANY


def test_filtering_by_more_ids_than_a_statement_has_parameters():
    people = users(3)
    ids = [person.pk for person in people] + list(range(10**12, 10**12 + MANY))
    User = get_user_model()

    with parameter_counts() as counts:
        assert User.objects.filter(pk__in=ids).count() == 3
        assert {u.pk for u in User.objects.filter(pk__in=ids).iterator(chunk_size=2)} == {
            person.pk for person in people}
        assert len(User.objects.in_bulk(ids)) == 3

    assert max(counts) > MAX_QUERY_PARAMS  # bound client-side, this statement only
    assert User.objects.filter(pk__in=ids[:3]).count() == 3  # and the next one server-side


def test_bulk_create_and_update_of_more_parameters_than_a_statement_has():
    annotator = users(1)[0]
    # An expression among the values: one placeholder per value (not one array per field,
    # Django's UNNEST), 8 per row.
    rows = MAX_QUERY_PARAMS // 8 + 100
    with parameter_counts() as counts:
        Submission.objects.bulk_create([
            Submission(client_id=f"c{i}", annotator=annotator, source=Submission.Source.IMPORT,
                       time_spent_ms=Value(i)) for i in range(rows)])
    assert max(counts) <= MAX_QUERY_PARAMS
    assert sum(counts) > MAX_QUERY_PARAMS
    assert Submission.objects.count() == rows

    # Django counts 2 + 7 parameters per object and cuts batches of 7,281 objects, but its
    # CASE WHEN id = %s THEN %s takes 2 x 7. (Few objects and many fields: PostgreSQL runs
    # through the CASE for each row, a time quadratic in the objects.)
    fields = ["skipped", "skip_reason", "time_spent_ms", "source", "client_id", "annotator",
              "assignment"]
    submissions = list(Submission.objects.order_by("pk")[:4_700])
    for submission in submissions:
        submission.skipped = True
        submission.skip_reason = "bound"
    with parameter_counts() as counts:
        Submission.objects.bulk_update(submissions, fields)
    assert max(counts) > MAX_QUERY_PARAMS
    assert Submission.objects.filter(skipped=True, skip_reason="bound").count() == 4_700
