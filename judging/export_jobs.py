"""Gold exports started from the web page: a background thread and a JSON file of its state.

There is no export job model. Each job's state is one small JSON file,
`VAR_DIR/exports/<job id>.json`, replaced atomically (written beside it, then `os.replace`) on
every change. A file rather than a dict in memory because gunicorn runs several worker
processes: the request that polls the job may reach another worker than the one whose thread
runs it, and every worker on the machine reads the same file. The thread writes the export
into `VAR_DIR/exports/<job id>/` through `gold.export_gold` (the same call as the
`export_gold` command), zips it to `VAR_DIR/exports/<job id>.zip` and removes the directory.

A job, its zip included, is deleted an hour after its last change (checked whenever a job
starts). A job that stops changing before it finishes lost its process (a worker restarted):
it is reported as failed after `STALLED_AFTER`.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType

from django.conf import settings
from django.db import connection

from annotation.models import Benchmark

logger = logging.getLogger("accord.exports")

EXPIRE_AFTER = 3600.0  # seconds after the last change
STALLED_AFTER = 600.0  # seconds without progress before a running job counts as lost
PROGRESS_EVERY = 0.25  # seconds between two writes of the state file for the same stage
ZIP_STAGE = "Zipping the files"
# gold.export_gold's stage names, as the page shows them.
STAGE_TITLES = {
    "resolve": "Resolving the labels",
    "removed": "Writing removed.jsonl",
    "benchmark": "Writing benchmark.jsonl",
    "judgments": "Writing judgments_gold.jsonl",
    "labels": "Writing labels.csv",
    "scores": "Writing scores.csv",
    "agreement": "Computing the agreement report",
}


class Status:
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass
class ExportJob:
    id: str
    benchmark: str
    strategy: str
    status: str = Status.QUEUED
    stage: str = ""
    done: int = 0
    total: int = 0
    error: str = ""
    files: dict[str, int] = field(default_factory=dict)
    removed_groups: int = 0
    created_at: float = 0.0
    updated_at: float = 0.0

    @property
    def finished(self) -> bool:
        return self.status in (Status.DONE, Status.FAILED)

    @property
    def zip_path(self) -> Path:
        return exports_dir() / f"{self.id}.zip"

    @property
    def out_dir(self) -> Path:
        return exports_dir() / self.id

    @property
    def download_name(self) -> str:
        return f"gold-{self.benchmark}-{self.strategy}.zip"

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0


def gold() -> ModuleType:
    # Looked up at call time: tests replace the module, and importing it here would tie the
    # job machinery to its import cost.
    return importlib.import_module("judging.gold")


def exports_in_background() -> bool:
    return getattr(settings, "ACCORD_EXPORTS_IN_BACKGROUND", True)


def exports_dir() -> Path:
    return Path(settings.VAR_DIR) / "exports"


def _state_path(job_id: str) -> Path:
    return exports_dir() / f"{job_id}.json"


def _save(job: ExportJob) -> None:
    job.updated_at = time.time()
    directory = exports_dir()
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{job.id}.", suffix=".json.part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(asdict(job), f)
        os.replace(tmp, _state_path(job.id))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _load(job_id: str) -> ExportJob | None:
    try:
        data = json.loads(_state_path(job_id).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return ExportJob(**data)


def _delete(job_id: str) -> None:
    directory = exports_dir()
    shutil.rmtree(directory / job_id, ignore_errors=True)
    for path in (directory / f"{job_id}.zip", directory / f"{job_id}.zip.part",
                 _state_path(job_id)):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def export_job_get(job_id: str | uuid.UUID) -> ExportJob | None:
    """The job, or None when the id is unknown or the job expired."""
    try:
        job_id = str(uuid.UUID(str(job_id)))  # never a path built from arbitrary input
    except ValueError:
        return None
    job = _load(job_id)
    if job is None:
        return None
    age = time.time() - job.updated_at
    if age > EXPIRE_AFTER:
        _delete(job_id)
        return None
    if not job.finished and age > STALLED_AFTER:
        job.status = Status.FAILED
        job.error = ("The server process running this export stopped before it finished; "
                     "start it again.")
    return job


def export_jobs_purge(*, now: float | None = None) -> int:
    """Delete the jobs whose last change is older than an hour; return how many."""
    now = time.time() if now is None else now
    directory = exports_dir()
    if not directory.is_dir():
        return 0
    purged = 0
    for path in directory.glob("*.json"):
        job = _load(path.stem)
        updated = job.updated_at if job else path.stat().st_mtime
        if now - updated > EXPIRE_AFTER:
            _delete(path.stem)
            purged += 1
    return purged


def export_job_create(*, benchmark: Benchmark, strategy: str) -> ExportJob:
    if strategy not in gold().STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; one of {', '.join(gold().STRATEGIES)}")
    export_jobs_purge()
    job = ExportJob(id=str(uuid.uuid4()), benchmark=benchmark.name, strategy=strategy,
                    created_at=time.time())
    _save(job)
    return job


def _zip(job: ExportJob) -> None:
    """Zip the export directory file by file (zipfile copies each in chunks), into a
    temporary name first so a download never sees half a zip."""
    paths = sorted(p for p in job.out_dir.rglob("*") if p.is_file())
    part = job.zip_path.with_suffix(".zip.part")
    job.stage, job.done, job.total = ZIP_STAGE, 0, len(paths)
    _save(job)
    with zipfile.ZipFile(part, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in paths:
            archive.write(path, arcname=path.relative_to(job.out_dir).as_posix())
            job.done += 1
            _save(job)
    os.replace(part, job.zip_path)


def run_export_job(job_id: str) -> ExportJob:
    """Run one job to its end (done or failed) and return it. Never raises: an error is
    logged and stored on the job, so the page polling it always sees it finish."""
    job = _load(job_id)
    if job is None:
        raise LookupError(f"no export job {job_id}")
    job.status, job.stage = Status.RUNNING, "Starting"
    _save(job)
    last_write = 0.0

    def progress(stage: str, done: int, total: int) -> None:
        nonlocal last_write
        now = time.monotonic()
        stage = STAGE_TITLES.get(stage, stage)
        changed = stage != job.stage or done >= total
        job.stage, job.done, job.total = stage, done, total
        if changed or now - last_write >= PROGRESS_EVERY:
            last_write = now
            _save(job)

    try:
        benchmark = Benchmark.objects.filter(name=job.benchmark).first()
        if benchmark is None:
            raise LookupError(f"the benchmark {job.benchmark} no longer exists")
        shutil.rmtree(job.out_dir, ignore_errors=True)
        job.out_dir.mkdir(parents=True)
        summary = gold().export_gold(benchmark=benchmark, out_dir=job.out_dir,
                                     strategy=job.strategy, progress=progress)
        _zip(job)
    except Exception as exc:
        logger.exception("export job %s failed", job_id)
        job.status = Status.FAILED
        job.error = (f"The export was refused: {exc}" if isinstance(exc, gold().GoldExportError)
                     else f"The export failed ({type(exc).__name__}: {exc}).")
        with contextlib.suppress(FileNotFoundError):
            job.zip_path.with_suffix(".zip.part").unlink()
    else:
        job.status, job.stage = Status.DONE, "Done"
        job.files = dict(summary.files)
        job.removed_groups = summary.removed_groups
    finally:
        shutil.rmtree(job.out_dir, ignore_errors=True)
    _save(job)
    return job


def _run_in_thread(job_id: str) -> None:
    try:
        run_export_job(job_id)
    finally:
        # This thread opened its own connection; nobody else will close it.
        connection.close()


def export_job_start(job: ExportJob) -> threading.Thread | None:
    """Run the job in a background thread (the default) or, when the setting
    ACCORD_EXPORTS_IN_BACKGROUND is false, inline before returning (then returns None)."""
    if not exports_in_background():
        run_export_job(job.id)
        return None
    thread = threading.Thread(target=_run_in_thread, args=(job.id,),
                              name=f"accord-export-{job.id[:8]}", daemon=True)
    thread.start()
    return thread
