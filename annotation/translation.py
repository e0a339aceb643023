"""Inline machine translation through deep-translator, cached in the database.

`translate()` never raises: an annotator must be able to keep labelling whatever the
provider does, so every failure comes back as a short message in `TranslationResult.error`.
The database is touched only from the calling thread; the provider call runs in a worker
thread so that a hung provider cannot hold the request past ACCORD_TRANSLATION_TIMEOUT.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from functools import lru_cache

import requests
from deep_translator import GoogleTranslator, LibreTranslator
from deep_translator.constants import GOOGLE_LANGUAGES_TO_CODES
from deep_translator.exceptions import (
    AuthorizationException,
    InvalidSourceOrTargetLanguage,
    LanguageNotSupportedException,
    NotValidLength,
    RequestError,
    ServerException,
    TooManyRequests,
    TranslationNotFound,
)
from django.conf import settings
from django.core import signing
from django.db import DatabaseError

from .models import Translation

logger = logging.getLogger("accord")

PROVIDER_LABELS = {"google": "Google", "libre": "LibreTranslate"}
# `provider` of a result that needed no call because source and target are the same language.
PASSTHROUGH = "same-language"
# Google refuses 5000 characters or more per call; stay well below.
CHUNK_LIMIT = 4500
# Beyond this an inline translation would take many calls and outlive the timeout anyway.
MAX_CHARS = 40_000

MSG_OFF = "Machine translation is turned off on this server."
MSG_RATE = "The translation service is rate-limiting this server; try again in a minute."
MSG_FAILED = "The translation service returned an error; try again later."
MSG_UNREACHABLE = "Could not reach the translation service."
MSG_NOT_FOUND = "The translation service returned no translation."
MSG_KEY = "The translation service refused this server's API key."
MSG_UNEXPECTED = "Machine translation failed; see the server log."

# Bounded, so a provider that hangs can tie up at most this many threads; deep-translator
# passes no timeout to requests, so such a thread lives until the socket gives up.
_EXECUTOR = ThreadPoolExecutor(max_workers=8, thread_name_prefix="accord-translate")

_GOOGLE_CODES = frozenset(GOOGLE_LANGUAGES_TO_CODES.values())
# BCP-47 primary subtags that Google spells differently.
_GOOGLE_ALIASES = {"he": "iw", "jv": "jw", "fil": "tl", "nb": "no", "nn": "no", "mni": "mni-Mtei"}
_TRADITIONAL_REGIONS = {"tw", "hk", "mo"}
# Sentence ends: Latin-style punctuation followed by space, or CJK full stops (no space).
_SENTENCE_END = re.compile(r"[.!?…؟۔।][\"'»”’)\]]*\s+|[。！？]")


@dataclass(frozen=True)
class TranslationResult:
    text: str | None
    error: str | None
    cached: bool
    provider: str

    @property
    def provider_label(self) -> str:
        return PROVIDER_LABELS.get(self.provider, self.provider)

    @property
    def passthrough(self) -> bool:
        return self.provider == PASSTHROUGH


# --- language codes -------------------------------------------------------------------------

def _subtags(tag: str) -> list[str]:
    return [part for part in tag.strip().replace("_", "-").lower().split("-") if part]


def _is_traditional_chinese(parts: list[str]) -> bool:
    return "hant" in parts[1:] or bool(_TRADITIONAL_REGIONS & set(parts[1:]))


def canonical_language(tag: str) -> str:
    """Our comparison key for a BCP-47 tag: the primary subtag, plus the script for Chinese."""
    parts = _subtags(tag)
    if not parts:
        return ""
    if parts[0] == "zh":
        return "zh-hant" if _is_traditional_chinese(parts) else "zh-hans"
    return parts[0]


def provider_language(provider: str, tag: str) -> str | None:
    """The provider's code for a BCP-47 tag, or None when the provider does not know it."""
    parts = _subtags(tag)
    if not parts:
        return None
    primary = parts[0]
    if provider == "google":
        if primary == "zh":
            return "zh-TW" if _is_traditional_chinese(parts) else "zh-CN"
        code = _GOOGLE_ALIASES.get(primary, primary)
        return code if code in _GOOGLE_CODES else None
    if provider == "libre":
        # Self-hosted servers install different language sets, so any code is passed on and
        # the server decides; "zh"/"zt" are understood by old and new LibreTranslate alike.
        if primary == "zh":
            return "zt" if _is_traditional_chinese(parts) else "zh"
        return primary
    return None


