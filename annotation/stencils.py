"""Markup rendered once with markers where its per-request values go, then filled per request.

An item partial is mostly the same from one item of a batch to the next: the header, the
answer form's shell, the note field, the actions and the skip panel. Rendered node by node
they cost about as much as the item's own material. `Stencils` renders such a template once
per key, with a marker in place of each value named as a slot, keeps the pieces between the
markers, and answers later requests by joining the pieces with the escaped values.

What the key and the slots do not cover must not vary, or one request's markup would show
in another's: the callers' tests render every kind both ways, for two annotators, and compare.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Hashable, Iterable, Mapping
from typing import Any
from weakref import WeakKeyDictionary

from django.http import HttpRequest
from django.template import Template
from django.template.loader import get_template
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

# Letters and digits only, so escaping leaves a marker as it is wherever the template puts it;
# random per process, so no text a user wrote can pose as one.
_NONCE = f"slot{secrets.token_hex(12)}"
_MARKER = re.compile(f"{_NONCE}(\\w+?){_NONCE}")


def marker(slot: str) -> str:
    return f"{_NONCE}{slot}{_NONCE}"


class Stencil:
    """A template's output cut at its markers: literal pieces and, between them, slot names."""

    __slots__ = ("_pieces",)

    def __init__(self, markup: str) -> None:
        self._pieces = _MARKER.split(markup)

    def fill(self, values: Mapping[str, Any]) -> SafeString:
        """The markup with each slot's value, escaped as the template would (unless safe)."""
        pieces = self._pieces[:]
        for index in range(1, len(pieces), 2):
            pieces[index] = conditional_escape(values[pieces[index]])
        return mark_safe("".join(pieces))  # noqa: S308 (literal markup and escaped values)


class Stencils:
    """Stencils per loaded template and key, at most `size` per template (a full store starts
    afresh). Weak on the template, so a template reloaded in development takes its stencils
    with it."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._stencils: WeakKeyDictionary[Template, dict[Hashable, Stencil]] = (
            WeakKeyDictionary())
        self._lock = threading.Lock()

    def render(self, template_name: str, key: Hashable, context: Mapping[str, Any],
               slots: Iterable[str], request: HttpRequest | None = None) -> SafeString:
        """`render_to_string(template_name, context, request)`, from the stencil of `key`."""
        template = get_template(template_name)
        with self._lock:
            stencils = self._stencils.setdefault(template.template, {})
            stencil = stencils.get(key)
        slots = tuple(slots)
        if stencil is None:
            marked = {**context, **{slot: marker(slot) for slot in slots}}
            stencil = Stencil(template.render(marked, request))
            with self._lock:
                if len(stencils) >= self.size:
                    stencils.clear()
                stencils[key] = stencil
        return stencil.fill({slot: context[slot] for slot in slots})

    def clear(self) -> None:
        with self._lock:
            self._stencils.clear()

    def __len__(self) -> int:
        with self._lock:
            return sum(len(stencils) for stencils in self._stencils.values())
