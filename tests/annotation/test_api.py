"""The REST API: token auth, annotators' queues and submissions, admins' imports and batches,
and the OpenAPI schema. Every annotator endpoint is also tried by someone it does not belong
to; every admin endpoint by an annotator."""

from __future__ import annotations

import io
import json
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from drf_spectacular.validation import validate_schema
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation.models import (
    Assignment,
    AssignmentStatus,
    Batch,
    BatchUnit,
    Benchmark,
    Item,
    Label,
    LabelEvent,
    Pair,
    Submission,
    TaskKind,
)
from annotation.services import assignment_skip
from judging.models import JudgeDecision
from judging.models import Response as ModelResponse
from tests.conftest import DEMO, FIXTURES, PASSWORD

# Token look-up, batch, next assignment, its unit's content, requirements, English anchor,
# progress.
NEXT_QUERIES = 7
# Token look-up, the aggregate over assignments, the batches in bulk.
QUEUES_QUERIES = 3


def client_for(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def first_pending(user, batch: Batch) -> Assignment:
    return (Assignment.objects.filter(batch=batch, annotator=user, status="pending")
            .order_by("position").first())


def submit(client: APIClient, assignment_id: int, answers: dict, *, client_id: str | None = None,
           note: str = "", time_spent_ms: int | None = 1200):
    return client.post(f"/api/assignments/{assignment_id}/submit/", {
        "answers": answers, "note": note, "client_id": client_id or str(uuid.uuid4()),
        "time_spent_ms": time_spent_ms,
    }, format="json")


def finish_queue(user, batch: Batch) -> None:
    for assignment in Assignment.objects.filter(batch=batch, annotator=user):
        assignment_skip(assignment=assignment, annotator=user, reason="test",
                        client_id=str(uuid.uuid4()))


# --- authentication -------------------------------------------------------------------------

@pytest.mark.django_db
def test_token_from_username_and_password_authenticates(annotator_a, make_batch):
    make_batch()
    client = APIClient()
    response = client.post("/api/auth/token/", {"username": "ana", "password": PASSWORD},
                           format="json")
    assert response.status_code == 200
    assert response.json()["token"] == Token.objects.get(user=annotator_a).key

    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    queues = client.get("/api/queues/")
    assert queues.status_code == 200
    assert len(queues.json()) == 1


@pytest.mark.django_db
def test_token_endpoint_refuses_a_wrong_password(annotator_a):
    response = APIClient().post("/api/auth/token/", {"username": "ana", "password": "nope"},
                                format="json")
    assert response.status_code == 400
    assert "Unable to log in" in response.json()["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "url"), [
    ("get", "/api/queues/"),
    ("get", "/api/queues/1/next/"),
    ("get", "/api/assignments/1/"),
    ("post", "/api/assignments/1/submit/"),
    ("post", "/api/assignments/1/skip/"),
    ("get", "/api/benchmarks/"),
    ("post", "/api/imports/"),
    ("get", "/api/batches/"),
    ("post", "/api/batches/"),
    ("get", "/api/batches/1/"),
])
def test_anonymous_requests_get_401(method, url):
    response = getattr(APIClient(), method)(url)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.django_db
def test_a_wrong_token_gets_401(annotator_a):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get("/api/queues/").status_code == 401


# --- queues ---------------------------------------------------------------------------------

@pytest.mark.django_db
def test_annotators_see_only_their_own_queues(make_batch, annotator_a, annotator_b, outsider):
    shared = make_batch(TaskKind.JUDGE_AGREEMENT)
    only_ben = make_batch(TaskKind.PAIRWISE_PREFERENCE, annotators=[annotator_b], overlap=0)

    ana = client_for(annotator_a).get("/api/queues/").json()
    assert [q["id"] for q in ana] == [shared.pk]
    total = Assignment.objects.filter(batch=shared, annotator=annotator_a).count()
    assert ana[0] == {"id": shared.pk, "name": shared.name, "benchmark": DEMO,
                      "kind": "judge_agreement", "total": total, "done": 0, "skipped": 0,
                      "pending": total}

    ben = client_for(annotator_b).get("/api/queues/").json()
    assert {q["id"] for q in ben} == {shared.pk, only_ben.pk}
    assert client_for(outsider).get("/api/queues/").json() == []


