"""annotation.import_jobs: a web import advances its ImportJob row, inline or in a thread."""

from __future__ import annotations

import json
import threading
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse

from annotation import import_jobs
from annotation.importers import ImportSummary
from annotation.models import Benchmark, ImportJob, Item
from tests.conftest import DEMO, FIXTURES


def generated_benchmark(lines: int) -> bytes:
    return "\n".join(
        json.dumps({"id": f"g{n}-en", "language": "en", "instruction": f"Say {n}.",
                    "requirements": [{"id": "r1", "text": f"Does it say {n}?"}]})
        for n in range(lines)
    ).encode()


def new_job(kind: str = "benchmark", file_name: str = "b.jsonl") -> ImportJob:
    return import_jobs.import_job_create(kind=kind, benchmark_name=DEMO, file_name=file_name)


def test_progress_is_written_to_the_job_while_validating_then_writing(db, monkeypatch):
    updates: list[dict] = []
    real_update = import_jobs._update

    def spy(job_id: int, **fields) -> None:
        updates.append(fields)
        real_update(job_id, **fields)

    monkeypatch.setattr(import_jobs, "_update", spy)
    job = import_jobs.run_import_job(new_job().pk, generated_benchmark(450))

    progress = [(u["status"], u.get("lines_done"), u.get("lines_total")) for u in updates]
    assert progress == [
        ("validating", None, None),
        ("validating", 200, 450),
        ("validating", 400, 450),
        ("writing", 450, 450),
        ("done", None, None),
    ]
    assert job.status == ImportJob.Status.DONE
    assert (job.lines_done, job.lines_total) == (450, 450)
    assert job.summary["created"]["items"] == 450
    assert job.summary["file"] == "b.jsonl" and job.errors == []
    assert job.finished_at is not None
    assert Item.objects.filter(benchmark__name=DEMO).count() == 450


def test_progress_updates_are_visible_outside_the_importer(db, monkeypatch):
    seen: list[tuple[str, int, int]] = []

    def importer(*, data, file_name, benchmark_name, progress):
        for done in (1, 3):
            progress(done, 3)
            job = ImportJob.objects.get(file_name=file_name)
            seen.append((job.status, job.lines_done, job.lines_total))
        return ImportSummary(file_name=file_name, lines=3, created={"things": 3})

    monkeypatch.setitem(import_jobs.IMPORTERS, "benchmark", importer)
    job = import_jobs.run_import_job(new_job().pk, b"")
    assert seen == [("validating", 1, 3), ("writing", 3, 3)]
    assert job.status == ImportJob.Status.DONE
    assert job.summary == {"file": "b.jsonl", "lines": 3, "created": {"things": 3},
                           "updated": {}}


def test_a_rejected_file_fails_the_job_with_its_problems(db):
    job = import_jobs.run_import_job(
        new_job(file_name="bad.jsonl").pk,
        b'{"id": "a", "language": "en", "instruction": "x", "requirements": []}\nnot json\n')
    assert job.status == ImportJob.Status.FAILED
    assert job.errors == ["bad.jsonl:2: invalid JSON (Expecting value at column 1)"]
    assert job.summary == {}
    assert not Benchmark.objects.exists()


def test_the_problems_past_the_reported_ones_are_counted(db):
    data = b"\n".join(b"[]" for _ in range(60))
    job = import_jobs.run_import_job(new_job().pk, data)
    assert job.status == ImportJob.Status.FAILED
    assert len(job.errors) == 51
    assert job.errors[-1] == "... and 10 more problems"


def test_responses_for_a_missing_benchmark_fail_the_job(db):
    job = import_jobs.run_import_job(new_job("responses", "r.jsonl").pk,
                                     (FIXTURES / "responses.jsonl").read_bytes())
    assert job.status == ImportJob.Status.FAILED
    assert "does not exist" in job.errors[0]


def test_an_unexpected_error_fails_the_job_instead_of_leaving_it_running(db, monkeypatch,
                                                                         caplog):
    def broken(**kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(import_jobs.IMPORTERS, "benchmark", broken)
    job = import_jobs.run_import_job(new_job().pk, b"")
    assert job.status == ImportJob.Status.FAILED
    assert job.errors == ["b.jsonl: internal error (RuntimeError); nothing was written"]
    assert "disk on fire" in caplog.text


def test_an_unknown_kind_is_refused(db):
    with pytest.raises(ValueError, match="unknown import kind"):
        import_jobs.import_job_create(kind="gold", benchmark_name=DEMO, file_name="x")


def test_inline_mode_runs_the_job_before_returning(db, settings):
    settings.ACCORD_IMPORTS_IN_BACKGROUND = False
    job = new_job()
    assert import_jobs.import_job_start(job, generated_benchmark(3)) is None
    assert job.status == ImportJob.Status.DONE


@pytest.fixture
def uncommitted_reads_on_sqlite(transactional_db):
    """Django tests SQLite on an in-memory database with a shared cache, where reading a table
    that another connection is writing fails at once ("database table is locked") instead of
    waiting on the busy timeout as it does on the WAL file Accord runs on. Uncommitted reads
    take no table lock; this thread (the test client's) only reads while the import runs."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA read_uncommitted = 1")
    yield
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA read_uncommitted = 0")


def test_the_background_thread_finishes_and_the_page_stops_polling(
        uncommitted_reads_on_sqlite, client, admin, settings):
    settings.ACCORD_IMPORTS_IN_BACKGROUND = True
    client.force_login(admin)
    threads_before = set(threading.enumerate())
    response = client.post(reverse("manage:import"), {
        "kind": "benchmark", "benchmark": DEMO,
        "file": SimpleUploadedFile("benchmark.jsonl",
                                   (FIXTURES / "benchmark.jsonl").read_bytes()),
    }, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    job = ImportJob.objects.get()
    url = reverse("manage:import_job", args=[job.pk])

    deadline = time.monotonic() + 30
    polls = 0
    while True:
        html = client.get(url, HTTP_HX_REQUEST="true").content.decode()
        polls += 1
        if "hx-trigger" not in html:
            break
        assert 'hx-trigger="every 500ms"' in html
        assert time.monotonic() < deadline, "the import never finished"
        time.sleep(0.05)

    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE, job.errors
    assert "Done" in html and "hx-get" not in html
    assert Item.objects.filter(benchmark__name=DEMO).count() == 48
    assert job.lines_done == job.lines_total == 48
    for thread in set(threading.enumerate()) - threads_before:
        if thread.name.startswith("accord-import-"):
            thread.join(timeout=10)
            assert not thread.is_alive()
