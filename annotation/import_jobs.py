"""Imports started from the web page: an `ImportJob` row that a background thread advances.

The thread calls the same importers as the management commands, so a file imports the same
way from the page and from the command line. Progress is written to the job row with plain
autocommit updates: given a progress callback, the importers validate the whole file before
they open their write transaction, so those updates are visible to the page that polls while
validation runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.utils import timezone

from . import importers
from .importers import ImportRejected, ImportSummary
from .models import ImportJob

logger = logging.getLogger("accord.imports")

Importer = Callable[..., ImportSummary]

IMPORTERS: dict[str, Importer] = {
    "benchmark": importers.import_benchmark,
    "responses": importers.import_responses,
    "pairs": importers.import_pairs,
    "labels": importers.import_labels,
}
# The kinds whose importer creates the benchmark when the name is new; the others need it.
CREATES_BENCHMARK = frozenset({"benchmark", "pairs"})


def imports_in_background() -> bool:
    return getattr(settings, "ACCORD_IMPORTS_IN_BACKGROUND", True)


def import_job_create(*, kind: str, benchmark_name: str, file_name: str,
                      created_by: AbstractBaseUser | None = None) -> ImportJob:
    if kind not in IMPORTERS:
        raise ValueError(f"unknown import kind {kind!r}; one of {', '.join(IMPORTERS)}")
    return ImportJob.objects.create(kind=kind, benchmark_name=benchmark_name,
                                    file_name=file_name, created_by=created_by)


def _update(job_id: int, **fields) -> None:
    ImportJob.objects.filter(pk=job_id).update(**fields)


def run_import_job(job_id: int, data: bytes) -> ImportJob:
    """Run one queued job to its end (done or failed) and return it.

    Never raises for a bad file: the problems are stored on the job. An unexpected error is
    logged and stored too, so a page polling the job always sees it finish.
    """
    job = ImportJob.objects.get(pk=job_id)
    importer = IMPORTERS[job.kind]

    def progress(done: int, total: int) -> None:
        # The importers report the last line once every line is parsed; what is left is the
        # cross-line checks and the write transaction.
        status = ImportJob.Status.WRITING if done >= total else ImportJob.Status.VALIDATING
        _update(job_id, lines_done=done, lines_total=total, status=status)

    _update(job_id, status=ImportJob.Status.VALIDATING)
    try:
        summary = importer(data=data, file_name=job.file_name,
                           benchmark_name=job.benchmark_name, progress=progress)
    except ImportRejected as exc:
        problems = list(exc.problems)
        if exc.total > len(problems):
            problems.append(f"... and {exc.total - len(problems)} more problems")
        _update(job_id, status=ImportJob.Status.FAILED, errors=problems,
                finished_at=timezone.now())
    except Exception as exc:
        logger.exception("import job %s failed", job_id)
        _update(job_id, status=ImportJob.Status.FAILED, finished_at=timezone.now(),
                errors=[f"{job.file_name}: internal error ({type(exc).__name__}); "
                        "nothing was written"])
    else:
        _update(job_id, status=ImportJob.Status.DONE, summary=summary.as_dict(),
                finished_at=timezone.now())
    job.refresh_from_db()
    return job


def _run_in_thread(job_id: int, data: bytes) -> None:
    try:
        run_import_job(job_id, data)
    finally:
        # This thread opened its own connection; nobody else will close it.
        connection.close()


def import_job_start(job: ImportJob, data: bytes) -> threading.Thread | None:
    """Run the job in a background thread (the default) or, when the setting
    ACCORD_IMPORTS_IN_BACKGROUND is false, inline before returning (then returns None)."""
    if not imports_in_background():
        run_import_job(job.pk, data)
        job.refresh_from_db()
        return None
    thread = threading.Thread(target=_run_in_thread, args=(job.pk, data),
                              name=f"accord-import-{job.pk}", daemon=True)
    thread.start()
    return thread
