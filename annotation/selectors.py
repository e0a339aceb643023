"""Reads of the annotation app: user-scoped lookups and aggregate progress queries.

Nothing here writes. Every lookup an annotator can reach is scoped to that annotator, so an
id guessed in a URL is a 404, never someone else's work.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import Http404

from .compiled import CompiledQuery
from .models import (
    Assignment,
    AssignmentStatus,
    Batch,
    BatchUnit,
    Benchmark,
    Group,
    Item,
    Label,
    Pair,
    QueueProgress,
    Requirement,
)
from .tasks import Question, questions_for

ASSIGNMENT_RELATED = ("batch__benchmark", "unit")

# The queue's reads, compiled once (annotation/compiled.py): the user's own assignment (with
# its unit, or only its batch), their next pending one, their progress.
_OWN_ASSIGNMENT = {
    with_unit: CompiledQuery(
        lambda pk, annotator, related=related: Assignment.objects.select_related(*related)
        .filter(pk=pk, annotator_id=annotator), int, int)
    for with_unit, related in ((True, ASSIGNMENT_RELATED), (False, ("batch__benchmark",)))
}


def _progress(count: str) -> Subquery:
    """The outer assignment's annotator's `count` in its batch (models.QueueProgress)."""
    return Subquery(QueueProgress.objects.filter(
        batch_id=OuterRef("batch_id"), annotator_id=OuterRef("annotator_id")).values(count))


# The queue's progress comes with the next pending assignment (queue_progress reads it from
# there): on PostgreSQL a separate count was one round trip of four on every item shown.
_NEXT_PENDING = CompiledQuery(
    lambda batch, annotator: Assignment.objects.select_related(*ASSIGNMENT_RELATED)
    .filter(batch_id=batch, annotator_id=annotator, status=AssignmentStatus.PENDING)
    .annotate(progress_total=_progress("total"), progress_done=_progress("done"),
              progress_skipped=_progress("skipped"))
    .order_by("position")[:1], int, int)
_PROGRESS_OF = CompiledQuery(
    lambda batch, annotator: QueueProgress.objects.filter(batch_id=batch, annotator_id=annotator)
    .values_list("total", "done", "skipped"), int, int)
_ANCHOR = CompiledQuery(
    lambda group: Item.objects.filter(group_id=group, language="en").order_by("pk")[:1], int)
_REQUIREMENTS = CompiledQuery(
    lambda group: Requirement.objects.filter(group_id=group).order_by("position"), int)
# One per set of relations a unit has (unit_relations): a handful in all.
_UNIT_CONTENT: dict[tuple[str, ...], CompiledQuery] = {}


def _unit_content_query(related: tuple[str, ...]) -> CompiledQuery:
    query = _UNIT_CONTENT.get(related)
    if query is None:
        query = _UNIT_CONTENT.setdefault(related, CompiledQuery(
            lambda pk: BatchUnit.objects.select_related(*related).filter(pk=pk), int))
    return query


def unit_relations(unit: BatchUnit) -> list[str]:
    """The relations of a unit its item page and its answers read: those the unit has."""
    related = []
    if unit.item_id is not None:
        related.append("item__group")
    if unit.pair_id is not None:
        related.append("pair")
    if unit.decision_id is not None:
        related += ["decision__judgment__response", "decision__requirement"]
    if unit.response_id is not None:
        related.append("response")
    return related


class CachedUnit:
    """A batch unit with its content loaded, and, once asked for, its group's English anchor
    item and requirements. Shared between requests and threads: read only."""

    __slots__ = ("_anchor", "_requirements", "unit")
    _MISSING = object()

    def __init__(self, unit: BatchUnit) -> None:
        self.unit = unit
        self._anchor: Any = self._MISSING
        self._requirements: Any = self._MISSING

    def anchor(self) -> Item | None:
        """The English item of the unit's group (None for an English item or none at all)."""
        if self._anchor is self._MISSING:
            item = self.unit.item
            self._anchor = (_ANCHOR.first(item.group_id)
                            if item is not None and item.language != "en" else None)
        return self._anchor

    def requirements(self) -> list[Requirement]:
        if self._requirements is self._MISSING:
            item = self.unit.item
            self._requirements = (tuple(_REQUIREMENTS.all(item.group_id))
                                  if item is not None else ())
        return list(self._requirements)


