from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from config.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/reports/", include("judging.api_urls")),
    path("api/", include("annotation.api_urls")),
    path("reports/", include(("judging.urls", "reports"))),
    path("", include("annotation.urls")),
]

handler404 = "config.views.not_found"
