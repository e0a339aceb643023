"""One bench run: the workload, the databases, the phases, the table and BENCHMARKS.md."""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit, urlunsplit

from . import importing, machine, workload
from .importing import log
from .results import BenchContext, markdown_table, write_markdown
from .targets import targets_table

ROOT = Path(__file__).resolve().parent.parent
WORK_DIR = ROOT / "var" / "bench"
PHASES = ("import", "queue", "report", "export")
# The order and titles of BENCHMARKS.md's sections, one per phase.
SECTIONS = {
    "import": "Import",
    "queue": "Queue under load",
    "report": "Agreement report",
    "export": "Gold export",
    "compare": "Label Studio, side by side",
}
IMPORT_METHOD = (
    "Each part of the workload (10%, then +40%, then +50% of the groups) is imported into a "
    "fresh database through the real management commands (`import_benchmark`, "
    "`import_responses`, `import_pairs`, `import_labels`), one process per file, so a row's "
    "rows/s covers Django's start-up, reading, whole-file validation and the one atomic "
    "write, and its peak RSS is that process's own high-water mark (VmHWM). The values of a "
    "row are its three parts."
)
# What each fix bought, measured while it was made (one process before and after, same data,
# same machine, other work running); copied into BENCHMARKS.md beside this run's own table.
FIXES = Path(__file__).with_name("fixes.md")

# A Label Studio row is paired with the Accord rows of the same metric and these dims.
COMPARED_DIMS = ("clients", "connection", "fraction")
# Units where a smaller number is better (for the direction a ratio reads in).
SMALLER_IS_BETTER = {"ms", "s", "MB", "count"}


