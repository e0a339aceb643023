"""The access-control matrix: every URL of Accord × {anonymous, the annotator who owns the
object, another annotator, an admin}, each with its expected status.

The URL list is read from the resolver, so a new URL that is missing from `MATRIX` fails
`test_every_url_pattern_is_in_the_matrix`. Beyond statuses, the other annotator's responses
are searched for a marker note that only the owner wrote: annotators never see each other's
labels, whatever URL, API filter or guessed id they try.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from annotation.adjudication import disagreements
from annotation.import_jobs import import_job_create
from annotation.models import Assignment, AssignmentStatus, Label, TaskKind
from annotation.selectors import questions_for_assignment
from annotation.services import label_submit
from annotation.translation import translate_token
from judging import export_jobs
from tests.conftest import DEMO, PASSWORD

ROLES = ("anon", "owner", "other", "admin")
LOGIN = "login"  # a 302 to the login page
MARKER = "MARKER-ana-7c1f-private-note"


# --- the data every role is tried against ---------------------------------------------------

@dataclass
class World:
    users: dict[str, Any]
    benchmark: Any
    batch_a: Any  # ana's alone
    batch_b: Any  # ben's alone
    shared: Any  # ana and ben, fully overlapping, labelled differently
    a_pending: Assignment  # ana's, not labelled yet
    a_done: Assignment  # ana's, labelled with MARKER
    import_job: Any
    export_job: Any
    case: Any
    extra: dict[str, Any] = field(default_factory=dict)


def answers_for(assignment: Assignment, pick: int) -> dict[str, str]:
    return {q.answer_key: q.field.choices[pick % len(q.field.choices)].value
            for q in questions_for_assignment(assignment)}


def label_all(batch, annotator, *, pick: int, note: str, limit: int | None = None) -> None:
    mine = (Assignment.objects.filter(batch=batch, annotator=annotator)
            .select_related("unit__item__group", "batch__benchmark").order_by("position"))
    for n, assignment in enumerate(mine[:limit] if limit else mine):
        label_submit(assignment=assignment, annotator=annotator,
                     answers=answers_for(assignment, pick), note=note,
                     client_id=f"{annotator.username}-{batch.pk}-{n}", time_spent_ms=1000)


@pytest.fixture
def world(make_batch, annotator_a, annotator_b, admin, settings, tmp_path) -> World:
    settings.VAR_DIR = tmp_path
    settings.ACCORD_EXPORTS_IN_BACKGROUND = False
    settings.ACCORD_TRANSLATION_PROVIDER = "none"
    batch_a = make_batch(TaskKind.JUDGE_AGREEMENT, name="ana alone", size=3, overlap=0.0,
                         annotators=[annotator_a], seed=1)
    batch_b = make_batch(TaskKind.JUDGE_AGREEMENT, name="ben alone", size=3, overlap=0.0,
                         annotators=[annotator_b], seed=2)
    shared = make_batch(TaskKind.JUDGE_AGREEMENT, name="shared", size=3, overlap=1.0, seed=3)
    label_all(batch_a, annotator_a, pick=0, note=MARKER, limit=1)
    label_all(shared, annotator_a, pick=0, note=MARKER)
    label_all(shared, annotator_b, pick=1, note="ben's own note")
    a_assignments = Assignment.objects.filter(batch=batch_a, annotator=annotator_a)
    a_done = a_assignments.get(status=AssignmentStatus.DONE)
    a_pending = a_assignments.filter(status=AssignmentStatus.PENDING).order_by("position")[0]
    assert Label.objects.filter(annotator=annotator_a, note=MARKER).exists()
    case = disagreements(benchmark=shared.benchmark)[0]
    export = export_jobs.export_job_create(benchmark=shared.benchmark, strategy="conservative")
    export_jobs.export_job_start(export)
    export = export_jobs.export_job_get(export.id)
    assert export.status == export_jobs.Status.DONE, export
    job = import_job_create(kind="benchmark", benchmark_name=DEMO, file_name="b.jsonl",
                            created_by=admin)
    return World(
        users={"owner": annotator_a, "other": annotator_b, "admin": admin},
        benchmark=shared.benchmark, batch_a=batch_a, batch_b=batch_b, shared=shared,
        a_pending=a_pending, a_done=a_done, import_job=job, export_job=export, case=case,
    )


def client_for(role: str, world: World) -> Client:
    client = Client()
    if role != "anon":
        client.force_login(world.users[role])
    return client


# --- the matrix -----------------------------------------------------------------------------

Url = Callable[[World], str]
Data = Callable[[World, str], dict[str, Any]]


@dataclass(frozen=True)
class Row:
    method: str
    url: Url
    expected: dict[str, int | str]
    data: Data | None = None
    api: bool = False


def staff(method: str, url: Url, *, admin: int = 200, data: Data | None = None) -> Row:
    return Row(method, url, {"anon": LOGIN, "owner": 403, "other": 403, "admin": admin}, data)


def staff_api(method: str, url: Url, *, admin: int = 200, data: Data | None = None) -> Row:
    return Row(method, url, {"anon": 401, "owner": 403, "other": 403, "admin": admin}, data,
               api=True)


def owned(method: str, url: Url, *, owner: int = 200, data: Data | None = None) -> Row:
    """An annotator's object: only its owner reaches it; an admin is not its annotator."""
    return Row(method, url, {"anon": LOGIN, "owner": owner, "other": 404, "admin": 404}, data)


