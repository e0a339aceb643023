"""Django's ModelBackend, with the user of each request read through a compiled query
(annotation/compiled.py) rather than a query built again every time."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend as DjangoModelBackend
from django.contrib.auth.base_user import AbstractBaseUser

from annotation.compiled import CompiledQuery

_USER_BY_ID = CompiledQuery(lambda pk: get_user_model()._default_manager.filter(pk=pk), int)


class ModelBackend(DjangoModelBackend):
    def get_user(self, user_id: int) -> AbstractBaseUser | None:
        user = _USER_BY_ID.first(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None
