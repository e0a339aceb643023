"""The API's JSON renderer (annotation/renderers.py): orjson's speed, DRF's bytes."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer

from annotation.renderers import FastJSONRenderer

PAYLOADS = [
    {"text": "ok", "n": 3, "share": 0.1 + 0.2, "none": None, "flags": [True, False]},
    # Scripts of the benchmark, and the two line separators JavaScript does not allow raw.
    {"zh": "请用中文回答", "ar": "أجب بالعربية", "hi": "हिंदी में", "ru": "по-русски",
     "sw": "Jibu kwa Kiswahili", "separators": "a\u2028b\u2029c", "quote": '"</script>"'},
    # Types JSON has no name for: DRF's encoder decides how they look.
    {"aware": dt.datetime(2026, 11, 23, 3, 7, 26, 123456, tzinfo=dt.UTC),
     "naive": dt.datetime(2026, 11, 23, 3, 7, 26),  # noqa: DTZ001 - a naive one on purpose
     "date": dt.date(2026, 11, 23),
     "time": dt.time(3, 7, 26, 500), "delta": dt.timedelta(seconds=90),
     "decimal": Decimal("1.50"), "uuid": uuid.UUID(int=7), "lazy": gettext_lazy("Not found."),
     "set": {1}, "tuple": (1, "two")},
    {1: "int key", "nested": [{"deep": [[1.5e-300, -0.0, 10**18]]}]},
    [], "", 0,
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_it_writes_the_bytes_drfs_renderer_writes(payload):
    assert FastJSONRenderer().render(payload) == JSONRenderer().render(payload)


def test_pretty_printing_is_left_to_drf():
    payload = {"a": [1, {"b": "c"}]}
    pretty = FastJSONRenderer().render(payload, "application/json; indent=4")
    assert pretty == JSONRenderer().render(payload, "application/json; indent=4")
    assert b'\n    "a"' in pretty


def test_nothing_is_an_empty_body_and_nan_is_null():
    assert FastJSONRenderer().render(None) == b""
    # DRF's renderer refuses NaN with an error; here it is null.
    assert json.loads(FastJSONRenderer().render({"x": float("nan")})) == {"x": None}


def test_the_api_answers_with_it(admin_client):
    response = admin_client.get("/api/reports/agreement/?benchmark=nothing-by-that-name")
    assert response.status_code == 404
    assert isinstance(response.accepted_renderer, FastJSONRenderer)
    assert response.content == JSONRenderer().render(response.data)
