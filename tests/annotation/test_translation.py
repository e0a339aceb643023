"""Inline machine translation: the service, the text-block tags and the endpoint.

The network is faked at the HTTP layer with `responses`, so deep-translator's own request
building and response parsing run as they do in production.
"""

from __future__ import annotations

import html
import json
import re
import time
from concurrent.futures import Future
from unittest.mock import ANY
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from django.core import signing
from django.template import Context, Template
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from annotation import translation
from annotation.models import Translation
from annotation.services import profile_update
from annotation.translation import (
    MSG_FAILED,
    MSG_OFF,
    MSG_RATE,
    MSG_UNREACHABLE,
    PASSTHROUGH,
    provider_language,
    read_translate_token,
    shown_text,
    split_text,
    translate,
    translate_token,
)

GOOGLE_URL = "https://translate.google.com/m"
LIBRE_URL = "http://libre.test:5000"


def google_page(translated: str) -> str:
    """The shape of Google's mobile page that deep-translator parses."""
    return (
        "<html><body><div class='wrapper'>"
        f"<div class=\"result-container\">{html.escape(translated)}</div>"
        "</div></body></html>"
    )


def params_of(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


@pytest.fixture(autouse=True)
def google(settings):
    settings.ACCORD_TRANSLATION_PROVIDER = "google"
    settings.ACCORD_TRANSLATION_TIMEOUT = 5.0


@pytest.fixture
def fake():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


# --- the service with Google ----------------------------------------------------------------

def test_google_success_sends_provider_codes(db, fake):
    fake.get(GOOGLE_URL, body=google_page("Hello, world"))

    result = translate(text="你好，世界", source_language="zh", target_language="en")

    assert result.text == "Hello, world"
    assert result.error is None
    assert result.cached is False
    assert result.provider == "google"
    assert len(fake.calls) == 1
    assert params_of(fake.calls[0]) == {"sl": "zh-CN", "tl": "en", "q": "你好，世界"}


def test_unknown_source_language_lets_google_detect(db, fake):
    fake.get(GOOGLE_URL, body=google_page("Good morning"))

    result = translate(text="Habari za asubuhi", source_language="", target_language="en-GB")

    assert result.text == "Good morning"
    assert params_of(fake.calls[0])["sl"] == "auto"
    assert params_of(fake.calls[0])["tl"] == "en"


def test_cache_hit_makes_no_second_call(db, fake):
    fake.get(GOOGLE_URL, body=google_page("Guten Morgen"))

    first = translate(text="Good morning", source_language="en", target_language="de")
    second = translate(text="Good morning", source_language="en-US", target_language="de")

    assert len(fake.calls) == 1
    assert first.cached is False
    assert second.cached is True
    assert second.text == "Guten Morgen"
    row = Translation.objects.get()
    assert (row.provider, row.source_language, row.target_language) == ("google", "en", "de")
    assert row.text_hash == translation.text_hash("Good morning")


def test_a_concurrently_stored_translation_is_read_back(db, fake, monkeypatch):
    fake.get(GOOGLE_URL, body=google_page("Bonjour"))
    key = {"provider": "google", "source_language": "en", "target_language": "fr",
           "text_hash": translation.text_hash("Hello")}

    class RacingExecutor:
        """Runs the call, and meanwhile another request stores the same translation."""

        def submit(self, fn, *args):
            future: Future = Future()
            future.set_result(fn(*args))
            Translation.objects.create(**key, translated="Salut")
            return future

    monkeypatch.setattr(translation, "_EXECUTOR", RacingExecutor())

    result = translate(text="Hello", source_language="en", target_language="fr")

    assert result.error is None
    assert result.text == "Salut"
    assert Translation.objects.count() == 1


def test_http_500_is_an_inline_error(db, fake, caplog):
    fake.get(GOOGLE_URL, status=500, body="oops")

    result = translate(text="Hola", source_language="es", target_language="en")

    assert result.text is None
    assert result.error == MSG_FAILED
    assert not Translation.objects.exists()
    assert any(r.name == "accord" for r in caplog.records)


def test_http_429_is_an_inline_error(db, fake):
    fake.get(GOOGLE_URL, status=429, body="slow down")

    result = translate(text="Hola", source_language="es", target_language="en")

    assert result.error == MSG_RATE
    assert result.text is None


def test_connection_error_is_an_inline_error(db, fake):
    fake.get(GOOGLE_URL, body=requests.ConnectionError("no route to host"))

    result = translate(text="Hola", source_language="es", target_language="en")

    assert result.error == MSG_UNREACHABLE


def test_a_page_without_a_translation_is_an_inline_error(db, fake):
    fake.get(GOOGLE_URL, body="<html><body><p>captcha</p></body></html>")

    result = translate(text="Hola", source_language="es", target_language="en")

    assert result.error == translation.MSG_NOT_FOUND


def test_hanging_provider_times_out_quickly(db, fake, settings):
    settings.ACCORD_TRANSLATION_TIMEOUT = 0.3

    def hang(request):
        time.sleep(1.5)
        return 200, {}, google_page("too late")

    fake.add_callback(responses.GET, GOOGLE_URL, callback=hang)

    started = time.monotonic()
    result = translate(text="Hola", source_language="es", target_language="en")
    elapsed = time.monotonic() - started

    assert elapsed < 1.0
    assert result.text is None
    assert result.error == "The translation service did not answer in 0.3 s."
    assert not Translation.objects.exists()


def test_unsupported_target_language_makes_no_call(db, fake):
    result = translate(text="Hola", source_language="es", target_language="tlh")

    assert result.text is None
    assert "tlh" in result.error
    assert not fake.calls


def test_provider_none(db, fake, settings):
    settings.ACCORD_TRANSLATION_PROVIDER = "none"

    result = translate(text="Hola", source_language="es", target_language="en")

    assert result.text is None
    assert result.error == MSG_OFF == "Machine translation is turned off on this server."
    assert not fake.calls


@pytest.mark.parametrize(("source", "target"), [("en", "en"), ("en-US", "en"), ("zh", "zh-CN")])
def test_same_language_passes_through_without_a_call(db, fake, source, target):
    result = translate(text="Keep <b>me</b>", source_language=source, target_language=target)

    assert result.text == "Keep <b>me</b>"
    assert result.error is None
    assert result.provider == PASSTHROUGH
    assert not fake.calls
    assert not Translation.objects.exists()


def test_long_text_is_translated_in_chunks_and_joined(db, fake):
    first = " ".join(["Alpha beta."] * 350)  # 4199 characters
    second = " ".join(["Gamma delta."] * 300)
    text = f"{first}\n\n{second}"
    assert len(text) > 5000

    def answer(request):
        q = parse_qs(urlsplit(request.url).query)["q"][0]
        assert len(q) < 4500
        return 200, {}, google_page("ALPHA" if q.startswith("Alpha") else "GAMMA")

    fake.add_callback(responses.GET, GOOGLE_URL, callback=answer)

    result = translate(text=text, source_language="en", target_language="fr")

    assert result.error is None
    assert len(fake.calls) == 2
    assert result.text == "ALPHA\n\nGAMMA"


# --- the service with LibreTranslate --------------------------------------------------------

@pytest.fixture
def libre(settings):
    settings.ACCORD_TRANSLATION_PROVIDER = "libre"
    settings.ACCORD_LIBRETRANSLATE_URL = LIBRE_URL
    settings.ACCORD_LIBRETRANSLATE_API_KEY = "k-123"


def test_libre_success_with_api_key(db, fake, libre):
    fake.post(f"{LIBRE_URL}/translate", json={"translatedText": "Hello"})

    result = translate(text="مرحبا", source_language="ar", target_language="en")

    assert result.text == "Hello"
    assert result.provider == "libre"
    assert result.provider_label == "LibreTranslate"
    assert params_of(fake.calls[0]) == {"q": "مرحبا", "source": "ar", "target": "en",
                                        "format": "text", "api_key": "k-123"}


def test_libre_without_api_key_sends_none(db, fake, libre, settings):
    settings.ACCORD_LIBRETRANSLATE_API_KEY = ""
    fake.post(f"{LIBRE_URL}/translate", json={"translatedText": "Hello"})

    result = translate(text="नमस्ते", source_language="hi", target_language="en")

    assert result.text == "Hello"
    assert "api_key" not in params_of(fake.calls[0])


def test_libre_server_error_is_inline(db, fake, libre):
    fake.post(f"{LIBRE_URL}/translate", status=500, json={"error": "boom"})

    result = translate(text="Hola", source_language="es", target_language="en")

    assert result.error == MSG_FAILED


# --- language codes and chunking ------------------------------------------------------------

@pytest.mark.parametrize(("provider", "tag", "code"), [
    ("google", "zh", "zh-CN"), ("google", "zh-Hans-CN", "zh-CN"), ("google", "zh-Hant", "zh-TW"),
    ("google", "zh-TW", "zh-TW"), ("google", "he", "iw"), ("google", "pt-BR", "pt"),
    ("google", "sw", "sw"), ("google", "sr_Latn", "sr"), ("google", "tlh", None),
    ("google", "", None), ("libre", "zh", "zh"), ("libre", "zh-Hant", "zt"),
    ("libre", "ar-EG", "ar"), ("none", "en", None),
])
def test_provider_language(provider, tag, code):
    assert provider_language(provider, tag) == code


def test_split_prefers_paragraphs_then_sentences():
    text = "One. Two. Three.\n\nFour five."
    assert split_text(text, limit=20) == ["One. Two. Three.\n\n", "Four five."]
    assert split_text("Un. Deux. Trois.", limit=12) == ["Un. Deux. ", "Trois."]
    assert split_text("你好。世界！再见。", limit=6) == ["你好。", "世界！", "再见。"]
    assert split_text("x" * 25, limit=10) == ["x" * 9, "x" * 9, "x" * 7]


@given(st.text(alphabet=st.sampled_from("ab .\n。"), max_size=300),
       st.integers(min_value=2, max_value=40))
def test_split_loses_nothing_and_respects_the_limit(text, limit):
    pieces = split_text(text, limit=limit)
    assert "".join(pieces) == text
    assert all(0 < len(piece) < limit for piece in pieces)


# --- template tags --------------------------------------------------------------------------

def attr(markup: str, name: str) -> str:
    match = re.search(rf'{name}="([^"]*)"', markup)
    assert match, f"no {name} in {markup}"
    return html.unescape(match.group(1))


def render(source: str, **context) -> str:
    return Template("{% load accord %}" + source).render(Context(context))


def test_text_block_escapes_and_marks_direction():
    text = "<script>alert(1)</script>\nمرحبا"
    markup = render("{% text_block text 'ar' 'Response' block_id='r1' %}", text=text)

    assert "<script>alert(1)</script>" not in markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markup
    assert '<div class="text" id="r1-text" dir="auto" lang="ar">' in markup
    assert "data-translate" in markup
    assert attr(markup, "data-translate-text") == "r1-text"
    assert attr(markup, "hx-post") == reverse("translate:block")
    assert attr(markup, "hx-target") == "#r1-translation"
    assert 'id="r1-translation"' in markup
    assert 'aria-live="polite"' in markup
    token = json.loads(attr(markup, "hx-vals"))["token"]
    assert read_translate_token(token, text) == {"h": ANY, "l": "ar"}
    assert text not in html.unescape(attr(markup, "hx-vals"))  # the page carries it once



def test_a_texts_token_is_signed_once_and_only_for_this_key(settings):
    first = translate_token("Hallo Welt", "de")
    assert translate_token("Hallo Welt", "de") == first
    assert len({first, translate_token("Hallo Welt", "nl"), translate_token("Hallo", "de"),
                translate_token("Hallo Welt", "de", target="en")}) == 4

    settings.SECRET_KEY = "another-key-" * 6
    assert translate_token("Hallo Welt", "de") != first
    with pytest.raises(signing.BadSignature):
        read_translate_token(first, "Hallo Welt")

def test_text_block_with_unknown_language_gets_unique_ids():
    markup = render("{% text_block 'a' '' 'A' %}{% text_block 'b' '' 'B' %}")

    assert 'lang=""' in markup
    ids = re.findall(r'id="(tb-[0-9a-f]+)-translation"', markup)
    assert len(ids) == 2 and ids[0] != ids[1]


def test_back_translation_loads_itself_into_english():
    markup = render("{% back_translation text 'hi' 'shown' block_id='bt' %}", text="नमस्ते <b>")

    assert "Machine back-translation into English" in markup
    assert attr(markup, "hx-trigger") == "load"
    assert attr(markup, "hx-target") == "this"
    assert attr(markup, "data-translate-text") == "shown-text"  # the block showing the text
    token = json.loads(attr(markup, "hx-vals"))["token"]
    assert read_translate_token(token, "नमस्ते <b>") == {"h": ANY, "l": "hi", "target": "en"}


def test_a_token_is_short_and_holds_only_for_its_own_text_as_the_page_shows_it():
    text = "ภาษาไทย\r\nบรรทัด\rสาม\x00 " * 200

    token = translate_token(text, "th")

    assert len(token) < 150
    # What the browser reads back from the page: CR and CRLF as LF, no NUL.
    shown = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    assert shown_text(text) == shown
    assert read_translate_token(token, shown) == read_translate_token(token, text)
    for other in (text + " ", text[1:], "Hola"):
        with pytest.raises(signing.BadSignature):
            read_translate_token(token, other)
    with pytest.raises(signing.BadSignature):
        read_translate_token(token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1], text)


