"""Settings come from the environment and fail loudly on bad values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def run_django(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("ACCORD_", "DATABASE_URL"))}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import django, os; os.environ.setdefault("
         "'DJANGO_SETTINGS_MODULE', 'config.settings'); django.setup(); " + code],
        cwd=REPO, env=environment, capture_output=True, text=True, timeout=60,
    )


def test_sqlite_file_runs_in_wal_mode_with_a_busy_timeout(tmp_path):
    db = tmp_path / "accord.sqlite3"
    result = run_django(
        "from django.db import connection; c = connection.cursor(); "
        "print(c.execute('PRAGMA journal_mode').fetchone()[0], "
        "c.execute('PRAGMA busy_timeout').fetchone()[0])",
        DATABASE_URL=f"sqlite:///{db}",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["wal", "20000"]


def test_database_url_selects_postgresql():
    result = run_django(
        "from django.conf import settings; from django.db import connection; "
        "d = settings.DATABASES['default']; print(connection.vendor, d['ENGINE'], "
        "d['OPTIONS']['server_side_binding'], d['OPTIONS']['prepare_threshold'] is not None, "
        "d['OPTIONS']['pool']['max_size'], d['CONN_MAX_AGE'])",
        DATABASE_URL="postgres://u:p@127.0.0.1:5432/accord",
    )
    assert result.returncode == 0, result.stderr
    # Django's backend, bounded for server-side binding (tests/test_postgres_binding.py).
    # A connection pool per process, which Django allows only without persistent connections.
    assert result.stdout.split() == ["postgresql", "config.postgresql", "True", "True", "16", "0"]


def test_production_refuses_to_start_without_a_secret_key():
    result = run_django("print('started')", ACCORD_DEBUG="false")
    assert result.returncode != 0
    assert "ACCORD_SECRET_KEY must be set" in result.stderr


@pytest.mark.parametrize(("name", "value", "message"), [
    ("ACCORD_TRANSLATION_PROVIDER", "babelfish", "use google, libre or none"),
    ("ACCORD_DEBUG", "maybe", "is not a boolean"),
    ("ACCORD_TRANSLATION_TIMEOUT", "soon", "is not a number"),
])
def test_bad_setting_values_fail_loudly(name, value, message):
    result = run_django("print('started')", **{name: value})
    assert result.returncode != 0
    assert message in result.stderr


def test_libretranslate_needs_its_url():
    result = run_django("print('started')", ACCORD_TRANSLATION_PROVIDER="libre")
    assert result.returncode != 0
    assert "needs ACCORD_LIBRETRANSLATE_URL" in result.stderr


def test_the_wsgi_application_loads_the_urlconf_before_its_first_request():
    result = run_django(
        "from django.urls import get_resolver; loaded = lambda: 'url_patterns' in "
        "get_resolver().__dict__; before = loaded(); import config.wsgi; print(before, loaded())",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True"]


def test_a_server_error_leaves_its_traceback_on_the_console_in_production():
    # Django prints a 500's traceback only with DEBUG on, and mails it to ADMINS otherwise.
    result = run_django(
        "from django.http import HttpResponseServerError; from django.test import "
        "RequestFactory; from django.utils.log import log_response\n"
        "try:\n    raise RuntimeError('the queue broke')\nexcept RuntimeError as exc:\n"
        "    log_response('Internal Server Error: %s', '/queues/', "
        "response=HttpResponseServerError(), request=RequestFactory().get('/queues/'), "
        "exception=exc)",
        ACCORD_DEBUG="false", ACCORD_SECRET_KEY="s" * 60, ACCORD_ALLOWED_HOSTS="127.0.0.1",
    )
    assert result.returncode == 0, result.stderr
    assert "Internal Server Error: /queues/" in result.stderr
    assert "Traceback" in result.stderr and "RuntimeError: the queue broke" in result.stderr
