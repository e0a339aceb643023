"""Label Studio on the same machine, the same items and the same loops, for `make bench-compare`.

Label Studio (PyPI `label-studio`, the version pinned below) is installed once into a
virtualenv outside the repository and run as its users run it: `label-studio start`, which is
Django's runserver on its default SQLite database. Only what needs the network is turned off
(update check, analytics, Sentry); every other setting is its default. The phase:

1. makes (once per version, then copies) a data directory holding the admin and 32 annotators
   with API tokens (`label-studio init`, then Label Studio's own `manage.py shell`);
2. starts the server on 127.0.0.1 from a copy of it in a temporary directory;
3. creates a project with the instruction-validation config (bench/labelstudio_config.xml)
   and the overlap of the queue bench's Accord batch (the same share of tasks labelled by
   the same number of annotators, the others by one);
4. imports the workload's items part by part (10% / +40% / +50%), one JSON file upload per
   part as the web page sends it;
5. runs next-task and submit-then-next loops at 1, 8 and 32 annotators with the load client
   of bench/load.py, reusing connections and opening one per request;
6. exports the whole project (JSON, every task and annotation) and counts, in its database,
   the tasks that ended with more annotators than their overlap;
7. stops the server by its process group, always.

Rows carry target=labelstudio and Accord's metric names, so `compare_table` pairs them.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .importing import log
from .load import CONNECTION_MODES, Client, LoadResult, run_load
from .queue import OVERLAP_ANNOTATORS, OVERLAP_FRACTION
from .results import BenchContext, Row, format_value
from .servers import HOST, free_port, stop, wait_until_ready
from .workload import PARTS

VERSION = "1.23.2"
# Outside the repository and shared by runs: the install and the initialised data directory
# are reused while they hold this version.
CACHE_DIR = Path(tempfile.gettempdir()) / "accord-bench"
VENV_DIR = CACHE_DIR / "labelstudio-venv"
TEMPLATE_DIR = CACHE_DIR / f"labelstudio-{VERSION}-data"
CONFIG_PATH = Path(__file__).with_name("labelstudio_config.xml")

ADMIN_EMAIL = "admin@bench.local"
ANNOTATORS = 32
CLIENT_COUNTS = (1, 8, 32)
READY_TIMEOUT_S = 300.0
INSTALL_TIMEOUT_S = 1200.0
# One long request (an import or an export of the whole project) may take minutes.
BULK_TIMEOUT_S = 900.0
# Bounds of one load loop: Label Studio's answers take up to seconds, so a loop is bounded
# by time first; the step cap only matters at small scales.
LOOP_STEPS, LOOP_SECONDS = 3000, 15.0
QUICK_LOOP_STEPS, QUICK_LOOP_SECONDS = 300, 4.0
REQUEST_TIMEOUT_S = 60.0
# Not recorded: the first answers of a fresh process (imports, caches) are not its pace.
WARMUP_STEPS = 16
SERVER_DIMS = {"target": "labelstudio", "server": "runserver", "backend": "sqlite"}
# Units where a smaller number is better.
SMALLER_IS_BETTER = {"ms", "s", "MB", "count"}
COMPARED_DIMS = ("clients", "connection", "fraction")


def _log_step(message: str) -> None:
    log(f"labelstudio: {message}")


# --- install and data directory ----------------------------------------------------------

def _stamp() -> Path:
    return VENV_DIR / ".accord-installed"


def ensure_installed(log_path: Path) -> Path:
    """The virtualenv's `label-studio` executable, installing VERSION first if needed."""
    executable = VENV_DIR / "bin" / "label-studio"
    if executable.exists() and _stamp().exists() and _stamp().read_text() == VERSION:
        return executable
    shutil.rmtree(VENV_DIR, ignore_errors=True)
    VENV_DIR.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with log_path.open("ab") as out:
        subprocess.run([sys.executable, "-m", "venv", str(VENV_DIR)], check=True,  # noqa: S603
                       stdout=out, stderr=subprocess.STDOUT)
        subprocess.run(  # noqa: S603 - the venv's own pip, a pinned requirement
            [str(VENV_DIR / "bin" / "pip"), "install", "--disable-pip-version-check", "-q",
             f"label-studio=={VERSION}"],
            check=True, stdout=out, stderr=subprocess.STDOUT, timeout=INSTALL_TIMEOUT_S)
    _stamp().write_text(VERSION)
    _log_step(f"installed label-studio {VERSION} in {time.perf_counter() - started:.0f} s")
    return executable


