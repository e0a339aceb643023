"""URLs of the report API, included at /api/reports/ (names start with `api-`)."""

from django.urls import path

from . import api

urlpatterns = [
    path("agreement/", api.AgreementReportApi.as_view(), name="api-report-agreement"),
]
