"""The corpus-level guarantee for bad input (issue 6, "Bad input").

Every malformed file of tests/bad_input/ (listed with its importer and expected message in
manifest.json; rebuilt by tests/bad_input/build_corpus.py) is refused through every way in:
the importer function, the management command, the web import page (inline mode) and
POST /api/imports/. Each refusal names the file, the line and (where a field is at fault) the
field, every channel reports the same problems, nothing answers 500, and every table holds
exactly the rows it held before (compared row by row, every column, every model).

The per-rule tests are in tests/annotation/test_importers.py; this is the sweep over a corpus.
"""

from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils.html import escape
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation import importers
from annotation.models import ImportJob, LoginSession
from tests.conftest import DEMO, load_demo_benchmark

CORPUS = Path(__file__).resolve().parent / "bad_input"
MANIFEST = json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))
FRESH = "bad-input-bench"  # a benchmark name no fixture uses: a refused file must not create it
FIFTY_MB = 50 * 1024 * 1024

# --- the corpus -----------------------------------------------------------------------------


def _big_jsonl() -> bytes:
    record = {"id": "big-1", "language": "en", "instruction": "", "requirements": []}
    line = json.dumps(record).replace('"instruction": ""',
                                      '"instruction": "' + "a" * FIFTY_MB + '"')
    return line.encode() + b"\n"


def _big_csv() -> bytes:
    return (b"task,unit,annotator,field,value,note\n"
            b"instruction_validation,easy-001-en,ana,clarity,yes," + b"n" * FIFTY_MB + b"\n")


def _big_responses() -> bytes:
    good = (CORPUS.parent.parent / "fixtures" / "responses.jsonl").read_bytes()
    first_two = b"".join(good.splitlines(keepends=True)[:2])
    return (first_two + b'{"item": "easy-001-en", "model": "big", "response": "'
            + b"r" * FIFTY_MB + b'"}\n')


def _deep_json() -> bytes:
    depth = 100_000
    return (b'{"id": "deep", "language": "en", "instruction": "x", "requirements": [], '
            b'"meta": {"x": ' + b"[" * depth + b"]" * depth + b"}}\n")


GENERATORS = {"big_jsonl": _big_jsonl, "big_csv": _big_csv,
              "big_responses": _big_responses, "deep_json": _deep_json}


def contents(entry: dict) -> bytes:
    if "generate" in entry:
        return GENERATORS[entry["generate"]]()
    return (CORPUS / entry["file"]).read_bytes()


def benchmark_for(entry: dict) -> str:
    return DEMO if entry["needs_demo"] else FRESH


# --- the database, every row ------------------------------------------------------------------

# Rows a refused import may add: the web page's job record, and the login session.
NOT_COMPARED = {ImportJob, LoginSession}


def snapshot() -> dict[str, list[tuple]]:
    """Every row of every table, every column, ordered by primary key."""
    return {
        model._meta.label: list(model._default_manager.order_by("pk").values_list())
        for model in apps.get_models(include_auto_created=True)
        if model not in NOT_COMPARED
    }


def assert_unchanged(before: dict[str, list[tuple]], channel: str) -> None:
    after = snapshot()
    changed = [label for label in before if before[label] != after[label]]
    assert not changed, f"{channel}: a refused file changed {changed}"


# --- the tests ------------------------------------------------------------------------------


def test_the_corpus_is_large_small_and_fully_listed():
    committed = {p.name for p in CORPUS.iterdir()
                 if p.is_file() and p.name not in {"manifest.json", "build_corpus.py"}}
    listed = {e["file"] for e in MANIFEST if "generate" not in e}
    assert committed == listed
    assert len(MANIFEST) >= 40
    assert {e["importer"] for e in MANIFEST} == {"benchmark", "responses", "pairs", "labels"}
    assert sum((CORPUS / name).stat().st_size for name in committed) < 200 * 1024
    for entry in MANIFEST:
        assert entry["expect"].startswith(f"{entry['file']}:")
        assert len({e["file"] for e in MANIFEST}) == len(MANIFEST)


