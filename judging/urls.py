"""URL map of the agreement reports (included under /reports/ with namespace "reports")."""

from django.urls import path

from . import views

urlpatterns = [
    path("agreement/", views.agreement, name="agreement"),
    path("agreement/download/", views.agreement_download, name="agreement_download"),
]
