"""Access and injection: CSP header, login throttling, CSRF, production security settings."""

from __future__ import annotations

import html
import json
import os
import re
import secrets
import string
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import F
from django.test import Client
from django.urls import reverse

from annotation.models import Assignment, AssignmentStatus, TaskKind
from annotation.queue_forms import SKIP_REASONS
from tests.conftest import PASSWORD

REPO = Path(__file__).resolve().parent.parent


# --- production settings (a fresh interpreter each, since settings are read at import) ------

def production_env(**extra: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("ACCORD_", "DATABASE_URL", "DJANGO_"))}
    alphabet = string.ascii_letters + string.digits + "!@#%^&*(-_=+)"
    environment.update(
        ACCORD_DEBUG="false",
        ACCORD_SECRET_KEY="".join(secrets.choice(alphabet) for _ in range(50)),
        ACCORD_ALLOWED_HOSTS="accord.example",
        **extra,
    )
    return environment


def check_deploy(**extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO, env=production_env(**extra), capture_output=True, text=True, timeout=120,
    )


def production_settings(*names: str, **extra: str) -> dict:
    code = ("import django, json, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; "
            "django.setup(); from django.conf import settings; "
            f"print(json.dumps({{n: getattr(settings, n, None) for n in {list(names)!r}}}))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO,
                            env=production_env(**extra), capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_check_deploy_is_clean_with_production_settings():
    result = check_deploy()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNING" not in result.stdout + result.stderr
    assert "?: (" not in result.stdout + result.stderr  # no check message of any level


def test_check_deploy_stays_clean_when_a_proxy_redirects_and_preload_is_off():
    result = check_deploy(ACCORD_SSL_REDIRECT="false", ACCORD_HSTS_PRELOAD="false",
                          ACCORD_BEHIND_PROXY="true")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr


def test_production_settings_are_https_only():
    values = production_settings(
        "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY",
        "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_HSTS_PRELOAD", "SECURE_PROXY_SSL_HEADER", "X_FRAME_OPTIONS",
        "SECURE_REFERRER_POLICY", "SECURE_CONTENT_TYPE_NOSNIFF", "DEBUG")
    assert values == {
        "SESSION_COOKIE_SECURE": True, "CSRF_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True, "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31_536_000, "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": True, "SECURE_PROXY_SSL_HEADER": None,
        "X_FRAME_OPTIONS": "DENY", "SECURE_REFERRER_POLICY": "same-origin",
        "SECURE_CONTENT_TYPE_NOSNIFF": True, "DEBUG": False,
    }


def test_behind_a_proxy_https_and_client_address_come_from_its_headers():
    values = production_settings("SECURE_PROXY_SSL_HEADER", "AXES_IPWARE_PROXY_COUNT",
                                 "SECURE_SSL_REDIRECT", "SECURE_HSTS_PRELOAD",
                                 ACCORD_BEHIND_PROXY="true", ACCORD_SSL_REDIRECT="false",
                                 ACCORD_HSTS_PRELOAD="false")
    assert values == {"SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
                      "AXES_IPWARE_PROXY_COUNT": 1, "SECURE_SSL_REDIRECT": False,
                      "SECURE_HSTS_PRELOAD": False}


def test_no_fallback_secret_key_outside_development():
    environment = production_env()
    del environment["ACCORD_SECRET_KEY"]
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=REPO, env=environment,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "ACCORD_SECRET_KEY must be set" in result.stderr


# --- Content-Security-Policy -------------------------------------------------------------------

EXPECTED_CSP = {
    "default-src": "'self'", "script-src": "'self'", "style-src": "'self'",
    "img-src": "'self' data:", "connect-src": "'self'", "font-src": "'self'",
    "frame-ancestors": "'none'", "form-action": "'self'", "base-uri": "'none'",
    "object-src": "'none'",
}


def parse_csp(header: str) -> dict[str, str]:
    directives = (d.strip().split(None, 1) for d in header.split(";") if d.strip())
    return {d[0]: d[1] if len(d) > 1 else "" for d in directives}


@pytest.mark.django_db
def test_every_page_sends_the_strict_content_security_policy(client, admin):
    response = client.get(reverse("login"))
    assert parse_csp(response["Content-Security-Policy"]) == EXPECTED_CSP
    client.force_login(admin)
    for name in ("home", "manage:dashboard", "queue:list", "queue:profile"):
        response = client.get(reverse(name), follow=True)
        assert response.status_code == 200, name
        assert parse_csp(response["Content-Security-Policy"]) == EXPECTED_CSP, name
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"\sstyle\s*=", re.I), "style attribute"),
    (re.compile(r"<style[\s>]", re.I), "<style> element"),
    (re.compile(r"\son[a-z]+\s*=(?!=)", re.I), "on* event handler"),
    (re.compile(r"\bhx-on", re.I), "hx-on handler (needs eval)"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
]


