"""REST endpoint of the agreement report: `GET /api/reports/agreement/` (admins only).

It returns the very dict that the report page, the downloads and the `agreement_report`
command render (judging.reports), so the four faces never disagree. Annotators get 403: the
report is built from everyone's labels.
"""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from annotation.api import AdminApiView, component, errors
from annotation.models import Batch, Benchmark

from .reports import ReportFilters, agreement_report

REPORT_DESCRIPTION = (
    "The agreement report as one JSON object: `benchmark`, `batch`, `filters`, `generated_at`, "
    "`fields` (per task and field: ratio after resolution, prevalence, percent agreement, "
    "Cohen's and Fleiss' kappa, Krippendorff's alpha, Gwet's AC1, Brennan-Prediger, annotator "
    "pairs, each annotator against the others' majority, confusion matrix, breakdowns), "
    "`judge_requirements`, `judge_direct_score` and `judge_pairwise`. Every statistic is "
    "`{value, n_units, n_labels, reason, ci95}`; `value` is null with a `reason` when the data "
    "leave it undefined."
)


class _ListParam(serializers.ListField):
    """A repeatable query parameter that also accepts comma-separated values."""

    def get_value(self, dictionary: Any) -> Any:
        if not hasattr(dictionary, "getlist") or self.field_name not in dictionary:
            return serializers.empty
        return [v.strip() for raw in dictionary.getlist(self.field_name)
                for v in raw.split(",") if v.strip()]


class AgreementReportApi(AdminApiView):
    @component("AgreementReportQuery")
    class InputSerializer(serializers.Serializer):
        benchmark = serializers.CharField(help_text="benchmark name")
        batch = serializers.IntegerField(required=False, help_text="only this batch (its id)")
        language = _ListParam(child=serializers.CharField(), required=False,
                              help_text="only these languages (repeat or comma-separate)")
        subset = _ListParam(child=serializers.CharField(), required=False)
        model = _ListParam(child=serializers.CharField(), required=False)
        category = _ListParam(child=serializers.CharField(), required=False,
                              help_text="only these requirement categories")
        seed = serializers.IntegerField(required=False, default=0, min_value=0)
        resamples = serializers.IntegerField(required=False, default=1000, min_value=0,
                                             max_value=10000)

    @extend_schema(
        summary="Inter-annotator and judge-human agreement of a benchmark or batch",
        parameters=[InputSerializer],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description=REPORT_DESCRIPTION),
                   **errors(400, 401, 403, 404)},
    )
    def get(self, request: Request) -> Response:
        query = self.InputSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        benchmark = get_object_or_404(Benchmark, name=params["benchmark"])
        batch = None
        if params.get("batch") is not None:
            batch = get_object_or_404(Batch, pk=params["batch"], benchmark=benchmark)
        filters = ReportFilters(
            languages=tuple(params.get("language", ())), subsets=tuple(params.get("subset", ())),
            models=tuple(params.get("model", ())),
            categories=tuple(params.get("category", ())))
        report = agreement_report(benchmark=benchmark, batch=batch, filters=filters,
                                  n_resamples=params["resamples"], seed=params["seed"])
        return Response(report)
