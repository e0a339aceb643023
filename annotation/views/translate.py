"""The inline translation endpoint: POST a text block's text and its signed token, get a
partial back."""

from __future__ import annotations

from django.contrib.auth.views import redirect_to_login
from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_POST

from annotation.services import profile_for
from annotation.translation import read_translate_token, translate


@require_POST
def block(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        # htmx would swap a login page into the block; a 403 leaves the page as it is.
        if getattr(request, "htmx", False):
            return HttpResponse("Your session has ended; log in again.", status=403)
        return redirect_to_login(request.get_full_path())
    try:
        text = request.POST.get("text", "")
        payload = read_translate_token(request.POST.get("token", ""), text)
        language = payload["l"]
        target = payload.get("target") or profile_for(request.user).working_language
        if not all(isinstance(v, str) for v in (language, target)):
            raise TypeError
    except (signing.BadSignature, KeyError, TypeError, AttributeError):
        return HttpResponseBadRequest("This translate button is not valid; reload the page.")
    result = translate(text=text, source_language=language, target_language=target)
    return render(request, "annotation/partials/_translation.html",
                  {"result": result, "target": target})


urlpatterns = [path("", block, name="block")]
