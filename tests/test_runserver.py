"""`make demo` serves through runserver; keep-alive responses must not wait on Nagle."""

from __future__ import annotations

import socket
import threading

from django.core.management import get_commands
from django.core.servers.basehttp import WSGIRequestHandler

from annotation.management.commands import runserver
from annotation.management.commands.runserver import Command, NoDelayWSGIServer


def test_accords_runserver_is_the_one_django_runs():
    assert get_commands()["runserver"] == "annotation"
    assert Command.server_cls is NoDelayWSGIServer


def test_accepted_connections_have_nagle_turned_off():
    server = NoDelayWSGIServer(("127.0.0.1", 0), WSGIRequestHandler)
    client = socket.create_connection(server.server_address, timeout=5)
    try:
        connection, _ = server.get_request()
        assert connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        connection.close()
    finally:
        client.close()
        server.server_close()


def test_a_finished_request_closes_its_threads_database_connections(monkeypatch):
    # Each request runs in a thread of its own; persistent connections (CONN_MAX_AGE) left
    # open by finished threads would pile up until PostgreSQL refuses new clients.
    closed: list[str] = []

    class Connections:
        def close_all(self) -> None:
            closed.append(threading.current_thread().name)

    monkeypatch.setattr(runserver, "connections", Connections())
    server = NoDelayWSGIServer(("127.0.0.1", 0), WSGIRequestHandler)
    request, peer = socket.socketpair()
    worker = threading.Thread(target=server.close_request, args=(request,), name="request-1")
    worker.start()
    worker.join(10)
    server.server_close()
    peer.close()
    assert closed == ["request-1"]
    assert request.fileno() == -1  # and the socket itself is closed, as before
