"""The gold export page: who may use it, a job from start to zip, polling, the download, and
jobs that are unknown, failed, expired or lost with their process.

`gold.export_gold` is replaced by a stub writing the six files (`fake_gold`), so these tests
pin the job machinery; the end-to-end tests at the bottom run the real export.
"""

from __future__ import annotations

import io
import json
import sys
import time
import types
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.urls import reverse

from annotation.models import Benchmark, TaskKind
from judging import export_jobs
from tests.conftest import DEMO

EXPORT = reverse("reports:export")
PAGE = f"{EXPORT}?benchmark={DEMO}"
SIX_FILES = ("benchmark.jsonl", "removed.jsonl", "judgments_gold.jsonl", "labels.csv",
             "agreement.json", "scores.csv")
SCORE_ROW = {"language": "en", "model": "m1", "judge": "j1", "n_instructions": 4,
             "n_requirements": 10, "rfr_judge": 0.8, "rfr_gold": 0.7, "ifr_judge": 0.5,
             "ifr_gold": 0.25}


@dataclass(frozen=True)
class FakeSummary:
    out_dir: Path
    files: dict[str, int]
    removed_groups: int
    strategy: str


class FakeGold(types.ModuleType):
    """Stands in for `judging.gold`; records its calls."""

    STRATEGIES = ("conservative", "majority")

    class GoldExportError(ValueError):
        pass

    def __init__(self) -> None:
        super().__init__("judging.gold")
        self.calls: list[dict] = []
        self.rows: list[dict] = [dict(SCORE_ROW)]
        self.fail: Exception | None = None

    def export_gold(self, *, benchmark, out_dir: Path, strategy="conservative", progress=None):
        self.calls.append({"benchmark": benchmark, "out_dir": out_dir, "strategy": strategy})
        for i, name in enumerate(SIX_FILES, start=1):
            if progress:
                progress(f"Writing {name}", i - 1, len(SIX_FILES))
            if self.fail and i == 3:
                raise self.fail
            (out_dir / name).write_text("x\n" * i, encoding="utf-8")
        (out_dir / "scores.parquet").write_bytes(b"PAR1")
        if progress:
            progress("Done", len(SIX_FILES), len(SIX_FILES))
        return FakeSummary(out_dir=out_dir, files={n: i for i, n in enumerate(SIX_FILES, 1)},
                           removed_groups=2, strategy=strategy)

    def score_rows(self, *, benchmark, strategy="conservative"):
        self.calls.append({"benchmark": benchmark, "strategy": strategy})
        return [dict(r) for r in self.rows]


@pytest.fixture
def exports(settings, tmp_path) -> Path:
    settings.VAR_DIR = tmp_path
    settings.ACCORD_EXPORTS_IN_BACKGROUND = False
    return tmp_path / "exports"


def install_fake_gold(monkeypatch) -> FakeGold:
    fake = FakeGold()
    # The views and export_jobs look the module up at call time, so sys.modules is where
    # to replace it.
    monkeypatch.setitem(sys.modules, "judging.gold", fake)
    return fake


@pytest.fixture
def fake_gold(monkeypatch, exports) -> FakeGold:
    return install_fake_gold(monkeypatch)


@pytest.fixture
def staff_client(client, admin):
    client.force_login(admin)
    return client


def job_url(job_id: str) -> str:
    return reverse("reports:export_job", args=[job_id])


def download_url(job_id: str) -> str:
    return reverse("reports:export_download", args=[job_id])


def start(client, strategy: str = "conservative", **headers) -> str:
    """POST the form; return the job id (from the redirect or the push URL)."""
    response = client.post(PAGE, {"strategy": strategy}, **headers)
    location = response.get("HX-Push-Url") or response["Location"]
    return location.rstrip("/").split("/")[-1]


# --- access ---------------------------------------------------------------------------------

def protected_urls(job_id: str) -> list[str]:
    return [EXPORT, PAGE, job_url(job_id), download_url(job_id)]


def test_anonymous_visitors_are_sent_to_the_login_page(client, demo_benchmark, fake_gold,
                                                       admin):
    client.force_login(admin)
    job_id = start(client)
    client.logout()
    for url in protected_urls(job_id):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login"))
    assert client.post(PAGE, {"strategy": "majority"}).status_code == 302
    assert len(fake_gold.calls) == 1


