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
