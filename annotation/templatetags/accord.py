"""Template tags of Accord: `{% load accord %}`.

Text blocks carry a signed token with their own text, so the translate endpoint only ever
translates text the server rendered: no open proxy, and no database lookup or access check.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django import template

from annotation.translation import translate_token

register = template.Library()


def _block_context(text: str, language: str, block_id: str | None, target: str | None
                   ) -> dict[str, Any]:
    text = "" if text is None else str(text)
    language = language or ""
    return {
        "text": text,
        "language": language,
        "block_id": block_id or f"tb-{uuid.uuid4().hex[:10]}",
        # Rendered in a double-quoted attribute, so autoescaping keeps the JSON intact.
        "hx_vals": json.dumps({"token": translate_token(text, language, target=target)}),
    }


@register.inclusion_tag("annotation/partials/_text_block.html")
def text_block(text: str, language: str, label: str, block_id: str | None = None
               ) -> dict[str, Any]:
    """A labelled block of (escaped) text with a Translate button for the working language."""
    return {**_block_context(text, language, block_id, None), "label": label}


@register.inclusion_tag("annotation/partials/_back_translation.html")
def back_translation(text: str, language: str, block_id: str | None = None) -> dict[str, Any]:
    """A block that loads the machine translation of `text` into English by itself."""
    return _block_context(text, language, block_id, "en")


# Unit keys that name the model which wrote the response: `<item>|<model>` (response rating)
# and `<item>|<model>|<requirement>|<judge>` (judge agreement). Position of the model in each.
MODEL_IN_UNIT_KEY = {"response_rating": 1, "judge_agreement": 1}


@register.filter
def blind_unit_key(unit_key: str, kind: str) -> str:
    """The unit key as an annotator sees it: without the model's name, which could sway them
    (the item pages never show it either)."""
    position = MODEL_IN_UNIT_KEY.get(kind)
    parts = unit_key.split("|")
    if position is None or len(parts) <= position:
        return unit_key
    return "|".join(parts[:position] + parts[position + 1:])