@pytest.mark.django_db
def test_queue_progress_counts_done_and_skipped(make_batch, annotator_a):
    batch = make_batch()
    client = client_for(annotator_a)
    first = first_pending(annotator_a, batch)
    assert submit(client, first.pk, {"agree": "yes"}).status_code == 201
    second = first_pending(annotator_a, batch)
    client.post(f"/api/assignments/{second.pk}/skip/",
                {"reason": "unsure", "client_id": "s-1"}, format="json")
    [queue] = client.get("/api/queues/").json()
    assert (queue["done"], queue["skipped"], queue["pending"]) == (1, 1, queue["total"] - 2)


# --- next and detail ------------------------------------------------------------------------

@pytest.mark.django_db
def test_next_returns_a_judge_agreement_item_with_decision_and_questions(make_batch,
                                                                        annotator_a):
    batch = make_batch(TaskKind.JUDGE_AGREEMENT)
    expected = first_pending(annotator_a, batch)
    decision = JudgeDecision.objects.select_related(
        "judgment__response__item", "requirement").get(pk=expected.unit.decision_id)
    item = decision.judgment.response.item

    response = client_for(annotator_a).get(f"/api/queues/{batch.pk}/next/")

    assert response.status_code == 200
    data = response.json()
    assert data["id"] == expected.pk
    assert data["kind"] == "judge_agreement"
    assert data["unit_key"] == expected.unit.unit_key
    assert data["language"] == item.language
    assert data["status"] == "pending"
    assert data["progress"]["pending"] == data["progress"]["total"] > 0
    assert data["judge"] == {"name": decision.judgment.judge,
                             "requirement": decision.requirement.key,
                             "decision": decision.decision,
                             "observation": decision.observation}
    assert isinstance(data["judge"]["decision"], bool)
    # Verbatim: the client escapes, the API does not.
    assert data["response"] == {"model": decision.judgment.response.model,
                                "text": decision.judgment.response.text}
    assert data["item"]["key"] == item.key
    assert data["item"]["instruction"] == item.instruction
    assert decision.requirement.key in [r["key"] for r in data["requirements"]]
    assert data["pair"] is None
    assert data["questions"] == [{
        "answer_key": "agree", "field": "agree",
        "prompt": "Do you agree with the judge's decision?",
        "choices": [{"value": "yes", "label": "Yes"}, {"value": "no", "label": "No"}],
        "requirement": None,
    }]
    assert "answers" not in data


@pytest.mark.django_db
def test_next_of_requirement_assessment_asks_per_requirement(make_batch, annotator_a):
    batch = make_batch(TaskKind.REQUIREMENT_ASSESSMENT)
    data = client_for(annotator_a).get(f"/api/queues/{batch.pk}/next/").json()
    requirement_keys = [r["key"] for r in data["requirements"]]
    assert requirement_keys
    per_requirement = [q for q in data["questions"] if q["requirement"]]
    assert {q["requirement"] for q in per_requirement} == set(requirement_keys)
    assert all(q["answer_key"] == f"{q['requirement']}#{q['field']}" for q in per_requirement)
    assert data["questions"][-1]["answer_key"] == "completeness"
    assert all(set(r) == {"key", "text", "category", "dimension"}
               for r in data["requirements"])


@pytest.mark.django_db
def test_next_of_translation_validation_shows_the_english_anchor(make_batch, annotator_a):
    batch = make_batch(TaskKind.TRANSLATION_VALIDATION)
    data = client_for(annotator_a).get(f"/api/queues/{batch.pk}/next/").json()
    item = Item.objects.get(benchmark__name=DEMO, key=data["item"]["key"])
    anchor = Item.objects.get(group=item.group, language="en")
    assert data["item"]["language"] != "en"
    assert data["anchor"] == {"key": anchor.key, "instruction": anchor.instruction,
                              "core_instruction": anchor.core_instruction}
    assert [c["value"] for c in data["questions"][0]["choices"]] == ["1", "2", "3", "4", "5"]


@pytest.mark.django_db
def test_next_of_pairwise_preference_shows_both_responses(make_batch, annotator_a):
    batch = make_batch(TaskKind.PAIRWISE_PREFERENCE)
    data = client_for(annotator_a).get(f"/api/queues/{batch.pk}/next/").json()
    pair = Pair.objects.get(benchmark__name=DEMO, key=data["unit_key"])
    assert data["item"] is None
    assert data["judge"] is None
    assert data["pair"] == {"key": pair.key, "language": pair.language,
                            "instruction": pair.instruction,
                            "model_a": pair.model_a, "response_a": pair.response_a,
                            "model_b": pair.model_b, "response_b": pair.response_b}


