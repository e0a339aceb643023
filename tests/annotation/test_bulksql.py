"""The raw bulk writes (annotation/bulksql.py, insert_rows): pipelined
INSERTs on PostgreSQL still land every row and still fail as a whole."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from annotation import bulksql
from annotation.bulksql import INSERT_CHUNK, insert_rows
from annotation.models import Benchmark

pytestmark = pytest.mark.django_db
FIELDS = ("name", "created_at", "content_version")


def rows(names: list[str]) -> list[tuple]:
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    return [(name, now, 0) for name in names]


def test_rows_over_many_statements_all_land():
    names = [f"bulk-{i}" for i in range(2 * INSERT_CHUNK + 7)]
    with transaction.atomic():
        insert_rows(Benchmark, FIELDS, rows(names))
    assert sorted(Benchmark.objects.filter(name__startswith="bulk-").values_list(
        "name", flat=True)) == sorted(names)


def test_a_failing_statement_fails_the_insert_and_writes_nothing():
    Benchmark.objects.create(name="taken")
    # The duplicate is in the second statement: the first was already sent when it fails.
    names = [f"bulk-{i}" for i in range(INSERT_CHUNK)] + ["taken"]
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_rows(Benchmark, FIELDS, rows(names))
    assert not Benchmark.objects.filter(name__startswith="bulk-").exists()
    assert Benchmark.objects.filter(name="taken").count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="psycopg's pipeline mode")
def test_pipelined_statements_go_through_psycopgs_pipeline_mode_on_postgresql():
    from psycopg import pq

    with transaction.atomic():
        with bulksql.bulk_cursor(pipelined=True):
            assert connection.connection.pgconn.pipeline_status == pq.PipelineStatus.ON
        with bulksql.bulk_cursor():
            assert connection.connection.pgconn.pipeline_status == pq.PipelineStatus.OFF
