"""Load and faults: Accord served the production way (gunicorn.conf.py, 3 workers) on its own
database, 32 annotators working through a judge-agreement batch of 1,608 assignments over
the API (about 50 each, plus edits of earlier answers: 2,107 acknowledged submissions in
all), retrying on connection errors and timeouts with the same client_id, the whole server
SIGKILLed a third of the way through (by acknowledged submissions) and restarted on the same
port.

Afterwards the database must show: every submission the server acknowledged stored exactly
once with its label events; each annotator's current label equal to their last answer; no
unit with more annotators than its batch asked for; every finished assignment backed by a
submission. A submission committed just before the kill whose answer never reached the
client is allowed (the client's retry with the same client_id is then answered from the
stored row); an acknowledged one that is missing is not. The test fails if fewer than 2,000
acknowledged submissions were checked.

Runs on SQLite (a temporary file) and, when the suite runs under scripts/with-postgres.sh,
on a new database of that PostgreSQL server (created here and dropped at the end). The test
itself never touches Django's test database: the server and the set-up run in subprocesses.

A run costs about 130 CPU-seconds on SQLite and 210 on PostgreSQL (clients, gunicorn and the
database server together), so at least some 65 and 105 s of wall time on 2 cores; on a
shared 2-core machine at load average 10-13 it took about 5 and 6 minutes. CLIENT_BUDGET_S
leaves room for such a machine; STALL_S ends a run that stopped making progress early.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests

from bench.servers import REPO, VENV_BIN, free_port

CLIENTS = 32
WORKERS = 3
LOGIN_PASSWORD = "load-test-password-0"
# Size. The batch has every judge-agreement unit of the fixtures (228) and of EXTRA_MODELS
# generated responses to each of the 48 fixture items (192 requirement decisions each): 804
# units, half of them labelled by 3 annotators, 1,608 assignments, 50 or 51 per annotator.
# With the edits the clients get 2,107 submissions acknowledged (their random choices are
# seeded); the test fails below MIN_ACKNOWLEDGED, so it cannot shrink without notice.
EXTRA_MODELS = 3
FIXTURE_UNITS, UNITS_PER_EXTRA_MODEL = 228, 192
UNITS = FIXTURE_UNITS + UNITS_PER_EXTRA_MODEL * EXTRA_MODELS
EXPECTED_ASSIGNMENTS = UNITS // 2 * 3 + (UNITS - UNITS // 2)
EDIT_PROBABILITY = 0.3          # after a submission, change an earlier answer
MIN_ACKNOWLEDGED = 2000
KILL_FRACTION = 1 / 3           # SIGKILL after this share of the expected acknowledgements
FORCED_TIMEOUT_PROBABILITY = 0.05  # a first attempt that gives up at once (a lost response)
# Wall-clock bounds (see the figures in the module docstring).
CLIENT_BUDGET_S = 600.0         # every client stops by then, finished or not...
STALL_S = 60.0                  # ...or once no submission was acknowledged for this long
START_BUDGET_S = 60.0           # gunicorn must answer within this after a (re)start
REQUEST_TIMEOUT = (3.0, 10.0)   # connect, read
RETRY_BUDGET_S = 60.0           # one request is retried for at most this long...
MAX_ATTEMPTS = 100              # ...and at most this many times

# Run by `manage.py shell -c` against the load database: the fixtures, EXTRA_MODELS more
# responses to every fixture item (one judge's decision on each requirement, generated here
# and imported through annotation.importers like a file), 32 annotators with tokens (one with
# a password, to log in through the API) and one judge-agreement batch of every unit, half
# of them labelled by 3 annotators.
SETUP_SCRIPT = f"""
CLIENTS, LOGIN_PASSWORD, EXTRA_MODELS = {CLIENTS}, {LOGIN_PASSWORD!r}, {EXTRA_MODELS}
""" + """
import json
from django.conf import settings
from rest_framework.authtoken.models import Token
from annotation import importers
from annotation.models import Assignment, Benchmark, Item, Requirement, TaskKind
from annotation.services import SampleRequest, batch_create, user_ensure
from annotation.tasks import Filters

for name, importer in (("benchmark.jsonl", importers.import_benchmark),
                       ("responses.jsonl", importers.import_responses)):
    importer(data=(settings.BASE_DIR / "fixtures" / name).read_bytes(), file_name=name,
             benchmark_name="load")