@pytest.mark.django_db
def test_next_of_response_rating_shows_the_response_and_a_question_per_dimension(
        make_batch, annotator_a):
    batch = make_batch(TaskKind.RESPONSE_RATING, dimensions=["coherence", "helpfulness"])
    client = client_for(annotator_a)
    data = client.get(f"/api/queues/{batch.pk}/next/").json()
    unit = BatchUnit.objects.get(batch=batch, unit_key=data["unit_key"])
    assert data["unit_key"] == f"{unit.item.key}|{unit.response.model}"
    assert data["item"]["key"] == unit.item.key
    assert data["response"] == {"model": unit.response.model, "text": unit.response.text}
    assert data["judge"] is None and data["pair"] is None
    assert [(q["answer_key"], q["field"], q["requirement"]) for q in data["questions"]] == [
        ("coherence", "coherence", None), ("helpfulness", "helpfulness", None)]
    assert all([c["value"] for c in q["choices"]] == ["1", "2", "3", "4", "5"]
               for q in data["questions"])

    response = submit(client, data["id"], {"coherence": "3", "helpfulness": "5"})
    assert response.status_code == 201
    labels = Label.objects.filter(unit=data["unit_key"]).order_by("field")
    assert [(lb.field, lb.value, lb.model, lb.item_id) for lb in labels] == [
        ("coherence", "3", unit.response.model, unit.item_id),
        ("helpfulness", "5", unit.response.model, unit.item_id)]
    detail = client.get(f"/api/assignments/{data['id']}/").json()
    assert detail["answers"] == {"coherence": "3", "helpfulness": "5"}
    refused = submit(client, data["id"], {"coherence": "3", "helpfulness": "9"})
    assert refused.status_code == 400
    assert "not one of" in refused.json()["detail"]


@pytest.mark.django_db
def test_next_is_404_for_a_queue_without_own_assignments(make_batch, outsider):
    batch = make_batch()
    client = client_for(outsider)
    assert client.get(f"/api/queues/{batch.pk}/next/").status_code == 404
    assert client.get("/api/queues/999999/next/").status_code == 404


@pytest.mark.django_db
def test_next_is_204_when_the_queue_is_finished(make_batch, annotator_a):
    batch = make_batch()
    finish_queue(annotator_a, batch)
    response = client_for(annotator_a).get(f"/api/queues/{batch.pk}/next/")
    assert response.status_code == 204
    assert response.content == b""


@pytest.mark.django_db
def test_assignment_detail_shows_own_current_answers_when_done(make_batch, annotator_a):
    batch = make_batch()
    assignment = first_pending(annotator_a, batch)
    client = client_for(annotator_a)
    before = client.get(f"/api/assignments/{assignment.pk}/").json()
    assert (before["answers"], before["note"], before["status"]) == ({}, "", "pending")

    submit(client, assignment.pk, {"agree": "no"}, note="the response ignores r2")
    after = client.get(f"/api/assignments/{assignment.pk}/").json()
    assert after["status"] == "done"
    assert after["answers"] == {"agree": "no"}
    assert after["note"] == "the response ignores r2"
    assert after["questions"] == before["questions"]


@pytest.mark.django_db
def test_assignment_detail_of_someone_else_is_404(make_batch, annotator_b, outsider):
    batch = make_batch()
    theirs = first_pending(annotator_b, batch)
    assert client_for(outsider).get(f"/api/assignments/{theirs.pk}/").status_code == 404


# --- submit and skip ------------------------------------------------------------------------