# --- splitting long texts -------------------------------------------------------------------

def split_text(text: str, limit: int = CHUNK_LIMIT) -> list[str]:
    """Cut `text` into pieces shorter than `limit` that concatenate back to `text`,
    preferring paragraph, then line, then sentence, then word boundaries."""
    pieces: list[str] = []
    rest = text
    while len(rest) >= limit:
        window = rest[: limit - 1]
        cut = _boundary(window)
        pieces.append(rest[:cut])
        rest = rest[cut:]
    if rest:
        pieces.append(rest)
    return pieces


def _boundary(window: str) -> int:
    for separator in ("\n\n", "\n"):
        at = window.rfind(separator)
        if at > 0:
            return at + len(separator)
    ends = [m.end() for m in _SENTENCE_END.finditer(window)]
    if ends:
        return ends[-1]
    space = max(window.rfind(" "), window.rfind("\t"))
    if space > 0:
        return space + 1
    return len(window)


# --- provider calls (run in a worker thread: no database here) ------------------------------

def _make_translator(provider: str, source: str, target: str) -> Callable[[str], str | None]:
    if provider == "google":
        return GoogleTranslator(source=source, target=target).translate
    base_url = settings.ACCORD_LIBRETRANSLATE_URL.rstrip("/") + "/"
    api_key = settings.ACCORD_LIBRETRANSLATE_API_KEY
    # deep-translator insists on a key even though self-hosted servers rarely need one, and
    # checks codes against a short built-in list; construct it with known values, then set
    # the real ones so the server itself decides what it supports.
    translator = LibreTranslator(source="en", target="es", api_key=api_key or "unused",
                                 custom_url=base_url)
    translator.api_key = api_key
    translator.source = source
    translator.target = target
    return translator.translate


def _call_provider(provider: str, source: str, target: str, text: str) -> str:
    translate_one = _make_translator(provider, source, target)
    out: list[str] = []
    for piece in split_text(text):
        core = piece.strip()
        if not core:
            out.append(piece)
            continue
        lead = piece[: len(piece) - len(piece.lstrip())]
        trail = piece[len(piece.rstrip()):]
        # Google gives None when its answer equals the input in an unexpected way.
        translated = translate_one(core)
        out.append(lead + (translated if translated is not None else core) + trail)
    return "".join(out)


def _error_message(exc: BaseException, provider: str, target: str) -> str:
    label = PROVIDER_LABELS.get(provider, provider)
    if isinstance(exc, TooManyRequests):
        return MSG_RATE
    if isinstance(exc, ServerException) and "TOO_MANY_REQUESTS" in str(exc):
        return MSG_RATE
    if isinstance(exc, AuthorizationException):
        return MSG_KEY
    if isinstance(exc, RequestError | ServerException):
        return MSG_FAILED
    if isinstance(exc, TranslationNotFound):
        return MSG_NOT_FOUND
    if isinstance(exc, LanguageNotSupportedException | InvalidSourceOrTargetLanguage):
        return f"{label} cannot translate into “{target}”."
    if isinstance(exc, requests.Timeout):
        return _timeout_message()
    if isinstance(exc, requests.ConnectionError):
        return MSG_UNREACHABLE
    if isinstance(exc, requests.RequestException | ValueError):
        # ValueError: an answer that is not the JSON or HTML deep-translator expects.
        return MSG_FAILED
    return MSG_UNEXPECTED


def _timeout_message() -> str:
    return f"The translation service did not answer in {settings.ACCORD_TRANSLATION_TIMEOUT:g} s."


# --- signed text-block tokens ---------------------------------------------------------------

TRANSLATE_SALT = "accord.translate"


def shown_text(text: str) -> str:
    """`text` as the browser gives it back from the page (a block's textContent): HTML parsing
    turns CRLF and CR into LF and drops NUL characters."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


def translate_token(text: str, language: str, *, target: str | None = None) -> str:
    """The signed token the translate endpoint accepts with `text`; `target` forces the target
    language.

    It signs a hash of the text as shown, not the text: the page carries the text once, and the
    browser posts it back with the token. The endpoint translates only text whose hash the
    server signed, so it is no open proxy and needs no database lookup or access check.

    A text's token never changes, so a process signs it once: signing took half of a text
    block's render, and the same texts come back on every page of their unit."""
    return _signed_token(settings.SECRET_KEY, text, language, target or "")


