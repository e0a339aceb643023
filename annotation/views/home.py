from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Admins land on their dashboard, annotators on their queues."""
    return redirect("manage:dashboard" if request.user.is_staff else "queue:list")


urlpatterns = [path("", home, name="home")]
