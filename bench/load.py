"""An HTTP/1.1 load client: N simulated users against one server on 127.0.0.1.

Every user runs on one asyncio loop in this process and speaks HTTP over raw streams, so the
client costs little CPU on a machine whose two cores it shares with the server, and costs the
same for every endpoint: the floor (a health check) is measured with this very client.

A user is any object with `start(client)` (untimed: sign in, open the first page) and
`step(client)` (one timed unit of work, made of one or several requests). `run_load` runs
`clients` of them at once until `max_steps` steps were started or `max_seconds` passed, and
returns one latency per step plus the failures, counted apart:
- status errors: a response outside 2xx;
- exceptions: timeouts, unreadable responses, a user that could not go on;
- dropped connections: the server closed or reset the connection before a whole response.

Nothing here knows which application is on the other side; `bench/queue.py` drives Accord with
it and `bench/labelstudio.py` Label Studio.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

KEEP_ALIVE = "keep-alive"  # one persistent connection per user, as browsers do
NEW = "new"                # a new TCP connection for every request
CONNECTION_MODES = (KEEP_ALIVE, NEW)

# Failures that mean the connection went away under the request.
DROPPED = (ConnectionResetError, BrokenPipeError, ConnectionRefusedError,
           ConnectionAbortedError, asyncio.IncompleteReadError)


class StatusError(Exception):
    """A response outside 2xx."""

    def __init__(self, method: str, path: str, status: int, body: bytes) -> None:
        super().__init__(f"{method} {path}: HTTP {status}: {body[:200]!r}")
        self.status = status


class ConnectionDropped(Exception):
    """The server closed the connection before a whole response arrived."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names; a repeated header keeps its last value
    set_cookies: list[str]
    body: bytes

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class Client:
    """One simulated user agent: a cookie jar and a connection to the server (kept open between
    requests, or opened anew for each one)."""

    def __init__(self, host: str, port: int, *, connection: str = KEEP_ALIVE,
                 timeout: float = 10.0) -> None:
        if connection not in CONNECTION_MODES:
            raise ValueError(f"connection must be one of {CONNECTION_MODES}")
        self.host, self.port, self.timeout = host, port, timeout
        self.keep_alive = connection == KEEP_ALIVE
        self.cookies: dict[str, str] = {}
        self.connections_opened = 0
        self.requests_sent = 0
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                      body: bytes = b"") -> Response:
        """Send one request; raise StatusError outside 2xx, ConnectionDropped when the
        connection went away, TimeoutError after `timeout` seconds."""
        try:
            async with asyncio.timeout(self.timeout):
                response = await self._exchange(method, path, headers or {}, body)
        except DROPPED as exc:
            self.close()
            raise ConnectionDropped(f"{method} {path}: {exc!r}") from exc
        except BaseException:
            # A half-read response leaves the stream unusable.
            self.close()
            raise
        if not 200 <= response.status < 300:
            raise StatusError(method, path, response.status, response.body)
        return response

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def _exchange(self, method: str, path: str, headers: dict[str, str],
                        body: bytes) -> Response:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
            self.connections_opened += 1
        reader, writer = self._reader, self._writer
        assert reader is not None
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                 f"Connection: {'keep-alive' if self.keep_alive else 'close'}"]
        if self.cookies:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        lines.extend(f"{k}: {v}" for k, v in headers.items())
        # Head and body in one write: one packet for a small request.
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        self.requests_sent += 1
        response, reusable = await _read_response(reader, method)
        for cookie in response.set_cookies:
            self._remember(cookie)
        if not (reusable and self.keep_alive):
            self.close()
        return response

    def _remember(self, set_cookie: str) -> None:
        name, _, rest = set_cookie.partition("=")
        value, *attributes = rest.split(";")
        expired = any(a.strip().lower() in ("max-age=0", "max-age=-1") for a in attributes)
        if expired or not value.strip('"'):
            self.cookies.pop(name.strip(), None)
        else:
            self.cookies[name.strip()] = value


