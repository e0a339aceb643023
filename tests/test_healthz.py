"""/healthz: the floor `make bench` measures the queue against must touch no table, signed in
or not, so that it costs only what every request costs (the WSGI server, the middleware)."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse


def test_answers_anonymous_clients_without_a_query(db, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = Client().get(reverse("healthz"))
    assert response.status_code == 200
    assert response.content == b"ok\n"
    assert "no-cache" in response["Cache-Control"]


def test_a_session_cookie_does_not_make_it_read_the_session(annotator_a,
                                                             django_assert_num_queries):
    client = Client()
    client.force_login(annotator_a)
    with django_assert_num_queries(0):
        response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers


def test_only_get(db):
    assert Client().post(reverse("healthz")).status_code == 405