def test_templates_have_nothing_inline_that_the_policy_would_block():
    offenders = []
    for path in sorted((REPO / "templates").rglob("*.html")):
        text = re.sub(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}", "", path.read_text(),
                      flags=re.S)
        for pattern, what in INLINE:
            offenders += [f"{path.relative_to(REPO)}: {what}" for _ in pattern.finditer(text)]
    assert offenders == []


def test_htmx_is_configured_for_the_policy():
    base = (REPO / "templates" / "base.html").read_text()
    config = json.loads(html.unescape(
        re.search(r"""<meta name="htmx-config" content='([^']*)'>""", base).group(1)))
    assert config["includeIndicatorStyles"] is False
    assert config["allowEval"] is False
    assert ".htmx-indicator" in (REPO / "static" / "accord.css").read_text()


# --- login throttling (django-axes) -------------------------------------------------------------

def login_post(client: Client, username: str, password: str, ip: str = "10.0.0.1"):
    return client.post(reverse("login"), {"username": username, "password": password},
                       REMOTE_ADDR=ip)


@pytest.mark.django_db
def test_sixth_login_is_refused_even_with_the_right_password(client, annotator_a,
                                                             annotator_b):
    for attempt in range(4):
        response = login_post(client, annotator_a.username, "wrong")
        assert response.status_code == 200, attempt
        assert "didn't match" in response.content.decode()
    response = login_post(client, annotator_a.username, "wrong")  # the 5th locks
    assert response.status_code == 429

    response = login_post(client, annotator_a.username, PASSWORD)
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed login attempts" in page
    assert "locked for 15 minutes" in page
    assert "_auth_user_id" not in client.session

    # Only that username from that address is locked out.
    assert login_post(Client(), annotator_a.username, PASSWORD, ip="10.0.0.2").status_code == 302
    assert login_post(Client(), annotator_b.username, PASSWORD).status_code == 302


@pytest.mark.django_db
def test_a_forged_forwarded_for_header_does_not_reset_the_count(client, annotator_a):
    for n in range(5):
        client.post(reverse("login"), {"username": annotator_a.username, "password": "wrong"},
                    REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    response = client.post(reverse("login"), {"username": annotator_a.username,
                                              "password": PASSWORD},
                           REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.99")
    assert response.status_code == 429


@pytest.mark.django_db
def test_lockout_ends_after_fifteen_minutes(client, annotator_a):
    for _ in range(5):
        login_post(client, annotator_a.username, "wrong")
    assert login_post(client, annotator_a.username, PASSWORD).status_code == 429
    # Age the failures by 15 minutes instead of waiting.
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=15, seconds=1))
    assert login_post(client, annotator_a.username, PASSWORD).status_code == 302


@pytest.mark.django_db
def test_api_token_endpoint_is_throttled_too(annotator_a):
    client = Client()
    url = reverse("api-token")

    def token_post(password: str):
        return client.post(url, {"username": annotator_a.username, "password": password},
                           REMOTE_ADDR="10.0.0.9")

    assert token_post(PASSWORD).status_code == 200  # works before any failure
    for _ in range(5):
        assert token_post("wrong").status_code == 400
    response = token_post(PASSWORD)
    assert response.status_code in (400, 403, 429)
    assert "token" not in response.json()
    # The HTML login from the same address is locked out as well.
    assert login_post(client, annotator_a.username, PASSWORD, ip="10.0.0.9").status_code == 429


# --- CSRF on every state change -----------------------------------------------------------------

@pytest.fixture
def post_endpoints(make_batch, demo_benchmark, admin, annotator_a):
    batch = make_batch(TaskKind.INSTRUCTION_VALIDATION, size=4)
    assignment = Assignment.objects.filter(batch=batch, annotator=annotator_a).first()
    item_args = [batch.pk, assignment.pk]
    return {
        # name: (url, user or None for anonymous)
        "login": (reverse("login"), None),
        "logout": (reverse("logout"), annotator_a),
        "queue submit": (reverse("queue:submit", args=item_args), annotator_a),
        "queue skip": (reverse("queue:skip", args=item_args), annotator_a),
        "profile": (reverse("queue:profile"), annotator_a),
        "token": (reverse("queue:token"), annotator_a),
        "translate": (reverse("translate:block"), annotator_a),
        "manage import": (reverse("manage:import"), admin),
        "batch create": (reverse("manage:batch_create"), admin),
        "batch preview": (reverse("manage:batch_preview"), admin),
        "batch delete": (reverse("manage:batch_delete", args=[batch.pk]), admin),
        "adjudicate submit": (reverse("adjudicate:submit") + f"?benchmark={demo_benchmark.name}",
                              admin),
        "export start": (reverse("reports:export") + f"?benchmark={demo_benchmark.name}", admin),
    }