class UnitCache:
    """Loaded units, per process, the most recently used `size` of them.

    An annotator's item is read when it is shown, again under a lock when it is answered, and
    again when they go back to it; an overlap unit is shown to two or three annotators. Each
    read was a join of up to six tables, which PostgreSQL took longer to plan than to run.
    Entries are keyed by the benchmark's content version, which imports and admin edits
    raise (Benchmark.content_changed), and by its creation time, so a benchmark loaded again
    into a flushed database (whose ids start over) is never shown from an old entry."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[tuple, CachedUnit] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, assignment: Assignment) -> CachedUnit:
        benchmark = assignment.batch.benchmark
        key = (assignment.unit_id, benchmark.pk, benchmark.created_at,
               benchmark.content_version)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                return entry
        # Loaded outside the lock: two threads missing the same unit both read it, harmlessly.
        unit = assignment.unit
        related = tuple(unit_relations(unit))
        if related:
            unit = _unit_content_query(related).first(assignment.unit_id)
            if unit is None:
                raise BatchUnit.DoesNotExist(f"no unit {assignment.unit_id}")
        entry = CachedUnit(unit)
        with self._lock:
            self._entries[key] = entry
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return entry

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


# A unit with its texts is ~5-20 KB: a thousand of them per process is a few tens of MB at most.
UNITS = UnitCache(size=1000)


def with_unit_content(assignment: Assignment | None) -> Assignment | None:
    """The assignment with its unit's item, pair, judge decision or response loaded (from
    UNITS when this process loaded them under the benchmark's current content version).

    A second small join rather than one over the relations of every task kind: PostgreSQL
    spent 8-10 ms planning that 12-table join (0.6 ms running it) on every item shown."""
    if assignment is not None:
        assignment.unit = UNITS.get(assignment).unit
    return assignment


def assignment_for(user: AbstractBaseUser, pk: int, *, with_unit: bool = True) -> Assignment:
    """The user's own assignment, or 404 (also for someone else's). `with_unit=False` brings
    only its batch: enough to answer it, as the services load the unit themselves."""
    assignment = _OWN_ASSIGNMENT[with_unit].first(pk, user.pk)
    if assignment is None:
        raise Http404("no such assignment")
    return with_unit_content(assignment) if with_unit else assignment


def batch_for_annotator(user: AbstractBaseUser, pk: int) -> Batch:
    batch = Batch.objects.select_related("benchmark").filter(
        pk=pk, assignments__annotator=user).first()
    if batch is None:
        raise Http404("no such queue")
    return batch


def next_assignment(user: AbstractBaseUser, batch: Batch) -> Assignment | None:
    return with_unit_content(_NEXT_PENDING.first(batch.pk, user.pk))


def next_in_queue(user: AbstractBaseUser, batch_id: int) -> tuple[Batch, Assignment | None]:
    """The user's batch and their next pending assignment in it. While the queue has one, the
    assignment proves the batch is theirs and brings it along."""
    assignment = _NEXT_PENDING.first(batch_id, user.pk)
    if assignment is None:
        return batch_for_annotator(user, batch_id), None
    return assignment.batch, with_unit_content(assignment)


def previous_assignment(user: AbstractBaseUser, batch: Batch,
                        before: Assignment | None = None) -> Assignment | None:
    """The most recently finished (labelled or skipped) assignment, for going back; with
    `before`, the one finished just before it, so pressing back again walks further."""
    finished = Assignment.objects.filter(batch=batch, annotator=user,
                                         completed_at__isnull=False)
    if before is not None and before.completed_at is not None:
        finished = finished.filter(
            Q(completed_at__lt=before.completed_at)
            | Q(completed_at=before.completed_at, pk__lt=before.pk)
        )
    return with_unit_content(finished.select_related(*ASSIGNMENT_RELATED)
                             .order_by("-completed_at", "-pk").first())


def skipped_assignments(user: AbstractBaseUser, batch: Batch) -> list[Assignment]:
    return list(Assignment.objects.filter(batch=batch, annotator=user,
                                          status=AssignmentStatus.SKIPPED)
                .select_related("unit").order_by("position"))


def requirements_for(assignment: Assignment) -> list[Requirement]:
    return UNITS.get(assignment).requirements()


def questions_for_assignment(assignment: Assignment,
                             requirements: list[Requirement] | None = None) -> list[Question]:
    kind = assignment.batch.kind
    item = assignment.unit.item
    if requirements is None:
        requirements = requirements_for(assignment) if kind == "requirement_assessment" else []
    return questions_for(kind, unit_key=assignment.unit.unit_key, item=item,
                         requirements=requirements,
                         dimensions=assignment.batch.parameters.get("dimensions", ()))


def current_answers(assignment: Assignment,
                    questions: list[Question]) -> tuple[dict[str, str], str]:
    """The annotator's own current values on this assignment's units (for editing), and note."""
    if assignment.status != AssignmentStatus.DONE:
        return {}, ""
    labels = Label.objects.filter(
        benchmark_id=assignment.batch.benchmark_id, task=assignment.batch.kind,
        annotator_id=assignment.annotator_id, unit__in={q.label_unit for q in questions},
    ).values_list("unit", "field", "value", "note")
    by_unit_field = {(unit, fld): (value, note) for unit, fld, value, note in labels}
    answers, note = {}, ""
    for q in questions:
        found = by_unit_field.get((q.label_unit, q.field.name))
        if found:
            answers[q.answer_key] = found[0]
            note = note or found[1]
    return answers, note


@dataclass
class UnitContext:
    """Everything an item page shows for one assignment."""

    assignment: Assignment
    kind: str
    item: Item | None
    anchor: Item | None  # the English line of the item's group
    requirements: list[Requirement]
    questions: list[Question]
    extra: dict[str, Any] = field(default_factory=dict)


# The task kinds whose item pages list the group's requirements; the others show at most the
# one requirement a judge decision is about, which comes with the assignment.
REQUIREMENT_LIST_KINDS = frozenset({"requirement_assessment", "translation_validation"})


def unit_context(assignment: Assignment, *, all_requirements: bool = True) -> UnitContext:
    """What an item shows; `all_requirements=False` leaves out the group's requirement list
    where the kind's page does not show it (REQUIREMENT_LIST_KINDS)."""
    kind = assignment.batch.kind
    item = assignment.unit.item
    anchor = None
    requirements: list[Requirement] = []
    extra: dict[str, Any] = {}
    if item is not None:
        if all_requirements or kind in REQUIREMENT_LIST_KINDS:
            requirements = requirements_for(assignment)
        anchor = UNITS.get(assignment).anchor()
    decision = assignment.unit.decision
    if decision is not None:
        extra["decision"] = decision
        extra["response"] = decision.judgment.response
        extra["judge"] = decision.judgment.judge
    if assignment.unit.pair is not None:
        extra["pair"] = assignment.unit.pair
    if assignment.unit.response is not None:
        extra["response"] = assignment.unit.response
    questions = questions_for_assignment(assignment, requirements)
    return UnitContext(assignment=assignment, kind=kind, item=item, anchor=anchor,
                       requirements=requirements, questions=questions, extra=extra)


