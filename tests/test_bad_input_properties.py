"""Property-based bad input (hypothesis): random JSON-ish lines, random bytes and random CSV
rows for each importer. Whatever the file, the importer either accepts it (and importing it
again changes nothing) or refuses it with problems that all read `<file>:<line>: ...` and
leaves every row of every table as it was; it never raises anything else.

Each example runs inside a savepoint that is rolled back, so the demo benchmark the test
loaded once is the same for every example.
"""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotation import importers
from tests.conftest import DEMO
from tests.test_bad_input import snapshot

PROPERTY_SETTINGS = settings(max_examples=50, deadline=None, derandomize=True,
                             suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                    HealthCheck.too_slow])

FILE_NAMES = {"benchmark": "bench.jsonl", "responses": "resp.jsonl", "pairs": "pairs.jsonl",
              "labels": "labels.csv"}


def check(kind: str, data: bytes) -> None:
    name = FILE_NAMES[kind]
    importer = getattr(importers, f"import_{kind}")
    prefix = re.compile(rf"^{re.escape(name)}:\d+: \S")
    before = snapshot()
    with transaction.atomic():
        try:
            importer(data=data, file_name=name, benchmark_name=DEMO)
        except importers.ImportRejected as exc:
            assert exc.problems, "a refusal names at least one problem"
            bad = [p for p in exc.problems if not prefix.match(p)]
            assert not bad, bad
            after = snapshot()
            assert [t for t in before if before[t] != after[t]] == []
        else:
            accepted = snapshot()
            importer(data=data, file_name=name, benchmark_name=DEMO)
            again = snapshot()
            assert [t for t in accepted if accepted[t] != again[t]] == [], "re-import changed"
        transaction.set_rollback(True)


# --- strategies -----------------------------------------------------------------------------

KEYS = ["id", "language", "instruction", "requirements", "group", "subset", "seed", "meta",
        "item", "model", "response", "judgments", "judge", "protocol", "decisions", "raw",
        "score", "dimension", "requirement", "decision", "observation", "preference",
        "swapped", "model_a", "model_b", "response_a", "response_b", "text", "category",
        "resource_level", "core_instruction", "input_material"]
ITEM_KEYS = ["easy-001-en", "easy-001-zh", "hard-004-ar", "nope", ""]
STRINGS = st.one_of(st.sampled_from(ITEM_KEYS + ["en", "zh", "r1", "r2", "YES", "no", "a",
                                                 "tie", "requirements", "direct_score",
                                                 "helpfulness", "high", "\u0000", "\ud800"]),
                    st.text(max_size=12))
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-20, 20),
                    st.floats(allow_nan=True, allow_infinity=True), STRINGS)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5),
                                            inner, max_size=4)),
    max_leaves=12,
)


def _valid_records(kind: str) -> list[dict]:
    if kind == "benchmark":
        return [{"id": "prop-1-en", "group": "prop-1", "language": "en",
                 "instruction": "Say hi.", "requirements": [{"id": "r1", "text": "Hi?"}]},
                {"id": "prop-1-zh", "group": "prop-1", "language": "zh",
                 "instruction": "说你好。", "requirements": [{"id": "r1", "text": "Hi?"}]}]
    if kind == "responses":
        return [{"item": "easy-001-en", "model": "prop-model", "response": "Hi.",
                 "judgments": [{"judge": "j", "protocol": "requirements",
                                "decisions": [{"requirement": "r1", "decision": "YES"},
                                              {"requirement": "r2", "decision": False}]},
                               {"judge": "j", "protocol": "direct_score", "score": 6}]}]
    return [{"id": "prop-p1", "language": "en", "instruction": "Say hi.", "model_a": "a",
             "response_a": "hi", "model_b": "b", "response_b": "hello",
             "judgments": [{"judge": "j", "preference": "tie"}]}]


def _mutate(record: dict, data: st.DataObject) -> dict:
    """Set, drop or add one field somewhere in a valid record (maybe nothing)."""
    record = json.loads(json.dumps(record))
    target = record
    if data.draw(st.booleans()) and isinstance(record.get("judgments"), list):
        target = record["judgments"][0] if record["judgments"] else record
    if data.draw(st.booleans()) and isinstance(record.get("requirements"), list):
        target = record["requirements"][0]
    action = data.draw(st.sampled_from(["set", "drop", "add", "none"]))
    key = data.draw(st.sampled_from(sorted(target)) if target else st.just("id"))
    if action == "set":
        target[key] = data.draw(JSON_VALUES)
    elif action == "drop":
        target.pop(key, None)
    elif action == "add":
        target[data.draw(st.sampled_from(KEYS))] = data.draw(JSON_VALUES)
    return record