def _postgres_bench_url() -> str | None:
    """The bench database on the server DATABASE_URL names (scripts/with-postgres.sh)."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return None
    return urlunsplit(urlsplit(url)._replace(path="/accord_bench"))


def _workload(scale: float, seed: int) -> Path:
    out = WORK_DIR / f"workload-{scale:g}"
    if workload.matches(out, scale, seed):
        log(f"workload: reusing {out.relative_to(ROOT)}")
    else:
        log(f"workload: generating scale {scale:g} into {out.relative_to(ROOT)}")
        started = time.perf_counter()
        # In a child process: the generator's memory would otherwise stay with this process
        # for the whole run, under the servers and clients it starts.
        subprocess.run([sys.executable, "-m", "bench", "workload", "--scale", str(scale),  # noqa: S603 - fixed arguments
                        "--seed", str(seed), "--out", str(out)], cwd=ROOT, check=True)
        log(f"workload: generated in {time.perf_counter() - started:.1f} s")
    return out


def _phase_module(name: str) -> ModuleType | None:
    """bench.<name>, or None (with a note) while that phase is not written yet."""
    try:
        return importlib.import_module(f"bench.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"bench.{name}":
            raise
        log(f"{name}: skipped (bench/{name}.py is not there)")
        return None


def run(*, scale: float = 1.0, quick: bool = False, only: tuple[str, ...] = PHASES,
        compare: bool = False, seed: int = 0) -> BenchContext:
    started = time.perf_counter()
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    # The servers and commands append to their logs within a run; a run starts them afresh,
    # so that an error in a log is one of this run's.
    for old_log in WORK_DIR.glob("*.log"):
        old_log.unlink()
    # One file per scale: a quick small run never deletes the database a big one is loading.
    databases = {"sqlite": f"sqlite:///{WORK_DIR / f'bench-{scale:g}.sqlite3'}"}
    postgres = _postgres_bench_url()
    if postgres:
        databases["postgresql"] = postgres
    else:
        log("postgresql: skipped (DATABASE_URL names no PostgreSQL server; "
            "run through scripts/with-postgres.sh)")
    ctx = BenchContext(workload_dir=_workload(scale, seed), work_dir=WORK_DIR,
                       databases=databases, scale=scale, quick=quick)

    for backend in databases:
        measure_export = "export" in only and backend == "sqlite"
        if "import" in only or measure_export or not importing.is_loaded(ctx, backend):
            log(f"{backend}: loading")
            importing.load(ctx, backend, measure_export=measure_export)
        else:
            log(f"{backend}: reusing the loaded database")
    for name in ("queue", "report"):
        if name in only:
            module = _phase_module(name)
            if module is not None:
                log(f"{name}: starting")
                module.run(ctx)
                log(f"{name}: done")
    accord_seconds = time.perf_counter() - started
    if compare:
        module = _phase_module("labelstudio")
        if module is not None:
            log("labelstudio: starting")
            module.run(ctx)
            _record_ratios(ctx)
            log("labelstudio: done")

    table = markdown_table(ctx.rows)
    print(table, flush=True)
    # The raw rows too, for reading the run again without re-running it.
    (WORK_DIR / "results.json").write_text(json.dumps(
        {"rows": [dataclasses.asdict(row) for row in ctx.rows], "notes": ctx.notes},
        indent=1), encoding="utf-8")
    targets = targets_table(ctx.rows, accord_seconds=accord_seconds,
                            total_seconds=time.perf_counter() - started, compare=compare)
    print(targets, flush=True)
    write_markdown(ROOT / "BENCHMARKS.md", _benchmarks_md(ctx, table, targets, compare))
    log(f"wrote BENCHMARKS.md; the run took {time.perf_counter() - started:.0f} s")
    return ctx


def _record_ratios(ctx: BenchContext) -> None:
    """Accord / Label Studio for every Label Studio row and each Accord row like it."""
    theirs = [r for r in ctx.rows if r.dims.get("target") == "labelstudio"]
    for other in theirs:
        same = {k: v for k, v in other.dims.items() if k in COMPARED_DIMS}
        for ours in ctx.find(other.metric, target="accord", **same):
            if other.median == 0:
                continue
            better = "lower" if ours.unit in SMALLER_IS_BETTER else "higher"
            dims = {k: v for k, v in ours.dims.items() if k != "target"}
            ctx.record("compare", f"{ours.metric}.ratio", f"{ours.label}: Accord / Label Studio",
                       [ours.median / other.median], "x", f"{better} is better for Accord",
                       **dims)


def _rows_table(pairs: list[tuple[str, str]]) -> str:
    return "\n".join(["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in pairs)])


def _benchmarks_md(ctx: BenchContext, table: str, targets: str, compare: bool) -> str:
    summary = json.loads((ctx.workload_dir / "workload.json").read_text())
    counts = summary["counts"]
    workload_rows = [
        ("scale, seed", f"{summary['scale']:g}, {summary['seed']}"),
        ("groups (instructions x copies)", f"{counts['groups']:,}"),
        ("items (groups x 6 languages)", f"{counts['items']:,}"),
        ("requirements (per group)", f"{counts['requirements']:,}"),
        ("responses (3 models)", f"{counts['responses']:,}"),
        ("judge decisions", f"{counts['decisions']:,}"),
        ("pairs", f"{counts['pairs']:,}"),
        ("human labels", f"{counts['labels']:,}"),
        *((f"labels: {task}", f"{n:,}") for task, n in counts["labels_by_task"].items()),
        ("annotators", str(len(summary["annotators"]))),
    ]
    command = "make bench-compare" if compare else "make bench"
    parts = [
        "# Benchmarks",
        "",
        f"Written by `{command}`. Every number is a median over repeats, with the min and "
        "max beside it. The workload is generated from a seed by `bench/workload.py`: a "
        "benchmark shaped like XIFBench x10 (558 instructions x 6 languages x 10 copies), in "
        "the six scripts, with responses, judge decisions and human labels.",
        "",
        "## Machine",
        "",
        _rows_table(machine.describe(ctx.databases.get("postgresql"))),
        "",
        "## Workload",
        "",
        _rows_table(workload_rows),
        "",
        "## Targets",
        "",
        "The issue's targets against this run (bench/targets.py); the rows they read are in "
        "the results below.",
        "",
        targets,
        "",
        "## Results",
        "",
        table,
        "",
        "## What each fix bought",
        "",
        FIXES.read_text(encoding="utf-8").rstrip(),
    ]
    notes = ctx.notes
    for section, title in SECTIONS.items():
        measured = any(r.section == section for r in ctx.rows)
        texts = [IMPORT_METHOD if section == "import" and measured else "",
                 notes.get(section, "")]
        if any(texts):
            parts += ["", f"## {title}", "", "\n\n".join(t for t in texts if t)]
    return "\n".join(parts) + "\n"
