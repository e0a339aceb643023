"""Accord settings, read from the environment (see .env.example).

Development is the default: SQLite in var/, DEBUG on, a development-only secret key.
With ACCORD_DEBUG=false the secret key must come from the environment.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true or false)")


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number") from exc


DEBUG = env_bool("ACCORD_DEBUG", True)

SECRET_KEY = os.environ.get("ACCORD_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("ACCORD_SECRET_KEY must be set when ACCORD_DEBUG is false")
    SECRET_KEY = "development-only-insecure-key-never-use-in-production"

ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("ACCORD_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")
    if h.strip()
]

INSTALLED_APPS = [
    # First, so that its `runserver` (see annotation/management/commands) is the one Django runs.
    "annotation",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "django_htmx",
    "csp",
    "axes",
    "judging",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "config.auth.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a lockout found during authenticate() into its page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Embedded default: one SQLite file in WAL mode, so readers never wait for the writer and a
# writer waits (busy timeout) instead of failing. DATABASE_URL switches to PostgreSQL.
SQLITE_PATH = VAR_DIR / "accord.sqlite3"
DATABASES = {
    "default": dj_database_url.config(
        env="DATABASE_URL", default=f"sqlite:///{SQLITE_PATH}", conn_max_age=60,
        conn_health_checks=True,
    )
}
# Connections persist across requests (opening one costs more than a typical queue request's
# queries: 1.6 ms of CPU on SQLite with its PRAGMAs, bench/queue.py).
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # In make demo's server, writers queue on a lock of their own before BEGIN (config/sqlite).
    DATABASES["default"]["ENGINE"] = "config.sqlite"
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        # IMMEDIATE takes the write lock at BEGIN, so two writers wait their turn (on the busy
        # timeout; in make demo's server on config/sqlite's lock first) instead of one failing
        # with "database is locked" when it upgrades a read lock.
        "transaction_mode": "IMMEDIATE",
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;"
        ),
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Server-side binding, so that psycopg prepares the statements a connection runs often
    # (more than prepare_threshold times): PostgreSQL then parses and plans them once per
    # connection, not on every run, and planning cost more than running most of the queue's
    # queries (next item: 3.6-4.4 ms of SQL down to 1.3-2.3 ms). Our backend keeps every
    # statement under PostgreSQL's 65,535 parameters (config/postgresql/base.py). Prepared
    # statements live in the connection (kept by the pool below), so they need direct
    # connections or a pooler that supports them, not a transaction-pooling PgBouncer.
    DATABASES["default"]["ENGINE"] = "config.postgresql"
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True, prepare_threshold=5,
        # A pool per process, so connections (and their prepared statements) outlive the
        # request and the thread that used them, and the threads of a server share at most
        # max_size of them. Django's pool requires CONN_MAX_AGE 0: a connection goes back to
        # the pool at the end of each request.
        pool={"min_size": 1, "max_size": 16, "timeout": 30},
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

# django-axes first: it refuses a locked-out username+IP before ModelBackend checks a password.
# Django's ModelBackend and database sessions, each request's session and user read in one
# join (config/sessions.py, config/auth.py).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "config.auth.ModelBackend",
]
SESSION_ENGINE = "config.sessions"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# collectstatic's target; whitenoise serves it in production and warns when it is missing.
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "annotation.renderers.FastJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Accord API",
    "DESCRIPTION": "Annotation queues, imports and batches of Accord.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
}

# --- Security --------------------------------------------------------------------------------

# Content-Security-Policy (django-csp 4): Accord serves every script, style, font and image
# itself. No inline <script>, style="" or on*= handler anywhere: htmx's own indicator <style>
# is switched off in base.html (htmx-config) and lives in accord.css; progress bars are SVG.
# img-src also allows data: URIs, for small images embedded in CSS (none yet); they cannot
# run script. style-src has no 'unsafe-inline': the SVG charts use attributes, not style="".
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [NONE],
        "object-src": [NONE],
    },
}

# Login throttling (django-axes): after 5 failed logins for one username from one IP address,
# that pair is refused for 15 minutes, even with the right password. Covers the login page,
# the Django admin's login and the API token endpoint (all go through authenticate()).
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/login.html"
AXES_HTTP_RESPONSE_CODE = 429

# Behind a TLS-terminating reverse proxy (ACCORD_BEHIND_PROXY=true) the proxy's
# X-Forwarded-Proto says whether the client used HTTPS and X-Forwarded-For names the client,
# which django-axes then throttles instead of the proxy's own address. Only set it when the
# proxy overwrites those headers: otherwise a client could forge them.
ACCORD_BEHIND_PROXY = env_bool("ACCORD_BEHIND_PROXY", False)
if ACCORD_BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    AXES_IPWARE_PROXY_COUNT = 1
    AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"]
else:
    # A forged X-Forwarded-For must not buy a client a fresh set of attempts.
    AXES_IPWARE_META_PRECEDENCE_ORDER = ["REMOTE_ADDR"]

# Sent in development too: they cost nothing over plain HTTP.
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# Production (ACCORD_DEBUG=false): HTTPS only. `manage.py check --deploy --fail-level WARNING`
# passes with these defaults (tests/test_security_settings.py runs it).
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("ACCORD_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(env_float("ACCORD_HSTS_SECONDS", 31_536_000))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("ACCORD_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("ACCORD_HSTS_PRELOAD", True)
    SILENCED_SYSTEM_CHECKS = [
        # Turned off on purpose by the operator, so not worth a warning on every deploy:
        # the proxy already redirects HTTP to HTTPS, or the domain must stay out of the
        # browsers' preload list.
        *(["security.W008"] if not SECURE_SSL_REDIRECT else []),
        *(["security.W021"] if not SECURE_HSTS_PRELOAD else []),
    ]

# Inline machine translation (deep-translator). google | libre | none.
ACCORD_TRANSLATION_PROVIDER = os.environ.get("ACCORD_TRANSLATION_PROVIDER", "google").lower()
if ACCORD_TRANSLATION_PROVIDER not in {"google", "libre", "none"}:
    raise ImproperlyConfigured(
        f"ACCORD_TRANSLATION_PROVIDER={ACCORD_TRANSLATION_PROVIDER!r}: use google, libre or none"
    )
ACCORD_LIBRETRANSLATE_URL = os.environ.get("ACCORD_LIBRETRANSLATE_URL", "")
ACCORD_LIBRETRANSLATE_API_KEY = os.environ.get("ACCORD_LIBRETRANSLATE_API_KEY", "")
if ACCORD_TRANSLATION_PROVIDER == "libre" and not ACCORD_LIBRETRANSLATE_URL:
    raise ImproperlyConfigured("ACCORD_TRANSLATION_PROVIDER=libre needs ACCORD_LIBRETRANSLATE_URL")
ACCORD_TRANSLATION_TIMEOUT = env_float("ACCORD_TRANSLATION_TIMEOUT", 6.0)

# A direct_score judgment "meets all requirements" when its 1-10 score is above this.
ACCORD_DIRECT_SCORE_THRESHOLD = env_float("ACCORD_DIRECT_SCORE_THRESHOLD", 5.0)

# Resource level of a language when the benchmark line does not give one (XIFBench's grouping).
ACCORD_RESOURCE_LEVELS = {
    "en": "high", "zh": "high", "fr": "high", "de": "high", "es": "high", "ja": "high",
    "pt": "high", "it": "high",
    "ru": "medium", "ar": "medium", "ko": "medium", "tr": "medium", "vi": "medium",
    "id": "medium", "pl": "medium", "nl": "medium",
    "hi": "low", "sw": "low", "bn": "low", "te": "low", "ur": "low", "yo": "low",
    "am": "low", "ne": "low", "ha": "low", "zu": "low",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "accord": {"handlers": ["console"], "level": "INFO"},
        # Django logs a 500's traceback to the console only with DEBUG on (and mails it to
        # ADMINS, which Accord does not set): without this, production errors left no trace.
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}
