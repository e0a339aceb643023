"""`runserver` for `make demo`: TCP_NODELAY, a deep listen backlog, reused worker threads, and
its SQLite writers queued in the process.

- Browsers keep connections alive. The development server writes a response's headers and
  body in separate small packets; with Nagle's algorithm on, the body then waits for the
  client's delayed ACK of the headers: about 40 ms on every htmx swap of `make demo`.
- Django's server listens with a backlog of 10. A class of annotators opening connections at
  once overflows it, and each dropped SYN costs the client a one-second retransmit.
- Django starts a thread per connection, and that thread's database connection dies with it:
  every new TCP connection paid for a new SQLite connection (and its schema parse). Worker
  threads that outlive their connections keep theirs; there are never more of them than
  connections served at once, as before.
- The one process serving, its SQLite writers take turns on a lock of their own rather than
  in SQLite's busy handler (config/sqlite).
"""

from __future__ import annotations

import queue
import socket
import socketserver
import threading
from collections.abc import Callable
from typing import Any

from django.core.servers.basehttp import WSGIServer
from whitenoise.runserver_nostatic.management.commands.runserver import (
    Command as WhiteNoiseRunserver,
)

from config.sqlite.base import queue_writers_in_process


class ReusedThreads:
    """Run jobs on daemon threads, starting a thread only when none is idle.

    Daemon threads, as Django's own server uses: a worker blocked on an idle keep-alive
    connection must not keep the autoreloader or Ctrl-C from ending the process.
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._jobs: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...]]] = (
            queue.SimpleQueue())
        self._idle = threading.Semaphore(0)
        self._started = 0
        self._lock = threading.Lock()

    @property
    def started(self) -> int:
        return self._started

    @property
    def idle(self) -> int:
        return self._idle._value  # a Semaphore's count; read for tests and diagnostics

    def submit(self, job: Callable[..., Any], *args: Any) -> None:
        self._jobs.put((job, args))
        if self._idle.acquire(blocking=False):
            return  # an idle worker takes it
        with self._lock:
            self._started += 1
            number = self._started
        threading.Thread(target=self._work, name=f"{self._name}-{number}", daemon=True).start()

    def _work(self) -> None:
        while True:
            job, args = self._jobs.get()
            job(*args)
            self._idle.release()


class NoDelayWSGIServer(WSGIServer):
    request_queue_size = socket.SOMAXCONN

    def get_request(self) -> tuple[socket.socket, object]:
        connection, address = super().get_request()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address


class DemoWSGIServer(socketserver.ThreadingMixIn, NoDelayWSGIServer):
    # ThreadingMixIn tells Django's handler that keep-alive is safe; the threads are ours.
    daemon_threads = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.workers = ReusedThreads("runserver")

    def process_request(self, request: socket.socket, client_address: object) -> None:
        self.workers.submit(self.process_request_thread, request, client_address)


class Command(WhiteNoiseRunserver):
    server_cls = DemoWSGIServer

    def handle(self, *args: Any, **options: Any) -> None:
        # Django's run() mixes ThreadingMixIn in front of server_cls when threading:
        # DemoWSGIServer brings its own threads. --nothreading keeps a single thread.
        if not options["use_threading"]:
            self.server_cls = NoDelayWSGIServer
        options["use_threading"] = False
        queue_writers_in_process()
        super().handle(*args, **options)
