"""URL map of the annotation app: each views module owns its own patterns."""

from django.urls import include, path

from .views import home

urlpatterns = [
    *home.urlpatterns,
    path("queues/", include(("annotation.views.queue", "queue"))),
    path("manage/adjudicate/", include(("annotation.views.adjudicate", "adjudicate"))),
    path("manage/", include(("annotation.views.manage", "manage"))),
    path("translate/", include(("annotation.views.translate", "translate"))),
]
