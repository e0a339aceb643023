"""`make demo` serves through our runserver: no Nagle waits, no dropped SYNs, reused threads."""

from __future__ import annotations

import http.client
import socket
import threading
import time

import pytest
from django.core.management import get_commands
from django.core.servers.basehttp import WSGIRequestHandler
from whitenoise.runserver_nostatic.management.commands.runserver import (
    Command as WhiteNoiseRunserver,
)

from annotation.management.commands.runserver import (
    Command,
    DemoWSGIServer,
    NoDelayWSGIServer,
    ReusedThreads,
    TakingTurns,
    Turns,
)
from config.sqlite import base as sqlite_backend


def test_accords_runserver_is_the_one_django_runs():
    assert get_commands()["runserver"] == "annotation"
    assert Command.server_cls is DemoWSGIServer


@pytest.mark.parametrize(("threading_flag", "server"),
                         [(True, DemoWSGIServer), (False, NoDelayWSGIServer)])
def test_nothreading_still_gets_a_single_threaded_server(monkeypatch, threading_flag, server):
    ran = {}

    def handle(self, *args, **options):
        ran.update(server=self.server_cls, use_threading=options["use_threading"])

    monkeypatch.setattr(WhiteNoiseRunserver, "handle", handle)
    monkeypatch.setattr(sqlite_backend, "_queue_writers", False)
    Command().handle(use_threading=threading_flag)
    # Django's own threading stays off: DemoWSGIServer has its threads (and keep-alive).
    assert ran == {"server": server, "use_threading": False}
    assert issubclass(server, NoDelayWSGIServer)
    # The one process serving: its SQLite writers queue in it (config/sqlite).
    assert sqlite_backend._queue_writers


def test_accepted_connections_have_nagle_turned_off():
    server = DemoWSGIServer(("127.0.0.1", 0), WSGIRequestHandler)
    client = socket.create_connection(server.server_address, timeout=5)
    try:
        connection, _ = server.get_request()
        assert connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        connection.close()
    finally:
        client.close()
        server.server_close()


def test_the_listen_backlog_holds_a_class_of_annotators_connecting_at_once():
    # Django's backlog of 10 drops SYNs past it, and each costs a one-second retransmit.
    assert DemoWSGIServer.request_queue_size >= 128


def test_an_idle_worker_takes_the_next_job_instead_of_a_new_thread():
    workers = ReusedThreads("test")
    ran: list[str] = []
    for _ in range(5):
        done = threading.Event()
        workers.submit(lambda done=done: (ran.append(threading.current_thread().name), done.set()))
        assert done.wait(10)
        # The worker marks itself idle just after the job returns.
        for _ in range(1000):
            if workers.idle:
                break
            time.sleep(0.001)
    assert ran == ["test-1"] * 5
    assert workers.started == 1


def test_jobs_running_at_once_each_get_a_thread():
    workers = ReusedThreads("test")
    release = threading.Event()
    running = threading.Barrier(4, timeout=10)
    for _ in range(3):
        workers.submit(lambda: (running.wait(), release.wait(10)))
    running.wait()  # all three are running at once: none waited for another to finish
    release.set()
    assert workers.started == 3


def _serve(app) -> tuple[DemoWSGIServer, threading.Thread]:
    server = DemoWSGIServer(("127.0.0.1", 0), WSGIRequestHandler)
    server.set_app(app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


def test_new_connections_are_served_by_reused_threads_and_keep_alive_still_works():
    seen: list[str] = []

    def app(environ, start_response):
        seen.append(threading.current_thread().name)
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]

    server, thread = _serve(app)
    try:
        host, port = server.server_address
        for _ in range(4):  # one connection per request, one after the other
            client = http.client.HTTPConnection(host, port, timeout=10)
            client.request("GET", "/")
            assert client.getresponse().read() == b"ok"
            client.close()
            # The worker notices the closed connection, then waits for the next one.
            wait_until(lambda: server.workers.idle == server.workers.started)
        kept = http.client.HTTPConnection(host, port, timeout=10)
        for _ in range(3):  # one connection for several requests
            kept.request("GET", "/")
            response = kept.getresponse()
            assert response.read() == b"ok"
            assert response.getheader("Connection") != "close"
        kept.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
    assert len(seen) == 7
    # Sequential connections, each arriving once the last one's worker is idle, reuse it.
    assert server.workers.started == 1
    assert len(set(seen)) == 1


def wait_until(condition, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_turns_go_in_the_order_asked_and_nobody_overtakes():
    turns = Turns(patience=60)
    assert turns.take()
    order: list[str] = []

    def request(name: str) -> None:
        assert turns.take()
        order.append(name)
        turns.pass_on()

    threads = []
    for number, name in enumerate(["first", "second", "third"], start=1):
        threads.append(threading.Thread(target=request, args=(name,)))
        threads[-1].start()
        wait_until(lambda number=number: turns.waiting == number)
    turns.pass_on()
    # Asked after the three: waits for them although the turn was free an instant ago.
    assert turns.take()
    order.append("late")
    turns.pass_on()
    for thread in threads:
        thread.join(10)
    assert order == ["first", "second", "third", "late"]
    assert turns.take()  # free again


def test_a_turn_held_too_long_no_longer_holds_the_others_up():
    turns = Turns(patience=0.05)
    assert turns.take()  # and never passed on: a request stuck on another process's lock
    started = time.monotonic()
    assert not turns.take()
    waited = time.monotonic() - started
    assert 0.05 <= waited < 5
    assert turns.waiting == 0
    turns.pass_on()
    assert turns.take()


def test_the_server_runs_every_request_in_its_turn():
    handler = Command().get_handler(use_static_handler=False, insecure_serving=False)
    assert isinstance(handler, TakingTurns)
    turns = handler.turns
    later: list[bool] = []

    def another_request() -> None:
        later.append(turns.take())
        turns.pass_on()

    def app(environ, start_response):
        other = threading.Thread(target=another_request)
        other.start()
        wait_until(lambda: turns.waiting == 1)  # queued behind this request
        start_response("200 OK", [])
        app.other = other
        return [b"ok"]

    handler.app = app
    assert handler({}, lambda status, headers: None) == [b"ok"]
    app.other.join(10)
    assert later == [True]  # its turn came when this request ended