def server_env(data_dir: Path) -> dict[str, str]:
    """A clean environment (Label Studio reads many unprefixed variables: HOST, PORT,
    DATABASE_NAME...) with its defaults, less what would reach for the network."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
    env.update(
        LABEL_STUDIO_BASE_DATA_DIR=str(data_dir),
        LATEST_VERSION_CHECK="false",  # a PyPI request at start-up
        COLLECT_ANALYTICS="false",
        SENTRY_DSN="",                 # error reports to sentry.io, on by default
        FRONTEND_SENTRY_DSN="",
        PYTHONUNBUFFERED="1",
    )
    return env


def _annotator_email(number: int) -> str:
    return f"annotator{number:02d}@bench.local"


# Run by Label Studio's own `manage.py shell`: the annotators join the admin's organisation
# and print their API tokens (a user can only read their own token through the API).
CREATE_ANNOTATORS = """
import json
from organizations.models import Organization
from users.models import User
organization = Organization.objects.first()
tokens = {}
for email in EMAILS:
    user = User.objects.create_user(email=email, password=PASSWORD)
    organization.add_user(user)
    user.active_organization = organization
    user.save(update_fields=["active_organization"])
    tokens[email] = user.auth_token.key
print("TOKENS=" + json.dumps(tokens))
"""


def ensure_template(executable: Path, log_path: Path) -> dict[str, str]:
    """An initialised data directory (migrated database, admin, annotators); the tokens of
    the admin (under "admin") and of every annotator, by email."""
    tokens_path = TEMPLATE_DIR / "tokens.json"
    if tokens_path.exists():
        return json.loads(tokens_path.read_text())
    started = time.perf_counter()
    building = Path(tempfile.mkdtemp(prefix="labelstudio-template-", dir=CACHE_DIR))
    data_dir = building / "data"
    data_dir.mkdir()
    env = server_env(data_dir)
    admin_token = uuid.uuid4().hex
    # Nobody signs in with a password: every request carries a token.
    password = secrets.token_urlsafe(16)
    with log_path.open("ab") as out:
        subprocess.run(  # noqa: S603 - Label Studio's own command
            [str(executable), "init", "-q", "--username", ADMIN_EMAIL, "--password",
             password, "--user-token", admin_token, "--enable-legacy-api-token"],
            env=env, check=True, stdout=out, stderr=subprocess.STDOUT, timeout=READY_TIMEOUT_S)
    emails = [_annotator_email(n) for n in range(1, ANNOTATORS + 1)]
    script = (f"EMAILS = {emails!r}\nPASSWORD = {password!r}\n" + CREATE_ANNOTATORS)
    package = Path(subprocess.run(  # noqa: S603
        [str(VENV_DIR / "bin" / "python"), "-c",
         "import label_studio, os; print(os.path.dirname(label_studio.__file__))"],
        env=env, check=True, capture_output=True, text=True).stdout.strip())
    shell = subprocess.run(  # noqa: S603 - Label Studio's manage.py, our fixed script
        [str(VENV_DIR / "bin" / "python"), "manage.py", "shell", "-c", script],
        cwd=package, env=env, check=True, capture_output=True, text=True,
        timeout=READY_TIMEOUT_S)
    line = next(x for x in shell.stdout.splitlines() if x.startswith("TOKENS="))
    tokens = {"admin": admin_token, **json.loads(line.removeprefix("TOKENS="))}
    (building / "tokens.json").write_text(json.dumps(tokens))
    shutil.rmtree(TEMPLATE_DIR, ignore_errors=True)
    building.rename(TEMPLATE_DIR)
    _log_step(f"initialised a data directory in {time.perf_counter() - started:.0f} s")
    return tokens


# --- the server ----------------------------------------------------------------------------

@dataclass(frozen=True)
class LabelStudio:
    port: int
    pid: int  # also its process group's id
    data_dir: Path
    tokens: dict[str, str]

    def annotator_tokens(self, count: int) -> list[str]:
        return [self.tokens[_annotator_email(n)] for n in range(1, count + 1)]


@contextlib.contextmanager
def serve(executable: Path, tokens: dict[str, str], log_path: Path) -> Iterator[LabelStudio]:
    """`label-studio start` on a copy of the template data directory; stopped by its
    process group when the block ends, also when it raised."""
    scratch = Path(tempfile.mkdtemp(prefix="accord-labelstudio-"))
    try:
        data_dir = scratch / "data"
        shutil.copytree(TEMPLATE_DIR / "data", data_dir)
        port = free_port()
        with log_path.open("ab") as out:
            process = subprocess.Popen(  # noqa: S603 - Label Studio's own command
                [str(executable), "start", "--no-browser", "--internal-host", HOST,
                 "--port", str(port)],
                env=server_env(data_dir), stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        try:
            started = time.perf_counter()
            wait_until_ready(process, port, log_path, path="/health", timeout=READY_TIMEOUT_S)
            _log_step(f"server up on port {port} in {time.perf_counter() - started:.0f} s")
            yield LabelStudio(port, process.pid, data_dir, tokens)
        finally:
            stop(process)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def reset_peak_rss(pid: int) -> None:
    """Start the kernel's high-water mark of the process's RSS afresh (Linux >= 4.0)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def api(server: LabelStudio, method: str, path: str, *, token: str, body: bytes = b"",
        content_type: str = "application/json", timeout: float = REQUEST_TIMEOUT_S) -> bytes:
    """One request with the admin's or an annotator's token; the body of a 2xx answer."""
    connection = http.client.HTTPConnection(HOST, server.port, timeout=timeout)
    try:
        headers = {"Authorization": f"Token {token}"}
        if body:
            headers["Content-Type"] = content_type
        connection.request(method, path, body=body or None, headers=headers)
        response = connection.getresponse()
        payload = response.read()
    finally:
        connection.close()
    if not 200 <= response.status < 300:
        raise RuntimeError(f"{method} {path}: HTTP {response.status}: {payload[:500]!r}")
    return payload


