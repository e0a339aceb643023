"""The issue's targets, checked against one run's rows: the summary at the top of BENCHMARKS.md.

Each target names the rows it reads (metric and dims) and the bound each of them must keep; a
target over several cells (servers, backends, connection modes, client counts) is met when
every cell is. A target whose rows this run did not produce (no Label Studio without
`make bench-compare`) says so instead of passing.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass

from .results import Row, format_value


@dataclass(frozen=True)
class Target:
    text: str
    metric: str
    bound: float
    at_most: bool = True  # False: the value must be at least the bound
    clients: tuple[int, ...] = ()  # only these client counts (empty: any)
    also: Callable[[list[Row]], tuple[bool, str]] | None = None  # a second condition

    def cells(self, rows: list[Row]) -> list[Row]:
        return [r for r in rows if r.metric == self.metric
                and r.dims.get("target", "accord") == "accord"
                and (not self.clients or r.dims.get("clients") in self.clients)]


def _export_memory_flat(rows: list[Row]) -> tuple[bool, str]:
    """Flat: the peak at 100% of the data within 25% of the peak at 10%."""
    by_fraction = {r.dims.get("fraction"): r.median for r in rows}
    low, high = by_fraction.get(0.1), by_fraction.get(1.0)
    if low is None or high is None:
        return False, "10% or 100% not measured"
    growth = high / low - 1
    return growth <= 0.25, f"{format_value(low)} -> {format_value(high)} MB from 10% to 100% " \
                           f"({growth:+.0%}; flat means within +25%)"


TARGETS = (
    Target("next item p95 <= 3x the floor, 8 and 32 annotators", "queue.next.p95_over_floor",
           3.0, clients=(8, 32)),
    Target("next item p95 <= 1/25 of Label Studio's, 8 and 32 annotators",
           "queue.next.p95.ratio", 1 / 25, clients=(8, 32)),
    Target("label-and-next p50 <= 3x the floor, 1 annotator", "queue.submit.p50_over_floor",
           3.0, clients=(1,)),
    Target("label-and-next items/s >= 10x Label Studio's, 1 annotator",
           "queue.submit.items_per_s.ratio", 10.0, at_most=False, clients=(1,)),
    Target("import of the items >= 2x Label Studio's rows/s", "import.benchmark.rows_per_s.ratio",
           2.0, at_most=False),
    Target("agreement report over the labels <= 1.5x the krippendorff.alpha floor",
           "report.ratio", 1.5),
    Target("gold export peak RSS <= 300 MB and flat from 10% to 100%", "export.peak_rss", 300.0,
           also=_export_memory_flat),
    Target("gold export >= 5x faster than Label Studio's full export", "export.seconds.ratio",
           1 / 5),
)


def _check(target: Target, rows: list[Row]) -> tuple[str, str]:
    cells = target.cells(rows)
    if not cells:
        return "not measured", "this run has no such rows"
    keep = operator.le if target.at_most else operator.ge
    met = [r for r in cells if keep(r.median, target.bound)]
    values = sorted(r.median for r in cells)
    unit = cells[0].unit
    shown = (f"{format_value(values[0])} {unit}" if len(values) == 1 else
             f"{format_value(values[0])}-{format_value(values[-1])} {unit}, met in "
             f"{len(met)} of {len(cells)} cells")
    ok = len(met) == len(cells)
    if target.also is not None:
        also_ok, also_text = target.also(cells)
        ok, shown = ok and also_ok, f"{shown}; {also_text}"
    return ("met" if ok else "NOT MET"), shown


def _duration_rows(accord_seconds: float, total_seconds: float, compare: bool
                   ) -> list[tuple[str, str, str]]:
    rows = [("`make bench` under 15 minutes (Accord's phases of this run)",
             "met" if accord_seconds < 15 * 60 else "NOT MET",
             f"{accord_seconds / 60:.1f} min")]
    if compare:
        rows.append(("`make bench-compare` under 40 minutes",
                     "met" if total_seconds < 40 * 60 else "NOT MET",
                     f"{total_seconds / 60:.1f} min"))
    return rows


def targets_table(rows: list[Row], *, accord_seconds: float, total_seconds: float,
                  compare: bool) -> str:
    lines = ["| target | result | measured (medians) |", "|---|---|---|"]
    for target in TARGETS:
        verdict, shown = _check(target, rows)
        lines.append(f"| {target.text} | {verdict} | {shown} |")
    for text, verdict, shown in _duration_rows(accord_seconds, total_seconds, compare):
        lines.append(f"| {text} | {verdict} | {shown} |")
    return "\n".join(lines)
