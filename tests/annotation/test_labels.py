"""The labelling services: label_submit and assignment_skip (validation, history,
idempotency, time tracking), and how web labels and imported labels meet."""

from __future__ import annotations

import threading

import pytest
from django.apps import apps
from django.db import connection

from annotation import importers
from annotation.models import (
    Assignment,
    AssignmentStatus,
    Label,
    LabelEvent,
    Submission,
    TaskKind,
)
from annotation.selectors import questions_for_assignment
from annotation.services import ServiceError, assignment_skip, label_submit
from annotation.tasks import TASKS


def row_counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


def first_assignment(batch, annotator) -> Assignment:
    return (Assignment.objects.filter(batch=batch, annotator=annotator)
            .select_related("unit__item__group", "batch__benchmark").order_by("position")
            .first())


def full_answers(assignment: Assignment, pick: int = 0) -> dict[str, str]:
    """A valid answer to every question: the pick-th choice of each field (wrapping)."""
    return {q.answer_key: q.field.choices[pick % len(q.field.choices)].value
            for q in questions_for_assignment(assignment)}


@pytest.fixture
def judge_batch(make_batch):
    return make_batch(TaskKind.JUDGE_AGREEMENT, seed=5)


@pytest.fixture
def mine(judge_batch, annotator_a) -> Assignment:
    return first_assignment(judge_batch, annotator_a)


@pytest.mark.parametrize("kind", list(TASKS))
@pytest.mark.django_db
def test_submit_stores_one_label_and_one_event_per_question(make_batch, annotator_a, kind):
    batch = make_batch(kind, seed=2)
    assignment = first_assignment(batch, annotator_a)
    answers = full_answers(assignment)
    questions = questions_for_assignment(assignment)
    submission = label_submit(assignment=assignment, annotator=annotator_a, answers=answers,
                              note="checked", client_id="c-1", time_spent_ms=1200)
    assert submission.assignment_id == assignment.pk and submission.source == "web"
    stored = {(lab.unit, lab.field): lab.value for lab in Label.objects.filter(
        annotator=annotator_a, task=kind, benchmark=batch.benchmark)}
    assert stored == {(q.label_unit, q.field.name): answers[q.answer_key] for q in questions}
    assert LabelEvent.objects.filter(submission=submission).count() == len(questions)
    assert set(Label.objects.values_list("note", flat=True)) == {"checked"}
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.DONE
    assert assignment.completed_at is not None and assignment.time_spent_ms == 1200


@pytest.mark.django_db
def test_requirement_assessment_labels_requirements_and_the_item(make_batch, annotator_a):
    batch = make_batch(TaskKind.REQUIREMENT_ASSESSMENT, seed=2)
    assignment = first_assignment(batch, annotator_a)
    item = assignment.unit.item
    requirement_keys = list(item.group.requirements.values_list("key", flat=True))
    answers = full_answers(assignment)
    assert set(answers) == {f"{r}#{f}" for r in requirement_keys
                            for f in ("explicitness", "atomicity", "category", "dimension")
                            } | {"completeness"}
    label_submit(assignment=assignment, annotator=annotator_a, answers=answers, client_id="c")
    units = set(Label.objects.values_list("unit", "field"))
    assert (item.key, "completeness") in units
    assert all((f"{item.key}#{r}", "atomicity") in units for r in requirement_keys)


@pytest.mark.django_db
def test_seed_only_fields_are_asked_of_seed_instructions_only(make_batch, annotator_a):
    batch = make_batch(TaskKind.INSTRUCTION_VALIDATION, seed=2, overlap=0.0)
    keys = {}
    for assignment in Assignment.objects.filter(batch=batch, annotator=annotator_a
                                                ).select_related("unit__item__group"):
        is_seed = not assignment.unit.item.group.seed_key
        keys[is_seed] = set(full_answers(assignment))
    base = {"clarity", "linguistic_independence", "cultural_accessibility"}
    assert keys[True] == base | {"max_constraints", "max_content_constraints"}
    assert keys[False] == base


