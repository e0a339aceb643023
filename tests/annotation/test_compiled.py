"""CompiledQuery: the same rows and objects as the ORM, for any values, one query each."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.models import Count
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from annotation.compiled import CompiledQuery
from annotation.models import Assignment, AssignmentStatus, Benchmark, Item, TaskKind

NEXT = CompiledQuery(
    lambda batch, annotator, status: Assignment.objects.select_related("batch__benchmark", "unit")
    .filter(batch_id=batch, annotator_id=annotator, status=status).order_by("position"),
    int, int, str)
PROGRESS = CompiledQuery(
    lambda batch, annotator: Assignment.objects.filter(batch_id=batch, annotator_id=annotator)
    .order_by().values_list("status").annotate(n=Count("id")),
    int, int)


def _fields(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


@pytest.mark.django_db
def test_model_instances_match_the_orms_with_their_related_objects(make_batch, annotator_a,
                                                                   annotator_b):
    batch = make_batch(TaskKind.JUDGE_AGREEMENT, size=6)
    Assignment.objects.filter(batch=batch, position=2).update(status=AssignmentStatus.DONE)
    for annotator in (annotator_a, annotator_b):
        for status in (AssignmentStatus.PENDING, AssignmentStatus.DONE):
            orm = list(Assignment.objects.select_related("batch__benchmark", "unit").filter(
                batch=batch, annotator=annotator, status=status).order_by("position"))
            with CaptureQueriesContext(connection) as queries:
                compiled = NEXT.all(batch.pk, annotator.pk, status)
            assert len(queries.captured_queries) == 1
            assert orm, "nothing to compare"
            assert [_fields(a) for a in compiled] == [_fields(a) for a in orm]
            for mine, theirs in zip(compiled, orm, strict=True):
                # Loaded with the row (no further query), dates and JSON as Python values.
                with CaptureQueriesContext(connection) as queries:
                    assert _fields(mine.unit) == _fields(theirs.unit)
                    assert _fields(mine.batch) == _fields(theirs.batch)
                    assert _fields(mine.batch.benchmark) == _fields(theirs.batch.benchmark)
                assert not queries.captured_queries
                assert isinstance(mine.batch.parameters, dict)
                assert mine.batch.created_at == theirs.batch.created_at
                assert mine._state.db == "default" and not mine._state.adding


@pytest.mark.django_db
def test_annotations_come_with_the_model_instances(make_batch, annotator_a):
    batch = make_batch(TaskKind.JUDGE_AGREEMENT, size=6)
    Assignment.objects.filter(batch=batch, position__lte=2).update(status=AssignmentStatus.DONE)
    counted = CompiledQuery(
        lambda batch, annotator: Assignment.objects.filter(batch_id=batch, annotator_id=annotator)
        .annotate(same_unit=Count("unit__assignments")).order_by("position"), int, int)
    orm = list(Assignment.objects.filter(batch=batch, annotator=annotator_a)
               .annotate(same_unit=Count("unit__assignments")).order_by("position"))
    compiled = counted.all(batch.pk, annotator_a.pk)
    assert [(a.pk, a.same_unit) for a in compiled] == [(a.pk, a.same_unit) for a in orm]
    assert {a.same_unit for a in orm} > {1}, "overlap units are shared: more than one value"


@pytest.mark.django_db
def test_values_list_rows_match_the_orms(make_batch, annotator_a, annotator_b):
    batch = make_batch(TaskKind.INSTRUCTION_VALIDATION, size=8)
    Assignment.objects.filter(batch=batch, position__lte=2).update(
        status=AssignmentStatus.SKIPPED)
    for annotator in (annotator_a, annotator_b):
        orm = sorted(Assignment.objects.filter(batch=batch, annotator=annotator).order_by()
                     .values_list("status").annotate(n=Count("id")))
        assert sorted(PROGRESS.all(batch.pk, annotator.pk)) == orm
    assert PROGRESS.all(batch.pk, 10**9) == []
    assert NEXT.first(batch.pk, 10**9, AssignmentStatus.PENDING) is None


@pytest.mark.django_db
@pytest.mark.parametrize("values", [(1, None), (1, "2"), (1,), (True, 2)])
def test_values_must_have_the_declared_types(values):
    with pytest.raises(TypeError):
        PROGRESS.all(*values)


@pytest.mark.django_db
def test_a_value_the_orm_would_change_is_refused():
    contains = CompiledQuery(lambda text: Item.objects.filter(instruction__icontains=text), str)
    with pytest.raises(ValueError, match="changed a value"):
        contains.all("sky")


@pytest.mark.django_db(transaction=True)
def test_locking_reads_need_a_transaction_where_the_database_locks(make_batch, annotator_a):
    batch = make_batch(TaskKind.JUDGE_AGREEMENT, size=2)
    locked = CompiledQuery(lambda pk: Assignment.objects.select_for_update().filter(pk=pk), int)
    pk = Assignment.objects.filter(batch=batch).first().pk
    with transaction.atomic():
        assert [a.pk for a in locked.all(pk)] == [pk]
    if connection.features.has_select_for_update:
        with pytest.raises(TransactionManagementError):
            locked.all(pk)
    else:
        assert [a.pk for a in locked.all(pk)] == [pk]


@pytest.mark.django_db
def test_32_bit_and_positive_integer_columns_take_values(annotator_a, demo_benchmark):
    # auth_user's id is 32-bit and content_version positive: a value out of a column's range
    # makes Django refuse the query (PostgreSQL), so the stand-in values must fit them.
    users = CompiledQuery(lambda pk: type(annotator_a).objects.filter(pk=pk), int)
    assert users.first(annotator_a.pk) == annotator_a
    versions = CompiledQuery(lambda version: Benchmark.objects.filter(content_version=version),
                             int)
    assert versions.all(demo_benchmark.content_version) == [demo_benchmark]
    assert versions.all(10**6) == []