# --- the endpoint ---------------------------------------------------------------------------

URL = "/translate/"


def test_url_name():
    assert reverse("translate:block") == URL


def test_anonymous_gets_no_translation(db, fake, client):
    token = translate_token("Hola", "es")

    htmx = client.post(URL, {"token": token, "text": "Hola"}, HTTP_HX_REQUEST="true")
    plain = client.post(URL, {"token": token, "text": "Hola"})

    assert htmx.status_code == 403
    assert plain.status_code == 302
    assert "login" in plain["Location"]
    assert not fake.calls


def test_get_is_refused(client, annotator_a):
    client.force_login(annotator_a)
    assert client.get(URL).status_code == 405


@pytest.mark.parametrize("token", ["", "garbage", "x" + translate_token("Hola", "es")])
def test_bad_token_is_400(client, annotator_a, fake, token):
    client.force_login(annotator_a)

    response = client.post(URL, {"token": token, "text": "Hola"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 400
    assert not fake.calls


def test_a_good_token_with_another_text_is_400(client, annotator_a, fake):
    client.force_login(annotator_a)
    token = translate_token("Hola", "es")

    for text in ("Adiós", "", None):
        data = {"token": token} if text is None else {"token": token, "text": text}
        assert client.post(URL, data).status_code == 400
    assert not fake.calls


def test_token_with_another_salt_is_400(client, annotator_a):
    client.force_login(annotator_a)
    forged = signing.dumps({"h": "0" * 32, "l": "es"})

    assert client.post(URL, {"token": forged, "text": "anything"}).status_code == 400


def test_good_token_translates_and_escapes(client, annotator_a, fake):
    client.force_login(annotator_a)
    fake.get(GOOGLE_URL, body=google_page("<script>alert(1)</script> Hello"))

    response = client.post(URL, {"token": translate_token("Hola", "es"), "text": "Hola"},
                           HTTP_HX_REQUEST="true")

    body = response.content.decode()
    assert response.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Hello" in body
    assert "<script>" not in body
    assert 'dir="auto"' in body and 'lang="en"' in body
    assert "Google → en" in body
    assert params_of(fake.calls[0])["tl"] == "en"


def test_working_language_from_the_profile_is_used(client, annotator_a, fake):
    profile_update(user=annotator_a, working_language="de")
    client.force_login(annotator_a)
    fake.get(GOOGLE_URL, body=google_page("Hallo"))

    response = client.post(URL, {"token": translate_token("Hola", "es"), "text": "Hola"})

    assert params_of(fake.calls[0])["tl"] == "de"
    assert 'lang="de"' in response.content.decode()
    # The second press is served from the cache.
    again = client.post(URL, {"token": translate_token("Hola", "es"), "text": "Hola"})
    assert len(fake.calls) == 1
    assert "cached" in again.content.decode()


def test_back_translation_forces_english(client, annotator_a, fake):
    profile_update(user=annotator_a, working_language="fr")
    client.force_login(annotator_a)
    fake.get(GOOGLE_URL, body=google_page("Hello"))
    markup = render("{% back_translation 'Hola' 'es' 'shown' %}")
    token = json.loads(attr(markup, "hx-vals"))["token"]

    response = client.post(URL, {"token": token, "text": "Hola"})

    assert params_of(fake.calls[0])["tl"] == "en"
    assert "Hello" in response.content.decode()


def test_errors_are_200_with_an_inline_message(client, annotator_a, fake):
    client.force_login(annotator_a)
    fake.get(GOOGLE_URL, status=429)

    response = client.post(URL, {"token": translate_token("Hola", "es"), "text": "Hola"})

    assert response.status_code == 200
    body = response.content.decode()
    assert '<p class="translation-error" role="status">' in body
    assert html.escape(MSG_RATE) in body


def test_a_rendered_block_round_trips_through_the_endpoint(client, annotator_a, fake):
    client.force_login(annotator_a)
    fake.get(GOOGLE_URL, body=google_page("Hello"))
    markup = render("{% text_block 'Bonjour' 'fr' 'Instruction' %}")
    token = json.loads(attr(markup, "hx-vals"))["token"]

    response = client.post(attr(markup, "hx-post"), {"token": token, "text": "Bonjour"},
                           HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert "Hello" in response.content.decode()
    assert params_of(fake.calls[0])["sl"] == "fr"
