"""The import phase: a fresh database per backend, loaded 10% / +40% / +50% through the real
management commands, each run as its own process so its wall time and peak RSS are its own."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from .results import BenchContext
from .workload import BENCHMARK_NAME, PARTS

ROOT = Path(__file__).resolve().parent.parent
# File, command, what a row is: the order in which a part is imported.
IMPORTS = (
    ("benchmark.jsonl", "import_benchmark", "items"),
    ("responses.jsonl", "import_responses", "responses"),
    ("pairs.jsonl", "import_pairs", "pairs"),
    ("labels.csv", "import_labels", "labels"),
)
FRACTIONS = (0.1, 0.5, 1.0)
# How often the peak RSS of a running import is sampled.
POLL_SECONDS = 0.02


@dataclass
class ChildRun:
    seconds: float
    peak_rss_mb: float


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def manage(args: list[str], database_url: str, log_path: Path) -> ChildRun:
    """Run `manage.py ARGS` against `database_url`; its own wall time and peak RSS. Output
    goes to `log_path` (a pipe could fill up while we wait on the child)."""
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1"}
    with log_path.open("ab") as out:
        out.write(f"$ manage.py {' '.join(args)}\n".encode())
        out.flush()
        started = time.perf_counter()
        child = subprocess.Popen(  # noqa: S603 - our own manage.py, arguments from this module
            [sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env, stdout=out,
            stderr=subprocess.STDOUT)
        peak_kb = 0
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            peak_kb = max(peak_kb, _high_water_kb(child.pid))
            time.sleep(POLL_SECONDS)
        seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise RuntimeError(f"manage.py {' '.join(args)} failed ({child.returncode}):\n{tail}")
    # The child's ru_maxrss (kB on Linux) also counts the parent's high-water mark, which
    # Linux carries across the fork and exec; it is the child's own only when above it.
    parent_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if usage.ru_maxrss > parent_kb:
        peak_kb = usage.ru_maxrss
    return ChildRun(seconds, peak_kb / 1024)


def _high_water_kb(pid: int) -> int:
    """VmHWM of a running process: the peak RSS of its own address space since exec."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def fresh_database(ctx: BenchContext, backend: str) -> str:
    """Empty the backend's bench database and return its URL."""
    url = ctx.databases[backend]
    if backend == "sqlite":
        path = Path(urlsplit(url).path)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        return url
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(path="/postgres", scheme="postgresql"))
    with psycopg.connect(maintenance, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return url


def load(ctx: BenchContext, backend: str, *, measure_export: bool = True) -> None:
    """Load the workload into a fresh database of `backend` and record import speed and
    memory; on SQLite, measure the gold export after each part when bench.export can."""
    stamp_path(ctx, backend).unlink(missing_ok=True)
    url = fresh_database(ctx, backend)
    log_path = ctx.work_dir / f"import-{backend}.log"
    log_path.unlink(missing_ok=True)
    run = manage(["migrate", "--noinput"], url, log_path)
    log(f"{backend}: migrated in {run.seconds:.1f} s")
    counts = json.loads((ctx.workload_dir / "workload.json").read_text())["parts"]
    export = _export_measure() if measure_export and backend == "sqlite" else None
    runs: dict[str, list[tuple[int, ChildRun]]] = {name: [] for name, _, _ in IMPORTS}
    for part, fraction in zip(PARTS, FRACTIONS, strict=True):
        for name, command, _ in IMPORTS:
            rows = counts[part][name]
            run = manage([command, str(ctx.workload_dir / part / name),
                          "--benchmark", BENCHMARK_NAME], url, log_path)
            runs[name].append((rows, run))
            log(f"{backend}: {part}/{name}: {rows:,} rows in {run.seconds:.1f} s "
                f"({rows / run.seconds:,.0f} rows/s), peak RSS {run.peak_rss_mb:,.0f} MB")
        if export is not None:
            export(ctx, backend, fraction)
    for name, _, what in IMPORTS:
        _record(ctx, backend, name, what, runs[name])
    _write_stamp(ctx, backend)


def _record(ctx: BenchContext, backend: str, name: str, what: str,
            runs: list[tuple[int, ChildRun]]) -> None:
    kind = name.split(".")[0]
    rows = sum(r for r, _ in runs)
    seconds = sum(run.seconds for _, run in runs)
    note = (f"{rows:,} {what} in 3 parts (10/40/50%), {seconds:.1f} s in all; "
            "one process per part, Django start-up included")
    ctx.record("import", f"import.{kind}.rows_per_s", f"import {name}",
               [r / run.seconds for r, run in runs], "rows/s", note, target="accord",
               backend=backend)
    ctx.record("import", f"import.{kind}.peak_rss", f"import {name}, peak RSS",
               [run.peak_rss_mb for _, run in runs], "MB", "per part (10/40/50%)",
               target="accord", backend=backend)


def _export_measure() -> Callable[[BenchContext, str, float], None] | None:
    """bench.export.measure_fraction, once the export phase provides it."""
    try:
        from . import export
    except ImportError:
        return None
    return getattr(export, "measure_fraction", None)


def stamp_path(ctx: BenchContext, backend: str) -> Path:
    return ctx.work_dir / f"loaded-{backend}.json"


def _signature(ctx: BenchContext, backend: str) -> dict[str, object]:
    summary = json.loads((ctx.workload_dir / "workload.json").read_text())
    return {"workload": str(ctx.workload_dir), "scale": summary["scale"],
            "seed": summary["seed"], "generator": summary["generator_version"],
            "database": ctx.databases[backend]}


def _write_stamp(ctx: BenchContext, backend: str) -> None:
    stamp_path(ctx, backend).write_text(json.dumps(_signature(ctx, backend)))


def is_loaded(ctx: BenchContext, backend: str) -> bool:
    """Whether the backend's bench database already holds this workload (a run with
    --only queue can then reuse it)."""
    try:
        return json.loads(stamp_path(ctx, backend).read_text()) == _signature(ctx, backend)
    except (OSError, ValueError):
        return False
