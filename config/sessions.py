"""Django's database sessions, with the session of each request read through a compiled
query (annotation/compiled.py): the same table, rows and expiry rule, without building the
query on every request. SESSION_ENGINE points here."""

from __future__ import annotations

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from annotation.compiled import CompiledQuery

_SESSION_BY_KEY = CompiledQuery(lambda key: Session.objects.filter(session_key=key), str)


class SessionStore(DatabaseSessionStore):
    def _get_session_from_db(self) -> Session | None:
        session = _SESSION_BY_KEY.first(self.session_key)
        if session is None or session.expire_date <= timezone.now():
            self._session_key = None  # as Django's: an unknown or expired key starts afresh
            return None
        return session
