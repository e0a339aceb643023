"""`runserver` with TCP_NODELAY on every connection.

Browsers keep connections alive. The development server writes a response's headers and
body in separate small packets; with Nagle's algorithm on, the body then waits for the
client's delayed ACK of the headers: about 40 ms on every htmx swap of `make demo`.
"""

from __future__ import annotations

import socket

from django.core.servers.basehttp import WSGIServer
from whitenoise.runserver_nostatic.management.commands.runserver import (
    Command as WhiteNoiseRunserver,
)


class NoDelayWSGIServer(WSGIServer):
    def get_request(self) -> tuple[socket.socket, object]:
        connection, address = super().get_request()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address


class Command(WhiteNoiseRunserver):
    server_cls = NoDelayWSGIServer
