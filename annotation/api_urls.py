"""URLs of the REST API, included at /api/. Every name starts with `api-`."""

from django.urls import path

from . import api

urlpatterns = [
    path("auth/token/", api.TokenObtainApi.as_view(), name="api-token"),
    # annotators: their own queues and assignments
    path("queues/", api.QueueListApi.as_view(), name="api-queue-list"),
    path("queues/<int:batch_id>/next/", api.QueueNextApi.as_view(), name="api-queue-next"),
    path("assignments/<int:assignment_id>/", api.AssignmentDetailApi.as_view(),
         name="api-assignment-detail"),
    path("assignments/<int:assignment_id>/submit/", api.AssignmentSubmitApi.as_view(),
         name="api-assignment-submit"),
    path("assignments/<int:assignment_id>/skip/", api.AssignmentSkipApi.as_view(),
         name="api-assignment-skip"),
    # admins
    path("benchmarks/", api.BenchmarkListApi.as_view(), name="api-benchmark-list"),
    path("imports/", api.ImportApi.as_view(), name="api-import"),
    path("batches/", api.BatchListCreateApi.as_view(), name="api-batch-list"),
    path("batches/<int:batch_id>/", api.BatchDetailApi.as_view(), name="api-batch-detail"),
]