def test_annotators_are_refused(client, demo_benchmark, fake_gold, admin, annotator_a):
    client.force_login(admin)
    job_id = start(client)
    client.force_login(annotator_a)
    for url in protected_urls(job_id):
        assert client.get(url).status_code == 403, url
    assert client.post(PAGE, {"strategy": "majority"}).status_code == 403
    assert len(fake_gold.calls) == 1


def test_admins_see_every_page(staff_client, demo_benchmark, fake_gold):
    job_id = start(staff_client)
    for url in protected_urls(job_id):
        assert staff_client.get(url).status_code == 200, url


def test_without_a_benchmark_the_page_offers_a_picker(staff_client, demo_benchmark, fake_gold):
    page = staff_client.get(EXPORT).content.decode()
    assert f'href="{EXPORT}?benchmark={DEMO}"' in page


def test_an_unknown_benchmark_is_404(staff_client, db, fake_gold):
    assert staff_client.get(EXPORT, {"benchmark": "nope"}).status_code == 404
    assert staff_client.post(f"{EXPORT}?benchmark=nope", {"strategy": "majority"}
                             ).status_code == 404
    assert fake_gold.calls == []


def test_the_page_offers_both_strategies(staff_client, demo_benchmark, fake_gold):
    page = staff_client.get(PAGE).content.decode()
    assert 'value="conservative"' in page and 'value="majority"' in page
    assert 'hx-post="' in page
    assert 'id="export-job"' in page  # the empty slot the first job replaces


def test_an_unknown_strategy_is_refused(staff_client, demo_benchmark, fake_gold, exports):
    response = staff_client.post(PAGE, {"strategy": "dawid-skene"})
    assert response.status_code == 400
    assert fake_gold.calls == []
    assert not exports.exists() or not list(exports.iterdir())


# --- the job, run inline ----------------------------------------------------------------------

def test_an_export_runs_to_a_zip_of_the_six_files(staff_client, demo_benchmark, fake_gold,
                                                  exports):
    job_id = start(staff_client, "majority")
    (call,) = fake_gold.calls
    assert call["benchmark"] == demo_benchmark
    assert call["strategy"] == "majority"
    assert call["out_dir"] == exports / job_id

    with zipfile.ZipFile(exports / f"{job_id}.zip") as archive:
        names = set(archive.namelist())
        assert set(SIX_FILES) <= names
        assert "scores.parquet" in names
        assert archive.read("labels.csv") == b"x\n" * 4
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in archive.infolist())
    # The directory is zipped, then removed; no temporary file is left behind.
    assert sorted(p.name for p in exports.iterdir()) == [f"{job_id}.json", f"{job_id}.zip"]

    page = staff_client.get(job_url(job_id)).content.decode()
    assert 'data-status="done"' in page
    assert f'href="{download_url(job_id)}"' in page
    assert "Download zip" in page
    assert "<code>labels.csv</code></th><td class=\"num\">4</td>" in page
    assert "2 groups removed" in page
    assert "hx-trigger" not in page.split('id="export-job"')[1]


def test_the_job_state_is_a_json_file(staff_client, demo_benchmark, fake_gold, exports):
    job_id = start(staff_client)
    state = json.loads((exports / f"{job_id}.json").read_text())
    assert state["status"] == "done"
    assert state["benchmark"] == DEMO
    assert state["strategy"] == "conservative"
    assert state["files"]["benchmark.jsonl"] == 1
    assert state["removed_groups"] == 2


def test_progress_reaches_the_state_file(demo_benchmark, fake_gold, exports, monkeypatch):
    seen: list[tuple[str, str, int, int]] = []
    save = export_jobs._save

    def spy(job):
        save(job)
        seen.append((job.status, job.stage, job.done, job.total))

    monkeypatch.setattr(export_jobs, "_save", spy)
    monkeypatch.setattr(export_jobs, "PROGRESS_EVERY", 0)
    job = export_jobs.export_job_create(benchmark=demo_benchmark, strategy="conservative")
    export_jobs.export_job_start(job)
    stages = [s for _, s, _, _ in seen]
    assert "Writing benchmark.jsonl" in stages
    assert export_jobs.ZIP_STAGE in stages
    assert ("running", export_jobs.ZIP_STAGE, len(SIX_FILES) + 1, len(SIX_FILES) + 1) in seen
    assert seen[-1][0] == "done"


