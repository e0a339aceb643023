"""The queue phase: annotators working through Accord's queue over HTTP, beside the floor.

For each loaded database (SQLite, PostgreSQL) a fresh judge-agreement batch is drawn through
`batch_create` for 32 of the workload's annotators, a quarter of its units labelled by three
of them. Accord is then served each way users run it (bench/servers.py) and, for 1, 8 and 32
simulated annotators with kept-alive and with new connections, three loops are timed with
bench/load.py's client, interleaved within each repeat:

- floor: `GET /healthz`, which touches no table, without cookies: what any request costs on
  that server at that concurrency, client included;
- next: the request an annotator's browser makes for the next item, the htmx partial of
  `/queues/<batch>/` with the session cookie;
- submit: what pressing Enter sends, the htmx POST of the answer form (client id, render
  token, one choice per question, and the page's CSRF token in htmx's header), whose response
  is the next item's form; the next step answers that one. Each simulated annotator opens
  the whole queue page once first, as a browser does.

Rows (metric, unit): `queue.{floor,next,submit}.{p50,p95,p99}` (ms) and `.items_per_s`,
`.errors` (responses outside 2xx plus failed steps) and `.dropped` (connections the server
closed or reset under a request), one value per repeat; `queue.next.p95_over_floor` and
`queue.submit.p50_over_floor` (x), the targets; and per backend `queue.units_over_limit`, the
batch units that ended with more annotators than the batch allows (must be 0).

Sessions are made in the set-up shell as `login()` makes them (force_login): a real login
costs a PBKDF2 hash (~0.3 s) per annotator, which is not what this phase measures.
"""

from __future__ import annotations

import html
import json
import math
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlencode

from .importing import log
from .load import CONNECTION_MODES, Client, LoadResult, User, run_load
from .results import BenchContext
from .servers import SERVER_WAYS, Server, manage, serve
from .workload import BENCHMARK_NAME

SECTION = "queue"
TASK = "judge_agreement"
CLIENT_COUNTS = (1, 8, 32)
ANNOTATORS = max(CLIENT_COUNTS)
SCENARIOS = ("floor", "next", "submit")
PERCENTILES = (50, 95, 99)
OVERLAP_FRACTION = 0.25
OVERLAP_ANNOTATORS = 3
TARGET_RATIO = 3.0


@dataclass(frozen=True)
class Bounds:
    repeats: int
    steps: int      # per cell and repeat, all clients together
    seconds: float  # per cell and repeat
    batch_units: int

    @property
    def submits_per_annotator(self) -> int:
        """Assignments each annotator needs: every submit cell's steps spread over the pool,
        plus one whole cell on one annotator (the single-client cells) and the warm-ups."""
        cells = len(SERVER_WAYS) * len(CLIENT_COUNTS) * len(CONNECTION_MODES) * self.repeats
        return cells * self.steps // ANNOTATORS + 2 * self.steps + WARMUP_STEPS


FULL = Bounds(repeats=3, steps=250, seconds=0.7, batch_units=12_000)
QUICK = Bounds(repeats=1, steps=60, seconds=0.3, batch_units=2_000)
WARMUP_STEPS = 64

SETUP_SCRIPT = """
import json
from django.contrib.auth.hashers import make_password
from django.test import Client
from annotation.models import Benchmark
from annotation.services import SampleRequest, batch_create, user_ensure
from annotation.tasks import Filters, task_spec

P = json.loads({params!r})
benchmark = Benchmark.objects.get(name=P["benchmark"])
# A small workload may have fewer units than the bench would draw: then it takes them all.
size = min(P["size"], sum(1 for _ in task_spec(P["kind"]).candidates(benchmark, Filters())))
# One hash for every annotator (same password): PBKDF2 costs ~0.3 s a call.
password = make_password(P["password"])
users = [user_ensure(username=name, password=None) for name in P["annotators"]]
for user in users:
    user.password = password
    user.save(update_fields=["password"])
batch = batch_create(
    benchmark=benchmark, kind=P["kind"], name=P["name"], annotators=users, filters=Filters(),
    sample=SampleRequest(size=size, seed=P["seed"], overlap_fraction=P["overlap"],
                         overlap_k=P["overlap_k"]))
sessions = {{}}
for user in users:
    browser = Client()
    browser.force_login(user)
    sessions[user.username] = browser.cookies["sessionid"].value
print("SETUP " + json.dumps({{"batch": batch.pk, "units": batch.units.count(),
                              "assignments": batch.assignments.count(),
                              "sessions": sessions}}))
"""

