"""The targets summary of BENCHMARKS.md: each target's verdict from the rows it reads."""

from bench.results import Row
from bench.targets import targets_table


def _row(metric: str, value: float, unit: str = "x", **dims: object) -> Row:
    return Row("queue", metric, metric, [value], unit, dict(dims))


def _line(table: str, start: str) -> str:
    return next(line for line in table.splitlines() if line.startswith(f"| {start}"))


def test_a_target_over_several_cells_is_met_only_when_every_cell_is() -> None:
    rows = [_row("queue.next.p95_over_floor", 2.5, clients=8, target="accord"),
            _row("queue.next.p95_over_floor", 3.5, clients=32, target="accord"),
            # One annotator is not part of this target.
            _row("queue.next.p95_over_floor", 9.0, clients=1, target="accord")]
    table = targets_table(rows, accord_seconds=600, total_seconds=600, compare=False)
    line = _line(table, "next item p95 <= 3x the floor")
    assert "| NOT MET |" in line and "2.5-3.5 x, met in 1 of 2 cells" in line

    rows[1] = _row("queue.next.p95_over_floor", 3.0, clients=32, target="accord")
    table = targets_table(rows, accord_seconds=600, total_seconds=600, compare=False)
    assert "| met |" in _line(table, "next item p95 <= 3x the floor")


def test_at_least_targets_and_missing_rows() -> None:
    rows = [_row("queue.submit.items_per_s.ratio", 12.0, clients=1),
            _row("import.benchmark.rows_per_s.ratio", 1.9)]
    table = targets_table(rows, accord_seconds=600, total_seconds=600, compare=False)
    assert "| met |" in _line(table, "label-and-next items/s >= 10x")
    assert "| NOT MET |" in _line(table, "import of the items >= 2x")
    assert "| not measured |" in _line(table, "agreement report")
    assert "bench-compare" not in table  # no Label Studio phase in this run


def test_export_memory_must_stay_flat_as_well_as_under_the_bound() -> None:
    def rows(low: float, high: float) -> list[Row]:
        return [_row("export.peak_rss", low, "MB", fraction=0.1, target="accord"),
                _row("export.peak_rss", high, "MB", fraction=1.0, target="accord"),
                _row("export.peak_rss", 900, "MB", fraction=1.0, target="labelstudio")]

    flat = targets_table(rows(200, 240), accord_seconds=1, total_seconds=1, compare=False)
    assert "| met |" in _line(flat, "gold export peak RSS")
    growing = targets_table(rows(100, 290), accord_seconds=1, total_seconds=1, compare=False)
    line = _line(growing, "gold export peak RSS")
    assert "| NOT MET |" in line and "+190%" in line


def test_run_durations() -> None:
    table = targets_table([], accord_seconds=16 * 60, total_seconds=39 * 60, compare=True)
    assert "| NOT MET | 16.0 min |" in _line(table, "`make bench` under 15 minutes")
    assert "| met | 39.0 min |" in _line(table, "`make bench-compare` under 40 minutes")