def test_htmx_start_returns_the_polling_panel_and_pushes_its_url(
        staff_client, demo_benchmark, fake_gold, monkeypatch):
    monkeypatch.setattr(export_jobs, "export_job_start", lambda job: None)  # stays queued
    response = staff_client.post(PAGE, {"strategy": "conservative"}, HTTP_HX_REQUEST="true")
    job_id = response["HX-Push-Url"].rstrip("/").split("/")[-1]
    assert response["HX-Push-Url"] == job_url(job_id)
    panel = response.content.decode()
    assert panel.lstrip().startswith("<section") or '<section id="export-job"' in panel
    assert "<html" not in panel
    assert f'hx-get="{job_url(job_id)}" hx-trigger="every 500ms"' in panel
    assert 'data-status="queued"' in panel


def test_a_running_job_polls_and_shows_its_stage(staff_client, demo_benchmark, fake_gold,
                                                 monkeypatch):
    monkeypatch.setattr(export_jobs, "export_job_start", lambda job: None)
    job_id = start(staff_client)
    job = export_jobs.export_job_get(job_id)
    job.status, job.stage, job.done, job.total = "running", "Writing labels.csv", 3, 6
    export_jobs._save(job)
    response = staff_client.get(job_url(job_id), HTTP_HX_REQUEST="true")
    panel = response.content.decode()
    assert response["Vary"] == "HX-Request" or "HX-Request" in response["Vary"]
    assert 'hx-trigger="every 500ms"' in panel
    assert "Writing labels.csv · 3 of 6" in panel
    assert '<progress value="3" max="6"' in panel
    assert "Download zip" not in panel
    assert staff_client.get(download_url(job_id)).status_code == 404


def test_a_failed_export_shows_its_error_and_offers_no_zip(staff_client, demo_benchmark,
                                                           fake_gold, exports):
    fake_gold.fail = RuntimeError("no judge decisions")
    job_id = start(staff_client)
    panel = staff_client.get(job_url(job_id), HTTP_HX_REQUEST="true").content.decode()
    assert 'data-status="failed"' in panel
    assert "no judge decisions" in panel
    assert "hx-trigger" not in panel
    assert "Download zip" not in panel
    assert staff_client.get(download_url(job_id)).status_code == 404
    assert sorted(p.name for p in exports.iterdir()) == [f"{job_id}.json"]


def test_a_benchmark_deleted_before_the_job_runs_fails_it(demo_benchmark, fake_gold):
    job = export_jobs.export_job_create(benchmark=demo_benchmark, strategy="conservative")
    Benchmark.objects.filter(pk=demo_benchmark.pk).delete()
    done = export_jobs.run_export_job(job.id)
    assert done.status == "failed"
    assert "no longer exists" in done.error
    assert fake_gold.calls == []


# --- the download ---------------------------------------------------------------------------

def test_the_download_streams_the_zip_as_an_attachment(staff_client, demo_benchmark, fake_gold,
                                                       exports):
    job_id = start(staff_client, "majority")
    response = staff_client.get(download_url(job_id))
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == (
        f'attachment; filename="gold-{DEMO}-majority.zip"')
    body = b"".join(response.streaming_content)
    assert body == (exports / f"{job_id}.zip").read_bytes()


# --- unknown, expired and lost jobs ---------------------------------------------------------

def test_an_unknown_job_is_404_with_a_message(staff_client, db, fake_gold):
    job_id = str(uuid.uuid4())
    response = staff_client.get(job_url(job_id))
    assert response.status_code == 404
    page = response.content.decode()
    assert "another server process" in page and "Start it again" in page
    assert staff_client.get(download_url(job_id)).status_code == 404