@pytest.mark.django_db
def test_submit_stores_labels_and_events(make_batch, annotator_a):
    batch = make_batch()
    assignment = first_pending(annotator_a, batch)
    client = client_for(annotator_a)

    response = submit(client, assignment.pk, {"agree": "no"}, client_id="c-1",
                      note="wrong", time_spent_ms=4200)

    assert response.status_code == 201
    body = response.json()
    submission = Submission.objects.get(client_id="c-1")
    assert body == {"submission": submission.pk, "client_id": "c-1",
                    "assignment": assignment.pk, "skipped": False, "replayed": False,
                    "next_assignment": first_pending(annotator_a, batch).pk}
    assert submission.source == Submission.Source.API
    assert submission.annotator == annotator_a
    assert submission.time_spent_ms == 4200
    label = Label.objects.get(annotator=annotator_a, unit=assignment.unit.unit_key)
    assert (label.task, label.field, label.value, label.note) == (
        "judge_agreement", "agree", "no", "wrong")
    assert list(LabelEvent.objects.filter(label=label).values_list(
        "submission_id", "value", "note")) == [(submission.pk, "no", "wrong")]
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.DONE
    assert assignment.time_spent_ms == 4200


@pytest.mark.django_db
def test_submitting_the_same_client_id_twice_stores_one_submission(make_batch, annotator_a):
    batch = make_batch()
    assignment = first_pending(annotator_a, batch)
    client = client_for(annotator_a)

    first = submit(client, assignment.pk, {"agree": "yes"}, client_id="retry-me")
    second = submit(client, assignment.pk, {"agree": "yes"}, client_id="retry-me")

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["submission"] == first.json()["submission"]
    assert second.json()["replayed"] is True
    assert Submission.objects.filter(client_id="retry-me").count() == 1
    assert LabelEvent.objects.filter(submission__client_id="retry-me").count() == 1


@pytest.mark.django_db
def test_an_edit_moves_the_label_and_keeps_history(make_batch, annotator_a):
    batch = make_batch()
    assignment = first_pending(annotator_a, batch)
    client = client_for(annotator_a)
    submit(client, assignment.pk, {"agree": "yes"})
    assert submit(client, assignment.pk, {"agree": "no"}).status_code == 201
    label = Label.objects.get(annotator=annotator_a, unit=assignment.unit.unit_key)
    assert label.value == "no"
    assert list(label.events.values_list("value", flat=True)) == ["yes", "no"]


