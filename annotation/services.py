"""Every write of the annotation app. Web views, the REST API, management commands and test
set-up call these functions, so the three faces of Accord never disagree."""

from __future__ import annotations

import datetime
import heapq
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from rest_framework.authtoken.models import Token

from . import selectors, summaries
from .bulksql import insert_rows
from .compiled import CompiledQuery
from .models import (
    Adjudication,
    Assignment,
    AssignmentStatus,
    Batch,
    BatchUnit,
    Benchmark,
    Group,
    Label,
    LabelEvent,
    Profile,
    Submission,
    TaskKind,
)
from .statements import Insert, Update
from .tasks import Candidate, Filters, Question, TaskSpec, task_spec


class ServiceError(ValueError):
    """A request the service refuses; the message is shown to the user as is."""


# --- batches --------------------------------------------------------------------------------

@dataclass(frozen=True)
class SampleRequest:
    size: int | None = None
    fraction: float | None = None
    seed: int = 0
    overlap_fraction: float = 0.0
    overlap_k: int = 2


def allocate(counts: dict[str, int], total: int) -> dict[str, int]:
    """Split `total` over strata in proportion to `counts` (largest remainder, ties by key)."""
    population = sum(counts.values())
    if population == 0 or total <= 0:
        return dict.fromkeys(counts, 0)
    exact = {k: total * n / population for k, n in counts.items()}
    shares = {k: min(int(v), counts[k]) for k, v in exact.items()}
    left = total - sum(shares.values())
    order = sorted(counts, key=lambda k: (-(exact[k] - int(exact[k])), k))
    while left > 0:
        progressed = False
        for k in order:
            if left and shares[k] < counts[k]:
                shares[k] += 1
                left -= 1
                progressed = True
        if not progressed:
            break
    return shares


def draw_sample(candidates: Sequence[Candidate], request: SampleRequest
                ) -> list[tuple[Candidate, bool]]:
    """Stratified by language, reproducible from the seed: (unit, is_overlap) in queue order."""
    available = len(candidates)
    if request.size is not None:
        if request.size < 1:
            raise ServiceError("sample size must be at least 1")
        if request.size > available:
            raise ServiceError(f"sample size {request.size} is larger than the "
                               f"{available} units that match the filters")
        total = request.size
    elif request.fraction is not None:
        if not 0 < request.fraction <= 1:
            raise ServiceError("sample fraction must be in (0, 1]")
        total = round(request.fraction * available)
    else:
        total = available
    if total == 0:
        raise ServiceError("no unit matches the filters" if not available
                           else "the sample would be empty; raise the size or fraction")
    if not 0 <= request.overlap_fraction <= 1:
        raise ServiceError("overlap fraction must be in [0, 1]")

    rng = random.Random(request.seed)  # noqa: S311 -- reproducible sampling, not secrecy
    by_language: dict[str, list[Candidate]] = defaultdict(list)
    for candidate in sorted(candidates, key=lambda c: c.unit_key):
        by_language[candidate.language].append(candidate)
    shares = allocate({lang: len(units) for lang, units in by_language.items()}, total)
    sampled: dict[str, list[Candidate]] = {
        lang: rng.sample(by_language[lang], shares[lang]) for lang in sorted(by_language)
    }
    overlap_total = round(request.overlap_fraction * total)
    overlap_shares = allocate({lang: len(units) for lang, units in sampled.items()},
                              overlap_total)
    overlap_keys = {
        c.unit_key
        for lang in sorted(sampled)
        for c in rng.sample(sampled[lang], overlap_shares[lang])
    }
    chosen = [c for lang in sorted(sampled) for c in sampled[lang]]
    rng.shuffle(chosen)
    return [(c, c.unit_key in overlap_keys) for c in chosen]


def rating_dimensions(benchmark: Benchmark) -> list[str]:
    """The dimensions the benchmark's judges scored: what a rating batch asks by default."""
    from judging.models import Judgment, Protocol

    return sorted(set(Judgment.objects.filter(
        response__item__benchmark=benchmark, protocol=Protocol.DIRECT_SCORE,
    ).exclude(dimension="").values_list("dimension", flat=True)))