def _jsonl_file(kind: str, data: st.DataObject) -> bytes:
    lines = []
    for record in _valid_records(kind):
        choice = data.draw(st.sampled_from(["mutated", "mutated", "any", "bytes", "text"]))
        if choice == "mutated":
            lines.append(json.dumps(_mutate(record, data), allow_nan=True).encode(
                "utf-8", "surrogatepass"))
        elif choice == "any":
            lines.append(json.dumps(data.draw(JSON_VALUES)).encode())
        elif choice == "bytes":
            lines.append(data.draw(st.binary(max_size=40)))
        else:
            lines.append(data.draw(st.text(max_size=40)).encode("utf-8", "surrogatepass"))
    ending = data.draw(st.sampled_from([b"\n", b"\r\n"]))
    prefix = data.draw(st.sampled_from([b"", b"\xef\xbb\xbf"]))
    return prefix + ending.join(lines) + ending


# --- the properties -------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["benchmark", "responses", "pairs"])
@PROPERTY_SETTINGS
@given(data=st.data())
def test_any_jsonl_file_is_imported_or_refused_cleanly(demo_benchmark, kind, data):
    check(kind, _jsonl_file(kind, data))


@pytest.mark.parametrize("kind", ["benchmark", "responses", "pairs", "labels"])
@settings(PROPERTY_SETTINGS, max_examples=30)
@given(raw=st.binary(max_size=200))
def test_random_bytes_are_imported_or_refused_cleanly(demo_benchmark, kind, raw):
    check(kind, raw)


CELLS = {
    "task": ["instruction_validation", "requirement_assessment", "translation_validation",
             "judge_agreement", "pairwise_preference", "nope"],
    "unit": ["easy-001-en", "easy-001-zh", "easy-001-en#r1", "easy-001-en#r9", "pair-001",
             "easy-001-en|demo-model-large|r1|gpt-4o-2024-08-06", "nope"],
    "annotator": ["ana", "ben", "", "a" * 160, "zoë"],
    "field": ["clarity", "explicitness", "completeness", "quality", "agree", "preference",
              "nope"],
    "value": ["yes", "NO", "3", "6", "a", "tie", "maybe", ""],
    "note": ["", "fine", "a, b", 'say "hi"', "two\nlines"],
}


@st.composite
def label_rows(draw: st.DrawFn) -> list[list[str]]:
    rows = []
    for _ in range(draw(st.integers(1, 4))):
        row = [draw(st.sampled_from(values) | st.text(max_size=6)) for values in CELLS.values()]
        if draw(st.integers(0, 5)) == 0:
            row = row[:draw(st.integers(0, 5))]
        rows.append(row)
    return rows


@PROPERTY_SETTINGS
@given(rows=label_rows(), header=st.sampled_from(["standard", "reordered", "no note",
                                                  "unknown column", "semicolons"]),
       damage=st.sampled_from(["none", "quote", "bytes", "crlf", "bom"]),
       garbage=st.binary(max_size=8))
def test_any_labels_file_is_imported_or_refused_cleanly(demo_benchmark, rows, header, damage,
                                                        garbage):
    columns = list(CELLS)
    if header == "reordered":
        columns = columns[::-1]
        rows = [row[::-1] for row in rows]
    elif header == "no note":
        columns = columns[:-1]
        rows = [row[:-1] for row in rows]
    elif header == "unknown column":
        columns = [*columns, "extra"]
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";" if header == "semicolons" else ",",
                        lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    data = out.getvalue().encode("utf-8", "surrogatepass")
    if damage == "quote":
        data = data.replace(b",", b',"', 1)
    elif damage == "bytes":
        cut = len(data) // 2
        data = data[:cut] + garbage + data[cut:]
    elif damage == "crlf":
        data = data.replace(b"\n", b"\r\n")
    elif damage == "bom":
        data = b"\xef\xbb\xbf" + data
    check("labels", data)