# --- project, import, export ---------------------------------------------------------------

def answer_fields() -> list[str]:
    """The Choices of the labelling config, in its order."""
    return [c.get("name", "") for c in ET.parse(CONFIG_PATH).getroot().iter("Choices")]  # noqa: S314 - ours


def create_project(server: LabelStudio) -> int:
    body = {
        "title": "xifbench-x10 instruction validation",
        "label_config": CONFIG_PATH.read_text(encoding="utf-8"),
        # The overlap of the queue bench's Accord batch: a share of the units labelled by
        # several annotators, the others by one.
        "maximum_annotations": OVERLAP_ANNOTATORS,
        "overlap_cohort_percentage": round(OVERLAP_FRACTION * 100),
    }
    created = api(server, "POST", "/api/projects/", token=server.tokens["admin"],
                  body=json.dumps(body).encode())
    return int(json.loads(created)["id"])


def tasks_file(benchmark_jsonl: Path) -> tuple[bytes, int]:
    """The part's items as a Label Studio tasks file (a JSON list of {"data": item}); the
    item is kept whole, as Accord imports it whole."""
    tasks = [{"data": json.loads(line)}
             for line in benchmark_jsonl.read_text(encoding="utf-8").splitlines() if line]
    return json.dumps(tasks, ensure_ascii=False).encode(), len(tasks)


def multipart(filename: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{filename}\"\r\nContent-Type: application/json\r\n\r\n").encode()
    return head + content + f"\r\n--{boundary}--\r\n".encode(), \
        f"multipart/form-data; boundary={boundary}"


@dataclass
class Measured:
    seconds: float
    peak_rss_mb: float


def import_part(server: LabelStudio, project: int, benchmark_jsonl: Path, name: str
                ) -> tuple[int, Measured]:
    content, count = tasks_file(benchmark_jsonl)
    body, content_type = multipart(f"{name}.json", content)
    reset_peak_rss(server.pid)
    started = time.perf_counter()
    answer = api(server, "POST", f"/api/projects/{project}/import", token=server.tokens["admin"],
                 body=body, content_type=content_type, timeout=BULK_TIMEOUT_S)
    seconds = time.perf_counter() - started
    imported = json.loads(answer)["task_count"]
    if imported != count:
        raise RuntimeError(f"label studio imported {imported} of {count} tasks from {name}")
    return count, Measured(seconds, peak_rss_mb(server.pid))


def export_project(server: LabelStudio, project: int) -> tuple[list[dict], Measured, int]:
    """The full JSON export (every task, every annotation): tasks, time and peak RSS, size."""
    reset_peak_rss(server.pid)
    started = time.perf_counter()
    payload = api(server, "GET",
                  f"/api/projects/{project}/export?exportType=JSON&download_all_tasks=true",
                  token=server.tokens["admin"], timeout=BULK_TIMEOUT_S)
    measured = Measured(time.perf_counter() - started, peak_rss_mb(server.pid))
    return json.loads(payload), measured, len(payload)