@pytest.mark.django_db
def test_submitting_to_another_annotators_assignment_is_404(make_batch, annotator_a,
                                                             annotator_b):
    batch = make_batch()
    theirs = first_pending(annotator_b, batch)
    response = submit(client_for(annotator_a), theirs.pk, {"agree": "yes"})
    assert response.status_code == 404
    assert not Submission.objects.exists()
    assert not Label.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("answers", "message"), [
    ({"agree": "maybe"}, "agree: 'maybe' is not one of yes, no"),
    ({}, "answer every question first; missing: agree"),
    ({"agree": "yes", "clarity": "yes"}, "unknown field(s): clarity"),
])
def test_a_refused_answer_is_400_with_the_services_message(make_batch, annotator_a, answers,
                                                           message):
    batch = make_batch()
    assignment = first_pending(annotator_a, batch)
    response = submit(client_for(annotator_a), assignment.pk, answers)
    assert response.status_code == 400
    assert response.json() == {"detail": message}
    assert not Submission.objects.exists()
    assert not Label.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "field"), [
    ({"answers": {"agree": "yes"}}, "client_id"),
    ({"answers": {"agree": "yes"}, "client_id": "x" * 65}, "client_id"),
    ({"client_id": "c"}, "answers"),
    ({"answers": {"agree": True}, "client_id": "c"}, "answers"),
    ({"answers": {"agree": "yes"}, "client_id": "c", "time_spent_ms": -5}, "time_spent_ms"),
])
def test_a_malformed_submission_is_400_naming_the_field(make_batch, annotator_a, body, field):
    batch = make_batch()
    assignment = first_pending(annotator_a, batch)
    response = client_for(annotator_a).post(f"/api/assignments/{assignment.pk}/submit/",
                                            body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert response.json()["detail"].startswith(field)


@pytest.mark.django_db
def test_a_client_id_used_by_someone_else_is_400(make_batch, annotator_a, annotator_b):
    batch = make_batch()
    submit(client_for(annotator_b), first_pending(annotator_b, batch).pk, {"agree": "yes"},
           client_id="shared")
    response = submit(client_for(annotator_a), first_pending(annotator_a, batch).pk,
                      {"agree": "yes"}, client_id="shared")
    assert response.status_code == 400
    assert response.json() == {"detail": "this submission id was already used for another item"}


@pytest.mark.django_db
def test_skip_sets_the_assignment_aside_with_its_reason(make_batch, annotator_a):
    batch = make_batch()
    assignment = first_pending(annotator_a, batch)
    client = client_for(annotator_a)

    response = client.post(f"/api/assignments/{assignment.pk}/skip/",
                           {"reason": "I cannot read Hindi", "client_id": "skip-1",
                            "time_spent_ms": 300}, format="json")

    assert response.status_code == 201
    assert response.json()["skipped"] is True
    assert response.json()["next_assignment"] == first_pending(annotator_a, batch).pk
    assignment.refresh_from_db()
    assert (assignment.status, assignment.skip_reason) == ("skipped", "I cannot read Hindi")
    assert Submission.objects.get(client_id="skip-1").source == "api"
    again = client.post(f"/api/assignments/{assignment.pk}/skip/",
                        {"reason": "I cannot read Hindi", "client_id": "skip-1"}, format="json")
    assert again.status_code == 200
    assert Submission.objects.count() == 1


@pytest.mark.django_db
def test_skip_without_a_reason_or_of_a_done_item_is_400(make_batch, annotator_a):
    batch = make_batch()
    assignment = first_pending(annotator_a, batch)
    client = client_for(annotator_a)
    no_reason = client.post(f"/api/assignments/{assignment.pk}/skip/",
                            {"reason": " ", "client_id": "s"}, format="json")
    assert no_reason.json() == {"detail": "say why you skip this item"}
    submit(client, assignment.pk, {"agree": "yes"})
    done = client.post(f"/api/assignments/{assignment.pk}/skip/",
                       {"reason": "oops", "client_id": "s2"}, format="json")
    assert done.status_code == 400
    assert "already labelled" in done.json()["detail"]


@pytest.mark.django_db
def test_skip_of_someone_elses_assignment_is_404(make_batch, annotator_b, outsider):
    batch = make_batch()
    theirs = first_pending(annotator_b, batch)
    response = client_for(outsider).post(f"/api/assignments/{theirs.pk}/skip/",
                                         {"reason": "x", "client_id": "s"}, format="json")
    assert response.status_code == 404


# --- query counts ---------------------------------------------------------------------------

def _queries(client: APIClient, url: str, expected_status: int = 200) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == expected_status
    return len(captured)


@pytest.mark.django_db
@pytest.mark.parametrize("kind", list(TaskKind))
def test_next_and_queues_take_the_same_few_queries_however_much_data(
        make_batch, annotator_a, kind, django_assert_max_num_queries):
    client = client_for(annotator_a)
    small = make_batch(kind, name="small", size=2, seed=1, overlap=0)
    # The English anchor costs one query for a non-English item, so the pin is a maximum.
    assert _queries(client, f"/api/queues/{small.pk}/next/") <= NEXT_QUERIES
    small_queues = _queries(client, "/api/queues/")

    large = make_batch(kind, name="large", seed=2)
    for other in TaskKind:
        make_batch(other, name=f"other {other}", seed=3)
    first = first_pending(annotator_a, large)
    # Any valid answer will do: the last choice of every question the payload asks.
    answers = {q["answer_key"]: q["choices"][-1]["value"] for q in client.get(
        f"/api/assignments/{first.pk}/").json()["questions"]}
    assert submit(client, first.pk, answers).status_code == 201

    assert _queries(client, "/api/queues/") == small_queues
    with django_assert_max_num_queries(NEXT_QUERIES):
        assert client.get(f"/api/queues/{large.pk}/next/").status_code == 200
    with django_assert_max_num_queries(QUEUES_QUERIES):
        # small, large and one batch of every kind
        assert len(client.get("/api/queues/").json()) == 2 + len(TaskKind)


# --- admins: permissions and benchmarks -----------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize(("method", "url"), [
    ("get", "/api/benchmarks/"),
    ("post", "/api/imports/"),
    ("get", "/api/batches/"),
    ("post", "/api/batches/"),
    ("get", "/api/batches/{batch}/"),
])
def test_admin_endpoints_are_403_for_annotators(make_batch, annotator_a, method, url):
    batch = make_batch()
    response = getattr(client_for(annotator_a), method)(url.format(batch=batch.pk))
    assert response.status_code == 403
    assert Batch.objects.count() == 1