def owned_api(method: str, url: Url, *, owner: int = 200, data: Data | None = None) -> Row:
    return Row(method, url, {"anon": 401, "owner": owner, "other": 404, "admin": 404}, data,
               api=True)


def signed_in(method: str, url: Url, *, status: int = 200, data: Data | None = None) -> Row:
    return Row(method, url, {"anon": LOGIN, "owner": status, "other": status, "admin": status},
               data)


def everyone(method: str, url: Url, status: int = 200) -> Row:
    return Row(method, url, dict.fromkeys(ROLES, status))


def q(query: str) -> Url:
    return lambda w: query


def named(name: str, *args: Callable[[World], Any], query: Callable[[World], str] | None = None
          ) -> Url:
    def build(w: World) -> str:
        url = reverse(name, args=[a(w) for a in args])
        return url + (query(w) if query else "")
    return build


def bench(w: World) -> str:
    return f"?benchmark={w.benchmark.name}"


def case_query(w: World) -> str:
    c = w.case
    return f"?benchmark={w.benchmark.name}&task={c.task}&unit={c.unit}&field={c.field}"


def case_post(w: World, role: str) -> dict[str, Any]:
    c = w.case
    return {"benchmark": w.benchmark.name, "task": c.task, "unit": c.unit, "field": c.field,
            "value": "", "reason": "x"}


def credentials(w: World, role: str) -> dict[str, Any]:
    if role == "anon":
        return {"username": "ana", "password": "wrong"}
    return {"username": w.users[role].username, "password": PASSWORD}


def translate_post(w: World, role: str) -> dict[str, Any]:
    return {"token": translate_token("Hallo Welt", "de", target="en"), "text": "Hallo Welt"}


def BATCH_A(w: World) -> int:  # noqa: N802 - reads as a constant in the table
    return w.batch_a.pk


def PENDING(w: World) -> int:  # noqa: N802
    return w.a_pending.pk