def _batch_dimensions(spec: TaskSpec, benchmark: Benchmark,
                      dimensions: Sequence[str]) -> list[str]:
    if not spec.open_scale:
        if dimensions:
            raise ServiceError(f"dimensions apply to response rating, not to {spec.kind}")
        return []
    chosen = list(dict.fromkeys(d.strip() for d in dimensions if d.strip()))
    chosen = chosen or rating_dimensions(benchmark)
    if not chosen:
        raise ServiceError("name the dimensions to rate (e.g. coherence, fluency); the "
                           "benchmark's judges scored none")
    bad = [d for d in chosen if spec.field(d) is None]
    if bad:
        raise ServiceError(f"{', '.join(bad)}: a dimension is a lower-case name of letters, "
                           "digits and underscores")
    return chosen


# The columns batch_create writes, in the order of its rows.
_BATCH_UNIT_FIELDS = ("batch", "unit_key", "language", "item", "pair", "decision", "response",
                      "annotators_required", "is_overlap")
_ASSIGNMENT_FIELDS = ("unit", "batch", "annotator", "position", "status", "skip_reason",
                      "time_spent_ms")


@transaction.atomic
def batch_create(*, benchmark: Benchmark, kind: str, name: str,
                 annotators: Sequence[AbstractBaseUser], filters: Filters,
                 sample: SampleRequest, created_by: AbstractBaseUser | None = None,
                 dimensions: Sequence[str] = ()) -> Batch:
    """Draw a sample of units of `kind` and assign it, balanced, to `annotators`.

    Overlap units go to `overlap_k` annotators each (the paper's subset labelled by both);
    every other unit to one. Each unit goes to the annotators with the fewest units so far.
    A response-rating batch asks every response for each of `dimensions` (default: the
    dimensions the benchmark's judges scored).
    """
    spec = task_spec(kind)
    dimensions = _batch_dimensions(spec, benchmark, dimensions)
    name = name.strip()  # stored stripped, so checked stripped
    if not name:
        raise ServiceError("a batch needs a name")
    if Batch.objects.filter(benchmark=benchmark, name=name).exists():
        raise ServiceError(f"benchmark {benchmark.name!r} already has a batch named {name!r}")
    annotators = list(dict.fromkeys(annotators))
    if not annotators:
        raise ServiceError("choose at least one annotator")
    if sample.overlap_fraction > 0 and not 2 <= sample.overlap_k <= len(annotators):
        raise ServiceError(f"overlap needs between 2 and {len(annotators)} annotators per unit "
                           f"(asked for {sample.overlap_k})")
    drawn = draw_sample(list(spec.candidates(benchmark, filters)), sample)

    batch = Batch.objects.create(
        benchmark=benchmark, name=name, kind=spec.kind, created_by=created_by,
        parameters={
            "languages": list(filters.languages), "subset": filters.subset,
            "models": list(filters.models), "size": sample.size, "fraction": sample.fraction,
            "seed": sample.seed, "overlap_fraction": sample.overlap_fraction,
            "overlap_k": sample.overlap_k, "annotators": [a.get_username() for a in annotators],
            **({"dimensions": dimensions} if dimensions else {}),
        },
    )
    # How many annotators each drawn unit needs: stored on the unit and given to the unit.
    required = [sample.overlap_k if overlap else 1 for _, overlap in drawn]
    # Raw multi-row INSERTs (bulksql): the ORM's bulk_create spent most of a large batch's
    # time building model instances and compiling their values.
    unit_ids = insert_rows(BatchUnit, _BATCH_UNIT_FIELDS, [
        (batch.pk, c.unit_key, c.language, c.item_id, c.pair_id, c.decision_id,
         c.response_id, n, overlap)
        for (c, overlap), n in zip(drawn, required, strict=True)
    ], returning_ids=True)

    # (units so far, annotator's index): each unit goes to the least loaded, the first
    # annotators first among equals.
    least_loaded = [(0, i) for i in range(len(annotators))]
    assignments = []
    for unit_id, n in zip(unit_ids, required, strict=True):
        chosen = [heapq.heappop(least_loaded) for _ in range(n)]
        for load, i in chosen:
            assignments.append((unit_id, batch.pk, annotators[i].pk, load + 1,
                                AssignmentStatus.PENDING.value, "", 0))
            heapq.heappush(least_loaded, (load + 1, i))
    insert_rows(Assignment, _ASSIGNMENT_FIELDS, assignments)
    return batch


