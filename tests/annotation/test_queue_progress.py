"""QueueProgress: the per-annotator counts of a batch that the database's triggers keep (migration
0009), compared with counting the assignments after every kind of write that touches them."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.db.models import Count, Q
from django.urls import reverse

from annotation import selectors
from annotation.models import (
    Assignment,
    AssignmentStatus,
    Batch,
    QueueProgress,
    Requirement,
    TaskKind,
)
from annotation.services import assignment_skip, batch_delete, label_submit, user_ensure
from tests.annotation.test_labels import first_assignment, full_answers
from tests.test_races import api_client, run_threads, submit

TRIGGERS = {f"annotation_queueprogress_{event}" for event in ("insert", "delete", "update")}


def counted() -> dict[tuple[int, int], tuple[int, int, int]]:
    """(batch, annotator) -> (total, done, skipped), counted from the assignments."""
    rows = Assignment.objects.values("batch_id", "annotator_id").annotate(
        total=Count("id"), done=Count("id", filter=Q(status=AssignmentStatus.DONE)),
        skipped=Count("id", filter=Q(status=AssignmentStatus.SKIPPED)))
    return {(r["batch_id"], r["annotator_id"]): (r["total"], r["done"], r["skipped"])
            for r in rows}


def kept() -> dict[tuple[int, int], tuple[int, int, int]]:
    """The same from QueueProgress, leaving out the rows whose assignments are all gone."""
    return {(p.batch_id, p.annotator_id): (p.total, p.done, p.skipped)
            for p in QueueProgress.objects.filter(total__gt=0)}


def assert_kept_equals_counted() -> None:
    assert kept() == counted()
    assert not QueueProgress.objects.filter(total=0).exclude(done=0, skipped=0).exists()


def answer(assignment: Assignment, annotator, pick: int = 0) -> None:
    """Submit the pick-th choice of every question, as the assignment is stored now."""
    assignment = Assignment.objects.select_related("unit__item__group", "batch__benchmark").get(
        pk=assignment.pk)
    label_submit(assignment=assignment, annotator=annotator, answers=full_answers(assignment, pick),
                 client_id=str(uuid.uuid4()))


@pytest.mark.django_db
def test_the_triggers_exist_after_the_migrations():
    # Django rebuilds a SQLite table to alter it, which drops its triggers: a later migration
    # that alters annotation_assignment must create them again, or this fails.
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                           "AND tbl_name = 'annotation_assignment'")
        else:
            cursor.execute("SELECT tgname FROM pg_trigger "
                           "WHERE tgrelid = 'annotation_assignment'::regclass")
        names = {row[0] for row in cursor.fetchall()}
    assert names >= TRIGGERS


@pytest.mark.django_db(transaction=True)
def test_the_upgrade_counts_the_assignments_there_are(make_batch, annotator_a):
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate([("annotation", "0008_login_session")])
    try:
        batch = make_batch(TaskKind.JUDGE_AGREEMENT, seed=3)
        done, skipped = Assignment.objects.filter(batch=batch, annotator=annotator_a)[:2]
        Assignment.objects.filter(pk=done.pk).update(status=AssignmentStatus.DONE)
        Assignment.objects.filter(pk=skipped.pk).update(status=AssignmentStatus.SKIPPED)
    finally:
        MigrationExecutor(connection).migrate(latest)
    assert kept()[(batch.pk, annotator_a.pk)][1:] == (1, 1)
    assert_kept_equals_counted()


@pytest.mark.django_db
def test_counts_follow_creation_answers_edits_skips_and_deletes(make_batch, annotator_a,
                                                                annotator_b, admin):
    batch = make_batch(TaskKind.JUDGE_AGREEMENT, seed=3, overlap=0.5)
    other = make_batch(TaskKind.INSTRUCTION_VALIDATION, seed=4)
    assert_kept_equals_counted()
    assert kept()[(batch.pk, annotator_a.pk)][0] == \
        Assignment.objects.filter(batch=batch, annotator=annotator_a).count() > 3

    first, second, third = Assignment.objects.filter(
        batch=batch, annotator=annotator_a).order_by("position")[:3]
    fourth = Assignment.objects.filter(batch=batch, annotator=annotator_a,
                                       unit__is_overlap=False).order_by("-position")[0]
    answer(first, annotator_a)                       # pending -> done
    answer(first, annotator_a, pick=1)               # done -> done, edited
    assignment_skip(assignment=second, annotator=annotator_a, reason="unclear",
                    client_id=str(uuid.uuid4()))     # pending -> skipped
    assignment_skip(assignment=third, annotator=annotator_a, reason="later",
                    client_id=str(uuid.uuid4()))
    answer(third, annotator_a)                       # skipped -> done
    assert kept()[(batch.pk, annotator_a.pk)][1:] == (2, 1)
    assert_kept_equals_counted()

    # The admin's edits: back to pending; an item handed to ben, skipped.
    Assignment.objects.filter(pk=first.pk).update(status=AssignmentStatus.PENDING)
    assert_kept_equals_counted()
    fourth.status, fourth.annotator = AssignmentStatus.SKIPPED, annotator_b
    fourth.save()
    assert_kept_equals_counted()
    newcomer = user_ensure(username="newcomer", password=None)
    Assignment.objects.filter(pk=second.pk).update(annotator=newcomer)
    # Moved to another batch (the admin's form allows it).
    Assignment.objects.filter(pk=fourth.pk).update(batch=other)
    assert kept()[(batch.pk, newcomer.pk)] == (1, 0, 1)
    assert_kept_equals_counted()

    Assignment.objects.filter(pk=third.pk).delete()
    assert_kept_equals_counted()
    # Deleting content cascades through the batch units to their assignments.
    requirement = Requirement.objects.get(pk=first_assignment(batch, annotator_b)
                                          .unit.decision.requirement_id)
    requirement.delete()
    assert_kept_equals_counted()
    newcomer.delete()
    assert_kept_equals_counted()
    batch_delete(batch=batch)
    assert not QueueProgress.objects.filter(batch_id=batch.pk).exists()
    assert_kept_equals_counted()


@pytest.mark.django_db
def test_the_queue_list_and_the_progress_read_the_counts(make_batch, annotator_a, annotator_b):
    older = make_batch(TaskKind.JUDGE_AGREEMENT, seed=3)
    newer = make_batch(TaskKind.INSTRUCTION_VALIDATION, seed=4)
    first = first_assignment(newer, annotator_a)
    answer(first, annotator_a)
    total = Assignment.objects.filter(batch=newer, annotator=annotator_a).count()

    queues = selectors.queues_for(annotator_a)
    assert [batch.pk for batch, _ in queues] == [newer.pk, older.pk]
    progress = queues[0][1]
    assert (progress.total, progress.done, progress.skipped) == (total, 1, 0)
    assert selectors.queue_progress(annotator_a, newer) == progress
    # Read along with the next item, in the same query.
    following = selectors.next_assignment(annotator_a, newer)
    assert selectors.queue_progress(annotator_a, newer, following) == progress

    # A batch whose assignments were all taken away leaves the list.
    Assignment.objects.filter(batch=older, annotator=annotator_a).delete()
    assert [batch.pk for batch, _ in selectors.queues_for(annotator_a)] == [newer.pk]
    assert selectors.queue_progress(annotator_a, older) == selectors.Progress(0, 0, 0)
    assert Batch.objects.filter(pk=older.pk).exists()


def test_counts_stay_right_when_one_annotator_submits_from_several_tabs_at_once(
        transactional_db, make_batch, annotator_a, annotator_b):
    batch = make_batch(TaskKind.JUDGE_AGREEMENT, size=16, overlap=1.0)
    clients = {user.pk: api_client(user) for user in (annotator_a, annotator_b)}
    statuses = []

    def submitter(user, assignment_pk):
        def go() -> None:
            statuses.append(submit(clients[user.pk], assignment_pk, "yes").status_code)
        return go

    targets = [submitter(user, a.pk) for user in (annotator_a, annotator_b)
               for a in Assignment.objects.filter(batch=batch, annotator=user)[:6]]
    run_threads(*targets)
    assert statuses == [201] * 12
    assert kept()[(batch.pk, annotator_a.pk)] == (16, 6, 0)
    assert_kept_equals_counted()


@pytest.mark.django_db
def test_the_admin_shows_the_counts_and_never_edits_them(admin_client, make_batch, annotator_a):
    batch = make_batch(TaskKind.JUDGE_AGREEMENT, seed=3)
    row = QueueProgress.objects.get(batch=batch, annotator=annotator_a)
    page = admin_client.get(reverse("admin:annotation_queueprogress_changelist"))
    assert page.status_code == 200 and annotator_a.username in page.content.decode()
    assert admin_client.get(reverse("admin:annotation_queueprogress_add")).status_code == 403
    edit = admin_client.post(reverse("admin:annotation_queueprogress_change", args=[row.pk]),
                             {"batch": batch.pk, "annotator": annotator_a.pk, "total": 0,
                              "done": 0, "skipped": 0})
    assert edit.status_code == 403
    assert QueueProgress.objects.get(pk=row.pk).total == row.total > 0