MATRIX: dict[str, Row] = {
    # the health check answers before any login
    "healthz": everyone("GET", named("healthz")),
    # Django's auth pages
    "login": everyone("GET", named("login")),
    "logout": Row("POST", named("logout"), dict.fromkeys(ROLES, LOGIN)),  # back to login
    "password_change": signed_in("GET", named("password_change")),
    "password_change_done": signed_in("GET", named("password_change_done")),
    "password_reset": everyone("GET", named("password_reset")),
    "password_reset_done": everyone("GET", named("password_reset_done")),
    "password_reset_confirm": everyone(
        "GET", named("password_reset_confirm", lambda w: "MQ", lambda w: "bad-token")),
    "password_reset_complete": everyone("GET", named("password_reset_complete")),
    # the OpenAPI schema describes endpoints, never data
    "api-schema": Row("GET", named("api-schema"), {"anon": 200, "owner": 200, "other": 200,
                                                   "admin": 200}, api=True),
    # home: each to their start page
    "home": signed_in("GET", named("home"), status=302),
    # the annotator's queue
    "queue:list": signed_in("GET", named("queue:list")),
    "queue:profile": signed_in("GET", named("queue:profile")),
    "queue:token": signed_in("POST", named("queue:token"), status=302),
    "queue:work": owned("GET", named("queue:work", BATCH_A)),
    "queue:back": owned("GET", named("queue:back", BATCH_A), owner=302),
    "queue:item": owned("GET", named("queue:item", BATCH_A, PENDING)),
    # An empty answer is refused by the service (422): the access check let the owner in.
    "queue:submit": owned("POST", named("queue:submit", BATCH_A, PENDING), owner=422),
    "queue:skip": owned("POST", named("queue:skip", BATCH_A, PENDING), owner=422),
    "translate:block": signed_in("POST", named("translate:block"), data=translate_post),
    # adjudication (staff)
    "adjudicate:queue": staff("GET", named("adjudicate:queue", query=bench)),
    "adjudicate:case": staff("GET", named("adjudicate:case", query=case_query)),
    "adjudicate:submit": staff("POST", named("adjudicate:submit"), admin=422, data=case_post),
    # the admins' pages
    "manage:dashboard": staff("GET", named("manage:dashboard")),
    "manage:import": staff("GET", named("manage:import")),
    "manage:import_job": staff("GET", named("manage:import_job", lambda w: w.import_job.pk)),
    "manage:batch_create": staff("GET", named("manage:batch_create")),
    "manage:batch_preview": staff("POST", named("manage:batch_preview")),
    "manage:batch_detail": staff("GET", named("manage:batch_detail", BATCH_A)),
    "manage:batch_delete": staff("GET", named("manage:batch_delete", BATCH_A)),
    # reports (staff)
    "reports:agreement": staff("GET", named("reports:agreement", query=bench)),
    "reports:agreement_download": staff(
        "GET", named("reports:agreement_download", query=lambda w: bench(w) + "&format=csv")),
    "reports:export": staff("GET", named("reports:export", query=bench)),
    "reports:export_job": staff("GET", named("reports:export_job", lambda w: w.export_job.id)),
    "reports:export_download": staff(
        "GET", named("reports:export_download", lambda w: w.export_job.id)),
    "reports:score_shift": staff("GET", named("reports:score_shift", query=bench)),
    # the REST API
    "api-token": Row("POST", named("api-token"),
                     {"anon": 400, "owner": 200, "other": 200, "admin": 200},
                     data=credentials, api=True),
    "api-queue-list": Row("GET", named("api-queue-list"),
                          {"anon": 401, "owner": 200, "other": 200, "admin": 200}, api=True),
    "api-queue-next": owned_api("GET", named("api-queue-next", BATCH_A)),
    "api-assignment-detail": owned_api("GET", named("api-assignment-detail",
                                                    lambda w: w.a_done.pk)),
    "api-assignment-submit": owned_api("POST", named("api-assignment-submit", PENDING),
                                       owner=400),
    "api-assignment-skip": owned_api("POST", named("api-assignment-skip", PENDING), owner=400),
    "api-benchmark-list": staff_api("GET", named("api-benchmark-list")),
    "api-import": staff_api("POST", named("api-import"), admin=400),
    "api-batch-list": staff_api("GET", named("api-batch-list")),
    "api-batch-detail": staff_api("GET", named("api-batch-detail", BATCH_A)),
    "api-report-agreement": staff_api(
        "GET", named("api-report-agreement", query=lambda w: bench(w) + "&resamples=0")),
}


def url_names(patterns=None, namespace: str = "") -> Iterator[tuple[str, str]]:
    """(qualified name, route) of every URL pattern below the root, the admin site's aside."""
    for p in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(p, URLResolver):
            if p.namespace == "admin":
                continue
            ns = ":".join(filter(None, [namespace, p.namespace]))
            yield from ((n, str(p.pattern) + route) for n, route in url_names(p.url_patterns,
                                                                              ns))
        elif isinstance(p, URLPattern):
            name = f"{namespace}:{p.name}" if namespace and p.name else p.name
            yield name or f"<unnamed {p.pattern}>", str(p.pattern)