# --- validation ----------------------------------------------------------------------------

@pytest.mark.django_db
def test_missing_answer_is_refused(make_batch, annotator_a):
    assignment = first_assignment(make_batch(TaskKind.INSTRUCTION_VALIDATION, seed=2),
                                  annotator_a)
    answers = full_answers(assignment)
    answers.pop("clarity")
    answers["cultural_accessibility"] = ""
    before = row_counts()
    with pytest.raises(ServiceError, match="answer every question first; missing: clarity, "
                                           "cultural_accessibility"):
        label_submit(assignment=assignment, annotator=annotator_a, answers=answers,
                     client_id="c")
    assert row_counts() == before


@pytest.mark.django_db
def test_unknown_answer_key_is_refused(mine, annotator_a):
    before = row_counts()
    with pytest.raises(ServiceError, match=r"unknown field\(s\): clarity, r1#atomicity"):
        label_submit(assignment=mine, annotator=annotator_a,
                     answers={"agree": "yes", "clarity": "yes", "r1#atomicity": "no"},
                     client_id="c")
    assert row_counts() == before


@pytest.mark.parametrize("value", ["YES", "y", "agree", "1", " yes"])
@pytest.mark.django_db
def test_bad_value_is_refused(mine, annotator_a, value):
    before = row_counts()
    with pytest.raises(ServiceError, match=f"agree: {value!r} is not one of yes, no"):
        label_submit(assignment=mine, annotator=annotator_a, answers={"agree": value},
                     client_id="c")
    assert row_counts() == before


@pytest.mark.django_db
def test_bad_quality_value_is_refused(make_batch, annotator_a):
    assignment = first_assignment(make_batch(TaskKind.TRANSLATION_VALIDATION, seed=2),
                                  annotator_a)
    for value in ("0", "6", "yes"):
        with pytest.raises(ServiceError, match="is not one of 1, 2, 3, 4, 5"):
            label_submit(assignment=assignment, annotator=annotator_a,
                         answers={"quality": value}, client_id=f"c-{value}")
    label_submit(assignment=assignment, annotator=annotator_a, answers={"quality": "5"},
                 client_id="ok")
    assert Label.objects.get().value == "5"


@pytest.mark.django_db
def test_only_the_owner_can_label_or_skip(mine, annotator_b, outsider):
    before = row_counts()
    for someone in (annotator_b, outsider):
        with pytest.raises(ServiceError, match="this item is not assigned to you"):
            label_submit(assignment=mine, annotator=someone, answers={"agree": "yes"},
                         client_id=f"x-{someone.pk}")
        with pytest.raises(ServiceError, match="this item is not assigned to you"):
            assignment_skip(assignment=mine, annotator=someone, reason="unclear",
                            client_id=f"y-{someone.pk}")
    assert row_counts() == before


# --- history and idempotency ----------------------------------------------------------------

@pytest.mark.django_db
def test_an_edit_adds_events_and_moves_the_current_value(mine, annotator_a):
    label_submit(assignment=mine, annotator=annotator_a, answers={"agree": "yes"},
                 client_id="first")
    label = Label.objects.get()
    label_submit(assignment=mine, annotator=annotator_a, answers={"agree": "no"},
                 note="The response has four paragraphs.", client_id="second")
    label_submit(assignment=mine, annotator=annotator_a, answers={"agree": "no"},
                 note="The response has four paragraphs.", client_id="third")
    assert Label.objects.count() == 1
    label.refresh_from_db()
    assert (label.value, label.note) == ("no", "The response has four paragraphs.")
    events = list(LabelEvent.objects.filter(label=label).values_list(
        "value", "note", "submission__client_id"))
    assert events == [("yes", "", "first"),
                      ("no", "The response has four paragraphs.", "second"),
                      ("no", "The response has four paragraphs.", "third")]


