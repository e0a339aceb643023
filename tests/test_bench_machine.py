"""bench/machine.py: what BENCHMARKS.md says of the kernel paging out idle memory."""

from pathlib import Path

from bench.machine import idle_memory


def _kdamond(root: Path, *, state: str, action: str, aggr_us: str, min_age: str) -> None:
    context = root / "0" / "contexts" / "0"
    scheme = context / "schemes" / "0"
    (scheme / "access_pattern" / "age").mkdir(parents=True)
    (context / "monitoring_attrs" / "intervals").mkdir(parents=True)
    (root / "0" / "state").write_text(state + "\n")
    (scheme / "action").write_text(action + "\n")
    (scheme / "access_pattern" / "age" / "min").write_text(min_age + "\n")
    (context / "monitoring_attrs" / "intervals" / "aggr_us").write_text(aggr_us + "\n")


def test_a_running_pageout_scheme_is_reported_with_its_idle_time(tmp_path: Path) -> None:
    _kdamond(tmp_path, state="on", action="pageout", aggr_us="5000000", min_age="6")
    assert idle_memory(tmp_path) == "paged out after 30 s idle (DAMON pageout)"


def test_a_stopped_or_other_scheme_or_none_is_no_pageout(tmp_path: Path) -> None:
    assert idle_memory(tmp_path / "absent") == "no DAMON pageout running"
    _kdamond(tmp_path / "off", state="off", action="pageout", aggr_us="5000000", min_age="6")
    assert idle_memory(tmp_path / "off") == "no DAMON pageout running"
    _kdamond(tmp_path / "stat", state="on", action="stat", aggr_us="100000", min_age="1")
    assert idle_memory(tmp_path / "stat") == "no DAMON pageout running"


def test_an_unreadable_scheme_is_skipped(tmp_path: Path) -> None:
    _kdamond(tmp_path, state="on", action="pageout", aggr_us="", min_age="6")
    assert idle_memory(tmp_path) == "no DAMON pageout running"