@dataclass(frozen=True)
class OverlapCheck:
    tasks_over_limit: int    # more distinct annotators than the task's overlap
    tasks_labelled: int
    annotations: int
    repeated: int            # annotations by an annotator who had labelled the task before


def check_overlap(server: LabelStudio, project: int) -> OverlapCheck:
    """Read from Label Studio's database: its API shows no task's overlap."""
    path = server.data_dir / "label_studio.sqlite3"
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        per_task = db.execute(
            "SELECT t.overlap, COUNT(DISTINCT a.completed_by_id), COUNT(*) FROM task t "
            "JOIN task_completion a ON a.task_id = t.id "
            "WHERE t.project_id = ? AND NOT a.was_cancelled GROUP BY t.id", (project,)).fetchall()
    return OverlapCheck(
        tasks_over_limit=sum(1 for overlap, people, _ in per_task if people > overlap),
        tasks_labelled=len(per_task),
        annotations=sum(n for _, _, n in per_task),
        repeated=sum(n - people for _, people, n in per_task))


# --- the annotators ------------------------------------------------------------------------

class NextTaskUser:
    """Asks Label Studio's labelling stream for its next task, again and again."""

    def __init__(self, project: int, token: str) -> None:
        self.headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
        self.next_path = f"/api/projects/{project}/next/"
        self.task_id: int | None = None

    async def next_task(self, client: Client) -> None:
        response = await client.request("GET", self.next_path, headers=self.headers)
        self.task_id = int(json.loads(response.body)["id"])

    async def start(self, client: Client) -> None:
        await self.next_task(client)

    async def step(self, client: Client) -> None:
        await self.next_task(client)


@dataclass
class Annotator:
    """One annotator across the loops: what they labelled, and how often Label Studio's
    stream handed them one of those tasks again."""

    token: str
    labelled: set[int] = field(default_factory=set)
    served_again: int = 0


class SubmitUser(NextTaskUser):
    """Labels its task with the five choices, as the labelling page submits them, then
    asks for the next one."""

    def __init__(self, project: int, annotator: Annotator, fields: list[str]) -> None:
        super().__init__(project, annotator.token)
        self.annotator = annotator
        self.post_headers = {**self.headers, "Content-Type": "application/json"}
        result = [{"from_name": name, "to_name": "instruction", "type": "choices",
                   "value": {"choices": ["yes"]}} for name in fields]
        self.body = json.dumps({"result": result, "lead_time": 3.0}).encode()

    async def next_task(self, client: Client) -> None:
        await super().next_task(client)
        if self.task_id in self.annotator.labelled:
            self.annotator.served_again += 1

    async def step(self, client: Client) -> None:
        if self.task_id is None:
            # The step before failed, so the task on screen is unknown: ask for it again.
            await self.next_task(client)
        task, self.task_id = self.task_id, None
        await client.request("POST", f"/api/tasks/{task}/annotations/",
                             headers=self.post_headers, body=self.body)
        self.annotator.labelled.add(task)
        await self.next_task(client)


def _record_loop(ctx: BenchContext, operation: str, label: str, result: LoadResult,
                 note: str) -> None:
    dims = {**SERVER_DIMS, "clients": result.clients, "connection": result.connection}
    for q in (50, 95, 99):
        ctx.record("queue", f"queue.{operation}.p{q}", f"{label}, p{q}",
                   [result.percentile(q)], "ms", note, **dims)
    ctx.record("queue", f"queue.{operation}.items_per_s", f"{label}, items/s",
               [result.items_per_s], "items/s", note, **dims)
    ctx.record("queue", f"queue.{operation}.errors", f"{label}, errors",
               [result.errors], "count", "responses outside 2xx and failed steps", **dims)
    ctx.record("queue", f"queue.{operation}.dropped", f"{label}, dropped conns",
               [result.dropped], "count", **dims)


