"""gunicorn.conf.py: what `gunicorn config.wsgi` run from the checkout serves with."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from bench.servers import REPO, VENV_BIN, free_port

GUNICORN = str(VENV_BIN / "gunicorn")
LISTEN = "0A"  # the TCP state LISTEN in /proc/net/tcp


def settings_printed(env: dict[str, str]) -> dict[str, str]:
    out = subprocess.run([GUNICORN, "--print-config"], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=60, check=True).stdout
    return {name.strip(): value.strip() for name, _, value in
            (line.partition("=") for line in out.splitlines()) if value}


def test_gunicorn_alone_serves_accord_with_gthread_workers_per_core():
    env = {k: v for k, v in os.environ.items() if k != "WEB_CONCURRENCY"}
    found = settings_printed(env)
    assert found["wsgi_app"] == "config.wsgi"
    assert found["worker_class"] == "gthread"
    assert found["threads"] == "4"
    assert found["reuse_port"] == "True"
    assert found["workers"] == str((os.cpu_count() or 1) + 1)
    assert settings_printed({**env, "WEB_CONCURRENCY": "5"})["workers"] == "5"


def listening_sockets(port: int) -> list[str]:
    """The inodes of the IPv4 sockets listening on 127.0.0.1:port."""
    local = f"0100007F:{port:04X}"
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return [fields[9] for fields in map(str.split, rows)
            if fields[1] == local and fields[3] == LISTEN]


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux's /proc/net/tcp")
def test_each_worker_listens_on_a_socket_of_its_own(tmp_path):
    # One socket shared by the workers would let the first to wake take most of a burst of
    # kept-alive connections; a socket each lets the kernel spread them.
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")},
           "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
           "DJANGO_SETTINGS_MODULE": "config.settings"}
    server = subprocess.Popen(  # noqa: S603 - the venv's gunicorn, fixed arguments
        [GUNICORN, "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "3"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(listening_sockets(port)) < 3 and time.monotonic() < deadline:
            assert server.poll() is None, "gunicorn exited"
            time.sleep(0.1)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=30) as answer:
            assert answer.status == 200
        assert len(set(listening_sockets(port))) == 3
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