@transaction.atomic
def batch_delete(*, batch: Batch) -> None:
    """Remove a batch and its assignments; labels already given stay (they belong to units)."""
    # Lock the assignments first, as label_submit does: a submission being written now is
    # committed before its assignment is unlinked, instead of being cascaded away with it
    # (PostgreSQL); one arriving later finds its assignment gone (404).
    list(Assignment.objects.select_for_update().filter(batch=batch).values_list("pk", flat=True))
    Submission.objects.filter(assignment__batch=batch).update(assignment=None)
    batch.delete()


# --- labelling ------------------------------------------------------------------------------

# The reads every submission makes, compiled once (annotation/compiled.py).
_SUBMISSION_BY_CLIENT_ID = CompiledQuery(
    lambda client_id: Submission.objects.filter(client_id=client_id).order_by("pk")[:1], str)
# Serialise submissions on one assignment (double clicks, two tabs): lock its row only.
_LOCKED_FOR_ANSWER = CompiledQuery(
    lambda pk: Assignment.objects.select_for_update(of=("self",))
    .select_related(*selectors.ASSIGNMENT_RELATED).filter(pk=pk), int)
_LOCKED_FOR_SKIP = CompiledQuery(
    lambda pk: Assignment.objects.select_for_update().filter(pk=pk), int)
# The writes of an answer or a skip, one statement each (annotation/statements.py). The
# submission, unless its client id is stored already (a retry).
_NEW_SUBMISSION = Insert(
    Submission, ("client_id", "annotator", "assignment", "source", "skipped", "skip_reason",
                 "time_spent_ms", "created_at"),
    tail="ON CONFLICT (client_id) DO NOTHING", returning=("id",))
# Each answer's label inserted, or the stored one (the annotator's earlier answer, or one
# written at this moment from another assignment of a batch sharing the unit) given the new
# value; either way locked until the answer commits. Its time moves only when its value or
# note does, and what it points to is kept.
_ANSWERED_LABELS = Insert(
    Label, ("benchmark", "task", "unit", "annotator", "field", "value", "note", "updated_at",
            "item", "requirement", "pair", "model"),
    tail="ON CONFLICT (benchmark_id, task, unit, annotator_id, field) DO UPDATE SET "
         "value = excluded.value, note = excluded.note, updated_at = CASE WHEN "
         "{table}.value = excluded.value AND {table}.note = excluded.note "
         "THEN {table}.updated_at ELSE excluded.updated_at END",
    returning=("id", "unit", "field"))
_NEW_EVENTS = Insert(LabelEvent, ("label", "submission", "value", "note", "created_at"))
_FINISHED = Update(Assignment, ("status", "skip_reason", "completed_at", "time_spent_ms"))


def _existing_submission(client_id: str, annotator: AbstractBaseUser,
                         assignment: Assignment) -> Submission | None:
    existing = _SUBMISSION_BY_CLIENT_ID.first(client_id)
    if existing is None:
        return None
    if existing.annotator_id != annotator.pk or existing.assignment_id != assignment.pk:
        raise ServiceError("this submission id was already used for another item")
    return existing


def _new_submission(client_id: str, annotator: AbstractBaseUser, assignment: Assignment, *,
                    source: str, time_spent_ms: int | None, now: datetime.datetime,
                    skip_reason: str = "") -> Submission | None:
    """The submission stored, or None when its client id is stored already: a retry (the
    INSERT waited for the first one to commit). Call it under the assignment's lock, so a
    retry sent while the first request is still writing finds it, and before checking what
    was sent: a refusal rolls the row back with everything else."""
    skipped = bool(skip_reason)
    stored = _NEW_SUBMISSION.run([(client_id, annotator.pk, assignment.pk, source, skipped,
                                   skip_reason, time_spent_ms, now)])
    if not stored:
        return None
    submission = Submission(
        pk=stored[0][0], client_id=client_id, annotator=annotator, assignment=assignment,
        source=source, skipped=skipped, skip_reason=skip_reason, time_spent_ms=time_spent_ms,
        created_at=now)
    submission._state.adding = False
    return submission