@pytest.mark.django_db
def test_a_labels_time_moves_only_when_its_value_or_note_does(mine, annotator_a):
    label_submit(assignment=mine, annotator=annotator_a, answers={"agree": "yes"},
                 client_id="first")
    label = Label.objects.get()
    Label.objects.filter(pk=label.pk).update(item=None)  # as a re-import that dropped it
    first = Label.objects.get().updated_at
    label_submit(assignment=mine, annotator=annotator_a, answers={"agree": "yes"},
                 client_id="same")
    label.refresh_from_db()
    assert (label.value, label.updated_at, label.item_id) == ("yes", first, None)
    label_submit(assignment=mine, annotator=annotator_a, answers={"agree": "yes"},
                 note="On reflection.", client_id="noted")
    label.refresh_from_db()
    noted = label.updated_at
    assert noted > first
    label_submit(assignment=mine, annotator=annotator_a, answers={"agree": "no"},
                 note="On reflection.", client_id="changed")
    label.refresh_from_db()
    assert label.value == "no" and label.updated_at > noted
    assert label.item_id is None  # what a label points to is set when it is first written
    assert LabelEvent.objects.filter(label=label).count() == 4


@pytest.mark.django_db
def test_the_same_client_id_is_stored_once(mine, annotator_a):
    first = label_submit(assignment=mine, annotator=annotator_a, answers={"agree": "yes"},
                         client_id="retry-me", time_spent_ms=900)
    before = row_counts()
    again = label_submit(assignment=mine, annotator=annotator_a, answers={"agree": "no"},
                         client_id="retry-me", time_spent_ms=900)
    assert again.pk == first.pk
    assert row_counts() == before
    assert Label.objects.get().value == "yes"
    mine.refresh_from_db()
    assert mine.time_spent_ms == 900


@pytest.mark.django_db
def test_a_client_id_cannot_be_reused_for_another_item(judge_batch, mine, annotator_a,
                                                       annotator_b):
    label_submit(assignment=mine, annotator=annotator_a, answers={"agree": "yes"},
                 client_id="once")
    other = Assignment.objects.filter(batch=judge_batch, annotator=annotator_a).exclude(
        pk=mine.pk).first()
    with pytest.raises(ServiceError, match="already used for another item"):
        label_submit(assignment=other, annotator=annotator_a, answers={"agree": "yes"},
                     client_id="once")
    with pytest.raises(ServiceError, match="already used for another item"):
        assignment_skip(assignment=other, annotator=annotator_a, reason="x", client_id="once")
    theirs = first_assignment(judge_batch, annotator_b)
    with pytest.raises(ServiceError, match="already used for another item"):
        label_submit(assignment=theirs, annotator=annotator_b, answers={"agree": "yes"},
                     client_id="once")


# --- skipping and time ----------------------------------------------------------------------

@pytest.mark.parametrize("reason", ["", "   ", "\n"])
@pytest.mark.django_db
def test_skip_needs_a_reason(mine, annotator_a, reason):
    before = row_counts()
    with pytest.raises(ServiceError, match="say why you skip this item"):
        assignment_skip(assignment=mine, annotator=annotator_a, reason=reason, client_id="s")
    assert row_counts() == before
    mine.refresh_from_db()
    assert mine.status == AssignmentStatus.PENDING


@pytest.mark.django_db
def test_skip_records_the_reason_and_can_be_labelled_later(mine, annotator_a):
    submission = assignment_skip(assignment=mine, annotator=annotator_a,
                                 reason="  I cannot read Swahili  ", client_id="s",
                                 time_spent_ms=300)
    assert (submission.skipped, submission.skip_reason) == (True, "I cannot read Swahili")
    mine.refresh_from_db()
    assert (mine.status, mine.skip_reason) == (AssignmentStatus.SKIPPED, "I cannot read Swahili")
    assert not Label.objects.exists()
    # A retry of the same skip stores nothing new.
    again = assignment_skip(assignment=mine, annotator=annotator_a, reason="other",
                            client_id="s", time_spent_ms=300)
    assert again.pk == submission.pk and Submission.objects.count() == 1
    # Coming back to it later: labelling clears the skip.
    label_submit(assignment=mine, annotator=annotator_a, answers={"agree": "yes"},
                 client_id="l", time_spent_ms=700)
    mine.refresh_from_db()
    assert (mine.status, mine.skip_reason, mine.time_spent_ms) == (AssignmentStatus.DONE, "",
                                                                   1000)


