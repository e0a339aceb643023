"""`manage.py export_gold --benchmark NAME --out DIR [--strategy conservative|majority]`."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from tests.judging.test_gold import FILES, PARQUET, load


@pytest.fixture
def benchmark(db):
    return load()


def test_writes_the_export_and_says_what(benchmark, tmp_path):
    out = io.StringIO()
    call_command("export_gold", benchmark=benchmark.name, out=str(tmp_path / "gold"),
                 stdout=out)
    names = {p.name for p in (tmp_path / "gold").iterdir()}
    assert set(FILES) | set(PARQUET) <= names
    assert "scores.csv: 4" in out.getvalue()
    assert "9 group(s) removed" in out.getvalue()  # no adjudication here: g9, g10 go too


def test_command_line_spelling(benchmark, tmp_path):
    call_command("export_gold", "--benchmark", benchmark.name, "--out",
                 str(tmp_path / "gold"), "--strategy", "majority", stdout=io.StringIO())
    removed = [json.loads(line) for line in
               (tmp_path / "gold" / "removed.jsonl").read_text("utf-8").splitlines()]
    assert "g8" not in {r["group"] for r in removed}  # 2:1 keeps it under majority


def test_unknown_benchmark_is_an_error(db, tmp_path):
    with pytest.raises(CommandError, match="no benchmark named 'nope'"):
        call_command("export_gold", benchmark="nope", out=str(tmp_path / "gold"))
    assert not (tmp_path / "gold").exists()


def test_unknown_strategy_is_an_error(benchmark, tmp_path):
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("export_gold", "--benchmark", benchmark.name, "--out",
                     str(tmp_path / "gold"), "--strategy", "dawid_skene")


def test_an_existing_directory_with_files_is_refused(benchmark, tmp_path):
    (tmp_path / "gold").mkdir()
    (tmp_path / "gold" / "x").write_text("x")
    with pytest.raises(CommandError, match="not an empty directory"):
        call_command("export_gold", benchmark=benchmark.name, out=str(tmp_path / "gold"))
