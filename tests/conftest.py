"""The fixed cast of every test: an admin, two annotators who share a batch, an outsider.

Data is loaded through the same services the app uses (importers, batch_create), never by
writing rows by hand, so tests exercise the paths users take.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from annotation import importers
from annotation.models import Batch, Benchmark, TaskKind
from annotation.services import SampleRequest, batch_create, user_ensure
from annotation.tasks import Filters

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
SHARED_DATA = REPO.parent / "shared" / "data"
DEMO = "xifbench-demo"
PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # PBKDF2 at production strength costs ~0.3 s per password; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_unit_cache():
    # Each test starts with the item pages' in-memory units empty, as a new process does.
    from annotation.selectors import UNITS

    UNITS.clear()
    yield
    UNITS.clear()


@pytest.fixture
def admin(db):
    return user_ensure(username="alice_admin", password=PASSWORD, is_staff=True)


@pytest.fixture
def annotator_a(db):
    return user_ensure(username="ana", password=PASSWORD)


@pytest.fixture
def annotator_b(db):
    return user_ensure(username="ben", password=PASSWORD)


@pytest.fixture
def outsider(db):
    return user_ensure(username="oscar", password=PASSWORD)


def load_demo_benchmark() -> Benchmark:
    for name, importer in (("benchmark.jsonl", importers.import_benchmark),
                           ("responses.jsonl", importers.import_responses),
                           ("pairs.jsonl", importers.import_pairs)):
        importer(data=(FIXTURES / name).read_bytes(), file_name=name, benchmark_name=DEMO)
    return Benchmark.objects.get(name=DEMO)


@pytest.fixture
def demo_benchmark(db) -> Benchmark:
    return load_demo_benchmark()


@pytest.fixture
def make_batch(demo_benchmark, annotator_a, annotator_b, admin):
    """make_batch(kind, **options): a batch of the demo benchmark for ana and ben."""

    def make(kind: str = TaskKind.JUDGE_AGREEMENT, *, name: str | None = None,
             filters: Filters | None = None, size: int | None = None,
             fraction: float | None = None, seed: int = 7, overlap: float = 0.5,
             annotators=None, dimensions=()) -> Batch:
        return batch_create(
            benchmark=demo_benchmark, kind=kind, name=name or f"test {kind} {seed}",
            annotators=annotators or [annotator_a, annotator_b],
            filters=filters or Filters(), created_by=admin,
            sample=SampleRequest(size=size, fraction=fraction, seed=seed,
                                 overlap_fraction=overlap, overlap_k=2),
            dimensions=dimensions,
        )

    return make


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (../shared beside the checkout)")
    return SHARED_DATA
