"""Sessions and the signed-in user, read in one join (config/sessions.py, config/auth.py):
the same rules as Django's own database sessions and ModelBackend."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from annotation.models import LoginSession
from config.auth import ModelBackend
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def sign_in(client: Client, user) -> None:
    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302, response.content[:300]


def signed_in(user) -> Client:
    client = Client()
    sign_in(client, user)
    return client


def test_the_settings_use_them():
    assert settings.SESSION_ENGINE == "config.sessions"
    assert "config.auth.ModelBackend" in settings.AUTHENTICATION_BACKENDS
    assert "django.contrib.auth.backends.ModelBackend" not in settings.AUTHENTICATION_BACKENDS


def test_a_signed_in_user_stays_signed_in_with_one_read(annotator_a):
    client = signed_in(annotator_a)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("queue:list"))
    assert response.status_code == 200
    assert response.wsgi_request.user == annotator_a
    reads = [q["sql"] for q in queries.captured_queries if '"auth_user"' in q["sql"]]
    assert len(reads) == 1 and "annotation_loginsession" in reads[0], reads
    assert LoginSession.objects.get().user == annotator_a


def test_the_user_read_with_a_session_serves_only_that_request(annotator_a, annotator_b):
    signed_in(annotator_a).get(reverse("queue:list"))
    with CaptureQueriesContext(connection) as queries:
        assert ModelBackend().get_user(annotator_a.pk) == annotator_a
    assert len(queries.captured_queries) == 1  # read again: no request is reading its user
    client = signed_in(annotator_b)
    assert client.get(reverse("queue:list")).wsgi_request.user == annotator_b


def test_deleting_a_user_deletes_their_sessions(annotator_a, annotator_b):
    signed_in(annotator_a)
    signed_in(annotator_b)
    annotator_a.delete()
    assert list(LoginSession.objects.values_list("user", flat=True)) == [annotator_b.pk]


@pytest.mark.parametrize("column", ["another user", "no such user", "none"])
def test_the_signed_data_names_the_user_not_the_column(annotator_a, annotator_b, column):
    """The column only saves a read: a row whose column disagrees with its signed data (or
    names a user since deleted, as nothing constrains it) still signs in the data's user."""
    client = signed_in(annotator_a)
    LoginSession.objects.update(user_id={"another user": annotator_b.pk,
                                         "no such user": 10**6, "none": None}[column])
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("queue:list"))
    assert response.status_code == 200 and response.wsgi_request.user == annotator_a
    assert sum('"auth_user"' in q["sql"] for q in queries.captured_queries) == 2


def test_an_expired_session_signs_out(annotator_a):
    client = signed_in(annotator_a)
    LoginSession.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    response = client.get(reverse("queue:list"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_an_unknown_session_key_is_anonymous_and_signing_in_makes_a_new_one(annotator_a):
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = "x" * 32
    assert client.get(reverse("queue:list")).status_code == 302
    sign_in(client, annotator_a)
    assert client.cookies[settings.SESSION_COOKIE_NAME].value != "x" * 32
    assert client.get(reverse("queue:list")).status_code == 200


def test_a_deactivated_user_is_signed_out_at_the_next_request(annotator_a):
    client = signed_in(annotator_a)
    annotator_a.is_active = False
    annotator_a.save(update_fields=["is_active"])
    assert client.get(reverse("queue:list")).status_code == 302


def test_a_password_change_signs_out_other_sessions(annotator_a):
    client = signed_in(annotator_a)
    annotator_a.set_password("another-long-password")
    annotator_a.save(update_fields=["password"])
    assert client.get(reverse("queue:list")).status_code == 302


def test_signing_out_ends_the_session(annotator_a):
    client = signed_in(annotator_a)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    client.post(reverse("logout"))
    assert not LoginSession.objects.filter(session_key=key).exists()
    stolen = Client()
    stolen.cookies[settings.SESSION_COOKIE_NAME] = key
    assert stolen.get(reverse("queue:list")).status_code == 302


@pytest.mark.django_db(transaction=True)
def test_the_upgrade_keeps_live_sessions_signed_in(annotator_a):
    from django.contrib.sessions.backends.db import SessionStore as DjangosStore
    from django.db.migrations.executor import MigrationExecutor

    before = [("annotation", "0007_benchmark_content_version")]
    executor = MigrationExecutor(connection)
    after = executor.loader.graph.leaf_nodes()
    executor.migrate(before)
    try:
        live, expired, anonymous = DjangosStore(), DjangosStore(), DjangosStore()
        for store in (live, expired):
            store[SESSION_KEY] = str(annotator_a.pk)
            store[BACKEND_SESSION_KEY] = "config.auth.ModelBackend"
            store[HASH_SESSION_KEY] = annotator_a.get_session_auth_hash()
        expired.set_expiry(-1)
        anonymous["working"] = "on it"
        for store in (live, expired, anonymous):
            store.save(must_create=True)
    finally:
        MigrationExecutor(connection).migrate(after)

    copied = dict(LoginSession.objects.values_list("session_key", "user_id"))
    assert copied == {live.session_key: annotator_a.pk, anonymous.session_key: None}
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = live.session_key
    response = client.get(reverse("queue:list"))
    assert response.status_code == 200 and response.wsgi_request.user == annotator_a
