"""schemathesis against the served OpenAPI schema (/api/schema/): for every operation, data
generated from the schema (valid and invalid) never gets a 5xx, and every response has a
documented status code, content type and body shape.

The app runs in-process through WSGI, inside pytest-django's test transaction, as an admin and
as an annotator, each with a token. The demo benchmark, a judge-agreement batch and a few
labels are loaded first, and some of the generated ids and names are swapped for real ones
(`aim_at_real_objects`) so the 200 answers are checked too, not only 400/404.

Bounded and deterministic: a few examples per operation, derandomized Hypothesis (no example
database), a fixed report bootstrap size.
"""

from __future__ import annotations

import itertools
import re
import uuid
from dataclasses import dataclass, field

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from annotation.models import Assignment, TaskKind
from annotation.selectors import unit_context
from annotation.services import label_submit
from config.wsgi import application
from tests.conftest import DEMO, FIXTURES, PASSWORD

pytestmark = pytest.mark.django_db

# Loaded at collection: drf-spectacular builds the schema from the code, no database needed.
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]

BOUNDED = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.filter_too_much, HealthCheck.data_too_large],
)

DIGITS = re.compile(r"[0-9]+")

# The agreement report's bootstrap is the one costly computation; a generated `resamples` up
# to the schema's 10000 on every example would dominate the run without testing anything new.
MAX_RESAMPLES = 20


@dataclass
class World:
    """What the generated requests are aimed at: real ids and names beside generated ones."""

    user: object
    token: str
    batch_id: int
    assignment_ids: list[int]
    calls: itertools.count = field(default_factory=itertools.count)

    def aim(self) -> bool:
        """Two calls in three are aimed at real objects; the third keeps what was generated
        (usually unknown ids and names). The same calls every run: generation is derandomized."""
        return next(self.calls) % 3 != 0

    def pick(self, ids: list[int]) -> int:
        return ids[next(self.calls) % len(ids)]


def valid_answers(assignment: Assignment) -> dict[str, str]:
    questions = unit_context(assignment).questions
    return {q.answer_key: q.field.choices[i % len(q.field.choices)].value
            for i, q in enumerate(questions)}


def _answer_some(user, batch, count: int) -> None:
    assignments = Assignment.objects.filter(batch=batch, annotator=user).order_by("position")
    for assignment in assignments[:count]:
        label_submit(assignment=assignment, annotator=user, answers=valid_answers(assignment),
                     client_id=str(uuid.uuid4()))


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    """The app is called as plain WSGI, whose request signals close the database connection
    (close_old_connections): on PostgreSQL that would drop the test transaction. Django's own
    test client unhooks them the same way."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def loaded(make_batch, admin, annotator_a, annotator_b):
    batch = make_batch(TaskKind.JUDGE_AGREEMENT, size=12, overlap=0.5)
    for user in (annotator_a, annotator_b):
        _answer_some(user, batch, 4)
    return batch


def _world(user, batch, *, own_only: bool) -> World:
    token, _ = Token.objects.get_or_create(user=user)
    assignments = list(Assignment.objects.filter(batch=batch).order_by("pk"))
    own = [a.pk for a in assignments if a.annotator_id == user.pk]
    others = [a.pk for a in assignments if a.annotator_id != user.pk]
    # An annotator is also aimed at someone else's assignments: those must stay 404.
    ids = own[:6] + others[:2] if own_only else [a.pk for a in assignments]
    return World(user=user, token=token.key, batch_id=batch.pk, assignment_ids=ids)


def aim_at_real_objects(case, world: World) -> None:
    path, method = case.operation.path, case.method.upper()
    params = case.path_parameters or {}
    if "batch_id" in params and world.aim():
        params["batch_id"] = world.batch_id
    if "assignment_id" in params and world.aim():
        params["assignment_id"] = world.pick(world.assignment_ids)
    query = case.query if isinstance(case.query, dict) else None
    body = case.body if isinstance(case.body, dict) else None
    if path == "/api/reports/agreement/" and query is not None:
        if world.aim():
            query["benchmark"] = DEMO
            if "batch" in query and world.aim():
                query["batch"] = world.batch_id
        resamples = query.get("resamples")
        if resamples is None or (isinstance(resamples, int) and resamples > MAX_RESAMPLES):
            query["resamples"] = MAX_RESAMPLES
    elif path == "/api/batches/" and method == "GET" and query is not None and world.aim():
        query["benchmark"] = DEMO
    elif path == "/api/batches/" and method == "POST" and body is not None and world.aim():
        body.update(benchmark=DEMO, annotators=["ana", "ben"], languages=[], models=[],
                    subset="", dimensions=[])
    elif path.endswith("/submit/") and body is not None and world.aim():
        assignment = Assignment.objects.filter(pk=params.get("assignment_id")).first()
        if assignment is not None:
            body["answers"] = valid_answers(assignment)
    elif path.endswith("/skip/") and body is not None and world.aim():
        body["reason"] = "unclear"
    elif path == "/api/auth/token/" and body is not None and world.aim():
        body.update(username="ana", password=PASSWORD)
    elif path == "/api/imports/" and body is not None and world.aim():
        body.update(kind="labels", benchmark=DEMO,
                    file=(FIXTURES / "labels.csv").read_bytes())


def reaches_the_api(case) -> bool:
    """Path ids are `<int:...>` in the URLconf: a generated `-1` or `null` matches no route,
    so Django's own (HTML) 404 page answers, not an API view. Only a 404 is checked then."""
    return all(DIGITS.fullmatch(str(value))
               for value in (case.path_parameters or {}).values())


def call_and_check(case, world: World) -> None:
    aim_at_real_objects(case, world)
    headers = {"Authorization": f"Token {world.token}"}
    if reaches_the_api(case):
        case.call_and_validate(headers=headers, checks=CHECKS)
        return
    response = case.call_and_validate(headers=headers, checks=[not_a_server_error])
    assert response.status_code == 404


@pytest.fixture
def as_admin(loaded, admin) -> World:
    return _world(admin, loaded, own_only=False)


@pytest.fixture
def as_annotator(loaded, annotator_a) -> World:
    return _world(annotator_a, loaded, own_only=True)


@schema.parametrize()
@BOUNDED
def test_api_as_admin(case, as_admin):
    call_and_check(case, as_admin)


@schema.parametrize()
@settings(BOUNDED, max_examples=8)
def test_api_as_annotator(case, as_annotator):
    call_and_check(case, as_annotator)
