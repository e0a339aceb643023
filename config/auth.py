"""Django's ModelBackend and AuthenticationMiddleware, with the signed-in user taken from the
row that the session store read in the same join as the session (config/sessions.py), and
otherwise read through a compiled query (annotation/compiled.py)."""

from __future__ import annotations

from contextvars import ContextVar

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend as DjangoModelBackend
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthMiddleware
from django.contrib.auth.middleware import get_user
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from annotation.compiled import CompiledQuery

_USER_BY_ID = CompiledQuery(lambda pk: get_user_model()._default_manager.filter(pk=pk), int)

# The session of the request whose user Django is reading right now (only then: a user row
# read for one request is never handed to another).
_READING_FOR: ContextVar[SessionBase | None] = ContextVar("reading_user_for", default=None)


class ModelBackend(DjangoModelBackend):
    def get_user(self, user_id: int) -> AbstractBaseUser | None:
        user = getattr(_READING_FOR.get(), "user_read_with_it", None)
        if user is None or user.pk != user_id:
            user = _USER_BY_ID.first(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None


def _user_of(request: HttpRequest) -> AbstractBaseUser:
    token = _READING_FOR.set(request.session)
    try:
        # Django's own: the session's user, its session hash checked, cached on the request.
        return get_user(request)
    finally:
        _READING_FOR.reset(token)


class AuthenticationMiddleware(DjangoAuthMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: _user_of(request))
