"""`manage.py agreement_report`: the report dict as JSON, CSV, LaTeX or a text table."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from annotation import importers
from judging.reports import ReportFilters, agreement_report
from tests.conftest import DEMO, FIXTURES


@pytest.fixture
def labelled(demo_benchmark):
    importers.import_labels(data=(FIXTURES / "labels.csv").read_bytes(),
                            file_name="labels.csv", benchmark_name=DEMO)
    return demo_benchmark


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("agreement_report", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def without_time(report: dict) -> dict:
    return {k: v for k, v in report.items() if k != "generated_at"}


def test_json_is_the_report_dict(labelled):
    printed = json.loads(run("--benchmark", DEMO, "--format", "json", "--resamples", "40",
                             "--seed", "5"))
    expected = agreement_report(benchmark=labelled, n_resamples=40, seed=5)
    assert without_time(printed) == without_time(expected)


def test_filters_and_out_file(labelled, tmp_path):
    out = tmp_path / "report.json"
    run("--benchmark", DEMO, "--format", "json", "--language", "en", "zh", "--language", "ru",
        "--subset", "hard", "--model", "m", "--category", "content", "--resamples", "0",
        "--out", str(out))
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written["filters"] == {"languages": ["en", "zh", "ru"], "subsets": ["hard"],
                                  "models": ["m"], "categories": ["content"]}
    expected = agreement_report(benchmark=labelled, n_resamples=0, filters=ReportFilters(
        languages=("en", "zh", "ru"), subsets=("hard",), models=("m",),
        categories=("content",)))
    assert without_time(written) == without_time(expected)


def test_batch_option(labelled, make_batch):
    batch = make_batch("pairwise_preference", size=4)
    printed = json.loads(run("--benchmark", DEMO, "--batch", str(batch.pk), "--format", "json",
                             "--resamples", "0"))
    assert printed["batch"] == {"id": batch.pk, "name": batch.name}


def test_table_explains_every_null(labelled):
    text = run("--benchmark", DEMO, "--resamples", "20")  # table is the default
    assert "instruction_validation / clarity (nominal): 4 units, 2 annotators, 8 labels" in text
    assert "ratio meeting the criterion: conservative 0.7500" in text
    assert "Pairwise judges against the human majority" in text
    assert "Why some values are null:" in text
    # Every null[n] marker has its numbered reason.
    markers = {part.split("]")[0] for part in text.split("null[")[1:]}
    for marker in markers:
        assert f"  [{marker}] " in text


def test_table_of_an_empty_benchmark_says_so(demo_benchmark):
    assert "No human labels match" in run("--benchmark", DEMO)


@pytest.mark.parametrize("fmt", ["csv", "latex"])
def test_csv_and_latex_come_from_report_formats(labelled, fmt, monkeypatch):
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from judging import report_formats

    fixed = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    monkeypatch.setattr("judging.reports.timezone", SimpleNamespace(now=lambda: fixed))

    report_formats_fn = {"csv": report_formats.to_csv, "latex": report_formats.to_latex}[fmt]
    text = run("--benchmark", DEMO, "--format", fmt, "--resamples", "0")
    expected = report_formats_fn(agreement_report(benchmark=labelled, n_resamples=0))
    assert text.rstrip("\n") == expected.rstrip("\n")


def test_unknown_benchmark_and_batch_are_errors(labelled):
    with pytest.raises(CommandError, match="no benchmark named 'nope'"):
        run("--benchmark", "nope")
    with pytest.raises(CommandError, match="has no batch 424242"):
        run("--benchmark", DEMO, "--batch", "424242")