benchmark = Benchmark.objects.get(name="load")
requirement_keys = {}
for group_id, key in Requirement.objects.filter(group__benchmark=benchmark).order_by(
        "group_id", "position").values_list("group_id", "key"):
    requirement_keys.setdefault(group_id, []).append(key)
lines = [
    json.dumps({
        "item": item.key, "model": f"load-model-{m}",
        "response": f"Answer {m} of the load test to {item.key}.",
        "judgments": [{"judge": "load-judge", "protocol": "requirements", "decisions": [
            {"requirement": key, "decision": "NO" if (m + n) % 3 == 0 else "YES",
             "observation": f"generated decision {n}"}
            for n, key in enumerate(requirement_keys[item.group_id])]}],
    })
    for m in range(EXTRA_MODELS)
    for item in Item.objects.filter(benchmark=benchmark).order_by("key")
]
importers.import_responses(data="\\n".join(lines).encode(), file_name="load-responses.jsonl",
                           benchmark_name="load")
users = [user_ensure(username=f"load{i:02d}", password=None) for i in range(CLIENTS)]
user_ensure(username=users[0].username, password=LOGIN_PASSWORD)
admin = user_ensure(username="load_admin", password=None, is_staff=True)
batch = batch_create(
    benchmark=benchmark, kind=TaskKind.JUDGE_AGREEMENT, name="load",
    annotators=users, filters=Filters(), created_by=admin,
    sample=SampleRequest(seed=11, overlap_fraction=0.5, overlap_k=3))
print("SETUP " + json.dumps({
    "batch": batch.pk,
    "units": batch.units.count(),
    "assignments": Assignment.objects.filter(batch=batch).count(),
    "users": [{"username": u.username, "id": u.pk,
               "token": Token.objects.get_or_create(user=u)[0].key} for u in users],
}))
"""


# --- the database the server uses ------------------------------------------------------------

class LoadDatabase:
    """A SQLite file in tmp_path, or a new database on the suite's PostgreSQL server."""

    def __init__(self, tmp_path: Path) -> None:
        suite_url = os.environ.get("DATABASE_URL", "")
        self.postgres = suite_url.startswith(("postgres://", "postgresql://"))
        if self.postgres:
            parts = urlsplit(suite_url)
            self.name = f"accord_load_{os.getpid()}"
            self.admin_url = suite_url
            self.url = urlunsplit(parts._replace(path=f"/{self.name}"))
            self.backend = "postgresql"
        else:
            self.path = tmp_path / "db.sqlite3"
            self.url = f"sqlite:///{self.path}"  # absolute path: sqlite:////tmp/...
            self.backend = "sqlite"

    def create(self) -> None:
        if self.postgres:
            import psycopg

            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        if self.postgres:
            import psycopg

            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def query(self, sql: str) -> list[tuple]:
        if self.postgres:
            import psycopg

            with psycopg.connect(self.url) as conn:
                return list(conn.execute(sql).fetchall())
        conn = sqlite3.connect(self.path)
        try:
            return list(conn.execute(sql).fetchall())
        finally:
            conn.close()


# --- the server ---------------------------------------------------------------------------------