CHECK_SCRIPT = """
import json
from django.db.models import Count, F
from annotation.models import Assignment, AssignmentStatus, BatchUnit, Submission

units = BatchUnit.objects.filter(batch_id={batch})
print("CHECK " + json.dumps({{
    "units_over_limit": units.annotate(
        n=Count("assignments__submissions__annotator", distinct=True)
    ).filter(n__gt=F("annotators_required")).count(),
    "units_over_assigned": units.annotate(n=Count("assignments")).filter(
        n__gt=F("annotators_required")).count(),
    "units_labelled": units.filter(
        assignments__status=AssignmentStatus.DONE).distinct().count(),
    "done": Assignment.objects.filter(batch_id={batch}, status=AssignmentStatus.DONE).count(),
    "submissions": Submission.objects.filter(assignment__batch_id={batch}).count(),
}}))
"""


def _marked_json(output: str, marker: str) -> dict:
    for line in output.splitlines():
        if line.startswith(marker + " "):
            return json.loads(line[len(marker) + 1:])
    raise RuntimeError(f"no {marker} line in:\n{output[-2000:]}")


@dataclass
class Batch:
    pk: int
    units: int
    assignments: int
    sessions: dict[str, str]  # annotator -> session cookie
    used: Counter = field(default_factory=Counter)  # submits acknowledged, per annotator

    def least_used(self, n: int) -> list[str]:
        """The n annotators with the most pending items left, so no queue runs dry."""
        return sorted(self.sessions, key=lambda name: (self.used[name], name))[:n]


def create_batch(url: str, annotators: list[str], bounds: Bounds) -> Batch:
    assignments_per_unit = 1 - OVERLAP_FRACTION + OVERLAP_FRACTION * OVERLAP_ANNOTATORS
    size = max(bounds.batch_units,
               math.ceil(bounds.submits_per_annotator * ANNOTATORS / assignments_per_unit))
    params = {"benchmark": BENCHMARK_NAME, "kind": TASK, "annotators": annotators,
              "name": f"bench queue {time.strftime('%Y-%m-%d %H:%M:%S')} {uuid.uuid4().hex[:6]}",
              "size": size, "seed": 5, "overlap": OVERLAP_FRACTION,
              "overlap_k": OVERLAP_ANNOTATORS, "password": "bench-" + uuid.uuid4().hex}
    found = _marked_json(manage(url, "shell", "-c", SETUP_SCRIPT.format(params=json.dumps(params))),
                         "SETUP")
    return Batch(found["batch"], found["units"], found["assignments"], found["sessions"])


# --- the simulated users -----------------------------------------------------------------

