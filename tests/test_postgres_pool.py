"""The PostgreSQL connection pool checks a connection before handing it out unless it came
back a moment ago (config/postgresql/pool.py): no round trip per request under load, and a
connection the server dropped while it sat idle is still replaced, not handed out."""

from __future__ import annotations

import time

import psycopg
import pytest
from django.db import connection
from psycopg_pool import ConnectionPool

from config.postgresql.pool import (
    RECENTLY_RETURNED,
    RETURNED_AT,
    check_unless_recently_returned,
)

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql",
                                reason="PostgreSQL's connection pool")


@pytest.fixture
def checks(monkeypatch) -> list:
    """The connections psycopg_pool's own check was run on."""
    checked: list = []
    real = ConnectionPool.check_connection
    monkeypatch.setattr(ConnectionPool, "check_connection",
                        staticmethod(lambda conn: (checked.append(conn), real(conn))))
    return checked


def conninfo() -> str:
    connection.ensure_connection()
    params = connection.connection.info.get_parameters()
    return psycopg.conninfo.make_conninfo(password=connection.settings_dict["PASSWORD"],
                                          **params)


@pytest.mark.django_db(transaction=True)
def test_djangos_pool_checks_only_connections_idle_for_a_while(checks):
    pool = connection.pool
    assert connection.settings_dict["CONN_HEALTH_CHECKS"]

    def give_every_idle_connection_back(returned_at: float) -> None:
        idle = [pool.getconn() for _ in range(pool.get_stats()["pool_available"])]
        checks.clear()
        for conn in idle:
            setattr(conn, RETURNED_AT, returned_at)
            pool.putconn(conn)

    connection.close()
    give_every_idle_connection_back(time.monotonic())
    connection.ensure_connection()
    assert checks == []
    connection.close()
    give_every_idle_connection_back(time.monotonic() - RECENTLY_RETURNED - 0.1)
    connection.ensure_connection()
    assert len(checks) == 1


@pytest.mark.django_db(transaction=True)
def test_a_connection_going_back_to_the_pool_is_stamped():
    connection.ensure_connection()
    raw = connection.connection
    before = time.monotonic()
    connection.close()
    assert before <= getattr(raw, RETURNED_AT) <= time.monotonic()


@pytest.mark.django_db
def test_only_a_connection_idle_for_a_while_is_checked(checks):
    with psycopg.connect(conninfo(), autocommit=True) as raw:
        setattr(raw, RETURNED_AT, time.monotonic())
        check_unless_recently_returned(raw)
        assert checks == []
        setattr(raw, RETURNED_AT, time.monotonic() - RECENTLY_RETURNED - 0.1)
        check_unless_recently_returned(raw)
        assert checks == [raw]
        delattr(raw, RETURNED_AT)  # never returned: new
        check_unless_recently_returned(raw)
        assert checks == [raw, raw]


@pytest.mark.django_db
def test_a_connection_the_server_dropped_while_idle_is_replaced():
    info = conninfo()
    with ConnectionPool(info, min_size=1, max_size=1, open=True,
                        check=check_unless_recently_returned) as pool:
        with pool.connection() as first:
            dropped = first.info.backend_pid
        # Back in the pool (its only connection), idle for a while; then the server drops it.
        setattr(first, RETURNED_AT, time.monotonic() - RECENTLY_RETURNED - 0.1)
        with psycopg.connect(info, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [dropped])
        with pool.connection() as second:
            assert second.execute("SELECT pg_backend_pid()").fetchone()[0] != dropped