@dataclass(frozen=True)
class Progress:
    total: int
    done: int
    skipped: int

    @property
    def pending(self) -> int:
        return self.total - self.done - self.skipped

    @property
    def percent(self) -> int:
        return round(100 * (self.done + self.skipped) / self.total) if self.total else 0


_PROGRESS = {
    "total": Count("id"),
    "done": Count("id", filter=Q(status=AssignmentStatus.DONE)),
    "skipped": Count("id", filter=Q(status=AssignmentStatus.SKIPPED)),
}


def queues_for(user: AbstractBaseUser) -> list[tuple[Batch, Progress]]:
    """The annotator's batches with progress, newest first, in one query."""
    rows = (QueueProgress.objects.filter(annotator=user, total__gt=0)
            .select_related("batch__benchmark").order_by("-batch_id"))
    return [(row.batch, Progress(row.total, row.done, row.skipped)) for row in rows]


def queue_progress(user: AbstractBaseUser, batch: Batch,
                   assignment: Assignment | None = None) -> Progress:
    """The user's progress in the batch; counted already when `assignment` was read as the
    next pending one (next_assignment, next_in_queue) in this request."""
    total = getattr(assignment, "progress_total", None)
    if total is not None:
        return Progress(total, assignment.progress_done, assignment.progress_skipped)
    return Progress(*(_PROGRESS_OF.first(batch.pk, user.pk) or (0, 0, 0)))


