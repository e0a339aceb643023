"""Template tags of Accord: `{% load accord %}`.

Text blocks carry a token signing a hash of their text; the browser posts the text shown with
it, so the translate endpoint only ever translates text the server rendered: no open proxy, and
no database lookup or access check.
"""

from __future__ import annotations

from collections.abc import Hashable
from functools import lru_cache
from html import escape as escape_html
from random import getrandbits
from weakref import WeakKeyDictionary

from django import template
from django.conf import settings
from django.template import Context, Template
from django.template.defaulttags import CsrfTokenNode
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.safestring import SafeString, mark_safe

from annotation.models import Item
from annotation.translation import translate_token

register = template.Library()


def cached_url(name: str, *args: int | str) -> str:
    """`reverse(name, args=args)`, remembered per process: reverse() costs ~30 us and every
    item page asks for the same few URLs. Only for URLs whose arguments take few values
    (names, batch ids), never per item. Keyed by the script prefix and URLconf too, so the
    answer is always what reverse() would give right now."""
    return _reverse(name, args, get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)


@lru_cache(maxsize=512)
def _reverse(name: str, args: tuple[int | str, ...], prefix: str, urlconf: str) -> str:
    # reverse() reads the current script prefix itself; `prefix` is only part of the key.
    return reverse(name, urlconf=urlconf, args=args)


# Rendered fragments per loaded template (see `fragment`); weak, so a template reloaded in
# development takes its fragments with it.
_FRAGMENTS: WeakKeyDictionary[Template, dict[tuple[Hashable, ...], SafeString]] = (
    WeakKeyDictionary())
# Variants remembered per template (a question is ~1 KB); a full store starts afresh.
FRAGMENT_VARIANTS = 1000


@register.simple_tag(takes_context=True)
def fragment(context: Context, template_name: str, **values: Hashable) -> SafeString:
    """`{% include template_name with values only %}`, rendered once per process for each
    distinct set of values. An item's questions and skip reasons repeat from item to item;
    rendered node by node, the 21 questions of a requirement assessment took 5 ms. The values
    must be hashable and compared by value (strings, numbers, frozen dataclasses of them);
    the template sees nothing else, so its output cannot depend on what is not in the key."""
    template = context.template.engine.get_template(template_name)
    rendered = _FRAGMENTS.setdefault(template, {})
    key = (context.autoescape, *sorted(values.items()))
    html = rendered.get(key)
    if html is None:
        html = template.render(Context(values, autoescape=context.autoescape))
        if len(rendered) >= FRAGMENT_VARIANTS:
            rendered.clear()
        rendered[key] = html
    return html


@register.simple_tag(takes_context=True)
def csrf_field(context: Context) -> str:
    """`{% csrf_token %}` in a whole page, nothing in an htmx partial: htmx sends the page's
    token with every request (hx-headers on <body>, base.html), and the forms of a page served
    whole, without JavaScript, carry their own.

    Why leave it out: Django masks each token it renders with 32 characters drawn one by one
    from the system's entropy, a getrandom call each, and CPython hands the GIL to another
    thread around every such call. With 8 annotators on one server process those handoffs
    cost ~0.6 ms of CPU per item (bench/fixes.md)."""
    request = context.get("request")
    if request is not None and getattr(request, "htmx", False):
        return ""
    return CsrfTokenNode().render(context)


# The markup of the two blocks, filled by _fill, which escapes every value. An item page shows
# 4-5 text blocks: as inclusion templates they took ~40 us more each (measured).
TEXT_BLOCK_HTML = """<section class="text-block" id="{block_id}">
  <header class="text-block-head">
    <span class="text-block-label">{label}</span>
    <span class="lang-badge"{unknown}>{badge}</span>
    <button type="button" class="translate-btn" data-translate
            hx-post="{url}" hx-vals="{hx_vals}" data-translate-text="{block_id}-text"
            hx-target="#{block_id}-translation" hx-swap="innerHTML" hx-disabled-elt="this"
            aria-controls="{block_id}-translation">Translate</button>
  </header>
  <div class="text" id="{block_id}-text" dir="auto" lang="{language}">{text}</div>
  <div class="translation" id="{block_id}-translation" aria-live="polite"></div>
</section>
"""
BACK_TRANSLATION_HTML = """<section class="text-block back-translation" id="{block_id}">
  <header class="text-block-head">
    <span class="text-block-label">Machine back-translation into English</span>
  </header>
  <div class="translation" id="{block_id}-translation" aria-live="polite"
       hx-post="{url}" hx-vals="{hx_vals}" data-translate-text="{source_id}-text" hx-trigger="load"
       hx-target="this" hx-swap="innerHTML">
    <p class="translation-pending">Translating…</p>
  </div>
</section>
"""
UNKNOWN_LANGUAGE = mark_safe(' title="language unknown"')


