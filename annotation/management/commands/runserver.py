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
- Its request threads take turns too (Turns): one runs its request at a time, in the order
  they came.
"""

from __future__ import annotations

import queue
import socket
import socketserver
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
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


class Turns:
    """Request threads run one at a time, in the order they asked; a finished turn goes straight
    to the next thread waiting, which nobody asking later can overtake.

    The threads of one process share CPython's GIL. Left to themselves, 8 annotators' threads
    ran their requests interleaved: every call that lets the GIL go (a SQLite step, a socket
    read) handed it to another thread, each handoff cost a futex wake and a cold cache, and
    the unluckiest request waited longest (next item, 8 annotators kept alive: p50 23 ms, p95
    36 ms). Taking turns: p50 18 ms, p95 20.5 ms.

    A turn held longer than `patience` (a request waiting on a lock another process holds, a
    long report) stops holding the others up: they go on without one, as they did before.
    """

    def __init__(self, patience: float = 0.1) -> None:
        self.patience = patience
        self._lock = threading.Lock()
        self._turn_began: float | None = None  # None: nobody has the turn
        self._waiting: deque[threading.Event] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def take(self) -> bool:
        """Wait for the turn: True once it is ours, False if its holder kept it too long."""
        with self._lock:
            if self._turn_began is None:
                self._turn_began = time.monotonic()
                return True
            handed = threading.Event()
            self._waiting.append(handed)
        while not handed.wait(self.patience / 4):
            with self._lock:
                if handed.is_set():
                    break
                assert self._turn_began is not None  # somebody has it: we are waiting
                if time.monotonic() - self._turn_began > self.patience:
                    self._waiting.remove(handed)
                    return False
        return True

    def pass_on(self) -> None:
        with self._lock:
            if self._waiting:
                self._turn_began = time.monotonic()
                self._waiting.popleft().set()
            else:
                self._turn_began = None


class TakingTurns:
    """WSGI middleware: each request runs in its turn (Turns). The response is written to the
    socket after the turn: a slow reader holds nobody up."""

    def __init__(self, app: Callable[..., Iterable[bytes]], turns: Turns) -> None:
        self.app = app
        self.turns = turns

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        has_turn = self.turns.take()
        try:
            return self.app(environ, start_response)
        finally:
            if has_turn:
                self.turns.pass_on()


class Command(WhiteNoiseRunserver):
    server_cls = DemoWSGIServer

    def get_handler(self, *args: Any, **options: Any) -> TakingTurns:
        return TakingTurns(super().get_handler(*args, **options), Turns())

    def handle(self, *args: Any, **options: Any) -> None:
        # Django's run() mixes ThreadingMixIn in front of server_cls when threading:
        # DemoWSGIServer brings its own threads. --nothreading keeps a single thread.
        if not options["use_threading"]:
            self.server_cls = NoDelayWSGIServer
        options["use_threading"] = False
        queue_writers_in_process()
        super().handle(*args, **options)
