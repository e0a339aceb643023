"""Accord served for a bench, the two ways users run it, against a given DATABASE_URL.

- "runserver": what `make demo` runs, `manage.py runserver 127.0.0.1:PORT --noreload`
  (Accord's own runserver: TCP_NODELAY, a deep listen backlog, reused threads that take
  turns), in development settings.
- "gunicorn": the production way, ACCORD_DEBUG=false, `gunicorn config.wsgi` with the
  project's gunicorn.conf.py (gthread workers of 4 threads, each worker on a listening socket of
  its own; the file says why), the workers pinned at GUNICORN_WORKERS: what the file gives a
  2-core machine, whatever machine the bench runs on.

Each server runs in its own process group (gunicorn's master and workers) and `serve` stops
the whole group when the block ends, by its PID, also when the block raised.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
SERVER_WAYS = ("runserver", "gunicorn")
GUNICORN_WORKERS = 3
HEALTH_PATH = "/healthz"
READY_TIMEOUT_S = 60.0
# One key for every server and shell of this bench run: sessions created by `manage` stay
# valid on every server started against the same database.
BENCH_SECRET_KEY = "accord-bench-" + secrets.token_hex(24)


@dataclass(frozen=True)
class Server:
    way: str
    host: str
    port: int
    pid: int  # also the process group's id

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"


def accord_env(database_url: str, *, production: bool) -> dict[str, str]:
    """The environment Accord runs in: this database, no outbound translation calls, and in
    production the settings of a deployment behind a TLS proxy (no redirect to HTTPS)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}
    env.update(DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="config.settings",
               ACCORD_SECRET_KEY=BENCH_SECRET_KEY, ACCORD_TRANSLATION_PROVIDER="none",
               PYTHONUNBUFFERED="1")
    if production:
        env.update(ACCORD_DEBUG="false", ACCORD_ALLOWED_HOSTS=HOST, ACCORD_SSL_REDIRECT="false")
    return env


def manage(database_url: str, *args: str, timeout: float = 600) -> str:
    """Run `manage.py ARGS` against the database and return its standard output."""
    done = subprocess.run(  # noqa: S603 - a fixed interpreter and our own manage.py
        [sys.executable, "manage.py", *args], cwd=REPO, capture_output=True, text=True,
        env=accord_env(database_url, production=False), timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {args[0]} failed ({done.returncode}):\n"
                           f"{done.stderr[-3000:]}")
    return done.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def command_for(way: str, port: int) -> list[str]:
    if way == "runserver":
        return [sys.executable, "manage.py", "runserver", f"{HOST}:{port}", "--noreload"]
    if way == "gunicorn":
        return [str(VENV_BIN / "gunicorn"), "--config", str(REPO / "gunicorn.conf.py"),
                "config.wsgi", "--bind", f"{HOST}:{port}", "--workers", str(GUNICORN_WORKERS),
                "--timeout", "60", "--graceful-timeout", "3"]
    raise ValueError(f"unknown server way {way!r}; use one of {SERVER_WAYS}")


@contextlib.contextmanager
def serve(way: str, database_url: str, log_path: Path) -> Iterator[Server]:
    """Start Accord `way` on a free port, wait until /healthz answers, stop it afterwards."""
    port = free_port()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603 - a fixed argument list
            command_for(way, port), cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
            env=accord_env(database_url, production=way == "gunicorn"),
            start_new_session=True)
    try:
        wait_until_ready(process, port, log_path)
        yield Server(way=way, host=HOST, port=port, pid=process.pid)
    finally:
        stop(process)


def wait_until_ready(process: subprocess.Popen, port: int, log_path: Path, *,
                     path: str = HEALTH_PATH, timeout: float = READY_TIMEOUT_S) -> None:
    """Poll GET `path` until it answers 200; fail with the log's tail if the server exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n"
                               + log_path.read_text(errors="replace")[-3000:])
        connection = http.client.HTTPConnection(HOST, port, timeout=2)
        try:
            connection.request("GET", path)
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass  # not listening yet
        finally:
            connection.close()
        time.sleep(0.1)
    raise RuntimeError(f"the server did not answer {path} within {timeout} s")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM the process group, SIGKILL whatever is left of it after a few seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
    # Children (gunicorn's workers) can outlive their parent.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