def test_polling_an_unknown_job_shows_the_message_and_stops(staff_client, db, fake_gold):
    # htmx swaps no error response, so the message comes as a 200 panel without a trigger.
    response = staff_client.get(job_url(str(uuid.uuid4())), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    panel = response.content.decode()
    assert "another server process" in panel
    assert "hx-trigger" not in panel


def test_a_malformed_job_id_is_not_a_path(db, fake_gold, exports):
    exports.mkdir(parents=True)
    (exports.parent / "secret.json").write_text("{}")
    assert export_jobs.export_job_get("../secret") is None


def test_jobs_expire_after_an_hour(staff_client, demo_benchmark, fake_gold, exports):
    old = start(staff_client)
    fresh = start(staff_client)
    state_file = exports / f"{old}.json"
    state = json.loads(state_file.read_text())
    state["updated_at"] = time.time() - export_jobs.EXPIRE_AFTER - 5
    state_file.write_text(json.dumps(state))

    assert export_jobs.export_jobs_purge() == 1
    assert not (exports / f"{old}.zip").exists()
    assert not state_file.exists()
    assert (exports / f"{fresh}.zip").exists()
    assert staff_client.get(job_url(old)).status_code == 404


def test_a_job_that_stopped_changing_counts_as_lost(staff_client, demo_benchmark, fake_gold,
                                                    monkeypatch, exports):
    monkeypatch.setattr(export_jobs, "export_job_start", lambda job: None)
    job_id = start(staff_client)
    state_file = exports / f"{job_id}.json"
    state = json.loads(state_file.read_text())
    state.update(status="running", updated_at=time.time() - export_jobs.STALLED_AFTER - 5)
    state_file.write_text(json.dumps(state))
    panel = staff_client.get(job_url(job_id), HTTP_HX_REQUEST="true").content.decode()
    assert 'data-status="failed"' in panel
    assert "start it again" in panel
    assert "hx-trigger" not in panel


# --- a real thread ----------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_the_job_runs_in_a_background_thread(client, admin, fake_gold, settings, exports,
                                             monkeypatch):
    from tests.conftest import load_demo_benchmark

    load_demo_benchmark()
    settings.ACCORD_EXPORTS_IN_BACKGROUND = True
    threads = []
    real_start = export_jobs.export_job_start

    def recording_start(job):
        thread = real_start(job)
        threads.append(thread)
        return thread

    monkeypatch.setattr(export_jobs, "export_job_start", recording_start)
    client.force_login(admin)
    job_id = start(client)
    (thread,) = threads
    assert thread is not None
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert export_jobs.export_job_get(job_id).status == "done"
    assert (exports / f"{job_id}.zip").is_file()


# --- links ------------------------------------------------------------------------------------

def test_the_dashboard_and_the_report_link_to_the_gold_pages(staff_client, demo_benchmark,
                                                             fake_gold):
    shift = reverse("reports:score_shift")
    dashboard = staff_client.get(reverse("manage:dashboard")).content.decode()
    assert f'href="{EXPORT}?benchmark={DEMO}"' in dashboard
    assert f'href="{shift}?benchmark={DEMO}"' in dashboard
    report = staff_client.get(reverse("reports:agreement"), {"benchmark": DEMO}
                              ).content.decode()
    assert f'href="{EXPORT}?benchmark={DEMO}"' in report
    assert f'href="{shift}?benchmark={DEMO}"' in report


# --- end to end, with the real gold export --------------------------------------------------

def test_the_real_export_zips_the_six_files_and_their_parquet(staff_client, make_batch,
                                                              annotator_a, exports):
    from tests.judging.test_report_page import label_batch

    batch = make_batch(TaskKind.INSTRUCTION_VALIDATION, fraction=1.0, overlap=0.0)
    label_batch(batch, annotator_a, disagree_on={batch.units.order_by("id")[0].unit_key})
    job_id = start(staff_client)
    job = export_jobs.export_job_get(job_id)
    assert job.status == "done", job.error
    assert job.removed_groups >= 1
    with zipfile.ZipFile(exports / f"{job_id}.zip") as archive:
        names = set(archive.namelist())
        assert set(SIX_FILES) <= names
        assert {"benchmark.parquet", "scores.parquet", "labels.parquet"} <= names
        removed = archive.read("removed.jsonl").decode().splitlines()
        assert len(removed) == job.removed_groups == job.files["removed.jsonl"]
        assert archive.read("scores.csv").decode().startswith(
            "language,model,judge,n_instructions,n_requirements,")
    page = staff_client.get(job_url(job_id)).content.decode()
    assert "<code>scores.csv</code>" in page
    assert not [p for p in exports.iterdir() if p.is_dir()]


@pytest.mark.django_db(transaction=True)
def test_the_real_export_runs_in_a_background_thread(client, admin, settings, exports,
                                                     monkeypatch):
    from tests.conftest import load_demo_benchmark

    load_demo_benchmark()
    settings.ACCORD_EXPORTS_IN_BACKGROUND = True
    threads = []
    real_start = export_jobs.export_job_start
    monkeypatch.setattr(export_jobs, "export_job_start",
                        lambda job: threads.append(real_start(job)) or threads[-1])
    client.force_login(admin)
    job_id = start(client, "majority")
    threads[0].join(timeout=60)
    job = export_jobs.export_job_get(job_id)
    assert job.status == "done", job.error
    response = client.get(download_url(job_id))
    assert response["Content-Disposition"] == f'attachment; filename="gold-{DEMO}-majority.zip"'
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as archive:
        assert set(SIX_FILES) <= set(archive.namelist())