# Keyed by the text itself: the loaded units (selectors.UNITS) hand out the same string objects,
# whose hashes Python keeps. At most a few MB of texts that UNITS may have let go already.
@lru_cache(maxsize=4096)
def _signed_token(key: str, text: str, language: str, target: str) -> str:
    payload: dict[str, str] = {"h": _shown_hash(text), "l": language}
    if target:
        payload["target"] = target
    return _token_signer(key).sign_object(payload)


def read_translate_token(token: str, text: str) -> dict[str, str]:
    """What `translate_token` signed for `text`; signing.BadSignature when the token is not
    ours or was signed for another text."""
    payload = _token_signer(settings.SECRET_KEY).unsign_object(token)
    if not isinstance(payload, dict) or payload.get("h") != _shown_hash(text):
        raise signing.BadSignature("The token was signed for another text.")
    return payload


def _shown_hash(text: str) -> str:
    # 128 bits: forging a collision with an arbitrary text is out of reach.
    return hashlib.sha256(shown_text(text).encode("utf-8", "surrogatepass")).hexdigest()[:32]


@lru_cache(maxsize=2)
def _token_signer(key: str) -> signing.Signer:
    # Built once per key rather than for every block of every page. No timestamp: a token is
    # good for as long as its text is (and signing the same text gives the same token).
    return signing.Signer(key=key, salt=TRANSLATE_SALT)


# --- the service ----------------------------------------------------------------------------

def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def translate(*, text: str, source_language: str, target_language: str) -> TranslationResult:
    """Translate `text` into `target_language` ("" source = let the provider detect it)."""
    provider = settings.ACCORD_TRANSLATION_PROVIDER
    if not text.strip() or (
        canonical_language(source_language)
        and canonical_language(source_language) == canonical_language(target_language)
    ):
        return TranslationResult(text=text, error=None, cached=False, provider=PASSTHROUGH)
    if provider not in PROVIDER_LABELS:
        return TranslationResult(text=None, error=MSG_OFF, cached=False, provider=provider)

    def failure(message: str) -> TranslationResult:
        return TranslationResult(text=None, error=message, cached=False, provider=provider)

    target = provider_language(provider, target_language)
    if target is None:
        return failure(
            f"{PROVIDER_LABELS[provider]} cannot translate into “{target_language or '?'}”."
        )
    # An unknown or unsupported source is left to the provider's language detection.
    source = provider_language(provider, source_language) or "auto"
    if len(text) > MAX_CHARS:
        return failure(f"This text is too long to translate inline ({len(text)} characters).")

    key = {"provider": provider, "source_language": source, "target_language": target,
           "text_hash": text_hash(text)}
    hit = Translation.objects.filter(**key).values_list("translated", flat=True).first()
    if hit is not None:
        return TranslationResult(text=hit, error=None, cached=True, provider=provider)

    future = _EXECUTOR.submit(_call_provider, provider, source, target, text)
    try:
        translated = future.result(timeout=settings.ACCORD_TRANSLATION_TIMEOUT)
    except FutureTimeout:
        future.cancel()  # still queued behind hung calls: never start it
        logger.warning("translation via %s %s->%s timed out after %ss", provider, source,
                       target, settings.ACCORD_TRANSLATION_TIMEOUT)
        return failure(_timeout_message())
    except NotValidLength as exc:  # our chunking should make this impossible
        logger.error("translation via %s rejected a chunk: %s", provider, exc)
        return failure(MSG_UNEXPECTED)
    except Exception as exc:
        message = _error_message(exc, provider, target_language)
        if message == MSG_UNEXPECTED:
            logger.exception("translation via %s %s->%s failed", provider, source, target)
        else:
            logger.warning("translation via %s %s->%s failed: %s: %s", provider, source,
                           target, type(exc).__name__, exc)
        return failure(message)

    try:
        # get_or_create survives a concurrent insert of the same key (IntegrityError: re-read).
        row, _ = Translation.objects.get_or_create(**key, defaults={"translated": translated})
        translated = row.translated
    except DatabaseError:
        # The cache is an optimisation: a failed write must not cost the annotator the text.
        logger.exception("could not cache a translation via %s", provider)
    return TranslationResult(text=translated, error=None, cached=False, provider=provider)
