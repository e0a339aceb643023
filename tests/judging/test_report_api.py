"""GET /api/reports/agreement/: the report dict for admins; 403 for annotators, 401 without
credentials (the report is built from everyone's labels)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation import importers
from judging.reports import ReportFilters, agreement_report
from tests.conftest import DEMO, FIXTURES

URL = "/api/reports/agreement/"


def client_for(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def labelled(demo_benchmark):
    importers.import_labels(data=(FIXTURES / "labels.csv").read_bytes(),
                            file_name="labels.csv", benchmark_name=DEMO)
    return demo_benchmark


def without_time(report: dict) -> dict:
    return {k: v for k, v in report.items() if k != "generated_at"}


def test_admin_gets_the_same_dict_as_the_report_function(admin, labelled):
    response = client_for(admin).get(URL, {"benchmark": DEMO, "resamples": 30, "seed": 3})
    assert response.status_code == 200
    expected = agreement_report(benchmark=labelled, n_resamples=30, seed=3)
    assert without_time(response.json()) == without_time(expected)


def test_filters_are_passed_through_repeated_or_comma_separated(admin, labelled):
    client = client_for(admin)
    repeated = client.get(f"{URL}?benchmark={DEMO}&language=en&language=zh&resamples=0")
    commas = client.get(URL, {"benchmark": DEMO, "language": "en,zh", "resamples": 0})
    assert repeated.status_code == commas.status_code == 200
    assert repeated.json()["filters"]["languages"] == ["en", "zh"]
    assert without_time(repeated.json()) == without_time(commas.json())
    expected = agreement_report(benchmark=labelled, n_resamples=0,
                                filters=ReportFilters(languages=("en", "zh")))
    assert without_time(repeated.json()) == without_time(expected)
    subset = client.get(URL, {"benchmark": DEMO, "subset": "hard", "model": "x",
                              "category": "content", "resamples": 0}).json()
    assert subset["filters"] == {"languages": [], "subsets": ["hard"], "models": ["x"],
                                 "categories": ["content"]}


def test_batch_parameter_restricts_the_report(admin, labelled, make_batch):
    batch = make_batch("pairwise_preference", size=4)
    response = client_for(admin).get(URL, {"benchmark": DEMO, "batch": batch.pk,
                                           "resamples": 0})
    assert response.status_code == 200
    assert response.json()["batch"] == {"id": batch.pk, "name": batch.name}


def test_annotators_get_403_and_never_see_labels(annotator_a, labelled):
    response = client_for(annotator_a).get(URL, {"benchmark": DEMO})
    assert response.status_code == 403
    assert "fields" not in response.json()


def test_anonymous_gets_401():
    response = APIClient().get(URL, {"benchmark": DEMO})
    assert response.status_code == 401


@pytest.mark.django_db
def test_outsider_gets_403(outsider):
    assert client_for(outsider).get(URL, {"benchmark": DEMO}).status_code == 403


def test_unknown_benchmark_or_batch_is_404_and_missing_benchmark_400(admin, labelled):
    client = client_for(admin)
    assert client.get(URL, {"benchmark": "nope"}).status_code == 404
    assert client.get(URL, {"benchmark": DEMO, "batch": 999999}).status_code == 404
    missing = client.get(URL)
    assert missing.status_code == 400
    assert "benchmark" in missing.json()["detail"]
    assert client.get(URL, {"benchmark": DEMO, "batch": "x"}).status_code == 400


@pytest.mark.django_db
def test_schema_still_validates_with_the_report_endpoint():
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out, stderr=io.StringIO())
    assert "/api/reports/agreement/:" in out.getvalue()
