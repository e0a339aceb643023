"""The gold-export phase: `manage.py export_gold` of the whole benchmark, timed and its peak RSS
taken, after each part of the import (10%, 50% and 100% of the data): memory must stay flat.

Each export runs as its own process (bench.importing.manage), so its peak RSS is its own,
Django start-up and imports included; the output directory is removed after every run.
"""

from __future__ import annotations

import json
import shutil
import time

from .importing import FRACTIONS, log, manage
from .results import BenchContext
from .workload import BENCHMARK_NAME, PARTS

# Repeats per fraction: more where a run is short. A fraction stops repeating once its runs
# took BUDGET_SECONDS, so a slow machine still finishes `make bench` in time.
REPEATS = {0.1: 3, 0.5: 2, 1.0: 1}
BUDGET_SECONDS = 60.0


def _labels_so_far(ctx: BenchContext, fraction: float) -> int | None:
    """Labels imported once `fraction` of the workload is in (None: workload.json says not)."""
    try:
        parts = json.loads((ctx.workload_dir / "workload.json").read_text())["parts"]
        done = PARTS[:FRACTIONS.index(fraction) + 1]
        return sum(parts[part]["labels.csv"] for part in done)
    except (OSError, KeyError, ValueError):
        return None


def measure_fraction(ctx: BenchContext, backend: str, fraction: float) -> None:
    """Export the benchmark from `backend`'s database as it is now (holding `fraction` of the
    workload) and record wall time and peak RSS, medians over the repeats."""
    url = ctx.databases[backend]
    log_path = ctx.work_dir / f"export-{backend}.log"
    out = ctx.work_dir / f"export-{backend}"
    repeats = 1 if ctx.quick else REPEATS.get(fraction, 1)
    seconds: list[float] = []
    peaks: list[float] = []
    started = time.perf_counter()
    while len(seconds) < repeats and (not seconds
                                      or time.perf_counter() - started < BUDGET_SECONDS):
        shutil.rmtree(out, ignore_errors=True)
        try:
            run = manage(["export_gold", "--benchmark", BENCHMARK_NAME, "--out", str(out)],
                         url, log_path)
        finally:
            shutil.rmtree(out, ignore_errors=True)
        seconds.append(run.seconds)
        peaks.append(run.peak_rss_mb)
        log(f"{backend}: gold export at {fraction:.0%}: {run.seconds:.1f} s, "
            f"peak RSS {run.peak_rss_mb:,.0f} MB")
    labels = _labels_so_far(ctx, fraction)
    of_what = f"{labels:,} labels" if labels is not None else f"{fraction:.0%} of the data"
    note = f"{of_what}; {len(seconds)} run(s), one process each, Django start-up included"
    ctx.record("export", "export.seconds", f"gold export, {fraction:.0%} of the data",
               seconds, "s", note, target="accord", backend=backend, fraction=fraction)
    ctx.record("export", "export.peak_rss", f"gold export, {fraction:.0%}, peak RSS",
               peaks, "MB", note, target="accord", backend=backend, fraction=fraction)