def run_loops(ctx: BenchContext, server: LabelStudio, project: int) -> int:
    """Record every loop; how often a task came back to an annotator who had labelled it."""
    steps, seconds = (QUICK_LOOP_STEPS, QUICK_LOOP_SECONDS) if ctx.quick \
        else (LOOP_STEPS, LOOP_SECONDS)
    fields = answer_fields()
    annotators = [Annotator(t) for t in server.annotator_tokens(max(CLIENT_COUNTS))]
    run_load(HOST, server.port,
             [NextTaskUser(project, a.token) for a in annotators],
             max_steps=WARMUP_STEPS, max_seconds=seconds, timeout=REQUEST_TIMEOUT_S)
    for operation, label in (("next", "next item"), ("submit", "submit then next")):
        for clients in CLIENT_COUNTS:
            for connection in CONNECTION_MODES:
                users: list[NextTaskUser] = (
                    [NextTaskUser(project, a.token) for a in annotators[:clients]]
                    if operation == "next"
                    else [SubmitUser(project, a, fields) for a in annotators[:clients]])
                result = run_load(HOST, server.port, users, connection=connection,
                                  max_steps=steps, max_seconds=seconds,
                                  timeout=REQUEST_TIMEOUT_S)
                _log_step(f"{operation} {result.summary()}")
                for failure in result.failures:
                    _log_step(f"  failure: {failure}")
                note = f"{result.steps} steps in {result.elapsed_s:.1f} s"
                _record_loop(ctx, operation, label, result, note)
    return sum(a.served_again for a in annotators)


# --- the phase -----------------------------------------------------------------------------

def run(ctx: BenchContext) -> None:
    log_path = ctx.work_dir / "labelstudio.log"
    log_path.unlink(missing_ok=True)
    started = time.perf_counter()
    executable = ensure_installed(log_path)
    tokens = ensure_template(executable, log_path)
    _log_step(f"ready to start in {time.perf_counter() - started:.0f} s")
    with serve(executable, tokens, log_path) as server:
        project = create_project(server)
        imported: list[tuple[int, Measured]] = []
        for part in PARTS:
            count, measured = import_part(server, project,
                                          ctx.workload_dir / part / "benchmark.jsonl", part)
            imported.append((count, measured))
            _log_step(f"{part}: {count:,} tasks in {measured.seconds:.1f} s "
                      f"({count / measured.seconds:,.0f} rows/s), "
                      f"server peak RSS {measured.peak_rss_mb:,.0f} MB")
        _record_import(ctx, imported)
        loops_started = time.perf_counter()
        served_again = run_loops(ctx, server, project)
        _log_step(f"loops took {time.perf_counter() - loops_started:.0f} s")
        check = check_overlap(server, project)
        tasks, export, size = export_project(server, project)
        _log_step(f"export: {len(tasks):,} tasks, {check.annotations:,} annotations, "
                  f"{size / 1e6:,.1f} MB in {export.seconds:.1f} s, "
                  f"server peak RSS {export.peak_rss_mb:,.0f} MB")
        _record_export(ctx, export, f"{len(tasks):,} tasks with {check.annotations:,} "
                       f"annotations, {size / 1e6:,.1f} MB of JSON")
        note = (f"{check.tasks_labelled:,} of {len(tasks):,} tasks labelled through "
                f"{check.annotations:,} annotations; {check.repeated} of them by an "
                "annotator who had labelled the task already; the stream handed a task "
                f"back to an annotator who had labelled it {served_again} times")
        ctx.record("queue", "queue.units_over_limit",
                   "units labelled by more annotators than their batch allows",
                   [check.tasks_over_limit], "count", note, **SERVER_DIMS)
        _log_step(f"{check.tasks_over_limit} tasks over their overlap; {note}")
    _write_notes(ctx)
    _log_step(f"done in {time.perf_counter() - started:.0f} s")


