"""What the bench ran on, for the head of BENCHMARKS.md."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DAMON_KDAMONDS = Path("/sys/kernel/mm/damon/admin/kdamonds")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gb() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GB"
    except OSError:
        pass
    return "unknown"


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return f"{line.split('=', 1)[1].strip(chr(34))}, Linux {platform.release()}"
    except OSError:
        pass
    return platform.platform()


def idle_memory(kdamonds: Path = DAMON_KDAMONDS) -> str:
    """Whether the kernel pages out memory left idle (a DAMON `pageout` scheme), and after how
    long. Where it does, the bench's databases (hundreds of MB) are read from the disk again
    by whichever phase comes back to them, and timings vary with that."""
    for scheme in sorted(kdamonds.glob("*/contexts/*/schemes/*")):
        context, kdamond = scheme.parents[1], scheme.parents[3]
        try:
            if ((kdamond / "state").read_text().strip() != "on"
                    or (scheme / "action").read_text().strip() != "pageout"):
                continue
            aggregation_us = int((context / "monitoring_attrs/intervals/aggr_us").read_text())
            min_age = int((scheme / "access_pattern/age/min").read_text())
        except (OSError, ValueError):
            continue
        # DAMON counts a region's age in aggregation intervals.
        return f"paged out after {min_age * aggregation_us / 1e6:g} s idle (DAMON pageout)"
    return "no DAMON pageout running"


def _git_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,  # noqa: S603, S607 - fixed arguments
                              check=False).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + (" (with uncommitted changes)" if git("status", "--porcelain") else "")


def postgres_version(url: str | None) -> str:
    if not url:
        return "not measured"
    import psycopg

    with psycopg.connect(url) as connection:
        row = connection.execute("SHOW server_version").fetchone()
    return row[0] if row else "unknown"


def describe(postgres_url: str | None) -> list[tuple[str, str]]:
    """(what, value) pairs describing this machine and software."""
    return [
        ("CPU", _cpu_model()),
        ("cores", str(os.cpu_count())),
        ("memory", _memory_gb()),
        ("idle memory", idle_memory()),
        ("OS", _os_name()),
        ("Python", platform.python_version()),
        ("SQLite", sqlite3.sqlite_version),
        ("PostgreSQL", postgres_version(postgres_url)),
        ("git commit", _git_commit()),
        ("date", time.strftime("%Y-%m-%d %H:%M %Z")),
    ]