def server_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}
    env.update(
        DATABASE_URL=database_url, ACCORD_DEBUG="false",
        ACCORD_SECRET_KEY="load-test-" + uuid.uuid4().hex, ACCORD_ALLOWED_HOSTS="127.0.0.1",
        ACCORD_SSL_REDIRECT="false", ACCORD_TRANSLATION_PROVIDER="none",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    return env


class Gunicorn:
    """gunicorn in its own process group, so one killpg takes the master and its workers."""

    def __init__(self, port: int, env: dict[str, str], log: Path) -> None:
        self.port, self.env, self.log = port, env, log
        self.proc: subprocess.Popen | None = None
        self.base = f"http://127.0.0.1:{port}"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(VENV_BIN / "gunicorn"), "config.wsgi", "-w", str(WORKERS),
                 "-b", f"127.0.0.1:{self.port}", "--timeout", "60",
                 "--graceful-timeout", "3"],
                cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        # After the restart the 32 clients' retries queue up in front of this probe, hence
        # the long read timeout.
        deadline = time.monotonic() + START_BUDGET_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"gunicorn exited with {self.proc.returncode}:\n"
                                     + self.log.read_text(errors="replace")[-3000:])
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.base}/api/queues/",
                                timeout=REQUEST_TIMEOUT).status_code == 401:
                    return
            time.sleep(0.1)
        raise AssertionError(f"gunicorn did not answer within {START_BUDGET_S} s")

    def kill(self) -> None:
        """SIGKILL the whole process group: no worker finishes its request."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        # Workers outlive a master that died first; the group id is the master's PID.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        self.proc = None


# --- the clients -----------------------------------------------------------------------------

@dataclass
class Ack:
    seq: int                 # order within the annotator's own submissions
    client_id: str
    annotator: int
    assignment: int
    answers: dict[str, str]
    status: int


@dataclass
class Run:
    base: str
    batch: int
    deadline: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    acks: list[Ack] = field(default_factory=list)
    attempted: dict[str, tuple[int, int, dict]] = field(default_factory=dict)
    abandoned: dict[str, tuple[int, int, dict]] = field(default_factory=dict)
    statuses: Counter = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    retries: int = 0
    forced_timeouts: int = 0
    replayed: int = 0
    finished: int = 0
    stalled: bool = False

    def n_acks(self) -> int:
        with self.lock:
            return len(self.acks)


# What a dying server does to a request: refused, reset, cut mid-body, or no answer in time.
LOST = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


class GaveUp(Exception):
    pass


def send(run: Run, session: requests.Session, method: str, path: str, *,
         body: dict | None = None, first_timeout: tuple | None = None) -> requests.Response:
    """One request, retried on connection errors and timeouts (the same body every time)."""
    started = time.monotonic()
    for attempt in range(MAX_ATTEMPTS):
        timeout = first_timeout if attempt == 0 and first_timeout else REQUEST_TIMEOUT
        try:
            response = session.request(method, run.base + path, json=body, timeout=timeout)
        except LOST:
            with run.lock:
                run.retries += 1
            if time.monotonic() - started > RETRY_BUDGET_S or time.monotonic() > run.deadline:
                break
            time.sleep(min(0.1 * (attempt + 1), 1.0))
            continue
        with run.lock:
            run.statuses[response.status_code] += 1
        return response
    raise GaveUp(f"{method} {path}")


def client(run: Run, user: dict, seed: int, login: bool) -> None:
    rng = random.Random(seed)  # noqa: S311 -- test data
    session = requests.Session()
    token = user["token"]
    if login:
        response = send(run, session, "POST", "/api/auth/token/",
                        body={"username": user["username"], "password": LOGIN_PASSWORD})
        if response.status_code != 200 or response.json().get("token") != token:
            with run.lock:
                run.unexpected.append(f"login: {response.status_code} {response.text[:200]}")
            return
    session.headers["Authorization"] = f"Token {token}"
    done: list[tuple[int, dict]] = []   # (assignment, questions) answered so far
    seq = 0

    def submit(assignment: int, questions: list[dict]) -> bool:
        nonlocal seq
        answers = {q["answer_key"]: rng.choice([c["value"] for c in q["choices"]])
                   for q in questions}
        client_id = str(uuid.uuid4())
        body = {"answers": answers, "client_id": client_id, "time_spent_ms": 1000}
        with run.lock:
            run.attempted[client_id] = (user["id"], assignment, answers)
        forced = rng.random() < FORCED_TIMEOUT_PROBABILITY
        if forced:
            with run.lock:
                run.forced_timeouts += 1
        try:
            response = send(run, session, "POST", f"/api/assignments/{assignment}/submit/",
                            body=body, first_timeout=(3.0, 0.001) if forced else None)
        except GaveUp:
            with run.lock:
                run.abandoned[client_id] = (user["id"], assignment, answers)
            return False
        if response.status_code not in (200, 201):
            with run.lock:
                run.unexpected.append(f"submit {assignment}: {response.status_code} "
                                      f"{response.text[:200]}")
            return False
        data = response.json()
        assert data["client_id"] == client_id and data["assignment"] == assignment
        seq += 1
        with run.lock:
            run.acks.append(Ack(seq, client_id, user["id"], assignment, answers,
                                response.status_code))
            run.replayed += data["replayed"]
        return True

    try:
        while time.monotonic() < run.deadline:
            response = send(run, session, "GET", f"/api/queues/{run.batch}/next/")
            if response.status_code == 204:
                with run.lock:
                    run.finished += 1
                return
            if response.status_code != 200:
                with run.lock:
                    run.unexpected.append(f"next: {response.status_code} {response.text[:200]}")
                return
            shown = response.json()
            if not submit(shown["id"], shown["questions"]):
                return
            done.append((shown["id"], shown["questions"]))
            edit = len(done) > 1 and rng.random() < EDIT_PROBABILITY
            if edit and not submit(*rng.choice(done[:-1])):
                return
    except GaveUp:
        return  # a GET that never got through: nothing was written by it


def wait_for(run: Run, done: Callable[[], bool]) -> None:
    """Until done(), the clients' deadline, or STALL_S without a new acknowledgement: a
    stall ends the run (every client stops at its next step)."""
    seen, progressed = run.n_acks(), time.monotonic()
    while not done() and time.monotonic() < run.deadline:
        time.sleep(0.05)
        now, acks = time.monotonic(), run.n_acks()
        if acks != seen:
            seen, progressed = acks, now
        elif now - progressed > STALL_S:
            run.stalled = True
            run.deadline = now


# --- the test ------------------------------------------------------------------------------------

def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"manage.py {args[0]}: {result.stdout}\n{result.stderr}"
    return result.stdout


def test_acknowledged_labels_survive_a_sigkill_of_the_server(tmp_path):
    started = time.monotonic()
    db = LoadDatabase(tmp_path)
    server: Gunicorn | None = None
    db.create()
    try:
        env = server_env(db.url)
        manage(env, "migrate", "--noinput")
        setup_line = next(line for line in manage(env, "shell", "-c", SETUP_SCRIPT).splitlines()
                          if line.startswith("SETUP "))
        setup = json.loads(setup_line.removeprefix("SETUP "))
        assert (setup["units"], setup["assignments"]) == (UNITS, EXPECTED_ASSIGNMENTS), (
            setup["units"], setup["assignments"])
        set_up_s = time.monotonic() - started

        server = Gunicorn(free_port(), env, tmp_path / "gunicorn.log")
        server.start()
        run = Run(base=server.base, batch=setup["batch"],
                  deadline=time.monotonic() + CLIENT_BUDGET_S)
        threads = [threading.Thread(target=client, args=(run, user, i, i == 0), daemon=True)
                   for i, user in enumerate(setup["users"])]
        load_started = time.monotonic()
        for thread in threads:
            thread.start()

        # Kill a third of the way through (by acknowledged submissions), then restart.
        kill_at = round(setup["assignments"] * (1 + EDIT_PROBABILITY) * KILL_FRACTION)
        wait_for(run, lambda: run.n_acks() >= kill_at)
        acks_at_kill = run.n_acks()
        killed = time.monotonic()
        server.kill()
        time.sleep(1.0)
        server.start()
        restart_s = time.monotonic() - killed

        wait_for(run, lambda: not any(t.is_alive() for t in threads))
        # Past the deadline (or when all are done) a client stops within one request.
        joined_by = time.monotonic() + sum(REQUEST_TIMEOUT) + 5
        for thread in threads:
            thread.join(timeout=max(0.0, joined_by - time.monotonic()))
        assert not any(t.is_alive() for t in threads), "a client did not stop in time"
        load_s = time.monotonic() - load_started
        server.stop()

        figures = {
            "backend": db.backend, "clients": CLIENTS, "assignments": setup["assignments"],
            "acknowledged": len(run.acks), "replayed": run.replayed, "retries": run.retries,
            "forced_timeouts": run.forced_timeouts, "killed_after_acks": acks_at_kill,
            "abandoned": len(run.abandoned), "clients_finished": run.finished,
            "statuses": dict(run.statuses), "set_up_s": round(set_up_s, 1),
            "load_s": round(load_s, 1), "restart_s": round(restart_s, 1),
            "stalled": run.stalled,
        }
        print("load figures:", json.dumps(figures))

        assert not run.stalled, f"no submission acknowledged for {STALL_S} s: {figures}"
        assert acks_at_kill >= kill_at, f"too slow to reach the kill point: {figures}"
        assert not run.unexpected, run.unexpected[:10]
        assert all(code in (200, 201, 204) for code in run.statuses), figures
        assert run.finished == CLIENTS, f"not every client finished its queue: {figures}"
        assert len(run.acks) >= MIN_ACKNOWLEDGED, f"too few submissions: {figures}"
        assert 0.25 <= acks_at_kill / len(run.acks) <= 0.45, f"not killed a third in: {figures}"
        checked = check_database(db, run)
        assert checked >= MIN_ACKNOWLEDGED, f"only {checked} acknowledged submissions checked"
    finally:
        if server is not None:
            server.stop()
        db.drop()


def check_database(db: LoadDatabase, run: Run) -> int:
    """Check the stored rows against what the clients saw; the number of acknowledged
    submissions checked."""
    assignments = {
        pk: (annotator, unit, status, required, unit_key)
        for pk, annotator, unit, status, required, unit_key in db.query(
            "SELECT a.id, a.annotator_id, a.unit_id, a.status, u.annotators_required, "
            "u.unit_key FROM annotation_assignment a "
            "JOIN annotation_batchunit u ON u.id = a.unit_id")
    }
    submissions = db.query("SELECT id, client_id, annotator_id, assignment_id, skipped "
                           "FROM annotation_submission")
    by_client_id: dict[str, tuple] = {}
    for row in submissions:
        assert row[1] not in by_client_id, f"client_id {row[1]} stored twice"
        by_client_id[row[1]] = row
    events: dict[int, dict[str, str]] = defaultdict(dict)
    for submission_id, field_name, value in db.query(
            "SELECT e.submission_id, l.field, e.value FROM annotation_labelevent e "
            "JOIN annotation_label l ON l.id = e.label_id"):
        assert field_name not in events[submission_id], "two events of one field"
        events[submission_id][field_name] = value
    labels = {(annotator, unit, field_name): value for annotator, unit, field_name, value
              in db.query("SELECT annotator_id, unit, field, value FROM annotation_label")}

    # Every acknowledged submission: stored once, as sent, with its label events.
    acked_ids = {ack.client_id for ack in run.acks}
    assert len(acked_ids) == len(run.acks), "the server acknowledged one client_id twice"
    checked = 0
    for ack in run.acks:
        row = by_client_id.get(ack.client_id)
        assert row is not None, f"acknowledged submission {ack.client_id} was lost"
        _, _, annotator, assignment, skipped = row
        assert (annotator, assignment, bool(skipped)) == (ack.annotator, ack.assignment, False)
        assert events[row[0]] == ack.answers, f"label events of {ack.client_id}"
        checked += 1

    # Stored but never acknowledged: only a request whose answer the kill or a give-up lost.
    unacknowledged = set(by_client_id) - acked_ids
    assert unacknowledged <= set(run.attempted), "a submission no client sent"
    assert unacknowledged <= set(run.abandoned), (
        "a stored submission whose client retried it without an acknowledgement")

    # The current label is the annotator's last answer (an abandoned, yet stored, one is later).
    last: dict[tuple[int, int], dict[str, str]] = {}
    for ack in sorted(run.acks, key=lambda a: (a.annotator, a.seq)):
        last[(ack.annotator, ack.assignment)] = ack.answers
    for client_id in unacknowledged:
        annotator, assignment, answers = run.abandoned[client_id]
        last[(annotator, assignment)] = answers
    for (annotator, assignment), answers in last.items():
        unit_key = assignments[assignment][4]
        for field_name, value in answers.items():
            assert labels.get((annotator, unit_key, field_name)) == value, (
                f"current label of annotator {annotator} on {unit_key}")

    # No unit labelled by more annotators than its batch asked for; no label without a
    # submission behind it.
    per_unit: dict[int, set[int]] = defaultdict(set)
    required: dict[int, int] = {}
    for _, _, annotator, assignment, _ in submissions:
        _, unit, _, need, _ = assignments[assignment]
        per_unit[unit].add(annotator)
        required[unit] = need
    for unit, annotators in per_unit.items():
        assert len(annotators) <= required[unit], f"unit {unit}: {len(annotators)} annotators"
    assignments_per_unit = Counter(unit for _, unit, *_ in assignments.values())
    assert all(n <= need for (_, unit, _, need, _) in assignments.values()
               for n in [assignments_per_unit[unit]])
    assert len(labels) == len({(a, assignments[s][4]) for (a, s) in last})

    # Every finished assignment has a submission, and the count adds up.
    with_submission = {row[3] for row in submissions}
    done = {pk for pk, (_, _, status, _, _) in assignments.items() if status == "done"}
    assert done == with_submission
    acked_assignments = {ack.assignment for ack in run.acks}
    assert done == acked_assignments | {by_client_id[c][3] for c in unacknowledged}
    assert len(done) == len(assignments), "every queue was finished"
    return checked
