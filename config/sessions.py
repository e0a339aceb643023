"""Django's database sessions in a table that also names the signed-in user
(annotation.models.LoginSession): a request reads its session and its user in one join, and
config/auth.py takes the user from there. SESSION_ENGINE points here.

The class keeps Django's name, SessionStore: the name salts the signature of the session
data, so sessions written by Django's own store still decode (migration 0008 copied them)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import SESSION_KEY
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.utils import timezone

from annotation.compiled import CompiledQuery
from annotation.models import LoginSession

# Through a compiled query (annotation/compiled.py): the same rows, without building the
# query again on every request.
_SESSION_WITH_USER = CompiledQuery(
    lambda key: LoginSession.objects.select_related("user").filter(session_key=key), str)


def user_id_of(data: dict[str, Any]) -> int | None:
    """The signed-in user's id in a session's data, if any."""
    try:
        return int(data[SESSION_KEY])
    except (KeyError, TypeError, ValueError):
        return None


class SessionStore(DatabaseSessionStore):
    # The user row read along with the session row (None until loaded, or without a user).
    user_read_with_it: AbstractBaseUser | None = None

    @classmethod
    def get_model_class(cls) -> type[LoginSession]:
        return LoginSession

    def _get_session_from_db(self) -> LoginSession | None:
        session = _SESSION_WITH_USER.first(self.session_key)
        if session is None or session.expire_date <= timezone.now():
            self._session_key = None  # as Django's: an unknown or expired key starts afresh
            return None
        self.user_read_with_it = session.user
        return session

    def create_model_instance(self, data: dict[str, Any]) -> LoginSession:
        session = super().create_model_instance(data)
        session.user_id = user_id_of(data)
        return session
