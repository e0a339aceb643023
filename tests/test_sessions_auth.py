"""Sessions and the signed-in user, read through compiled queries (config/sessions.py,
config/auth.py): the same rules as Django's own database sessions and ModelBackend."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

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


def test_a_signed_in_user_stays_signed_in_with_two_reads(annotator_a):
    client = signed_in(annotator_a)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("queue:list"))
    assert response.status_code == 200
    assert response.wsgi_request.user == annotator_a
    tables = [q["sql"] for q in queries.captured_queries[:2]]
    assert "django_session" in tables[0] and "auth_user" in tables[1]


def test_an_expired_session_signs_out(annotator_a):
    client = signed_in(annotator_a)
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
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
    assert not Session.objects.filter(session_key=key).exists()
    stolen = Client()
    stolen.cookies[settings.SESSION_COOKIE_NAME] = key
    assert stolen.get(reverse("queue:list")).status_code == 302