def batch_progress(batch: Batch) -> list[dict[str, Any]]:
    """Progress per annotator of one batch: counts, overlap share and time, one query."""
    rows = (Assignment.objects.filter(batch=batch)
            .values("annotator_id", "annotator__username")
            .annotate(**_PROGRESS, time_ms=Sum("time_spent_ms"),
                      overlap=Count("id", filter=Q(unit__is_overlap=True)))
            .order_by("annotator__username"))
    return [
        {"annotator": r["annotator__username"], "annotator_id": r["annotator_id"],
         "progress": Progress(r["total"], r["done"], r["skipped"]),
         "overlap": r["overlap"], "time_spent_ms": r["time_ms"] or 0}
        for r in rows
    ]


def _count(queryset: QuerySet, by: str, counted: Any = None) -> Coalesce:
    """A correlated COUNT subquery (`queryset` filtered on OuterRef("pk"), grouped by `by`).
    Several of them on one row cost one query, without the fan-out of joining the counted
    tables together (units x assignments rows per batch)."""
    subquery = (queryset.order_by().values(by)
                .annotate(n=counted or Count("pk")).values("n"))
    return Coalesce(Subquery(subquery, output_field=IntegerField()), Value(0))


def benchmarks_with_counts() -> QuerySet[Benchmark]:
    from judging.models import JudgeDecision, Response

    outer = OuterRef("pk")
    items = Item.objects.filter(benchmark=outer)
    return Benchmark.objects.order_by("name").annotate(
        n_items=_count(items, "benchmark"),
        n_languages=_count(items, "benchmark", Count("language", distinct=True)),
        n_groups=_count(Group.objects.filter(benchmark=outer), "benchmark"),
        n_requirements=_count(Requirement.objects.filter(group__benchmark=outer),
                              "group__benchmark"),
        n_responses=_count(Response.objects.filter(item__benchmark=outer), "item__benchmark"),
        n_judge_decisions=_count(
            JudgeDecision.objects.filter(judgment__response__item__benchmark=outer),
            "judgment__response__item__benchmark"),
        n_pairs=_count(Pair.objects.filter(benchmark=outer), "benchmark"),
        n_batches=_count(Batch.objects.filter(benchmark=outer), "benchmark"),
        n_labels=_count(Label.objects.filter(benchmark=outer), "benchmark"),
    )


def batches_with_progress(benchmark_id: int | None = None) -> QuerySet[Batch]:
    outer = OuterRef("pk")
    units = BatchUnit.objects.filter(batch=outer)
    assignments = Assignment.objects.filter(batch=outer)
    batches = Batch.objects.select_related("benchmark", "created_by").annotate(
        n_units=_count(units, "batch"),
        n_overlap=_count(units.filter(is_overlap=True), "batch"),
        n_assignments=_count(assignments, "batch"),
        n_done=_count(assignments.filter(status=AssignmentStatus.DONE), "batch"),
    )
    if benchmark_id is not None:
        batches = batches.filter(benchmark_id=benchmark_id)
    return batches


def batch_with_counts(pk: int) -> Batch:
    batch = batches_with_progress().filter(pk=pk).first()
    if batch is None:
        raise Http404("no such batch")
    return batch


def batch_language_counts(batch: Batch) -> list[dict[str, Any]]:
    return list(BatchUnit.objects.filter(batch=batch).values("language")
                .annotate(units=Count("id"), overlap=Count("id", filter=Q(is_overlap=True)))
                .order_by("language"))