def _write_notes(ctx: BenchContext) -> None:
    notes = ctx.notes
    steps, seconds = (QUICK_LOOP_STEPS, QUICK_LOOP_SECONDS) if ctx.quick \
        else (LOOP_STEPS, LOOP_SECONDS)
    notes["compare"] = "\n".join([
        f"Label Studio {VERSION} from PyPI, started with `label-studio start` and its "
        "defaults: Django's runserver (threaded, one process) on its own SQLite database, "
        "DEBUG off; only its update check, analytics and Sentry reports are switched off "
        "(no network here). Its project uses the instruction-validation config "
        "(bench/labelstudio_config.xml) with the overlap of the queue bench's Accord batch "
        f"({OVERLAP_FRACTION:.0%} of tasks by {OVERLAP_ANNOTATORS} annotators). Import: "
        "the workload's benchmark.jsonl, one JSON file upload per part, timed by the "
        "client; peak RSS is the server process's high-water mark during the upload. "
        f"Loops: one run each of at most {steps} steps or {seconds:g} s, after "
        f"{WARMUP_STEPS} unrecorded steps; next = `GET /api/projects/<id>/next/`, "
        "submit = `POST /api/tasks/<id>/annotations/` with the five choices, then next. "
        "Export: `GET /api/projects/<id>/export?exportType=JSON&download_all_tasks=true` "
        "after the loops. Ratios are Accord / Label Studio. Under load its SQLite database "
        "answers 'database is locked', and its DatabaseIsLockedRetryMiddleware (on by "
        "default with SQLite) sleeps and runs the whole request again, up to 15 times: a "
        "submit whose annotation was already written is written twice, which is where "
        "annotators labelling a task twice come from, beside the tasks its stream hands to "
        "more annotators than their overlap.",
        "",
        compare_table(ctx),
    ])


def _record_import(ctx: BenchContext, imported: list[tuple[int, Measured]]) -> None:
    rows = sum(count for count, _ in imported)
    seconds = sum(m.seconds for _, m in imported)
    note = (f"{rows:,} items in 3 uploads (10/40/50%), {seconds:.1f} s in all; "
            "the server's own time, already started")
    ctx.record("import", "import.benchmark.rows_per_s", "import benchmark.jsonl",
               [count / m.seconds for count, m in imported], "rows/s", note, **SERVER_DIMS)
    ctx.record("import", "import.benchmark.peak_rss", "import benchmark.jsonl, peak RSS",
               [m.peak_rss_mb for _, m in imported], "MB",
               "the server process, per upload (10/40/50%)", **SERVER_DIMS)


def _record_export(ctx: BenchContext, export: Measured, note: str) -> None:
    dims = {**SERVER_DIMS, "fraction": 1.0}
    ctx.record("export", "export.seconds", "full JSON export, 100% of the data",
               [export.seconds], "s", note, **dims)
    ctx.record("export", "export.peak_rss", "full JSON export, 100%, peak RSS",
               [export.peak_rss_mb], "MB", f"{note}; the server process", **dims)


# --- side by side --------------------------------------------------------------------------

def _is_better(ours: float, theirs: float, unit: str) -> bool:
    return ours < theirs if unit in SMALLER_IS_BETTER else ours > theirs


def compare_table(ctx: BenchContext) -> str:
    """Every Label Studio row beside the Accord rows of the same metric and the same
    clients/connection/fraction, with Accord / Label Studio and which side is better."""
    lines = ["| measurement | dims | unit | Accord | Label Studio | Accord / LS | better |",
             "|---|---|---|---:|---:|---:|---|"]
    for theirs in (r for r in ctx.rows if r.dims.get("target") == "labelstudio"):
        same = {k: v for k, v in theirs.dims.items() if k in COMPARED_DIMS}
        matches: list[Row] = ctx.find(theirs.metric, target="accord", **same)
        for ours in matches:
            dims = ", ".join(f"{k}={v}" for k, v in ours.dims.items() if k != "target")
            ratio = f"{ours.median / theirs.median:.3g}" if theirs.median else "-"
            if ours.median == theirs.median:
                better = "same"
            else:
                better = "Accord" if _is_better(ours.median, theirs.median, ours.unit) \
                    else "Label Studio"
            lines.append(f"| {theirs.label} | {dims} | {theirs.unit} | "
                         f"{format_value(ours.median)} | {format_value(theirs.median)} | "
                         f"{ratio} | {better} |")
        if not matches:
            dims = ", ".join(f"{k}={v}" for k, v in theirs.dims.items() if k != "target")
            lines.append(f"| {theirs.label} | {dims} | {theirs.unit} | - | "
                         f"{format_value(theirs.median)} | - | - |")
    return "\n".join(lines)


# `python -m bench.labelstudio WORKLOAD_DIR WORK_DIR [--quick]`: this phase alone, to try it.
if __name__ == "__main__":
    from .results import markdown_table

    context = BenchContext(workload_dir=Path(sys.argv[1]), work_dir=Path(sys.argv[2]),
                           databases={}, quick="--quick" in sys.argv)
    context.work_dir.mkdir(parents=True, exist_ok=True)
    run(context)
    print(markdown_table(context.rows))
    print(compare_table(context))