@pytest.fixture
def channels(db, admin, client, settings):
    """Demo benchmark loaded, the admin signed in on the page and holding an API token."""
    settings.ACCORD_IMPORTS_IN_BACKGROUND = False
    load_demo_benchmark()
    client.force_login(admin)
    api = APIClient()
    token, _ = Token.objects.get_or_create(user=admin)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client, api


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["file"] for e in MANIFEST])
def test_every_bad_file_is_refused_everywhere_and_changes_nothing(entry, channels, tmp_path):
    web, api = channels
    name, kind, expect = entry["file"], entry["importer"], entry["expect"]
    bench = benchmark_for(entry)
    data = contents(entry)
    line_prefix = re.compile(rf"^{re.escape(name)}:\d+: \S")
    before = snapshot()

    # (a) the importer function: refused quickly, every problem is `file:line: ...`
    started = time.monotonic()
    with pytest.raises(importers.ImportRejected) as excinfo:
        getattr(importers, f"import_{kind}")(data=data, file_name=name, benchmark_name=bench)
    elapsed = time.monotonic() - started
    problems = excinfo.value.problems
    assert any(p.startswith(expect) for p in problems), (expect, problems)
    assert all(line_prefix.match(p) for p in problems), problems
    assert elapsed < 5, f"took {elapsed:.1f} s to refuse"
    assert_unchanged(before, "function")

    # (a') the management command: non-zero exit (CommandError) with the same problems
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(CommandError) as cmd:
        call_command(f"import_{kind}", str(path), benchmark=bench, stdout=io.StringIO(),
                     stderr=io.StringIO())
    for problem in problems:
        assert problem in str(cmd.value)
    assert_unchanged(before, "command")

    # (b) the web import page, inline: the job failed with the same problems, shown on its page
    response = web.post(reverse("manage:import"),
                        {"kind": kind, "benchmark": bench,
                         "file": SimpleUploadedFile(name, data)})
    assert response.status_code == 302, response.status_code
    job = ImportJob.objects.latest("pk")
    assert job.status == ImportJob.Status.FAILED
    assert job.errors[:len(problems)] == problems
    page = web.get(response["Location"])
    assert page.status_code == 200
    assert escape(problems[0]) in page.content.decode()
    assert_unchanged(before, "web upload")

    # (c) the API: 400 with the same problems, never 500
    response = api.post("/api/imports/", {"kind": kind, "benchmark": bench,
                                          "file": SimpleUploadedFile(name, data)},
                        format="multipart")
    assert response.status_code == 400, response.content[:500]
    assert response.json()["problems"] == problems
    assert_unchanged(before, "API")


@pytest.mark.django_db
def test_a_long_line_under_the_limit_imports():
    """The line limit refuses the pathological, not the merely long (a 2 MB instruction)."""
    record = {"id": "long-1", "language": "en", "instruction": "word " * 400_000,
              "requirements": [{"id": "r1", "text": "Is it long?"}]}
    summary = importers.import_benchmark(data=json.dumps(record).encode(),
                                         file_name="long.jsonl", benchmark_name=FRESH)
    assert summary.created["items"] == 1


@pytest.mark.django_db
def test_the_line_limit_is_a_setting(settings):
    settings.ACCORD_IMPORT_MAX_LINE_BYTES = 100
    record = {"id": "a", "language": "en", "instruction": "x" * 200, "requirements": []}
    with pytest.raises(importers.ImportRejected) as excinfo:
        importers.import_benchmark(data=json.dumps(record).encode(), file_name="b.jsonl",
                                   benchmark_name=FRESH)
    assert excinfo.value.problems[0].startswith("b.jsonl:1: line too long (")
    assert excinfo.value.problems[0].endswith("bytes; limit 100)")
