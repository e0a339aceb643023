"""Forms of the annotator's pages: the envelope of an answer or a skip, and the profile.

The answers themselves are validated by `services.label_submit` (it knows the questions of
each task kind); these forms only check what travels around them: the note, the idempotency
id, the signed render time and the skip reason.
"""

from __future__ import annotations

import re
import time
import uuid

from django import forms
from django.conf import settings
from django.conf.locale import LANG_INFO
from django.core import signing

RENDER_SALT = "accord.queue.rendered"
# Longer than this and the annotator most likely left the tab open: not time spent labelling.
MAX_ITEM_SECONDS = 2 * 60 * 60

SKIP_REASONS = (
    ("unreadable", "Text unreadable / language I can't judge"),
    ("broken", "Item is broken or empty"),
    ("unsure", "Unsure, need a second look"),
    ("other", "Other"),
)

LANGUAGE_CODE_RE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


def render_token(assignment_id: int) -> str:
    """A signed 'this item was shown at' stamp, bound to the assignment it was shown for."""
    return signing.dumps({"a": assignment_id, "t": time.time()}, salt=RENDER_SALT)


def new_client_id() -> str:
    return uuid.uuid4().hex


class _Envelope(forms.Form):
    client_id = forms.CharField(max_length=64)
    rendered = forms.CharField(required=False, max_length=300)

    def time_spent_ms(self, assignment_id: int) -> int | None:
        """Milliseconds since the item was rendered, capped; None when the stamp is unusable."""
        token = self.cleaned_data.get("rendered") or ""
        try:
            stamp = signing.loads(token, salt=RENDER_SALT)
        except signing.BadSignature:
            return None
        if not isinstance(stamp, dict) or stamp.get("a") != assignment_id:
            return None
        elapsed = time.time() - float(stamp.get("t", 0))
        return int(min(max(elapsed, 0.0), MAX_ITEM_SECONDS) * 1000)


class AnswerEnvelopeForm(_Envelope):
    note = forms.CharField(required=False, max_length=5000, strip=True)


class SkipForm(_Envelope):
    reason = forms.ChoiceField(choices=SKIP_REASONS, error_messages={
        "required": "Choose why you skip this item (keys 1-4).",
    })
    other = forms.CharField(required=False, max_length=180, strip=True)

    def clean(self) -> dict:
        data = super().clean()
        if data.get("reason") == "other" and not data.get("other"):
            self.add_error("other", "Say in a few words why you skip this item.")
        return data

    def reason_text(self) -> str:
        reason = self.cleaned_data["reason"]
        if reason == "other":
            return f"Other: {self.cleaned_data['other']}"
        return dict(SKIP_REASONS)[reason]


def language_suggestions() -> list[tuple[str, str]]:
    """(code, name) of the languages Accord knows a resource level for, English first."""
    codes = ["en", *sorted(c for c in settings.ACCORD_RESOURCE_LEVELS if c != "en")]
    return [(code, LANG_INFO.get(code, {}).get("name", code)) for code in codes]


class ProfileForm(forms.Form):
    working_language = forms.CharField(
        max_length=35, strip=True,
        help_text="Inline translation translates into this language (a code such as en, fr, "
                  "zh-CN).",
    )

    def clean_working_language(self) -> str:
        value = self.cleaned_data["working_language"]
        if not LANGUAGE_CODE_RE.match(value):
            raise forms.ValidationError("Use a language code such as en, fr or zh-CN.")
        return value