@pytest.mark.django_db
def test_skipping_a_done_assignment_is_refused(mine, annotator_a):
    label_submit(assignment=mine, annotator=annotator_a, answers={"agree": "no"},
                 client_id="done")
    before = row_counts()
    with pytest.raises(ServiceError, match="already labelled; edit it instead of skipping"):
        assignment_skip(assignment=mine, annotator=annotator_a, reason="changed my mind",
                        client_id="skip")
    assert row_counts() == before
    mine.refresh_from_db()
    assert mine.status == AssignmentStatus.DONE


@pytest.mark.django_db
def test_time_spent_accumulates_over_visits(mine, annotator_a):
    assignment_skip(assignment=mine, annotator=annotator_a, reason="later", client_id="1",
                    time_spent_ms=1500)
    label_submit(assignment=mine, annotator=annotator_a, answers={"agree": "yes"},
                 client_id="2", time_spent_ms=2500)
    label_submit(assignment=mine, annotator=annotator_a, answers={"agree": "no"},
                 client_id="3", time_spent_ms=None)
    label_submit(assignment=mine, annotator=annotator_a, answers={"agree": "yes"},
                 client_id="4", time_spent_ms=1000)
    mine.refresh_from_db()
    assert mine.time_spent_ms == 5000
    assert list(Submission.objects.order_by("pk").values_list("time_spent_ms", flat=True)) == [
        1500, 2500, None, 1000]


@pytest.mark.django_db
def test_overlap_annotators_keep_separate_labels(make_batch, annotator_a, annotator_b):
    batch = make_batch(TaskKind.JUDGE_AGREEMENT, seed=5, overlap=1.0)
    unit = batch.units.first()
    for annotator, value in ((annotator_a, "yes"), (annotator_b, "no")):
        assignment = Assignment.objects.get(unit=unit, annotator=annotator)
        label_submit(assignment=assignment, annotator=annotator, answers={"agree": value},
                     client_id=f"{annotator.username}-1")
    assert sorted(Label.objects.filter(unit=unit.unit_key).values_list(
        "annotator__username", "value")) == [("ana", "yes"), ("ben", "no")]


# --- web labels and imported labels are the same data ------------------------------------

@pytest.mark.django_db
def test_an_imported_label_continues_the_history_of_a_web_label(mine, annotator_a):
    label_submit(assignment=mine, annotator=annotator_a, answers={"agree": "yes"},
                 client_id="web")
    label = Label.objects.get()
    data = ("task,unit,annotator,field,value,note\n"
            f"judge_agreement,{label.unit},{annotator_a.username},agree,no,re-checked offline\n"
            ).encode()
    importers.import_labels(data=data, file_name="labels.csv",
                            benchmark_name=mine.batch.benchmark.name)
    assert Label.objects.count() == 1
    label.refresh_from_db()
    assert (label.value, label.note) == ("no", "re-checked offline")
    assert list(label.events.values_list("value", "submission__source")) == [
        ("yes", "web"), ("no", "import")]
    # The web form shows the imported value as the current answer.
    from annotation.selectors import current_answers

    mine.refresh_from_db()
    answers, note = current_answers(mine, questions_for_assignment(mine))
    assert (answers, note) == ({"agree": "no"}, "re-checked offline")


# --- concurrency (PostgreSQL: SQLite runs whole write transactions one at a time) ------------