def _block_values(text: str | None, language: str | None, block_id: str | None,
                  target: str | None) -> dict[str, str]:
    """The values of a block, not yet escaped (_fill escapes them)."""
    text = "" if text is None else str(text)
    language = language or ""
    return {
        "text": text,
        "language": language,
        # Only unique on the page, so not from the system's entropy (see csrf_field).
        "block_id": block_id or f"tb-{getrandbits(40):010x}",
        # JSON for htmx, escaped into a double-quoted attribute. A signed token is URL-safe
        # base64 with "." and ":", nothing JSON would escape, so no encoder is needed. The
        # text itself goes with it from the page (data-translate-text, accord.js).
        "hx_vals": f'{{"token": "{translate_token(text, language, target=target)}"}}',
        "url": cached_url("translate:block"),
    }


@register.simple_tag
def text_block(text: str | None, language: str | None, label: str,
               block_id: str | None = None) -> SafeString:
    """A labelled block of (escaped) text with a Translate button for the working language."""
    values = _block_values(text, language, block_id, None)
    return _fill(TEXT_BLOCK_HTML, label=label, badge=values["language"] or "?",
                 unknown="" if values["language"] else UNKNOWN_LANGUAGE, **values)


@register.simple_tag
def back_translation(text: str | None, language: str | None, source: str,
                     block_id: str | None = None) -> SafeString:
    """A block that loads the machine translation of `text` into English by itself; `source` is
    the id of the text block on the page that shows `text` (the browser posts its text)."""
    values = _block_values(text, language, block_id, "en")
    return _fill(BACK_TRANSLATION_HTML, block_id=values["block_id"], url=values["url"],
                 hx_vals=values["hx_vals"], source_id=source)


UNIT_META_HTML = """<p class="unit-meta">
  <span class="lang-badge" title="{name}">{language}</span> <span>{name}</span>{details}
</p>
"""
SEP = '<span class="sep">·</span>'


@register.simple_tag
def unit_meta(language: str, language_name: str, item: Item | str | None = None) -> SafeString:
    """The line above an item: its language and, for an item, its subset, whether it is a
    seed instruction and its resource level (`item` is "" on a page without one). A tag
    rather than an included template, which took 0.16 ms of a 1.9 ms item page (measured)."""
    details = []
    group = getattr(item, "group", None)
    if group is not None:
        if group.subset:
            details.append(f' {SEP} <span>{escape_html(group.subset)} set</span>')
        if group.seed_key:
            details.append(f' {SEP} <span>derived from seed '
                           f'<code>{escape_html(group.seed_key)}</code></span>')
        else:
            details.append(f' {SEP} <span>seed instruction</span>')
        if item.resource_level:
            details.append(f' {SEP} <span>{escape_html(item.resource_level)}-resource</span>')
    return _fill(UNIT_META_HTML, name=language_name or "", language=language or "",
                 details=mark_safe("".join(details)))  # noqa: S308 (each value escaped above)


def _fill(markup: str, **values: str) -> SafeString:
    """`format_html(markup, **values)`: every value escaped unless it is safe already. Without
    format_html's lazy-string checks on each value: ~22 us less per block."""
    return mark_safe(markup.format(**{  # noqa: S308 (every value is escaped here)
        name: value.__html__() if hasattr(value, "__html__") else escape_html(value)
        for name, value in values.items()}))


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