@pytest.mark.django_db
def test_every_html_post_endpoint_refuses_a_post_without_the_csrf_token(post_endpoints):
    refused = {}
    for name, (url, user) in post_endpoints.items():
        client = Client(enforce_csrf_checks=True)
        if user is not None:
            client.force_login(user)
        response = client.post(url, {"username": "x", "password": "y"})
        refused[name] = response.status_code
        # Also as htmx would send it, but without the header.
        response = client.post(url, {}, HTTP_HX_REQUEST="true")
        refused[name + " (htmx)"] = response.status_code
    assert refused == dict.fromkeys(refused, 403)


def hx_csrf_token(page: str) -> str:
    headers = re.search(r"<body hx-headers='([^']*)'", page).group(1)
    return json.loads(html.unescape(headers))["X-CSRFToken"]


@pytest.mark.django_db
def test_htmx_request_with_the_token_from_hx_headers_succeeds(make_batch, annotator_a):
    batch = make_batch(TaskKind.INSTRUCTION_VALIDATION, size=4)
    client = Client(enforce_csrf_checks=True)
    client.force_login(annotator_a)
    page = client.get(reverse("queue:work", args=[batch.pk])).content.decode()
    token = hx_csrf_token(page)
    skip_form = re.search(r'<form[^>]*action="([^"]*/skip/)"(.*?)</form>', page, re.S)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"',
                             skip_form.group(2)))
    fields.pop("csrfmiddlewaretoken", None)
    fields["reason"] = SKIP_REASONS[0][0]
    assignment_id = int(skip_form.group(1).rstrip("/").split("/")[-2])

    response = client.post(html.unescape(skip_form.group(1)), fields, HTTP_HX_REQUEST="true",
                           HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200
    assert Assignment.objects.get(pk=assignment_id).status == AssignmentStatus.SKIPPED

    # The same request with a forged token is refused.
    response = client.post(reverse("queue:profile"), {"working_language": "de"},
                           HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN="x" * 64)
    assert response.status_code == 403


@pytest.mark.django_db
def test_htmx_partials_leave_the_token_to_the_page_header(make_batch, annotator_a):
    """A whole page's forms carry the token (they work without JavaScript); an htmx partial
    carries none and sets no cookie, and its answer form is accepted with the page's token in
    the header, item after item."""
    batch = make_batch(TaskKind.INSTRUCTION_VALIDATION, size=4)
    client = Client(enforce_csrf_checks=True)
    client.force_login(annotator_a)
    url = reverse("queue:work", args=[batch.pk])
    page = client.get(url).content.decode()
    forms = re.findall(r'<form[^>]*method="post".*?</form>', page, re.S)
    assert len(forms) == 3  # answer, skip, log out
    assert all('name="csrfmiddlewaretoken"' in form for form in forms)
    token = hx_csrf_token(page)

    partial = client.get(url, HTTP_HX_REQUEST="true")
    assert "data-answer-form" in partial.content.decode()
    assert "csrfmiddlewaretoken" not in partial.content.decode()
    assert settings.CSRF_COOKIE_NAME not in partial.cookies

    for _ in range(2):
        form = re.search(r'<form id="answer-form"[^>]*action="([^"]+)"(.*?)</form>',
                         partial.content.decode(), re.S)
        fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"',
                                 form.group(2)))
        for name, value in re.findall(r'<input type="radio"[^>]*name="([^"]+)" value="([^"]*)"',
                                      form.group(2)):
            fields.setdefault(html.unescape(name), html.unescape(value))
        assignment_id = int(form.group(1).rstrip("/").split("/")[-2])
        partial = client.post(html.unescape(form.group(1)), fields, HTTP_HX_REQUEST="true",
                              HTTP_X_CSRFTOKEN=token)
        assert partial.status_code == 200
        assert "data-error" not in partial.content.decode()
        assert Assignment.objects.get(pk=assignment_id).status == AssignmentStatus.DONE
