"""URL map of the reports (included under /reports/ with namespace "reports"): agreement,
the gold export and the score shift."""

from django.urls import path

from . import views, views_gold

urlpatterns = [
    path("agreement/", views.agreement, name="agreement"),
    path("agreement/download/", views.agreement_download, name="agreement_download"),
    path("export/", views_gold.export_page, name="export"),
    path("export/<uuid:job_id>/", views_gold.export_job, name="export_job"),
    path("export/<uuid:job_id>/download/", views_gold.export_download, name="export_download"),
    path("score-shift/", views_gold.score_shift, name="score_shift"),
]
