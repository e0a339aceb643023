"""Races: two annotators on one overlap unit, an admin deleting and creating batches while
annotators submit, and a translation provider that hangs while an annotator works.

Threads go through the REST API (Django's test client, one database connection per thread)
and need to see each other's commits, hence `transactional_db`.

On PostgreSQL the threads really run at once (a barrier releases them together). The SQLite
test database is in memory with a shared cache, where concurrent writers fail with "database
table is locked" instead of waiting on the busy timeout that protects the real SQLite file
(tests/test_load_faults.py covers that file with a real server); so on SQLite the same threads
take turns through one lock: the interleavings are still mixed, the writes are serialised.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable

import pytest
import responses
from django.db import connection, connections
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation import selectors, summaries
from annotation.models import (
    Assignment,
    AssignmentStatus,
    Batch,
    Label,
    LabelEvent,
    Submission,
    TaskKind,
)
from annotation.services import SampleRequest, batch_create, batch_delete
from annotation.tasks import Filters
from annotation.translation import translate_token
from tests.annotation.test_summaries import snapshot

CONCURRENT = connection.vendor == "postgresql"


def api_client(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def run_threads(*targets: Callable[[], None], timeout: float = 60) -> None:
    """Run the targets in threads, at once on PostgreSQL, taking turns on SQLite; re-raise
    the first error of any thread."""
    barrier = threading.Barrier(len(targets))
    errors: list[BaseException] = []

    def wrap(target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                barrier.wait(timeout=10)
                target()
            except BaseException as exc:  # noqa: BLE001 -- handed to the main thread
                errors.append(exc)
            finally:
                connections.close_all()  # this thread's own connection

        return run

    threads = [threading.Thread(target=wrap(t), daemon=True) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]


# Serialises requests on SQLite (see the module docstring); a no-op on PostgreSQL.
_turns = threading.Lock()


class turn:
    def __enter__(self) -> None:
        if not CONCURRENT:
            _turns.acquire()

    def __exit__(self, *exc) -> None:
        if not CONCURRENT:
            _turns.release()


def submit(client: APIClient, assignment_id: int, value: str, client_id: str | None = None):
    with turn():
        return client.post(f"/api/assignments/{assignment_id}/submit/", {
            "answers": {"agree": value}, "client_id": client_id or str(uuid.uuid4()),
        }, format="json")


# --- (a) two annotators, one overlap unit ------------------------------------------------------

@pytest.fixture
def overlap_batch(transactional_db, make_batch) -> Batch:
    # Every unit labelled by both ana and ben.
    return make_batch(TaskKind.JUDGE_AGREEMENT, size=6, overlap=1.0)


def test_two_annotators_racing_on_one_overlap_unit_both_get_stored(
        overlap_batch, annotator_a, annotator_b):
    for round_ in range(3):  # three units, three races
        unit = overlap_batch.units.order_by("pk")[round_]
        mine = {a.annotator_id: a for a in unit.assignments.all()}
        assert set(mine) == {annotator_a.pk, annotator_b.pk}
        results = {}

        def racer(user, value, results=results, mine=mine):
            client = api_client(user)  # the token is written here, not inside the race

            def go() -> None:
                results[user.pk] = submit(client, mine[user.pk].pk, value)
            return go

        run_threads(racer(annotator_a, "yes"), racer(annotator_b, "no"))

        assert {pk: r.status_code for pk, r in results.items()} == {
            annotator_a.pk: 201, annotator_b.pk: 201}
        for user, value in ((annotator_a, "yes"), (annotator_b, "no")):
            assignment = Assignment.objects.get(pk=mine[user.pk].pk)
            assert assignment.status == AssignmentStatus.DONE
            submission = Submission.objects.get(assignment=assignment)
            assert submission.annotator_id == user.pk
            assert submission.client_id == results[user.pk].json()["client_id"]
            label = Label.objects.get(unit=unit.unit_key, annotator=user)
            assert label.value == value
            assert list(label.events.values_list("submission_id", "value")) == [
                (submission.pk, value)]
        assert Label.objects.filter(unit=unit.unit_key).count() == 2

    # The agreement summaries counted both racers on every unit (a lost update would leave
    # a unit with one vote), and equal a recount from the labels.
    benchmark = overlap_batch.benchmark
    maintained = snapshot(benchmark)
    assert {row[-2] for row in maintained["patterns"]} == {"1,1"}
    assert sum(row[-1] for row in maintained["patterns"]) == 3
    summaries.rebuild(benchmark)
    assert snapshot(benchmark) == maintained


def test_one_submission_sent_twice_at_once_is_stored_once(overlap_batch, annotator_a):
    assignment = Assignment.objects.filter(batch=overlap_batch, annotator=annotator_a).first()
    client_id = str(uuid.uuid4())
    results = []

    def sender() -> Callable[[], None]:
        client = api_client(annotator_a)  # the token is read here, not inside the race

        def send() -> None:
            results.append(submit(client, assignment.pk, "yes", client_id))
        return send

    run_threads(sender(), sender(), sender())

    assert sorted(r.status_code for r in results)[0] in (200, 201)
    assert {r.status_code for r in results} <= {200, 201}
    assert {r.json()["client_id"] for r in results} == {client_id}
    assert Submission.objects.filter(client_id=client_id).count() == 1
    assert LabelEvent.objects.filter(submission__client_id=client_id).count() == 1


# --- (b) an admin deleting and creating batches while annotators work ---------------------------

def test_deleting_a_batch_while_annotators_submit_keeps_every_acknowledged_label(
        transactional_db, make_batch, demo_benchmark, annotator_a, annotator_b, admin):
    doomed = make_batch(TaskKind.JUDGE_AGREEMENT, name="doomed", size=30, overlap=0.5)
    statuses: Counter = Counter()
    acked: list[tuple[int, str, str, int]] = []   # annotator, client_id, value, seq
    lock = threading.Lock()
    deleting = threading.Event()  # set before the delete: a 404 after it is the deletion's

    def annotator(user, seed: int) -> Callable[[], None]:
        client = api_client(user)  # the token is written here, not inside the race

        def work() -> None:
            rng = random.Random(seed)  # noqa: S311 -- test data
            done: list[int] = []
            deadline = time.monotonic() + 30
            for seq in range(200):  # bounded: ends at the first 404 after the deletion
                if time.monotonic() > deadline:
                    break
                with turn():
                    shown = client.get(f"/api/queues/{doomed.pk}/next/")
                with lock:
                    statuses[shown.status_code] += 1
                if shown.status_code == 204 and done:
                    target = rng.choice(done)  # queue finished: keep editing
                elif shown.status_code == 200:
                    target = shown.json()["id"]
                else:
                    break
                value = rng.choice(["yes", "no"])
                response = submit(client, target, value)
                with lock:
                    statuses[response.status_code] += 1
                if response.status_code in (200, 201):
                    done.append(target)
                    with lock:
                        acked.append((user.pk, response.json()["client_id"], value, seq))
                elif response.status_code == 404 and deleting.is_set():
                    break
                else:
                    raise AssertionError(f"{response.status_code}: {response.content[:300]}")
        return work

    def admin_work() -> None:
        # Let some labels in first, then delete the batch and draw another one.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with lock:
                if len(acked) >= 12:
                    break
            time.sleep(0.01)
        deleting.set()
        with turn():
            batch_delete(batch=Batch.objects.get(pk=doomed.pk))
        with turn():
            batch_create(benchmark=demo_benchmark, kind=TaskKind.JUDGE_AGREEMENT,
                         name="drawn meanwhile", annotators=[annotator_a, annotator_b],
                         filters=Filters(), created_by=admin,
                         sample=SampleRequest(size=10, seed=3))

    run_threads(annotator(annotator_a, 1), annotator(annotator_b, 2), admin_work)

    assert deleting.is_set()
    assert set(statuses) <= {200, 201, 204, 404}, statuses
    assert len(acked) >= 12
    assert not Batch.objects.filter(pk=doomed.pk).exists()
    assert Batch.objects.filter(name="drawn meanwhile").exists()
    # Every acknowledged submission is stored with its event; it outlived its assignment.
    stored = {s.client_id: s for s in Submission.objects.filter(
        client_id__in=[c for _, c, _, _ in acked])}
    assert len(stored) == len(acked)
    assert all(s.assignment_id is None for s in stored.values())
    last: dict[tuple[int, str], str] = {}
    for user_pk, client_id, value, _ in sorted(acked, key=lambda a: (a[0], a[3])):
        event = LabelEvent.objects.select_related("label").get(submission=stored[client_id])
        assert event.value == value
        last[(user_pk, event.label.unit)] = value
    # Each annotator's current labels are their last acknowledged answers.
    current = {(lab.annotator_id, lab.unit): lab.value
               for lab in Label.objects.filter(task=TaskKind.JUDGE_AGREEMENT)}
    assert current == last


def test_a_batch_deleted_between_lookup_and_submit_is_404_not_500(
        db, make_batch, annotator_a, monkeypatch):
    """The window (b) races for, made certain: the view has found the assignment, then the
    admin deletes the batch before the service locks the row."""
    batch = make_batch(TaskKind.JUDGE_AGREEMENT, size=4)
    assignment = Assignment.objects.filter(batch=batch, annotator=annotator_a).first()
    found = selectors.assignment_for

    def then_delete(user, pk):
        result = found(user, pk)
        batch_delete(batch=Batch.objects.get(pk=batch.pk))
        return result

    monkeypatch.setattr("annotation.api.assignment_for", then_delete)
    client = api_client(annotator_a)

    response = client.post(f"/api/assignments/{assignment.pk}/submit/",
                           {"answers": {"agree": "yes"}, "client_id": "late"}, format="json")

    assert response.status_code == 404
    assert not Submission.objects.filter(client_id="late").exists()


# --- (c) a translation provider that hangs ----------------------------------------------------
# The service's own timeout is tested in tests/annotation/test_translation.py
# (test_hanging_provider_times_out_quickly). Here: the annotator's work does not wait on it.

GOOGLE_URL = "https://translate.google.com/m"


def test_a_hanging_translation_provider_does_not_hold_up_the_item_or_its_submission(
        client, make_batch, annotator_a, settings):
    settings.ACCORD_TRANSLATION_PROVIDER = "google"
    settings.ACCORD_TRANSLATION_TIMEOUT = 0.3
    batch = make_batch(TaskKind.JUDGE_AGREEMENT, size=4)
    assignment = Assignment.objects.filter(batch=batch, annotator=annotator_a).first()
    client.force_login(annotator_a)

    def hang(request):
        time.sleep(3.0)
        return 200, {}, "<html></html>"

    with responses.RequestsMock(assert_all_requests_are_fired=False) as fake:
        fake.add_callback(responses.GET, GOOGLE_URL, callback=hang)

        started = time.monotonic()
        page = client.get(f"/queues/{batch.pk}/items/{assignment.pk}/")
        assert page.status_code == 200
        assert b"data-translate" in page.content
        assert not fake.calls, "rendering an item must not wait for a translation"

        translated = client.post(
            "/translate/", {"token": translate_token("Hola", "es"), "text": "Hola"},
            HTTP_HX_REQUEST="true")
        assert translated.status_code == 200
        assert b"did not answer in 0.3" in translated.content

        result = submit(api_client(annotator_a), assignment.pk, "no")
        assert result.status_code == 201
        assert time.monotonic() - started < 2.5  # never waited out the provider's 3 s
    assert Label.objects.get(annotator=annotator_a, unit=assignment.unit.unit_key).value == "no"