def test_every_url_pattern_is_in_the_matrix():
    patterns = dict(url_names())
    missing = {name: route for name, route in patterns.items() if name not in MATRIX}
    assert not missing, f"add these URLs to MATRIX with their expected statuses: {missing}"
    stale = set(MATRIX) - set(patterns)
    assert not stale, f"MATRIX names URLs that no longer exist: {stale}"


def request(client: Client, row: Row, world: World, role: str):
    url = row.url(world)
    data = row.data(world, role) if row.data else {}
    if row.method == "GET":
        return client.get(url, data)
    return client.post(url, data)


def status_of(response) -> int | str:
    if response.status_code == 302 and response["Location"].startswith(reverse("login")):
        return LOGIN
    return response.status_code


@pytest.mark.django_db
def test_access_matrix(world):
    """Every URL × role: the status the table promises, and nothing of ana's in ben's bodies."""
    wrong = []
    for name, row in MATRIX.items():
        for role in ROLES:
            response = request(client_for(role, world), row, world, role)
            got = status_of(response)
            if got != row.expected[role]:
                wrong.append(f"{name} as {role}: {got}, expected {row.expected[role]}")
            if role in ("anon", "other"):
                assert MARKER not in body(response), f"{name} showed ana's note to {role}"
    assert not wrong, "\n".join(wrong)
    assert len(MATRIX) * len(ROLES) >= 4 * 45