async def _read_response(reader: asyncio.StreamReader, method: str
                         ) -> tuple[Response, bool]:
    """One response and whether the connection may carry another request."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        raise ConnectionResetError("connection closed before the response") from exc
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    version, status_text, *_ = status_line.split(" ", 2)
    status = int(status_text)
    headers: dict[str, str] = {}
    set_cookies: list[str] = []
    for line in header_lines:
        if not line:
            continue
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip()
        if name == "set-cookie":
            set_cookies.append(value)
        headers[name] = value
    reusable = (version == "HTTP/1.1"
                and "close" not in headers.get("connection", "").lower())
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        body = b""
    elif "chunked" in headers.get("transfer-encoding", "").lower():
        body = await _read_chunked(reader)
    elif "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    else:
        body = await reader.read()  # the body ends with the connection
        reusable = False
    return Response(status, headers, set_cookies, body), reusable


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


class User(Protocol):
    """One simulated user of the application under test."""

    async def start(self, client: Client) -> None:
        """Untimed preparation (sign in, first page, a warm connection)."""

    async def step(self, client: Client) -> None:
        """One timed unit of work; raise to count it as failed."""


@dataclass
class LoadResult:
    clients: int
    connection: str
    latencies_ms: list[float] = field(default_factory=list)  # successful steps only
    elapsed_s: float = 0.0
    status_errors: int = 0
    exceptions: int = 0
    dropped: int = 0
    requests: int = 0
    connections_opened: int = 0
    failures: list[str] = field(default_factory=list)  # the first few, for the log

    @property
    def steps(self) -> int:
        return len(self.latencies_ms)

    @property
    def errors(self) -> int:
        return self.status_errors + self.exceptions

    @property
    def items_per_s(self) -> float:
        return self.steps / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile of the step latencies, in ms (NaN without any)."""
        if not self.latencies_ms:
            return math.nan
        ordered = sorted(self.latencies_ms)
        return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]

    def summary(self) -> str:
        return (f"{self.clients:>2} clients {self.connection:<10} {self.steps:>5} steps "
                f"p50 {self.percentile(50):7.2f} p95 {self.percentile(95):7.2f} "
                f"p99 {self.percentile(99):7.2f} ms {self.items_per_s:8.1f}/s "
                f"errors {self.errors} dropped {self.dropped}")


MAX_FAILURES_KEPT = 5


def run_load(host: str, port: int, users: list[User], *, connection: str = KEEP_ALIVE,
             max_steps: int = 500, max_seconds: float = 3.0, timeout: float = 10.0
             ) -> LoadResult:
    """Run every user at once (one per simulated client) and measure each timed step.

    Users start together, untimed; then each loops over steps until `max_steps` steps were
    started by all of them together or `max_seconds` passed since the first one. A failed
    step (error or dropped connection) is counted, not timed, and the user carries on; a user
    whose `start` fails sits the run out, its failure counted.
    """
    return asyncio.run(_run(host, port, users, connection, max_steps, max_seconds, timeout))


async def _run(host: str, port: int, users: list[User], connection: str, max_steps: int,
               max_seconds: float, timeout: float) -> LoadResult:
    result = LoadResult(clients=len(users), connection=connection)
    clients = [Client(host, port, connection=connection, timeout=timeout) for _ in users]
    started = await asyncio.gather(*(_attempt(result, user.start, client)
                                     for user, client in zip(users, clients, strict=True)))
    tickets = iter(range(max_steps))
    begin = time.perf_counter()
    deadline = begin + max_seconds

    async def loop(user: User, client: Client) -> None:
        while time.perf_counter() < deadline and next(tickets, None) is not None:
            t0 = time.perf_counter()
            if await _attempt(result, user.step, client):
                result.latencies_ms.append((time.perf_counter() - t0) * 1000)

    await asyncio.gather(*(loop(user, client)
                           for user, client, ok in zip(users, clients, started, strict=True)
                           if ok))
    result.elapsed_s = time.perf_counter() - begin
    for client in clients:
        client.close()
        result.requests += client.requests_sent
        result.connections_opened += client.connections_opened
    return result


async def _attempt(result: LoadResult, action: Callable[[Client], Awaitable[None]],
                   client: Client) -> bool:
    try:
        await action(client)
    except StatusError as exc:
        result.status_errors += 1
        _keep(result, exc)
    except ConnectionDropped as exc:
        result.dropped += 1
        _keep(result, exc)
    except Exception as exc:  # any other failure of a step is counted, not fatal
        result.exceptions += 1
        _keep(result, exc)
    else:
        return True
    return False


def _keep(result: LoadResult, exc: Exception) -> None:
    if len(result.failures) < MAX_FAILURES_KEPT:
        result.failures.append(f"{type(exc).__name__}: {exc}")