@pytest.mark.django_db
def test_benchmarks_lists_what_each_benchmark_holds(make_batch, admin,
                                                    django_assert_max_num_queries):
    make_batch()
    client = client_for(admin)
    with django_assert_max_num_queries(2):
        [benchmark] = client.get("/api/benchmarks/").json()
    demo = Benchmark.objects.get(name=DEMO)
    assert benchmark["name"] == DEMO
    assert benchmark["counts"] == {
        "groups": demo.groups.count(), "items": demo.items.count(),
        "requirements": sum(g.requirements.count() for g in demo.groups.all()),
        "responses": ModelResponse.objects.filter(item__benchmark=demo).count(),
        "judge_decisions": JudgeDecision.objects.filter(
            judgment__response__item__benchmark=demo).count(),
        "pairs": demo.pairs.count(), "batches": 1, "labels": 0,
    }
    assert benchmark["counts"]["items"] == 48


# --- admins: imports ------------------------------------------------------------------------

def upload(admin, kind: str, name: str, data: bytes, benchmark: str = "api-demo"):
    return client_for(admin).post("/api/imports/", {
        "kind": kind, "benchmark": benchmark, "file": SimpleUploadedFile(name, data),
    }, format="multipart")


@pytest.mark.django_db
def test_every_fixture_file_imports_through_the_api(admin):
    for kind, name in (("benchmark", "benchmark.jsonl"), ("responses", "responses.jsonl"),
                       ("pairs", "pairs.jsonl"), ("labels", "labels.csv")):
        response = upload(admin, kind, name, (FIXTURES / name).read_bytes())
        assert response.status_code == 201, response.json()
        summary = response.json()
        assert (summary["kind"], summary["benchmark"], summary["file"]) == (
            kind, "api-demo", name)
        assert summary["lines"] > 0
        assert sum(summary["created"].values()) > 0

    benchmark = Benchmark.objects.get(name="api-demo")
    assert benchmark.items.count() == 48
    assert ModelResponse.objects.filter(item__benchmark=benchmark).count() == 52
    assert benchmark.pairs.count() == 12
    assert benchmark.labels.count() == 32
    assert set(Submission.objects.values_list("source", flat=True)) == {"import"}


@pytest.mark.django_db
def test_reimporting_through_the_api_updates_in_place(admin):
    data = (FIXTURES / "benchmark.jsonl").read_bytes()
    upload(admin, "benchmark", "benchmark.jsonl", data)
    again = upload(admin, "benchmark", "benchmark.jsonl", data)
    assert again.status_code == 201
    assert not any(again.json()["created"].values())
    assert Item.objects.count() == 48


@pytest.mark.django_db
def test_a_bad_file_is_400_with_file_line_field_problems_and_writes_nothing(admin):
    lines = (FIXTURES / "benchmark.jsonl").read_text(encoding="utf-8").splitlines()
    broken = json.loads(lines[1])
    del broken["instruction"]
    broken["requirements"][1].pop("id")
    lines[1] = json.dumps(broken, ensure_ascii=False)

    response = upload(admin, "benchmark", "bad.jsonl", "\n".join(lines).encode())

    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "file was not imported"
    assert "bad.jsonl:2: instruction: missing" in body["problems"]
    assert "bad.jsonl:2: requirements[1].id: missing" in body["problems"]
    assert body["total"] >= 2
    assert not Benchmark.objects.exists()
    assert not Item.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("kind", "name"), [("benchmark", "bad.jsonl"), ("labels", "bad.csv")])
def test_a_file_that_is_not_utf8_is_400(admin, demo_benchmark, kind, name):
    response = upload(admin, kind, name, b"\xff\xfe not utf-8 \x80\n", benchmark=DEMO)
    assert response.status_code == 400
    assert any("not valid UTF-8" in p for p in response.json()["problems"])
    assert not Label.objects.exists()


@pytest.mark.django_db
def test_responses_for_a_missing_benchmark_are_400(admin):
    response = upload(admin, "responses", "responses.jsonl",
                      (FIXTURES / "responses.jsonl").read_bytes(), benchmark="nope")
    assert response.status_code == 400
    assert "benchmark 'nope' does not exist" in response.json()["problems"][0]