def body(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def test_owner_does_see_their_own_note(world):
    """The marker sweep below is meaningful: the owner's own pages do show the note."""
    client = client_for("owner", world)
    page = client.get(reverse("queue:item", args=[world.batch_a.pk, world.a_done.pk]))
    assert MARKER in body(page)
    api = client.get(reverse("api-assignment-detail", args=[world.a_done.pk]))
    assert MARKER in body(api)


# --- the other annotator, everywhere they can go --------------------------------------------

def b_urls(world: World) -> list[str]:
    """Every GET URL ben can reach, his own objects included, plus guessed ids and filters."""
    ben = world.users["other"]
    urls = [reverse("home"), reverse("queue:list"), reverse("queue:profile"),
            reverse("api-queue-list"), reverse("api-queue-list") + "?annotator=ana",
            reverse("api-queue-list") + f"?annotator={world.users['owner'].pk}&user=ana"]
    for batch in (world.batch_b, world.shared, world.batch_a):
        urls += [reverse("queue:work", args=[batch.pk]), reverse("queue:back", args=[batch.pk]),
                 reverse("api-queue-next", args=[batch.pk]),
                 reverse("api-queue-next", args=[batch.pk]) + "?annotator=ana"]
    for assignment in Assignment.objects.select_related("batch"):
        detail = reverse("api-assignment-detail", args=[assignment.pk])
        urls += [detail, detail + "?annotator=ana",
                 reverse("queue:item", args=[assignment.batch_id, assignment.pk]),
                 reverse("queue:back", args=[assignment.batch_id]) + f"?before={assignment.pk}"]
        # Ben's own batch with someone else's assignment id, and the reverse.
        for batch in (world.batch_b, world.shared):
            urls.append(reverse("queue:item", args=[batch.pk, assignment.pk]))
    assert Assignment.objects.filter(annotator=ben).count() >= 6
    return urls


def test_ben_never_sees_anas_labels(world):
    client = client_for("other", world)
    ana, ben = world.users["owner"], world.users["other"]
    reached = 0
    for url in b_urls(world):
        for htmx in (False, True):
            response = client.get(url, HTTP_HX_REQUEST="true") if htmx else client.get(url)
            if response.status_code == 302:
                response = client.get(response["Location"])
            text = body(response)
            assert MARKER not in text, f"{url} showed ana's note to ben"
            reached += response.status_code == 200
    assert reached > 20

    # Guessed ids: every assignment that is not his is a 404, on the page and the API.
    for assignment in Assignment.objects.exclude(annotator=ben):
        assert client.get(reverse("api-assignment-detail", args=[assignment.pk])
                          ).status_code == 404
        assert client.get(reverse("queue:item", args=[assignment.batch_id, assignment.pk])
                          ).status_code == 404
        for action in ("queue:submit", "queue:skip"):
            url = reverse(action, args=[assignment.batch_id, assignment.pk])
            assert client.post(url, {"note": "x"}).status_code == 404
        for action in ("api-assignment-submit", "api-assignment-skip"):
            url = reverse(action, args=[assignment.pk])
            assert client.post(url, {}, content_type="application/json").status_code == 404
    # Ben's own assignment inside ana's batch's URL: also a 404.
    his = Assignment.objects.filter(annotator=ben, batch=world.batch_b).first()
    assert client.get(reverse("queue:item", args=[world.batch_a.pk, his.pk])).status_code == 404
    # Nothing he tried changed ana's labels.
    assert Label.objects.filter(annotator=ana, note=MARKER).count() == Label.objects.filter(
        annotator=ana).count()


def test_api_filters_never_widen_an_annotators_view(world):
    client = client_for("other", world)
    ben = world.users["other"]
    own = set(Assignment.objects.filter(annotator=ben).values_list("batch_id", flat=True))
    for query in ("", "?annotator=ana", f"?annotator={world.users['owner'].pk}",
                  f"?batch={world.batch_a.pk}", "?all=1&limit=1000"):
        listed = client.get(reverse("api-queue-list") + query).json()
        rows = listed["results"] if isinstance(listed, dict) else listed
        assert {r["id"] for r in rows} == own, query
    assert client.get(reverse("api-queue-next", args=[world.batch_a.pk])).status_code == 404
    # Ben's own assignment on the shared unit answers with his value and note only.
    mine = Assignment.objects.filter(annotator=ben, batch=world.shared).first()
    detail = client.get(reverse("api-assignment-detail", args=[mine.pk]) + "?annotator=ana")
    assert detail.status_code == 200
    assert "ben's own note" in body(detail) and MARKER not in body(detail)
    # Token authentication gives ben exactly what his session does.
    token = client.post(reverse("api-token"), {"username": "ben", "password": PASSWORD}
                        ).json()["token"]
    api = Client(HTTP_AUTHORIZATION=f"Token {token}")
    for assignment in Assignment.objects.exclude(annotator=ben):
        assert api.get(reverse("api-assignment-detail", args=[assignment.pk])
                       ).status_code == 404
    for staff_only in (reverse("api-batch-list"), reverse("api-benchmark-list"),
                       reverse("api-batch-detail", args=[world.batch_a.pk]),
                       reverse("api-report-agreement") + f"?benchmark={DEMO}&annotator=ana"):
        assert api.get(staff_only).status_code == 403


def test_reports_and_exports_are_staff_only(world):
    """Every report and export face, with and without filters, refuses annotators."""
    export_id = world.export_job.id
    urls = [
        reverse("reports:agreement") + f"?benchmark={DEMO}",
        reverse("reports:agreement") + f"?benchmark={DEMO}&batch={world.batch_a.pk}",
        *(reverse("reports:agreement_download") + f"?benchmark={DEMO}&format={f}"
          for f in ("csv", "json", "latex")),
        reverse("reports:export") + f"?benchmark={DEMO}",
        reverse("reports:export_job", args=[export_id]),
        reverse("reports:export_download", args=[export_id]),
        reverse("reports:score_shift") + f"?benchmark={DEMO}",
        reverse("adjudicate:queue") + f"?benchmark={DEMO}",
        reverse("adjudicate:case") + case_query(world),
    ]
    for role in ("owner", "other"):
        client = client_for(role, world)
        for url in urls:
            for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
                response = client.get(url, **headers)
                assert response.status_code == 403, (role, url)
                assert MARKER not in body(response)
        started = client.post(reverse("reports:export") + f"?benchmark={DEMO}",
                              {"strategy": "conservative"})
        assert started.status_code == 403
    # The admin's export does carry the labels: the 403s above are what protects them.
    download = client_for("admin", world).get(reverse("reports:export_download",
                                                      args=[export_id]))
    assert download.status_code == 200


# --- the Django admin site ------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/admin/", "/admin/annotation/assignment/"])
def test_django_admin_is_for_staff(world, path):
    anonymous = client_for("anon", world).get(path)
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]
    for role in ("owner", "other"):
        response = client_for(role, world).get(path)
        # A signed-in non-staff user is sent to the admin's login form, never shown the site.
        assert response.status_code in (302, 403), role
        if response.status_code == 302:
            assert "/admin/login/" in response["Location"]
        assert MARKER not in body(response)
    assert client_for("admin", world).get(path).status_code == 200