def _finish(assignment: Assignment, status: str, *, now: datetime.datetime,
            time_spent_ms: int | None, skip_reason: str = "") -> None:
    assignment.status = status
    assignment.skip_reason = skip_reason
    assignment.completed_at = now
    assignment.time_spent_ms += time_spent_ms or 0
    _FINISHED.run(assignment.pk, (assignment.status, assignment.skip_reason,
                                  assignment.completed_at, assignment.time_spent_ms))


def _locked(query: CompiledQuery, pk: int) -> Assignment:
    """The assignment, row-locked; 404 when its batch was deleted since the caller found it."""
    assignment = query.first(pk)
    if assignment is None:
        raise Http404("no such assignment")
    return assignment


def _check_owner(assignment: Assignment, annotator: AbstractBaseUser) -> None:
    if assignment.annotator_id != annotator.pk:
        raise ServiceError("this item is not assigned to you")


def _unit_refs(assignment: Assignment, question: Question) -> dict[str, object]:
    unit = assignment.unit
    refs: dict[str, object] = {"item_id": unit.item_id, "pair_id": unit.pair_id}
    if question.requirement is not None:
        refs["requirement_id"] = question.requirement.pk
    if unit.decision is not None:
        refs["requirement_id"] = unit.decision.requirement_id
        refs["model"] = unit.decision.judgment.response.model
    if unit.response is not None:
        refs["model"] = unit.response.model
    return refs


@transaction.atomic
def label_submit(*, assignment: Assignment, annotator: AbstractBaseUser, answers: dict[str, str],
                 note: str = "", client_id: str, time_spent_ms: int | None = None,
                 source: str = Submission.Source.WEB) -> Submission:
    """Record an annotator's answers to one assignment (first answer or an edit).

    Idempotent on `client_id`: a retry of the same submission stores nothing new. Every
    answer becomes a LabelEvent; the current Label moves to it.
    """
    _check_owner(assignment, annotator)
    assignment = selectors.with_unit_content(_locked(_LOCKED_FOR_ANSWER, assignment.pk))
    now = timezone.now()
    submission = _new_submission(client_id, annotator, assignment, source=source,
                                 time_spent_ms=time_spent_ms, now=now)
    if submission is None:
        return _existing_submission(client_id, annotator, assignment)
    questions = selectors.questions_for_assignment(assignment)
    expected = {q.answer_key: q for q in questions}
    unknown = sorted(set(answers) - set(expected))
    if unknown:
        raise ServiceError(f"unknown field(s): {', '.join(unknown)}")
    missing = [k for k in expected if not answers.get(k)]
    if missing:
        raise ServiceError(f"answer every question first; missing: {', '.join(missing)}")
    for key, question in expected.items():
        if answers[key] not in question.field.values:
            allowed = ", ".join(c.value for c in question.field.choices)
            raise ServiceError(f"{key}: {answers[key]!r} is not one of {allowed}")

    benchmark = assignment.batch.benchmark
    kind = assignment.batch.kind
    labels = {}
    for key, question in expected.items():
        refs = _unit_refs(assignment, question)
        labels[(question.label_unit, question.field.name)] = (
            benchmark.pk, kind, question.label_unit, annotator.pk, question.field.name,
            answers[key], note, now, refs["item_id"], refs.get("requirement_id"),
            refs["pair_id"], refs.get("model", ""))
    label_ids = {(unit, field): pk for pk, unit, field in _ANSWERED_LABELS.run(
        list(labels.values()))}
    _NEW_EVENTS.run([(label_ids[(q.label_unit, q.field.name)], submission.pk, answers[key],
                      note, now) for key, q in expected.items()])
    decision = assignment.unit.decision
    summaries.refresh_units(
        benchmark, {(kind, q.label_unit) for q in questions},
        judge_decisions=None if decision is None else {
            (kind, q.label_unit): decision.decision for q in questions})

    _finish(assignment, AssignmentStatus.DONE, now=now, time_spent_ms=time_spent_ms)
    return submission