@pytest.mark.django_db
@pytest.mark.parametrize(("form", "field"), [
    ({"kind": "benchmark", "benchmark": "b"}, "file"),
    ({"benchmark": "b", "file": "x"}, "kind"),
    ({"kind": "novels", "benchmark": "b", "file": "x"}, "kind"),
    ({"kind": "benchmark", "file": "x"}, "benchmark"),
])
def test_a_malformed_import_request_is_400(admin, form, field):
    data = {k: SimpleUploadedFile("f.jsonl", v.encode()) if k == "file" else v
            for k, v in form.items()}
    response = client_for(admin).post("/api/imports/", data, format="multipart")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Benchmark.objects.exists()


@pytest.mark.django_db
def test_an_empty_file_is_refused_by_the_importer_with_its_line(admin):
    response = upload(admin, "benchmark", "f.jsonl", b"", benchmark="b")
    assert response.status_code == 400
    assert response.json()["problems"] == ["f.jsonl:1: the file has no records"]
    assert not Benchmark.objects.exists()


# --- admins: batches ------------------------------------------------------------------------

def _units(batch: Batch) -> list[tuple[str, bool, int]]:
    return list(BatchUnit.objects.filter(batch=batch).order_by("pk")
                .values_list("unit_key", "is_overlap", "annotators_required"))


def _assignments(batch: Batch) -> list[tuple[str, str, int]]:
    return list(Assignment.objects.filter(batch=batch)
                .order_by("annotator__username", "position")
                .values_list("annotator__username", "unit__unit_key", "position"))


@pytest.mark.django_db
def test_a_batch_created_through_the_api_equals_the_create_batch_command(
        demo_benchmark, admin, annotator_a, annotator_b):
    call_command("create_batch", "--benchmark", DEMO, "--kind", "judge_agreement",
                 "--name", "by command", "--annotators", "ana,ben", "--fraction", "0.3",
                 "--languages", "zh,ar,en", "--seed", "11", "--overlap", "0.25",
                 "--overlap-annotators", "2", stdout=io.StringIO())
    response = client_for(admin).post("/api/batches/", {
        "benchmark": DEMO, "kind": "judge_agreement", "name": "by api",
        "annotators": ["ana", "ben"], "fraction": 0.3, "languages": ["zh", "ar", "en"],
        "seed": 11, "overlap_fraction": 0.25, "overlap_k": 2,
    }, format="json")

    assert response.status_code == 201, response.json()
    by_command = Batch.objects.get(name="by command")
    by_api = Batch.objects.get(pk=response.json()["id"])
    assert _units(by_api) == _units(by_command)
    assert _assignments(by_api) == _assignments(by_command)
    assert by_api.parameters == by_command.parameters
    assert by_api.created_by == admin
    body = response.json()
    assert body["units"] == len(_units(by_api))
    assert body["overlap_units"] == sum(1 for _, overlap, _ in _units(by_api) if overlap) > 0
    assert [a["annotator"] for a in body["annotators"]] == ["ana", "ben"]
    assert body["created_by"] == "alice_admin"


@pytest.mark.django_db
def test_a_rating_batch_created_through_the_api_names_its_dimensions(
        demo_benchmark, admin, annotator_a, annotator_b):
    client = client_for(admin)
    body = {"benchmark": DEMO, "kind": "response_rating", "annotators": ["ana", "ben"],
            "size": 4, "seed": 3}
    default = client.post("/api/batches/", {**body, "name": "judges' dimensions"},
                          format="json")
    assert default.status_code == 201, default.json()
    assert default.json()["parameters"]["dimensions"] == ["fluency", "helpfulness"]
    named = client.post("/api/batches/", {**body, "name": "named", "dimensions": [
        "coherence", " relevance ", "coherence"]}, format="json")
    assert named.status_code == 201, named.json()
    assert named.json()["parameters"]["dimensions"] == ["coherence", "relevance"]
    units = BatchUnit.objects.filter(batch_id=named.json()["id"]).select_related("response")
    assert all(u.unit_key == f"{u.item.key}|{u.response.model}" for u in units)
    call_command("create_batch", "--benchmark", DEMO, "--kind", "response_rating",
                 "--name", "by command", "--annotators", "ana,ben", "--size", "4",
                 "--seed", "3", "--dimensions", "coherence,relevance", stdout=io.StringIO())
    by_command = Batch.objects.get(name="by command")
    assert _units(by_command) == _units(Batch.objects.get(name="named"))
    assert by_command.parameters["dimensions"] == ["coherence", "relevance"]