@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("action", ["submit", "skip"])
def test_concurrent_retries_of_one_submission_store_it_once(make_batch, annotator_a, action):
    """A double click sends the same client_id twice at once: one submission, no error."""
    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent writers (PostgreSQL)")
    assignment = first_assignment(make_batch(TaskKind.JUDGE_AGREEMENT, seed=5), annotator_a)
    n = 6
    barrier = threading.Barrier(n)
    results, errors = [], []

    def send() -> None:
        try:
            barrier.wait(timeout=10)
            if action == "submit":
                submission = label_submit(assignment=assignment, annotator=annotator_a,
                                          answers={"agree": "yes"}, client_id="double-click",
                                          time_spent_ms=100)
            else:
                submission = assignment_skip(assignment=assignment, annotator=annotator_a,
                                             reason="unclear", client_id="double-click",
                                             time_spent_ms=100)
            results.append(submission.pk)
        except Exception as exc:  # noqa: BLE001 -- collected and reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert len(results) == n and len(set(results)) == 1
    assert Submission.objects.filter(client_id="double-click").count() == 1
    assert LabelEvent.objects.count() == (1 if action == "submit" else 0)
    assignment.refresh_from_db()
    assert assignment.time_spent_ms == 100


@pytest.mark.django_db
def test_labels_point_to_what_their_unit_is_about_whichever_way_they_arrive(
        make_batch, annotator_a, demo_benchmark):
    """Reports group labels by language, category and model through these references; a
    web submission and an imported row for the same kind of unit must carry the same."""
    from annotation.importers import import_labels

    batch = make_batch(TaskKind.JUDGE_AGREEMENT, size=4, overlap=0)
    assignment = batch.assignments.filter(annotator=annotator_a).select_related(
        "unit__decision__judgment__response").first()
    label_submit(assignment=assignment, annotator=annotator_a, answers={"agree": "no"},
                 note="misses the limit", client_id="refs-1")
    decision = assignment.unit.decision
    web = Label.objects.get(annotator=annotator_a, unit=assignment.unit.unit_key)
    assert (web.item_id, web.requirement_id, web.model) == (
        decision.judgment.response.item_id, decision.requirement_id,
        decision.judgment.response.model)

    import_labels(data=(f"task,unit,annotator,field,value,note\n"
                        f"judge_agreement,{assignment.unit.unit_key},carol,agree,yes,\n"
                        f"pairwise_preference,pair-001,carol,preference,tie,\n").encode(),
                  file_name="labels.csv", benchmark_name=demo_benchmark.name)
    imported = Label.objects.get(annotator__username="carol", task="judge_agreement")
    assert (imported.item_id, imported.requirement_id, imported.model) == (
        web.item_id, web.requirement_id, web.model)
    pair_label = Label.objects.get(annotator__username="carol", task="pairwise_preference")
    assert pair_label.pair.key == "pair-001" and pair_label.item_id is None


@pytest.mark.django_db
def test_only_admins_adjudicate_valid_values_with_a_reason(demo_benchmark, admin, annotator_a):
    from annotation.services import adjudication_set

    def adjudicate(**changes):
        values = {"benchmark": demo_benchmark, "task": "instruction_validation",
                  "unit": "hard-004", "field": "clarity", "value": "no",
                  "reason": "the website cannot be reached", "adjudicator": admin}
        return adjudication_set(**{**values, **changes})

    decision = adjudicate()
    assert (decision.unit, decision.value, decision.adjudicator) == ("hard-004", "no", admin)
    for changes, message in [
        ({"adjudicator": annotator_a}, "only admins adjudicate"),
        ({"field": "tone"}, "'tone' is not a field of instruction_validation"),
        ({"value": "maybe"}, "'maybe' is not one of yes, no for clarity"),
        ({"reason": "  "}, "give the reason"),
        ({"unit": "hard-404"}, "no group 'hard-404'"),
        ({"task": "pairwise_preference", "unit": "pair-001", "field": "preference",
          "value": "a"}, "no label on 'pair-001'"),
    ]:
        with pytest.raises(ServiceError, match=message):
            adjudicate(**changes)
