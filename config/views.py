"""Project-wide views: the health check, and error pages that answer an API client in JSON,
as the OpenAPI schema documents."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # A path no API route matches (/api/assignments/abc/) never reaches DRF's handler.
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """The process answers: a few bytes, no template, no session, no table (a load balancer's
    probe, and the floor `make bench` measures the queue against)."""
    return HttpResponse(b"ok\n", content_type="text/plain")
