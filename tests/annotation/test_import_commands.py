"""What the four import commands add to the importers: reading FILE, the summary on stdout,
CommandError with every problem, and a non-zero exit status (also in a real subprocess).

The import rules themselves are tested through both the functions and the commands in
test_importers.py.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from annotation.models import Benchmark, Item, Label, Pair
from judging.models import JudgeDecision

REPO = Path(__file__).resolve().parents[2]


def write(path: Path, *records) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def item(key: str, language: str = "en", **extra) -> dict:
    return {"id": key, "language": language, "instruction": f"Do {key}.",
            "requirements": [{"id": "r1", "text": "Is it done?"}], **extra}


def command(name: str, *args, **options) -> str:
    out = io.StringIO()
    call_command(name, *args, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


@pytest.mark.django_db
def test_each_import_command_prints_a_summary(tmp_path):
    bench = write(tmp_path / "benchmark.jsonl", item("a"), item("b", "zh"))
    assert command("import_benchmark", str(bench), benchmark="x").strip() == (
        "benchmark.jsonl: 2 lines; 2 groups created, 2 requirements created, 2 items created")
    responses = write(tmp_path / "responses.jsonl", {
        "item": "a", "model": "m", "response": "Done.",
        "judgments": [{"judge": "j", "protocol": "requirements",
                       "decisions": [{"requirement": "r1", "decision": "YES"}]}]})
    assert command("import_responses", str(responses), benchmark="x").strip() == (
        "responses.jsonl: 1 lines; 1 responses created, 1 judgments created, "
        "1 decisions created")
    pairs = write(tmp_path / "pairs.jsonl", {
        "id": "p1", "language": "en", "instruction": "Pick.", "model_a": "m1",
        "response_a": "A", "model_b": "m2", "response_b": "B",
        "judgments": [{"judge": "j", "preference": "a"}]})
    assert command("import_pairs", str(pairs), benchmark="x").strip() == (
        "pairs.jsonl: 1 lines; 1 pairs created, 1 pair judgments created")
    labels = tmp_path / "labels.csv"
    labels.write_text("task,unit,annotator,field,value,note\n"
                      "pairwise_preference,p1,newbie,preference,b,\n"
                      "judge_agreement,a|m|r1|j,newbie,agree,no,too strict\n", encoding="utf-8")
    assert command("import_labels", str(labels), benchmark="x").strip() == (
        "labels.csv: 2 lines; 1 annotators created, 2 labels created")
    assert (Item.objects.count(), JudgeDecision.objects.count(), Pair.objects.count(),
            Label.objects.count()) == (2, 1, 1, 2)
    # Again: nothing changes, and the summary says so.
    assert command("import_benchmark", str(bench), benchmark="x").strip() == (
        "benchmark.jsonl: 2 lines; no changes")


@pytest.mark.parametrize("name", ["import_benchmark", "import_responses", "import_pairs",
                                  "import_labels"])
@pytest.mark.django_db
def test_a_refused_file_raises_command_error_naming_file_line_and_field(tmp_path, name):
    write(tmp_path / "ok.jsonl", item("a"))
    command("import_benchmark", str(tmp_path / "ok.jsonl"), benchmark="x")
    bad = {
        "import_benchmark": ("bad.jsonl", '{"id": "b", "language": "en", "instruction": "x", '
                             '"requirements": [{"text": "Q?"}]}\n',
                             "bad.jsonl:2: requirements[0].id: missing"),
        "import_responses": ("bad.jsonl", '{"item": "zz", "model": "m", "response": ""}\n',
                             "bad.jsonl:2: item: no item 'zz' in this benchmark"),
        "import_pairs": ("bad.jsonl", '{"id": "p", "language": "en", "instruction": "x", '
                         '"model_a": "a", "response_a": "", "model_b": "b", "response_b": "", '
                         '"judgments": [{"judge": "j", "preference": "x"}]}\n',
                         "bad.jsonl:2: judgments[0].preference: 'x' is not a, b or tie"),
        "import_labels": ("bad.csv", "pairwise_preference,nope,ann,preference,a,\n",
                          "bad.csv:2: unit: no pair 'nope' in this benchmark"),
    }[name]
    file_name, bad_line, problem = bad
    first = ("task,unit,annotator,field,value,note\n" if name == "import_labels"
             else "\n")  # a blank first line: line numbers still count it
    path = tmp_path / file_name
    path.write_text(first + bad_line, encoding="utf-8")
    with pytest.raises(CommandError) as excinfo:
        command(name, str(path), benchmark="x")
    message = str(excinfo.value)
    assert message.splitlines()[0] == f"{file_name} was not imported; nothing was written:"
    assert problem in message.splitlines()


@pytest.mark.django_db
def test_an_unreadable_file_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match=r"missing\.jsonl: cannot read"):
        command("import_benchmark", str(tmp_path / "missing.jsonl"), benchmark="x")
    with pytest.raises(CommandError, match="cannot read"):
        command("import_benchmark", str(tmp_path), benchmark="x")


@pytest.mark.django_db
def test_benchmark_option_is_required(tmp_path):
    path = write(tmp_path / "b.jsonl", item("a"))
    with pytest.raises(CommandError, match="--benchmark"):
        call_command("import_benchmark", str(path))


@pytest.mark.django_db
def test_responses_and_labels_need_an_existing_benchmark(tmp_path):
    path = write(tmp_path / "r.jsonl", {"item": "a", "model": "m", "response": ""})
    with pytest.raises(CommandError) as excinfo:
        command("import_responses", str(path), benchmark="nope")
    assert "r.jsonl: benchmark 'nope' does not exist; import its benchmark file first" in str(
        excinfo.value)
    assert not Benchmark.objects.exists()


def test_rejected_file_exits_non_zero_in_a_subprocess(tmp_path):
    """`python manage.py import_benchmark bad.jsonl --benchmark x`, as a user types it, on a
    throw-away SQLite database (so it never touches the developer's or CI's database)."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}"}
    manage = [sys.executable, str(REPO / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=tmp_path, env=env,
                   check=True, capture_output=True, timeout=120)
    lines = [item(f"i{n}") for n in range(1, 17)]
    lines.append({**item("i17"), "requirements": [{"id": "r1", "text": "A?"},
                                                  {"id": "r2", "text": "B?"},
                                                  {"text": "C?"}]})
    write(tmp_path / "bad.jsonl", *lines)

    bad = subprocess.run([*manage, "import_benchmark", "bad.jsonl", "--benchmark", "x"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0
    assert "bad.jsonl:17: requirements[2].id: missing" in bad.stderr
    assert "Traceback" not in bad.stderr
    with closing(sqlite3.connect(tmp_path / "cli.sqlite3")) as db:
        assert db.execute("select count(*) from annotation_item").fetchone() == (0,)
        assert db.execute("select count(*) from annotation_benchmark").fetchone() == (0,)