HTMX = {"HX-Request": "true", "HX-Target": "item-slot"}
FORM_RE = re.compile(r'<form id="answer-form"[^>]*\saction="([^"]+)"')
HIDDEN_RE = re.compile(r'<input type="hidden" name="(client_id|rendered)" value="([^"]*)"')
# The page's CSRF token, which htmx sends with every request (hx-headers on <body>).
PAGE_TOKEN_RE = re.compile(r'<body hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'')
RADIO_RE = re.compile(r'<input type="radio"[^>]*\sname="([^"]+)" value="([^"]*)"')


class QueueFinished(Exception):
    """The annotator has no pending item left."""


@dataclass(frozen=True)
class AnswerForm:
    action: str
    fields: dict[str, str]  # the hidden fields, sent back as they came
    choices: dict[str, list[str]]  # question -> its values, in page order

    @classmethod
    def parse(cls, page: str) -> AnswerForm:
        action = FORM_RE.search(page)
        if action is None:
            if "data-finished" in page:
                raise QueueFinished("no pending item left")
            raise ValueError(f"no answer form in the item partial: {page[:300]!r}")
        # The skip form below has radios of its own.
        form = page[action.start():page.index("</form>", action.start())]
        choices: dict[str, list[str]] = {}
        for name, value in RADIO_RE.findall(form):
            choices.setdefault(html.unescape(name), []).append(html.unescape(value))
        if not choices:
            raise ValueError("the answer form has no question")
        fields = {name: html.unescape(value) for name, value in HIDDEN_RE.findall(form)}
        return cls(html.unescape(action.group(1)), fields, choices)

    def body(self, pick: int) -> bytes:
        """The form as the browser posts it: hidden fields, one choice per question (the
        pick-th, wrapping), and the empty note."""
        answers = {name: values[pick % len(values)] for name, values in self.choices.items()}
        return urlencode({**self.fields, **answers, "note": ""}).encode()


class Floor:
    """GET /healthz, without cookies."""

    async def start(self, client: Client) -> None:
        await client.request("GET", "/healthz")

    async def step(self, client: Client) -> None:
        await client.request("GET", "/healthz")


class NextItem:
    """The next-item partial of the annotator's queue, as htmx asks for it."""

    def __init__(self, session: str, batch: int) -> None:
        self.session, self.path = session, f"/queues/{batch}/"

    async def start(self, client: Client) -> None:
        client.cookies["sessionid"] = self.session
        await self.step(client)

    async def step(self, client: Client) -> None:
        page = (await client.request("GET", self.path, headers=HTMX)).text()
        if "data-item-root" not in page:
            raise ValueError(f"not an item partial: {page[:300]!r}")


class SubmitThenNext:
    """Answer the item on screen; the response is the next item, answered by the next step."""

    def __init__(self, session: str, batch: int, server: Server, annotator: str) -> None:
        self.session, self.path, self.annotator = session, f"/queues/{batch}/", annotator
        self.origin = server.base_url
        self.form: AnswerForm | None = None
        self.csrf_token = ""
        self.acknowledged = 0

    async def start(self, client: Client) -> None:
        """Open the queue page as a browser does: the whole page, whose CSRF token htmx then
        sends in a header (the partials carry none) and whose item is the first to answer."""
        client.cookies["sessionid"] = self.session
        page = (await client.request("GET", self.path)).text()
        token = PAGE_TOKEN_RE.search(page)
        if token is None:
            raise ValueError(f"no CSRF token on the queue page: {page[:300]!r}")
        self.csrf_token = html.unescape(token.group(1))
        self.form = AnswerForm.parse(page)

    async def step(self, client: Client) -> None:
        if self.form is None:
            # The step before failed, so what is on screen is unknown: reload the queue.
            self.form = await self._queue_page(client)
        form, self.form = self.form, None
        headers = {**HTMX, "Content-Type": "application/x-www-form-urlencoded",
                   "X-CSRFToken": self.csrf_token,
                   "Origin": self.origin, "Referer": self.origin + self.path}
        response = await client.request("POST", form.action, headers=headers,
                                        body=form.body(self.acknowledged))
        page = response.text()
        if "data-error" in page:
            # htmx swaps only 2xx, so a refused answer comes back as 200 with its message.
            raise ValueError(f"answer refused: {page[page.index('data-error'):][:300]!r}")
        self.acknowledged += 1
        self.form = AnswerForm.parse(page)

    async def _queue_page(self, client: Client) -> AnswerForm:
        return AnswerForm.parse((await client.request("GET", self.path, headers=HTMX)).text())


# --- the phase -----------------------------------------------------------------------------

@dataclass
class Cell:
    server: str
    clients: int
    connection: str
    results: dict[str, list[LoadResult]] = field(
        default_factory=lambda: {s: [] for s in SCENARIOS})


def _users(scenario: str, batch: Batch, server: Server, clients: int) -> list[User]:
    if scenario == "floor":
        return [Floor() for _ in range(clients)]
    names = batch.least_used(clients)
    if scenario == "next":
        return [NextItem(batch.sessions[n], batch.pk) for n in names]
    return [SubmitThenNext(batch.sessions[n], batch.pk, server, n) for n in names]


def _measure(scenario: str, batch: Batch, server: Server, clients: int, connection: str,
             steps: int, seconds: float) -> LoadResult:
    users = _users(scenario, batch, server, clients)
    result = run_load(server.host, server.port, users, connection=connection,
                      max_steps=steps, max_seconds=seconds)
    for user in users:
        if isinstance(user, SubmitThenNext):
            batch.used[user.annotator] += user.acknowledged
    if result.failures:
        log(f"queue: {scenario} {result.summary()}: first failures: {result.failures}")
    return result


def _serve_and_measure(ctx: BenchContext, backend: str, url: str, way: str, batch: Batch,
                       bounds: Bounds) -> list[Cell]:
    cells = []
    with serve(way, url, ctx.work_dir / f"queue-{backend}-{way}.log") as server:
        # Warm every worker (templates compiled, database connections open); not recorded.
        for scenario in SCENARIOS:
            _measure(scenario, batch, server, ANNOTATORS, CONNECTION_MODES[0], WARMUP_STEPS,
                     bounds.seconds)
        for clients in CLIENT_COUNTS:
            for connection in CONNECTION_MODES:
                cell = Cell(way, clients, connection)
                for _ in range(bounds.repeats):
                    # Interleaved, so a slow moment of the machine hits every loop alike.
                    for scenario in SCENARIOS:
                        cell.results[scenario].append(_measure(
                            scenario, batch, server, clients, connection, bounds.steps,
                            bounds.seconds))
                log(f"queue: {backend} {way} " + " | ".join(
                    f"{s} p50 {_median(r, 50):.1f} p95 {_median(r, 95):.1f} ms"
                    for s, r in cell.results.items()) + f" ({clients} {connection})")
                cells.append(cell)
    return cells


def _median(results: list[LoadResult], q: float) -> float:
    values = sorted(r.percentile(q) for r in results)
    return values[len(values) // 2]


def _record_cell(ctx: BenchContext, backend: str, cell: Cell) -> None:
    dims = {"target": "accord", "server": cell.server, "backend": backend,
            "clients": cell.clients, "connection": cell.connection}
    names = {"floor": "floor (/healthz)", "next": "next item",
             "submit": "submit then next"}
    for scenario, results in cell.results.items():
        steps = sum(r.steps for r in results)
        for q in PERCENTILES:
            ctx.record(SECTION, f"queue.{scenario}.p{q}", f"{names[scenario]}, p{q}",
                       [r.percentile(q) for r in results], "ms",
                       f"{steps} steps over {len(results)} repeats", **dims)
        ctx.record(SECTION, f"queue.{scenario}.items_per_s", f"{names[scenario]}, items/s",
                   [r.items_per_s for r in results], "items/s", **dims)
        ctx.record(SECTION, f"queue.{scenario}.errors", f"{names[scenario]}, errors",
                   [r.errors for r in results], "count",
                   "responses outside 2xx and failed steps", **dims)
        ctx.record(SECTION, f"queue.{scenario}.dropped", f"{names[scenario]}, dropped conns",
                   [r.dropped for r in results], "count", **dims)
    floor = cell.results["floor"]
    ratios = (("next", 95, "next item p95 / floor p95"),
              ("submit", 50, "submit then next p50 / floor p50"))
    for scenario, q, label in ratios:
        values = [r.percentile(q) / f.percentile(q)
                  for r, f in zip(cell.results[scenario], floor, strict=True)]
        ctx.record(SECTION, f"queue.{scenario}.p{q}_over_floor", label, values, "x",
                   f"target <= {TARGET_RATIO:g}", **dims)


def _summary_table(backend: str, cells: list[Cell]) -> list[str]:
    lines = []
    for cell in cells:
        r = cell.results
        lines.append(
            f"| {backend} | {cell.server} | {cell.clients} | {cell.connection} | "
            f"{_median(r['floor'], 50):.2f} / {_median(r['floor'], 95):.2f} | "
            f"{_median(r['next'], 50):.2f} / {_median(r['next'], 95):.2f} | "
            f"{_median(r['submit'], 50):.2f} / {_median(r['submit'], 95):.2f} | "
            f"{sorted(x.items_per_s for x in r['submit'])[len(r['submit']) // 2]:.0f} | "
            f"{sum(x.errors for s in SCENARIOS for x in r[s])} / "
            f"{sum(x.dropped for s in SCENARIOS for x in r[s])} |")
    return lines


def run(ctx: BenchContext) -> None:
    bounds = QUICK if ctx.quick else FULL
    workload = json.loads((ctx.workload_dir / "workload.json").read_text())
    annotators = list(workload["annotators"])[:ANNOTATORS]
    table = ["| backend | server | clients | connection | floor p50 / p95 (ms) | "
             "next p50 / p95 (ms) | submit p50 / p95 (ms) | submits/s | errors / dropped |",
             "|---|---|---:|---|---:|---:|---:|---:|---|"]
    checks = []
    for backend, url in ctx.databases.items():
        started = time.perf_counter()
        batch = create_batch(url, annotators, bounds)
        log(f"queue: {backend}: batch {batch.pk} with {batch.units:,} units, "
            f"{batch.assignments:,} assignments in {time.perf_counter() - started:.1f} s")
        cells = []
        for way in SERVER_WAYS:
            cells += _serve_and_measure(ctx, backend, url, way, batch, bounds)
        for cell in cells:
            _record_cell(ctx, backend, cell)
        table += _summary_table(backend, cells)
        check = _marked_json(manage(url, "shell", "-c", CHECK_SCRIPT.format(batch=batch.pk)),
                             "CHECK")
        acknowledged = sum(batch.used.values())
        note = (f"{check['units_labelled']:,} of {batch.units:,} units labelled through "
                f"{check['submissions']:,} submissions; {acknowledged:,} acknowledged by "
                f"the server (a timed-out submit may still be stored); units with more "
                f"assignments than allowed: {check['units_over_assigned']}")
        ctx.record(SECTION, "queue.units_over_limit",
                   "units labelled by more annotators than their batch allows",
                   [check["units_over_limit"]], "count", note, target="accord",
                   backend=backend)
        checks.append(f"{backend}: {check['units_over_limit']} units over their limit; {note}.")
        log(f"queue: {backend}: {checks[-1]}")
    _write_notes(ctx, table, checks, bounds)


def _write_notes(ctx: BenchContext, table: list[str], checks: list[str], bounds: Bounds) -> None:
    notes = ctx.notes
    notes[SECTION] = "\n".join([
        f"Each cell is {bounds.repeats} repeats of at most {bounds.steps} steps or "
        f"{bounds.seconds:g} s per loop, the three loops interleaved; medians over the "
        "repeats. One judge-agreement batch per database, drawn fresh for the run, "
        f"{ANNOTATORS} annotators, {OVERLAP_FRACTION:.0%} of units labelled by "
        f"{OVERLAP_ANNOTATORS}. Latency is client-side, one request per step (submit: one "
        "POST whose response is the next item). gunicorn: gunicorn.conf.py's gthread "
        "workers, 3 of them (see bench/servers.py); runserver: as `make demo` runs it.",
        "",
        *table,
        "",
        *checks,
    ])
