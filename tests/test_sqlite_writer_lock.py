"""config/sqlite: in a process that asks for it (`make demo`'s runserver), writers queue on a
lock of their own before BEGIN IMMEDIATE, and every way a transaction ends lets go of it."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from django.db import OperationalError, connection

from config.sqlite import base as sqlite_backend
from config.sqlite.base import DatabaseWrapper, writer_lock

pytestmark = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's backend")


@pytest.fixture
def queued(monkeypatch):
    monkeypatch.setattr(sqlite_backend, "_queue_writers", True)


@pytest.fixture
def open_connection(tmp_path: Path, django_db_blocker):
    """Connections of our backend to a fresh database file (not the test database), as two
    threads would hold them."""
    opened: list[DatabaseWrapper] = []

    def open_one() -> DatabaseWrapper:
        settings = {**connection.settings_dict, "NAME": str(tmp_path / "db.sqlite3"),
                    "OPTIONS": {**connection.settings_dict["OPTIONS"], "timeout": 5}}
        wrapper = DatabaseWrapper(settings, alias=f"writer-lock-{len(opened)}")
        wrapper.inc_thread_sharing()  # opened here, used by the test's threads
        wrapper.ensure_connection()
        opened.append(wrapper)
        return wrapper

    with django_db_blocker.unblock():
        yield open_one
        for wrapper in opened:
            wrapper.close()


def begin(wrapper: DatabaseWrapper) -> None:
    """What transaction.atomic does on entering the outermost block."""
    wrapper.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)


def test_the_settings_use_this_backend():
    assert connection.settings_dict["ENGINE"] == "config.sqlite"
    assert connection.settings_dict["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


def test_a_second_writer_waits_on_the_lock_until_the_first_commits(queued, open_connection):
    first, second = open_connection(), open_connection()
    lock = writer_lock(first.settings_dict["NAME"])
    first.cursor().execute("CREATE TABLE t (n INTEGER)")
    events: list[str] = []

    begin(first)
    first.cursor().execute("INSERT INTO t VALUES (1)")
    assert lock.locked()

    errors: list[BaseException] = []
    asking = threading.Event()

    def second_writer() -> None:
        try:
            events.append("second asks")
            asking.set()
            begin(second)
            events.append("second begins")
            second.cursor().execute("INSERT INTO t VALUES (2)")
            second.commit()
            second.set_autocommit(True)
        except BaseException as exc:  # re-raised by the test
            errors.append(exc)

    thread = threading.Thread(target=second_writer)
    thread.start()
    assert asking.wait(10)
    time.sleep(0.2)  # let it reach the lock; it may not begin before the commit below either way
    events.append("first commits")
    first.commit()
    first.set_autocommit(True)
    thread.join(10)

    assert not errors, errors
    assert events == ["second asks", "first commits", "second begins"]
    assert not lock.locked()
    assert first.cursor().execute("SELECT n FROM t ORDER BY n").fetchall() == [(1,), (2,)]


@pytest.mark.parametrize("end", ["rollback", "close"])
def test_a_rollback_or_a_closed_connection_lets_go(queued, open_connection, end):
    wrapper = open_connection()
    lock = writer_lock(wrapper.settings_dict["NAME"])
    begin(wrapper)
    assert lock.locked()
    getattr(wrapper, end)()
    assert not lock.locked()


def test_a_begin_that_fails_lets_go(queued, open_connection):
    wrapper = open_connection()
    lock = writer_lock(wrapper.settings_dict["NAME"])
    # Another process holds the database's write lock, and this connection will not wait.
    other = sqlite3.connect(wrapper.settings_dict["NAME"], isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    wrapper.connection.execute("PRAGMA busy_timeout = 0")
    try:
        with pytest.raises(OperationalError, match="locked"):
            begin(wrapper)
        assert not lock.locked()
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_other_processes_leave_writers_to_sqlite(open_connection):
    """gunicorn's workers and management commands: no lock of the process's own."""
    assert not sqlite_backend._queue_writers
    wrapper = open_connection()
    begin(wrapper)
    assert not writer_lock(wrapper.settings_dict["NAME"]).locked()
    wrapper.rollback()
