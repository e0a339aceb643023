"""The agreement report over the workload's million labels, end to end, beside its floor.

End to end: `GET /api/reports/agreement/?benchmark=...` on Accord served the production way,
timed from sending the request to the last byte of the JSON: every field of every task with
its coefficients, 1000-resample bootstrap intervals, annotator pairs, breakdowns and the judge
sections. The whole-benchmark report reads the maintained summaries (annotation/summaries.py).

The floor: `krippendorff.alpha` on prebuilt in-memory reliability matrices (annotators x
units, NaN where an annotator gave no label), one per field of the report, at the field's
level; the matrices are built from the workload's labels.csv before the clock starts.

Also timed, as "before": the same report computed from the labels themselves, the path every
report took before the summaries existed (and a filtered report still takes): a filter that
keeps every label sends the request there.
"""

from __future__ import annotations

import csv
import http.client
import json
import statistics
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import krippendorff
import numpy as np

from . import importing, servers
from .results import BenchContext

REPEATS = 5
QUICK_REPEATS = 2
LEVELS = {"translation_validation": "ordinal", "response_rating": "interval"}
ADMIN_KEY_SCRIPT = """
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
user, _ = get_user_model().objects.get_or_create(username="bench-report-admin",
                                                 defaults={"is_staff": True})
user.is_staff = True
user.save()
print(Token.objects.get_or_create(user=user)[0].key)
"""


def run(ctx: BenchContext) -> None:
    workload = json.loads((ctx.workload_dir / "workload.json").read_text(encoding="utf-8"))
    benchmark = workload["benchmark"]
    matrices = reliability_matrices(ctx.workload_dir)
    languages = workload["languages"]
    repeats = QUICK_REPEATS if ctx.quick else REPEATS

    floors = [alpha_floor(matrices) for _ in range(repeats)]
    n_labels = sum(int((~np.isnan(m)).sum()) for m, _ in matrices.values())
    ctx.record("report", "report.floor", "floor: krippendorff.alpha of every field, "
               "prebuilt matrices", floors, "s",
               note=f"{len(matrices)} fields, {n_labels:,} labels", target="accord")

    for backend, url in ctx.databases.items():
        if not importing.is_loaded(ctx, backend):
            print(f"report: {backend} is not loaded; skipped", flush=True)
            continue
        token = servers.manage(url, "shell", "-c", ADMIN_KEY_SCRIPT).strip().splitlines()[-1]
        log = ctx.work_dir / f"report-{backend}.log"
        with servers.serve("gunicorn", url, log) as server:
            path = "/api/reports/agreement/?" + urlencode({"benchmark": benchmark})
            warm_every_worker(server, path, token)
            times, size = [], 0
            for _ in range(repeats):
                seconds, size = fetch(server, path, token)
                times.append(seconds)
            ctx.record("report", "report.e2e", "agreement report, end to end (HTTP, JSON)",
                       times, "s", note=f"{size / 1e6:.1f} MB of JSON", target="accord",
                       server="gunicorn", backend=backend)
            ctx.record("report", "report.ratio", "report / floor",
                       [t / statistics.median(floors) for t in times], "x",
                       note="target <= 1.5", target="accord", server="gunicorn",
                       backend=backend)
            # One run: a reference for what the summaries saved (20-30 s at 1M labels), not a
            # target, and the longest request of the bench.
            filtered = path + "&" + urlencode({"language": ",".join(languages)})
            before = [fetch(server, filtered, token, timeout=600)[0]]
            ctx.record("report", "report.from_labels", "same report computed from the labels "
                       "(before the summaries; a filtered report)", before, "s",
                       note="one run", target="accord", server="gunicorn", backend=backend)


# Each connection goes to a worker the kernel picks by its address (gunicorn.conf.py's
# reuse_port): 15 requests leave one of three workers out with a chance of 3 * (2/3)^15 < 1%.
WARMUP_REQUESTS = 15


def warm_every_worker(server: servers.Server, path: str, token: str) -> None:
    """Untimed reports, as many at once as gunicorn has workers, until every worker has most
    likely served some: one warm-up request would warm one of them, and a worker's first
    reports are slower."""
    with ThreadPoolExecutor(servers.GUNICORN_WORKERS) as pool:
        list(pool.map(lambda _: fetch(server, path, token), range(WARMUP_REQUESTS)))


def fetch(server: servers.Server, path: str, token: str, timeout: float = 120) -> tuple[float,
                                                                                          int]:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
    try:
        started = time.perf_counter()
        connection.request("GET", path, headers={"Authorization": f"Token {token}",
                                                 "Accept": "application/json"})
        response = connection.getresponse()
        body = response.read()
        seconds = time.perf_counter() - started
    finally:
        connection.close()
    if response.status != 200:
        raise RuntimeError(f"GET {path}: {response.status} {body[:500]!r}")
    json.loads(body)  # a complete document, not an error page
    return seconds, len(body)


def reliability_matrices(workload_dir: Path) -> dict[tuple[str, str], tuple[np.ndarray, list]]:
    """(task, field) -> (annotators x units matrix of category numbers, NaN = no label; the
    field's values in scale order)."""
    cells: dict[tuple[str, str], list[tuple[str, str, str]]] = defaultdict(list)
    for path in sorted(workload_dir.glob("part*/labels.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                cells[(row["task"], row["field"])].append(
                    (row["unit"], row["annotator"], row["value"]))
    matrices = {}
    for key, rows in cells.items():
        units = {u: i for i, u in enumerate(sorted({u for u, _, _ in rows}))}
        annotators = {a: i for i, a in enumerate(sorted({a for _, a, _ in rows}))}
        values = sorted({v for _, _, v in rows})
        index = {v: float(i) for i, v in enumerate(values)}
        if key[0] in LEVELS:
            index = {v: float(v) for v in values}
        matrix = np.full((len(annotators), len(units)), np.nan)
        for unit, annotator, value in rows:
            matrix[annotators[annotator], units[unit]] = index[value]
        matrices[key] = (matrix, values)
    return matrices


def alpha_floor(matrices: dict[tuple[str, str], tuple[np.ndarray, list]]) -> float:
    started = time.perf_counter()
    for (task, _field), (matrix, _values) in matrices.items():
        krippendorff.alpha(reliability_data=matrix,
                           level_of_measurement=LEVELS.get(task, "nominal"))
    return time.perf_counter() - started