@transaction.atomic
def assignment_skip(*, assignment: Assignment, annotator: AbstractBaseUser, reason: str,
                    client_id: str, time_spent_ms: int | None = None,
                    source: str = Submission.Source.WEB) -> Submission:
    """Set an item aside with a reason; it stays in the queue's skipped list."""
    _check_owner(assignment, annotator)
    assignment = _locked(_LOCKED_FOR_SKIP, assignment.pk)
    now = timezone.now()
    reason = reason.strip()[:200]
    submission = _new_submission(client_id, annotator, assignment, source=source,
                                 time_spent_ms=time_spent_ms, now=now, skip_reason=reason)
    if submission is None:
        return _existing_submission(client_id, annotator, assignment)
    if not reason:
        raise ServiceError("say why you skip this item")
    if assignment.status == AssignmentStatus.DONE:
        raise ServiceError("this item is already labelled; edit it instead of skipping")
    _finish(assignment, AssignmentStatus.SKIPPED, now=now, time_spent_ms=time_spent_ms,
            skip_reason=reason)
    return submission


# --- adjudication ---------------------------------------------------------------------------

# Instruction-level fields are resolved per group (spec section 6), so they are adjudicated
# per group too; every other field per unit.
GROUP_LEVEL_TASKS = frozenset({TaskKind.INSTRUCTION_VALIDATION})


@transaction.atomic
def adjudication_set(*, benchmark: Benchmark, task: str, unit: str, field: str, value: str,
                     reason: str, adjudicator: AbstractBaseUser) -> Adjudication:
    """Record an admin's final value for one field of one unit (of one group for
    instruction-level fields); it overrides every resolution strategy."""
    if not getattr(adjudicator, "is_staff", False):
        raise ServiceError("only admins adjudicate")
    spec = task_spec(task)
    field_def = spec.field(field)
    if field_def is None:
        raise ServiceError(f"{field!r} is not a field of {task} ({spec.field_names()})")
    if value not in field_def.values:
        allowed = ", ".join(c.value for c in field_def.choices)
        raise ServiceError(f"{value!r} is not one of {allowed} for {field}")
    if not reason.strip():
        raise ServiceError("give the reason for the final value")
    if task in GROUP_LEVEL_TASKS:
        if not Group.objects.filter(benchmark=benchmark, key=unit).exists():
            raise ServiceError(f"no group {unit!r} in benchmark {benchmark.name!r}")
    elif not Label.objects.filter(benchmark=benchmark, task=task, unit=unit,
                                  field=field).exists():
        raise ServiceError(f"no label on {unit!r} / {field} to adjudicate")
    return Adjudication.objects.create(
        benchmark=benchmark, task=task, unit=unit, field=field, value=value,
        reason=reason.strip(), adjudicator=adjudicator,
    )


# --- people ---------------------------------------------------------------------------------

def profile_for(user: AbstractBaseUser) -> Profile:
    profile, _ = Profile.objects.get_or_create(user=user)
    return profile


@transaction.atomic
def profile_update(*, user: AbstractBaseUser, working_language: str) -> Profile:
    language = working_language.strip()
    if not language or len(language) > 35:
        raise ServiceError("choose a working language")
    profile = profile_for(user)
    profile.working_language = language
    profile.save(update_fields=["working_language"])
    return profile


@transaction.atomic
def user_ensure(*, username: str, password: str | None, is_staff: bool = False,
                email: str = "") -> AbstractBaseUser:
    """Create the account if it does not exist; reset its password when one is given."""
    User = get_user_model()
    user, created = User.objects.get_or_create(
        username=username, defaults={"is_staff": is_staff, "is_superuser": is_staff,
                                     "email": email},
    )
    if password is not None and (created or not user.check_password(password)):
        user.set_password(password)
        user.save(update_fields=["password"])
    elif created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    profile_for(user)
    return user


@transaction.atomic
def user_token_regenerate(*, user: AbstractBaseUser) -> Token:
    """A new API token for the user; the old one stops working at once."""
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)


def annotators_by_name(names: Iterable[str]) -> list[AbstractBaseUser]:
    User = get_user_model()
    names = list(dict.fromkeys(n.strip() for n in names if n.strip()))
    found = {u.username: u for u in User.objects.filter(username__in=names)}
    unknown = [n for n in names if n not in found]
    if unknown:
        raise ServiceError(f"no such user(s): {', '.join(unknown)}")
    return [found[n] for n in names]
