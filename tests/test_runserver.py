"""`make demo` serves through runserver; keep-alive responses must not wait on Nagle."""

from __future__ import annotations

import socket

from django.core.management import get_commands
from django.core.servers.basehttp import WSGIRequestHandler

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
