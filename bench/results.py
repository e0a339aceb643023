"""What a bench run measured: rows of repeated measurements, printed as a table of medians.

Every phase records rows through `BenchContext.record`; `make bench` prints them and writes
BENCHMARKS.md. A row's `metric` plus `dims` identify it: `bench-compare` pairs an Accord row
with the Label Studio row that has the same metric and the same `clients`/`connection` dims.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Row:
    section: str                 # "import", "queue", "report", "export", ...
    metric: str                  # stable key, e.g. "queue.next.p95"
    label: str                   # what a reader sees, e.g. "next item, p95"
    values: list[float]          # one value per repeat
    unit: str                    # "ms", "rows/s", "MB", "s", "items/s", "x" ...
    dims: dict[str, str | int] = field(default_factory=dict)  # target, server, backend, clients...
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)


@dataclass
class BenchContext:
    """Shared by the phases of one run."""

    workload_dir: Path
    work_dir: Path                       # var/bench: databases, exports, logs
    databases: dict[str, str]            # backend name ("sqlite", "postgresql") -> DATABASE_URL
    scale: float = 1.0
    quick: bool = False                  # shorter loops, for trying the harness out
    rows: list[Row] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)  # phase -> markdown for BENCHMARKS.md

    def record(self, section: str, metric: str, label: str, values: list[float], unit: str,
               note: str = "", **dims: str | int) -> Row:
        row = Row(section, metric, label, list(values), unit, dict(dims), note)
        self.rows.append(row)
        return row

    def find(self, metric: str, **dims: str | int) -> list[Row]:
        return [r for r in self.rows if r.metric == metric
                and all(r.dims.get(k) == v for k, v in dims.items())]


def format_value(value: float) -> str:
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def markdown_table(rows: list[Row]) -> str:
    lines = ["| section | measurement | dims | median | min | max | unit | note |",
             "|---|---|---|---:|---:|---:|---|---|"]
    for row in rows:
        dims = ", ".join(f"{k}={v}" for k, v in row.dims.items())
        lines.append(f"| {row.section} | {row.label} | {dims} | {format_value(row.median)} | "
                     f"{format_value(row.low)} | {format_value(row.high)} | {row.unit} | "
                     f"{row.note} |")
    return "\n".join(lines)


def write_markdown(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