@pytest.mark.django_db
@pytest.mark.parametrize(("change", "message"), [
    ({"annotators": ["ana", "zed"]}, "no such user(s): zed"),
    ({"name": "taken"}, "benchmark 'xifbench-demo' already has a batch named 'taken'"),
    ({"size": 100000}, "sample size 100000 is larger than the"),
    ({"overlap_fraction": 0.5, "overlap_k": 3}, "overlap needs between 2 and 2 annotators"),
    ({"languages": ["xx"]}, "no unit matches the filters"),
    ({"benchmark": "nope"}, "benchmark: no benchmark named 'nope'"),
    ({"size": 3, "fraction": 0.5}, "give size or fraction, not both"),
    ({"kind": "essay"}, "kind: \"essay\" is not a valid choice."),
    ({"annotators": []}, "annotators:"),
    ({"dimensions": ["fluency"]}, "dimensions apply to response rating, not to "
                                  "pairwise_preference"),
    ({"kind": "response_rating", "dimensions": ["Fluency"]}, "Fluency: a dimension is a "
                                                             "lower-case name"),
])
def test_a_refused_batch_is_400_with_a_message(make_batch, admin, change, message):
    make_batch(name="taken")
    body = {"benchmark": DEMO, "kind": "pairwise_preference", "name": "new",
            "annotators": ["ana", "ben"], **change}
    response = client_for(admin).post("/api/batches/", body, format="json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith(message)
    assert Batch.objects.count() == 1


@pytest.mark.django_db
def test_batch_list_and_detail_show_progress(make_batch, admin, annotator_a, annotator_b,
                                             django_assert_max_num_queries):
    batch = make_batch()
    other = make_batch(TaskKind.PAIRWISE_PREFERENCE, overlap=0)
    submit(client_for(annotator_a), first_pending(annotator_a, batch).pk, {"agree": "yes"})
    client = client_for(admin)

    with django_assert_max_num_queries(2):
        listed = client.get("/api/batches/").json()
    assert [b["id"] for b in listed] == [other.pk, batch.pk]
    assert listed[1]["units"] == batch.units.count()
    assert listed[1]["done"] == 1
    assert client.get("/api/batches/", {"benchmark": "nope"}).json() == []

    detail = client.get(f"/api/batches/{batch.pk}/").json()
    assert detail["kind"] == "judge_agreement"
    assert detail["parameters"]["seed"] == 7
    by_name = {a["annotator"]: a for a in detail["annotators"]}
    ana_total = Assignment.objects.filter(batch=batch, annotator=annotator_a).count()
    assert by_name["ana"] == {"annotator": "ana", "total": ana_total, "done": 1, "skipped": 0,
                              "pending": ana_total - 1, "time_spent_ms": 1200}
    assert by_name["ben"]["done"] == 0
    assert detail["assignments"] == sum(a["total"] for a in detail["annotators"])
    assert client.get("/api/batches/999999/").status_code == 404


# --- schema ---------------------------------------------------------------------------------

API_PATHS = {
    "/api/auth/token/": {"post"},
    "/api/queues/": {"get"},
    "/api/queues/{batch_id}/next/": {"get"},
    "/api/assignments/{assignment_id}/": {"get"},
    "/api/assignments/{assignment_id}/submit/": {"post"},
    "/api/assignments/{assignment_id}/skip/": {"post"},
    "/api/benchmarks/": {"get"},
    "/api/imports/": {"post"},
    "/api/batches/": {"get", "post"},
    "/api/batches/{batch_id}/": {"get"},
}


def test_the_served_schema_lists_every_endpoint_and_is_valid(client):
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = json.loads(response.content)
    for path, methods in API_PATHS.items():
        assert path in schema["paths"], path
        assert methods <= set(schema["paths"][path]), path
    validate_schema(schema)
    next_responses = schema["paths"]["/api/queues/{batch_id}/next/"]["get"]["responses"]
    assert {"200", "204", "401", "404"} <= set(next_responses)
    assert "tokenAuth" in schema["components"]["securitySchemes"]


def test_the_schema_generates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert "/api/queues/{batch_id}/next/" in out.read_text(encoding="utf-8")


def test_an_api_path_no_route_matches_answers_json(client):
    response = client.get("/api/assignments/abc/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
    assert "text/html" in client.get("/no-such-page/").headers["Content-Type"]
