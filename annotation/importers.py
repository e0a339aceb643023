"""Importers for the four file formats of the interchange contract (spec sections 1-4).

Each importer reads the whole file, validates every line against the file itself and the
database, and only then writes everything in one transaction: a file with any bad line
imports nothing. Every problem is reported as `file:line: field: message`. Re-importing the
same ids updates rows in place, so ids that batches and labels point to stay valid.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from sys import intern
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import CharField, Model, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from judging.models import JudgeDecision, Judgment, PairJudgment, Protocol, Response
from judging.raw_judge import RawJudgeError, parse_raw_judgment

from . import bulksql, summaries
from .bulksql import INSERT_CHUNK, insert_rows
from .models import (
    AnnotatorTally,
    Benchmark,
    Group,
    Item,
    Label,
    LabelEvent,
    Pair,
    PairTally,
    PatternTally,
    Requirement,
    Submission,
    UnitTally,
)
from .tasks import DIMENSION_NAME, TASKS, response_unit_key

Progress = Callable[[int, int], None]
# The tables a refresh of the agreement summaries writes.
SUMMARY_MODELS = (UnitTally, PatternTally, AnnotatorTally, PairTally)
MAX_REPORTED_PROBLEMS = 50
RESOURCE_LEVELS = ("high", "medium", "low")
# A longer line is refused before it is parsed (setting ACCORD_IMPORT_MAX_LINE_BYTES).
MAX_LINE_BYTES = 10 * 1024 * 1024
# JSON nested deeper than this is refused (the parser and json.dumps recurse).
MAX_JSON_DEPTH = 100
# Longest values of the identifier columns (the models' max_length): a longer value is
# refused here instead of failing the write on databases that enforce varchar lengths.
MAX_KEY, MAX_REQUIREMENT_KEY, MAX_SUBSET, MAX_LANGUAGE, MAX_USERNAME = 200, 100, 50, 35, 150
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


class ImportRejected(Exception):
    """The file was refused; nothing was written."""

    def __init__(self, problems: list[str], total: int | None = None) -> None:
        self.problems = problems
        self.total = total if total is not None else len(problems)
        more = self.total - len(problems)
        text = "\n".join(problems) + (f"\n... and {more} more problems" if more > 0 else "")
        super().__init__(text)


@dataclass
class ImportSummary:
    file_name: str
    lines: int = 0
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str, *, created: int = 0, updated: int = 0) -> None:
        self.created[kind] = self.created.get(kind, 0) + created
        self.updated[kind] = self.updated.get(kind, 0) + updated

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file_name, "lines": self.lines,
                "created": self.created, "updated": self.updated}

    def __str__(self) -> str:
        parts = [f"{n} {k} created" for k, n in self.created.items() if n]
        parts += [f"{n} {k} updated" for k, n in self.updated.items() if n]
        return f"{self.file_name}: {self.lines} lines; " + (", ".join(parts) or "no changes")


class Problems:
    """Collects `file:line: field: message` strings; raises once validation is over."""

    def __init__(self, file_name: str) -> None:
        self.file_name = file_name
        self.messages: list[str] = []
        self.total = 0

    def add(self, line: int, where: str, message: str) -> None:
        self.total += 1
        if len(self.messages) < MAX_REPORTED_PROBLEMS:
            prefix = f"{self.file_name}:{line}"
            text = f"{prefix}: {where}: {message}" if where else f"{prefix}: {message}"
            self.messages.append(text)

    def extend(self, other: Problems) -> None:
        """Report `other`'s problems after these."""
        self.total += other.total
        self.messages.extend(other.messages[:max(MAX_REPORTED_PROBLEMS - len(self.messages), 0)])

    def raise_if_any(self) -> None:
        if self.total:
            raise ImportRejected(self.messages, self.total)


# --- reading -------------------------------------------------------------------------------

def _max_line_bytes() -> int:
    return getattr(settings, "ACCORD_IMPORT_MAX_LINE_BYTES", MAX_LINE_BYTES)


def _check_encoding_and_length(data: bytes, problems: Problems) -> None:
    """Whole-file problems found before parsing: UTF-16 and over-long lines."""
    if data.startswith(UTF16_BOMS):
        problems.add(1, "", "not valid UTF-8: the file is UTF-16 (it starts with a UTF-16 "
                     "byte order mark); save it as UTF-8")
        return
    limit = _max_line_bytes()
    if len(data) > limit:
        for number, raw in enumerate(data.split(b"\n"), start=1):
            if len(raw) > limit:
                problems.add(number, "", f"line too long ({len(raw)} bytes; limit {limit})")


def _decoded_lines(data: bytes, problems: Problems) -> Iterator[tuple[int, str]]:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    _check_encoding_and_length(data, problems)
    if problems.total:
        return
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            yield number, raw.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError as exc:
            problems.add(number, "", f"not valid UTF-8 (byte {exc.start + 1} of the line)")


def read_jsonl(data: bytes, problems: Problems) -> list[tuple[int, dict[str, Any]]]:
    records = list(iter_jsonl(data, problems))
    if not records and not problems.total:
        problems.add(1, "", "the file has no records")
    return records


def iter_jsonl(data: bytes, problems: Problems) -> Iterator[tuple[int, dict[str, Any]]]:
    """The file's JSON objects with their line numbers, as the lines are parsed; a line that
    is not one goes to `problems`. (read_jsonl also refuses a file without a record.)"""
    for number, text in _decoded_lines(data, problems):
        if not text.strip():
            continue
        marked_before = _JsonObject.marked
        try:
            if text.startswith("\ufeff"):  # what json.loads refuses before decoding
                raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)",
                                           text, 0)
            obj = _DECODER.decode(text)
        except json.JSONDecodeError as exc:
            problems.add(number, "", f"invalid JSON ({exc.msg} at column {exc.colno})")
            continue
        except RecursionError:
            problems.add(number, "", f"invalid JSON (nested more than {MAX_JSON_DEPTH} levels)")
            continue
        except ValueError:
            # int() refuses numbers of more than sys.get_int_max_str_digits() digits.
            problems.add(number, "", "invalid JSON (a number with too many digits)")
            continue
        if not isinstance(obj, dict):
            problems.add(number, "", f"expected a JSON object, got {type(obj).__name__}")
            continue
        marked = _JsonObject.marked
        if marked == marked_before and _may_hold_bad_values(text) is False:
            yield number, obj
            continue
        bad = list(_bad_json_values(obj))
        for where, message in bad:
            problems.add(number, where, message)
        if not bad:
            yield number, obj


# What a line must contain for `_bad_json_values` to find anything in it that the parser has
# not marked already (a key given twice, NaN or an infinity, a float that overflows): an
# escaped NUL or surrogate (raw ones cannot survive UTF-8 decoding and the JSON parser).
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def _may_hold_bad_values(text: str) -> bool:
    """False when walking the parsed line cannot find a bad value: the walk is most of the
    cost of reading a large file, and almost every line is clean. (A substring test first:
    a regular expression tried at every character of a long line costs more than parsing.)"""
    return (text.count("{") + text.count("[") > MAX_JSON_DEPTH
            or ("\\u" in text and _SUSPECT_ESCAPE.search(text) is not None))


class _NonFinite:
    """What the JSON parser makes of NaN, Infinity and -Infinity (which are not JSON)."""

    def __init__(self, name: str) -> None:
        _JsonObject.marked += 1
        self.name = name


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999: marked for the walk, which reports it
        _JsonObject.marked += 1
    return value


class _JsonObject(dict):
    """A parsed JSON object that remembers the keys it was given more than once."""

    duplicates: tuple[str, ...] = ()
    # How many lines' values need the walk (a key given twice, NaN, an infinity, a float
    # that overflows): a line that raised it by none needs no walk. (Another thread's
    # import can only raise it, which costs a walk, never a missed problem.)
    marked = 0

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) == len(pairs):
            return obj  # a plain dict: the usual case
        cls.marked += 1
        marked = cls(obj)
        seen: set[str] = set()
        marked.duplicates = tuple(dict.fromkeys(k for k, _ in pairs
                                                if k in seen or seen.add(k)))
        return marked


# One decoder for every line (json.loads with hooks builds a new one per call).
_DECODER = json.JSONDecoder(object_pairs_hook=_JsonObject.from_pairs,
                            parse_constant=_NonFinite, parse_float=_parse_float)


def _field_name(key: str) -> str:
    return key if key.isprintable() else repr(key)


def _string_problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"contains a lone surrogate ({text[exc.start]!r}), which is not valid Unicode"
    return None


def _bad_json_values(obj: dict) -> Iterator[tuple[str, str]]:
    """What no field may hold, wherever it is: NaN and infinities, NUL characters, lone
    surrogates, a key given twice in one object, nesting deeper than MAX_JSON_DEPTH."""
    stack: list[tuple[str, Any, int]] = [("", obj, 1)]
    while stack:
        path, value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH and isinstance(value, dict | list):
            yield path, f"nested more than {MAX_JSON_DEPTH} levels"
            continue
        children: list[tuple[str, Any, int]] = []
        if isinstance(value, dict):
            for key in getattr(value, "duplicates", ()):
                yield (f"{path}.{_field_name(key)}" if path else _field_name(key),
                       "given twice in one object")
            for key, inner in value.items():
                name = f"{path}.{_field_name(key)}" if path else _field_name(key)
                reason = _string_problem(key)
                if reason:
                    yield name, f"field name {reason}"
                children.append((name, inner, depth + 1))
        elif isinstance(value, list):
            children = [(f"{path}[{i}]", inner, depth + 1) for i, inner in enumerate(value)]
        elif isinstance(value, _NonFinite):
            yield path, f"{value.name} is not a JSON number"
        elif isinstance(value, float) and not math.isfinite(value):
            yield path, "number too large"
        elif isinstance(value, str):
            reason = _string_problem(value)
            if reason:
                yield path, reason
        stack.extend(reversed(children))


def _check_fields(obj: dict, allowed: set[str], line: int, problems: Problems,
                  at: str = "") -> None:
    for key in obj:
        if key not in allowed:
            problems.add(line, f"{at}{key}", "unknown field")


def _string(obj: dict, key: str, line: int, problems: Problems, *, required: bool,
            at: str = "", allow_empty: bool = False,
            max_length: int | None = None) -> str | None:
    if key not in obj or obj[key] is None:
        if required:
            problems.add(line, f"{at}{key}", "missing")
        return None
    value = obj[key]
    if not isinstance(value, str):
        problems.add(line, f"{at}{key}", f"expected a string, got {_json_type(value)}")
        return None
    if not allow_empty and (not value or value.isspace()):  # no copy of a long text
        if required:
            problems.add(line, f"{at}{key}", "empty")
        return None
    if max_length is not None and len(value) > max_length:
        problems.add(line, f"{at}{key}",
                     f"longer than {max_length} characters ({len(value)})")
        return None
    return value


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "a list", bool: "a boolean", int: "a number",
            float: "a number", str: "a string", type(None): "null"}.get(type(value), "a value")


def _language(obj: dict, line: int, problems: Problems) -> str | None:
    language = _string(obj, "language", line, problems, required=True,
                       max_length=MAX_LANGUAGE)
    if language is not None:
        parts = language.split("-")
        if not (parts[0].isascii() and parts[0].isalpha() and 2 <= len(parts[0]) <= 8
                and all(p.isascii() and p.isalnum() and 1 <= len(p) <= 8 for p in parts)):
            problems.add(line, "language", f"{language!r} is not a BCP-47 language tag")
            return None
    return language


def _benchmark_for_write(name: str) -> Benchmark:
    benchmark, _ = Benchmark.objects.get_or_create(name=name)
    return benchmark


def _existing_benchmark(name: str, file_name: str) -> Benchmark:
    benchmark = Benchmark.objects.filter(name=name).first()
    if benchmark is None:
        raise ImportRejected([f"{file_name}: benchmark {name!r} does not exist; "
                              "import its benchmark file first"])
    return benchmark


# Rows an import must create before the query planner's statistics are refreshed.
STATISTICS_AFTER_ROWS = 10_000


def _update_planner_statistics(summary: ImportSummary, models: tuple[type[Model], ...]) -> None:
    """After a bulk load, let the database's planner see the new sizes of the tables the
    import wrote (`models`), as autovacuum would a little later on PostgreSQL (and SQLite
    never does by itself): without them it scans whole tables where one index lookup does (a
    judge decision's lookup went from 0.3 ms to 400 ms on a freshly loaded PostgreSQL).
    Those tables only: ANALYZE of the whole database took a second once it held a million
    labels, more than the rest of a benchmark import."""
    if sum(summary.created.values()) < STATISTICS_AFTER_ROWS:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA analysis_limit=1000")  # sample, don't read every row
        for model in models:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def _refresh_summaries(benchmark: Benchmark, summary: ImportSummary,
                       kinds: tuple[str, ...]) -> None:
    """The agreement summaries file labels under their unit's language, category, judge
    decision...: recount them when an import changed any of those."""
    if any(summary.updated.get(kind) for kind in kinds):
        summaries.refresh_benchmark(benchmark)


def _content_written(benchmark: Benchmark, summary: ImportSummary) -> None:
    """Item pages keep loaded units in memory under the benchmark's content version: a new
    or changed row (text, requirement, anchor, decision) must reach them."""
    if any(summary.created.values()) or any(summary.updated.values()):
        Benchmark.content_changed(benchmark.pk)


def _report(progress: Progress | None, done: int, total: int) -> None:
    if progress is not None and (done == total or done % 200 == 0):
        progress(done, total)


# --- 1. benchmark ---------------------------------------------------------------------------

BENCHMARK_FIELDS = {"id", "language", "instruction", "requirements", "group", "subset", "seed",
                    "core_instruction", "input_material", "resource_level", "meta",
                    # written by the gold export; derived from labels, so ignored on import
                    "human_annotation_tags"}
REQUIREMENT_FIELDS = {"id", "text", "category", "dimension"}


@dataclass
class _ItemLine:
    line: int
    key: str
    language: str
    instruction: str
    group: str
    subset: str
    seed: str
    core_instruction: str
    input_material: str
    resource_level: str
    meta_json: str
    requirements: list[dict[str, str]]


def import_benchmark(*, data: bytes, file_name: str, benchmark_name: str,
                     progress: Progress | None = None) -> ImportSummary:
    """Import a benchmark file (spec section 1) into the benchmark named `benchmark_name`.

    On PostgreSQL, unless a caller follows `progress` (the web page's import job reads it from
    outside this transaction), the lines new to the benchmark are written while the rest of
    the file is still being read (_FreshLines). A problem anywhere still writes nothing."""
    problems = Problems(file_name)
    summary = ImportSummary(file_name=file_name)
    if progress is None and connection.vendor == "postgresql":
        with transaction.atomic():
            benchmark = _benchmark_for_write(benchmark_name)
            fresh = _FreshLines(benchmark, summary)
            with bulksql.pipeline(), _foreign_keys_checked_per_statement():
                lines = _read_benchmark(data, problems, None, fresh)
            _check_against_database(benchmark, lines, problems)
            problems.raise_if_any()
            if fresh.deferred:
                _write_benchmark(benchmark, fresh.deferred, summary)
            _benchmark_written(benchmark, summary)
    else:
        lines = _read_benchmark(data, problems, progress)
        existing = Benchmark.objects.filter(name=benchmark_name).first()
        if existing is not None:
            _check_against_database(existing, lines, problems)
        problems.raise_if_any()
        with transaction.atomic():
            benchmark = _benchmark_for_write(benchmark_name)
            _write_benchmark(benchmark, lines, summary)
            _benchmark_written(benchmark, summary)
    summary.lines = len(lines)
    _update_planner_statistics(summary, (Group, Requirement, Item))
    return summary


def _benchmark_written(benchmark: Benchmark, summary: ImportSummary) -> None:
    """What follows the write of a benchmark file, in its transaction."""
    _refresh_summaries(benchmark, summary, ("groups", "requirements", "items"))
    _content_written(benchmark, summary)


@contextmanager
def _foreign_keys_checked_per_statement() -> Iterator[None]:
    """Django's foreign keys on PostgreSQL are checked at COMMIT: there the checks of a file's
    rows run after the last line, where nothing overlaps them (a quarter of a second for 16,740
    items); checked per statement they run on the server while the next lines are parsed."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def _read_benchmark(data: bytes, problems: Problems, progress: Progress | None,
                    fresh: _FreshLines | None = None) -> list[_ItemLine]:
    """The file's valid lines, each checked against the lines before it. With `fresh`, each
    line is handed to it as soon as it passed, while no problem has been found."""
    # The rules between lines report after every line's own problems, as read in order.
    between = Problems(problems.file_name)
    checks = _BenchmarkFileChecks(between)
    lines: list[_ItemLine] = []
    if fresh is None:
        records = read_jsonl(data, problems)  # whole, so that progress has its total
        for done, (number, obj) in enumerate(records, start=1):
            line = _parse_item_line(number, obj, problems)
            if line is not None:
                lines.append(line)
                checks.add(line)
            _report(progress, done, len(records))
    else:
        for number, obj in iter_jsonl(data, problems):
            line = _parse_item_line(number, obj, problems)
            if line is not None:
                lines.append(line)
                checks.add(line)
                if not problems.total and not between.total:
                    fresh.add(line)
        if not lines and not problems.total:
            problems.add(1, "", "the file has no records")
        if not problems.total and not between.total:
            fresh.flush()
    problems.extend(between)
    return lines


# As json.dumps(meta, ensure_ascii=False), without building an encoder per line.
_META_ENCODER = json.JSONEncoder(ensure_ascii=False)


def _parse_item_line(number: int, obj: dict, problems: Problems) -> _ItemLine | None:
    before = problems.total
    _check_fields(obj, BENCHMARK_FIELDS, number, problems)
    key = _string(obj, "id", number, problems, required=True, max_length=MAX_KEY)
    language = _language(obj, number, problems)
    instruction = _string(obj, "instruction", number, problems, required=True)
    group = _string(obj, "group", number, problems, required=False, max_length=MAX_KEY)
    subset = _string(obj, "subset", number, problems, required=False, allow_empty=True,
                     max_length=MAX_SUBSET)
    seed = _string(obj, "seed", number, problems, required=False, allow_empty=True,
                   max_length=MAX_KEY)
    core = _string(obj, "core_instruction", number, problems, required=False, allow_empty=True)
    material = _string(obj, "input_material", number, problems, required=False,
                       allow_empty=True)
    level = _string(obj, "resource_level", number, problems, required=False)
    if level is not None and level not in RESOURCE_LEVELS:
        problems.add(number, "resource_level", f"{level!r} is not one of high, medium, low")
    meta = obj.get("meta")
    if meta is not None and not isinstance(meta, dict):
        problems.add(number, "meta", f"expected an object, got {_json_type(meta)}")
    requirements = _parse_requirements(number, obj, problems)
    if problems.total > before:
        return None
    assert key is not None and language is not None and instruction is not None
    return _ItemLine(
        line=number, key=key, language=language, instruction=instruction,
        group=group or key, subset=subset or "", seed=seed or "",
        core_instruction=core or "", input_material=material or "",
        resource_level=level or settings.ACCORD_RESOURCE_LEVELS.get(language.split("-")[0], ""),
        meta_json=_META_ENCODER.encode(meta) if meta is not None else "",
        requirements=requirements,
    )


def _parse_requirements(number: int, obj: dict, problems: Problems) -> list[dict[str, str]]:
    if "requirements" not in obj:
        problems.add(number, "requirements", "missing")
        return []
    raw = obj["requirements"]
    if not isinstance(raw, list):
        problems.add(number, "requirements", f"expected a list, got {_json_type(raw)}")
        return []
    parsed: list[dict[str, str]] = []
    seen: set[str] = set()
    for index, req in enumerate(raw):
        at = f"requirements[{index}]."
        if not isinstance(req, dict):
            problems.add(number, f"requirements[{index}]",
                         f"expected an object, got {_json_type(req)}")
            continue
        _check_fields(req, REQUIREMENT_FIELDS, number, problems, at)
        rid = _string(req, "id", number, problems, required=True, at=at,
                      max_length=MAX_REQUIREMENT_KEY)
        text = _string(req, "text", number, problems, required=True, at=at)
        category = _string(req, "category", number, problems, required=False, at=at,
                           max_length=MAX_REQUIREMENT_KEY)
        dimension = _string(req, "dimension", number, problems, required=False, at=at,
                            max_length=MAX_REQUIREMENT_KEY)
        if rid is not None and rid in seen:
            problems.add(number, f"{at}id", f"duplicate requirement id {rid!r}")
        if rid is not None and ("#" in rid or "|" in rid):
            problems.add(number, f"{at}id", "must not contain '#' or '|' (they separate unit ids)")
        if rid is not None:
            seen.add(rid)
        if rid is not None and text is not None:
            parsed.append({"id": rid, "text": text, "category": category or "",
                           "dimension": dimension or ""})
    return parsed


def _requirements_signature(requirements: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(r["id"], r["text"]) for r in requirements]


class _BenchmarkFileChecks:
    """The rules between the lines of one benchmark file, checked line by line."""

    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        self.first_by_key: dict[str, _ItemLine] = {}
        self.first_of_group: dict[str, _ItemLine] = {}
        self.language_in_group: dict[tuple[str, str], _ItemLine] = {}

    def add(self, line: _ItemLine) -> None:
        problems = self.problems
        if "|" in line.key or "#" in line.key:
            problems.add(line.line, "id", "must not contain '#' or '|' (they separate unit ids)")
        if line.key in self.first_by_key:
            problems.add(line.line, "id", f"duplicate id {line.key!r} "
                         f"(first on line {self.first_by_key[line.key].line})")
            return
        self.first_by_key[line.key] = line
        anchor = self.first_of_group.setdefault(line.group, line)
        if anchor is not line:
            if _requirements_signature(anchor.requirements) != _requirements_signature(
                line.requirements
            ):
                problems.add(line.line, "requirements",
                             f"differ from line {anchor.line} of the same group {line.group!r} "
                             "(every line of a group carries the same requirement ids and texts)")
            for attr in ("seed", "subset"):
                if getattr(anchor, attr) != getattr(line, attr):
                    problems.add(line.line, attr,
                                 f"{getattr(line, attr)!r} differs from {getattr(anchor, attr)!r} "
                                 f"on line {anchor.line} of the same group {line.group!r}")
        other = self.language_in_group.setdefault((line.group, line.language), line)
        if other is not line:
            problems.add(line.line, "language",
                         f"group {line.group!r} already has a {line.language!r} line "
                         f"(line {other.line})")


def _check_against_database(benchmark: Benchmark, lines: list[_ItemLine],
                            problems: Problems) -> None:
    """Rules that involve rows already imported: a group's language slot taken under another
    id, and a group's requirements changed by a file that does not carry all its lines."""
    in_file = {line.key for line in lines}
    taken: dict[tuple[str, str], str] = {}
    keys_of_group: dict[str, set[str]] = defaultdict(set)
    for key, group, language in Item.objects.filter(benchmark=benchmark).values_list(
        "key", "group__key", "language"
    ):
        taken[(group, language)] = key
        keys_of_group[group].add(key)
    # Only the groups the file carries but not all of have their requirements compared.
    partial = sorted({line.group for line in lines
                      if line.group in keys_of_group and keys_of_group[line.group] - in_file})
    stored_requirements: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for start in range(0, len(partial), 500):
        for group, key, text in Requirement.objects.filter(
            group__benchmark=benchmark, group__key__in=partial[start:start + 500]
        ).order_by("group_id", "position").values_list("group__key", "key", "text"):
            stored_requirements[group].append((key, text))
    checked_groups: set[str] = set()
    for line in lines:
        holder = taken.get((line.group, line.language))
        if holder is not None and holder != line.key and holder not in in_file:
            problems.add(line.line, "language",
                         f"group {line.group!r} already has a {line.language!r} item "
                         f"({holder!r}) in benchmark {benchmark.name!r}")
        if line.group in checked_groups or line.group not in keys_of_group:
            continue
        checked_groups.add(line.group)
        left_out = sorted(keys_of_group[line.group] - in_file)
        if left_out and _requirements_signature(line.requirements) != stored_requirements[
            line.group
        ]:
            problems.add(line.line, "requirements",
                         f"differ from those of group {line.group!r} already in benchmark "
                         f"{benchmark.name!r} (its item {left_out[0]!r} is not in this file); "
                         "import every line of the group together to change its requirements")


def _write_benchmark(benchmark: Benchmark, lines: list[_ItemLine], summary: ImportSummary) -> None:
    # Tuples, not model instances, and new rows by raw SQL (as for labels): building and
    # saving instances was most of the time of a large benchmark file. Whole-benchmark reads
    # of keys instead of `key__in` lists: a large file would exceed the database's limit on
    # query parameters.
    group_lines: dict[str, _ItemLine] = {}
    for line in lines:
        group_lines.setdefault(line.group, line)
    stored = {key: (pk, seed, subset) for key, pk, seed, subset in Group.objects.filter(
        benchmark=benchmark).values_list("key", "pk", "seed_key", "subset")}
    new = [(benchmark.pk, key, line.seed, line.subset) for key, line in group_lines.items()
           if key not in stored]
    changed = [(line.seed, line.subset, group[0]) for key, line in group_lines.items()
               if (group := stored.get(key)) is not None
               and (group[1], group[2]) != (line.seed, line.subset)]
    new_ids = insert_rows(Group, GROUP_INSERT_FIELDS, new, returning_ids=True)
    _update_rows(Group, ("seed_key", "subset"), changed)
    summary.count("groups", created=len(new), updated=len(changed))
    group_ids = {key: stored[key][0] for key in group_lines if key in stored}
    group_ids.update((row[1], pk) for pk, row in zip(new_ids, new, strict=True))

    _write_requirements(group_ids, group_lines, summary)
    _write_items(benchmark, group_ids, lines, summary)


GROUP_INSERT_FIELDS = ("benchmark", "key", "seed_key", "subset")
REQUIREMENT_FIELDS_WRITTEN = ("text", "category", "dimension", "position")
REQUIREMENT_INSERT_FIELDS = ("group", "key", *REQUIREMENT_FIELDS_WRITTEN)


def _requirement_rows(group_id: int, line: _ItemLine) -> Iterator[tuple]:
    """The requirements of `line`'s group as rows of REQUIREMENT_INSERT_FIELDS."""
    for position, req in enumerate(line.requirements, start=1):
        yield group_id, req["id"], req["text"], req["category"], req["dimension"], position


def _write_requirements(group_ids: dict[str, int], group_lines: dict[str, _ItemLine],
                        summary: ImportSummary) -> None:
    # Only groups that existed before this import can have stored requirements.
    existing: dict[tuple[int, str], tuple] = {}
    for chunk in _chunks(sorted(group_ids.values())):
        for pk, group_id, key, *values in Requirement.objects.filter(
            group_id__in=chunk
        ).values_list("pk", "group_id", "key", *REQUIREMENT_FIELDS_WRITTEN):
            existing[(group_id, key)] = (pk, tuple(values))
    keep: set[tuple[int, str]] = set()
    new, changed = [], []
    for key, line in group_lines.items():
        for row in _requirement_rows(group_ids[key], line):
            ident, values = row[:2], row[2:]
            keep.add(ident)
            current = existing.get(ident)
            if current is None:
                new.append(row)
            elif current[1] != values:
                changed.append((*values, current[0]))
    stale = [pk for ident, (pk, _) in existing.items() if ident not in keep]
    for start in range(0, len(stale), 500):
        # The ORM's delete: it cascades to the requirement's judge decisions.
        Requirement.objects.filter(pk__in=stale[start:start + 500]).delete()
    insert_rows(Requirement, REQUIREMENT_INSERT_FIELDS, new)
    _update_rows(Requirement, REQUIREMENT_FIELDS_WRITTEN, changed)
    summary.count("requirements", created=len(new), updated=len(changed) + len(stale))


ITEM_FIELDS = ("group", "language", "instruction", "core_instruction", "input_material",
               "resource_level", "meta_json", "line_number")
ITEM_INSERT_FIELDS = ("benchmark", "key", *ITEM_FIELDS)


def _item_values(line: _ItemLine, group_ids: dict[str, int]) -> tuple:
    """`line`'s values of ITEM_FIELDS."""
    return (group_ids[line.group], line.language, line.instruction, line.core_instruction,
            line.input_material, line.resource_level, line.meta_json, line.line)


def _write_items(benchmark: Benchmark, group_ids: dict[str, int], lines: list[_ItemLine],
                 summary: ImportSummary) -> None:
    ids = dict(Item.objects.filter(benchmark=benchmark).values_list("key", "pk"))
    in_file = sorted(ids[line.key] for line in lines if line.key in ids)
    existing: dict[str, tuple[int, tuple]] = {}
    for chunk in _chunks(in_file):
        for pk, key, *values in Item.objects.filter(pk__in=chunk).values_list(
                "pk", "key", *(f"{name}_id" if name == "group" else name
                               for name in ITEM_FIELDS)):
            existing[key] = (pk, tuple(values))
    new, changed, moved = [], [], []
    for line in lines:
        values = _item_values(line, group_ids)
        stored = existing.get(line.key)
        if stored is None:
            new.append((benchmark.pk, line.key, *values))
        elif stored[1] != values:
            changed.append((*values, stored[0]))
            if stored[1][:2] != values[:2]:
                moved.append(stored[0])
    for start in range(0, len(moved), 500):
        # An item changing group or language may take a slot another changed item is leaving;
        # park the moving rows on unique placeholder languages so the updates cannot trip
        # the one-language-per-group constraint halfway through.
        Item.objects.filter(pk__in=moved[start:start + 500]).update(
            language=Concat(Value("~"), Cast("pk", output_field=CharField()))
        )
    insert_rows(Item, ITEM_INSERT_FIELDS, new)
    _update_rows(Item, ITEM_FIELDS, changed)
    summary.count("items", created=len(new), updated=len(changed))


class _FreshLines:
    """Writes the lines whose group and id are both new to the benchmark while the rest of the
    file is still being read, a chunk at a time, in PostgreSQL's pipeline mode: the server
    inserts one chunk while this process parses the next (an items import spent a third of
    its time waiting on its INSERTs). Nothing stored can clash with such a line, and no later
    line changes how it is written, only whether the transaction commits. The other lines
    (`deferred`) are written by _write_benchmark once the whole file has been checked."""

    def __init__(self, benchmark: Benchmark, summary: ImportSummary) -> None:
        self.benchmark = benchmark
        self.summary = summary
        self.known_groups = set(Group.objects.filter(benchmark=benchmark).values_list(
            "key", flat=True))
        self.known_items = set(Item.objects.filter(benchmark=benchmark).values_list(
            "key", flat=True))
        self.group_ids: dict[str, int] = {}  # the groups written here
        self.pending: list[_ItemLine] = []
        self.deferred: list[_ItemLine] = []

    def add(self, line: _ItemLine) -> None:
        if line.group in self.known_groups or line.key in self.known_items:
            self.deferred.append(line)
            return
        self.pending.append(line)
        if len(self.pending) == INSERT_CHUNK:
            self.flush()

    def flush(self) -> None:
        lines, self.pending = self.pending, []
        if not lines:
            return
        groups: dict[str, _ItemLine] = {}
        for line in lines:
            if line.group not in self.group_ids:
                groups.setdefault(line.group, line)
        ids = insert_rows(Group, GROUP_INSERT_FIELDS, [
            (self.benchmark.pk, key, line.seed, line.subset) for key, line in groups.items()
        ], returning_ids=True)
        self.group_ids.update(zip(groups, ids, strict=True))
        requirements = [row for key, line in groups.items()
                        for row in _requirement_rows(self.group_ids[key], line)]
        insert_rows(Requirement, REQUIREMENT_INSERT_FIELDS, requirements)
        insert_rows(Item, ITEM_INSERT_FIELDS, [
            (self.benchmark.pk, line.key, *_item_values(line, self.group_ids)) for line in lines])
        self.summary.count("groups", created=len(groups))
        self.summary.count("requirements", created=len(requirements))
        self.summary.count("items", created=len(lines))


# --- 2. responses and judge decisions -------------------------------------------------------

RESPONSE_FIELDS = {"item", "model", "response", "judgments"}
JUDGMENT_FIELDS = {"judge", "protocol", "decisions", "raw", "score", "dimension"}
DECISION_FIELDS = {"requirement", "decision", "observation"}
# Protocol.values builds a new list on every call; this runs once per judgment.
PROTOCOLS = tuple(Protocol.values)


@dataclass
class _JudgmentLine:
    judge: str
    protocol: str
    score: float | None = None
    dimension: str = ""
    raw: str = ""
    # requirement key -> (decision, observation)
    decisions: dict[str, tuple[bool, str]] = field(default_factory=dict)


@dataclass
class _ResponseLine:
    line: int
    item: Item
    model: str
    text: str
    judgments: list[_JudgmentLine]


def _decision_value(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().upper() in {"YES", "NO"}:
        return value.strip().upper() == "YES"
    return None


def import_responses(*, data: bytes, file_name: str, benchmark_name: str,
                     progress: Progress | None = None) -> ImportSummary:
    """Import model responses with their judge decisions (spec section 2)."""
    problems = Problems(file_name)
    benchmark = _existing_benchmark(benchmark_name, file_name)
    records = read_jsonl(data, problems)
    item_keys = {obj["item"] for _, obj in records if isinstance(obj.get("item"), str)}
    # Only the columns the responses need: the instruction texts stay in the database.
    items = {i.key: i for i in Item.objects.filter(benchmark=benchmark)
             .only("pk", "key", "group_id", "benchmark_id") if i.key in item_keys}
    requirement_keys: dict[int, list[str]] = {}
    for group_id, key in Requirement.objects.filter(
        group__benchmark=benchmark
    ).order_by("group_id", "position").values_list("group_id", "key"):
        requirement_keys.setdefault(group_id, []).append(key)

    lines: list[_ResponseLine] = []
    seen: dict[tuple[str, str], int] = {}
    for done, (number, obj) in enumerate(records, start=1):
        parsed = _parse_response_line(number, obj, items, requirement_keys, problems)
        if parsed is not None:
            ident = (parsed.item.key, parsed.model)
            if ident in seen:
                problems.add(number, "model", f"a response of {parsed.model!r} to "
                             f"{parsed.item.key!r} is already on line {seen[ident]}")
            seen[ident] = number
            lines.append(parsed)
        _report(progress, done, len(records))
    problems.raise_if_any()

    summary = ImportSummary(file_name=file_name, lines=len(lines))
    with transaction.atomic():
        _write_responses(lines, requirement_keys, summary)
        _refresh_summaries(benchmark, summary, ("decisions",))
        _content_written(benchmark, summary)
    _update_planner_statistics(summary, (Response, Judgment, JudgeDecision))
    return summary


def _parse_response_line(number: int, obj: dict, items: dict[str, Item],
                         requirement_keys: dict[int, list[str]],
                         problems: Problems) -> _ResponseLine | None:
    before = problems.total
    _check_fields(obj, RESPONSE_FIELDS, number, problems)
    item_key = _string(obj, "item", number, problems, required=True)
    model = _string(obj, "model", number, problems, required=True, max_length=MAX_KEY)
    text = _string(obj, "response", number, problems, required=True, allow_empty=True)
    item = items.get(item_key) if item_key else None
    if item_key and item is None:
        problems.add(number, "item", f"no item {item_key!r} in this benchmark")
    raw_judgments = obj.get("judgments", [])
    if not isinstance(raw_judgments, list):
        problems.add(number, "judgments", f"expected a list, got {_json_type(raw_judgments)}")
        raw_judgments = []
    judgments: list[_JudgmentLine] = []
    seen: set[tuple[str, str, str]] = set()
    for index, raw in enumerate(raw_judgments):
        at = f"judgments[{index}]."
        if not isinstance(raw, dict):
            problems.add(number, f"judgments[{index}]",
                         f"expected an object, got {_json_type(raw)}")
            continue
        keys = requirement_keys.get(item.group_id, []) if item else []
        judgment = _parse_judgment(number, raw, at, keys, item is not None, problems)
        if judgment is None:
            continue
        ident = (judgment.judge, judgment.protocol, judgment.dimension)
        if ident in seen:
            on = f" on {judgment.dimension!r}" if judgment.dimension else ""
            problems.add(number, f"{at}judge", f"{judgment.judge!r} has two "
                         f"{judgment.protocol!r} judgments{on} of this response")
        seen.add(ident)
        judgments.append(judgment)
    if problems.total > before or item is None or model is None or text is None:
        return None
    return _ResponseLine(line=number, item=item, model=model, text=text, judgments=judgments)


def _parse_judgment(number: int, raw: dict, at: str, requirement_keys: list[str],
                    check_requirements: bool, problems: Problems) -> _JudgmentLine | None:
    before = problems.total
    _check_fields(raw, JUDGMENT_FIELDS, number, problems, at)
    judge = _string(raw, "judge", number, problems, required=True, at=at, max_length=MAX_KEY)
    protocol = _string(raw, "protocol", number, problems, required=True, at=at)
    if protocol is not None and protocol not in PROTOCOLS:
        problems.add(number, f"{at}protocol",
                     f"{protocol!r} is not one of {', '.join(PROTOCOLS)}")
        return None
    if judge is None or protocol is None:
        return None
    judgment = _JudgmentLine(judge=judge, protocol=protocol)
    if protocol == Protocol.DIRECT_SCORE:
        score = raw.get("score")
        if "score" not in raw:
            problems.add(number, f"{at}score", "missing")
        elif isinstance(score, bool) or not isinstance(score, int | float):
            problems.add(number, f"{at}score", f"expected a number, got {_json_type(score)}")
        elif not 1 <= score <= 10:
            problems.add(number, f"{at}score", f"{score} is outside 1..10")
        else:
            judgment.score = float(score)
        dimension = _string(raw, "dimension", number, problems, required=False, at=at)
        if dimension is not None and not DIMENSION_NAME.match(dimension):
            problems.add(number, f"{at}dimension", f"{dimension!r} is not a lower-case name "
                         "of letters, digits and underscores")
        judgment.dimension = dimension or ""
        for extra in ("decisions", "raw"):
            if extra in raw:
                problems.add(number, f"{at}{extra}", "not allowed with protocol direct_score")
        return judgment if problems.total == before else None

    has_decisions, has_raw = "decisions" in raw, "raw" in raw
    if has_decisions == has_raw:
        problems.add(number, f"{at}decisions",
                     "give exactly one of 'decisions' and 'raw' for protocol requirements")
        return None
    for extra in ("score", "dimension"):
        if extra in raw:
            problems.add(number, f"{at}{extra}", "not allowed with protocol requirements")
    if has_raw:
        text = _string(raw, "raw", number, problems, required=True, at=at)
        if text is None or not check_requirements:
            return None
        try:
            parsed = parse_raw_judgment(text, expected=len(requirement_keys))
        except RawJudgeError as exc:
            where = f"{at}raw" + (f" requirement {exc.requirement}" if exc.requirement else "")
            problems.add(number, where, str(exc))
            return None
        judgment.raw = text
        judgment.decisions = {
            requirement_keys[d.number - 1]: (d.decision, d.observation) for d in parsed
        }
        return judgment if problems.total == before else None

    decisions = raw["decisions"]
    if not isinstance(decisions, list):
        problems.add(number, f"{at}decisions", f"expected a list, got {_json_type(decisions)}")
        return None
    for index, entry in enumerate(decisions):
        dat = f"{at}decisions[{index}]."
        if not isinstance(entry, dict):
            problems.add(number, f"{at}decisions[{index}]",
                         f"expected an object, got {_json_type(entry)}")
            continue
        _check_fields(entry, DECISION_FIELDS, number, problems, dat)
        requirement = _string(entry, "requirement", number, problems, required=True, at=dat)
        observation = _string(entry, "observation", number, problems, required=False, at=dat,
                              allow_empty=True)
        if "decision" not in entry:
            problems.add(number, f"{dat}decision", "missing")
            continue
        decision = _decision_value(entry["decision"])
        if decision is None:
            problems.add(number, f"{dat}decision",
                         f"{entry['decision']!r} is not YES, NO, true or false")
            continue
        if requirement is None or not check_requirements:
            continue
        if requirement not in requirement_keys:
            problems.add(number, f"{dat}requirement",
                         f"the item's group has no requirement {requirement!r}")
        elif requirement in judgment.decisions:
            problems.add(number, f"{dat}requirement", f"second decision on {requirement!r}")
        else:
            judgment.decisions[requirement] = (decision, observation or "")
    if check_requirements and problems.total == before:
        missing = [k for k in requirement_keys if k not in judgment.decisions]
        if missing:
            problems.add(number, f"{at}decisions",
                         f"no decision on requirement(s) {', '.join(missing)}")
    return judgment if problems.total == before else None


def _write_responses(lines: list[_ResponseLine], requirement_keys: dict[int, list[str]],
                     summary: ImportSummary) -> None:
    # Only the rows this file can touch are read, as tuples, and new rows go in by raw SQL:
    # a file adding half a million decisions to a benchmark that holds as many must not
    # load the stored ones (with their texts) as model instances.
    item_ids = sorted({line.item.pk for line in lines})
    existing: dict[tuple[int, str], tuple[int, str, int]] = {}
    for chunk in _chunks(item_ids):
        for pk, item_id, model, text, line_number in Response.objects.filter(
            item_id__in=chunk
        ).values_list("pk", "item_id", "model", "text", "line_number"):
            existing[(item_id, model)] = (pk, text, line_number)
    new = [(line.item.pk, line.model, line.text, line.line) for line in lines
           if (line.item.pk, line.model) not in existing]
    changed = [(line.text, line.line, stored[0]) for line in lines
               if (stored := existing.get((line.item.pk, line.model))) is not None
               and (stored[1], stored[2]) != (line.text, line.line)]
    new_ids = insert_rows(Response, ("item", "model", "text", "line_number"), new,
                           returning_ids=True)
    _update_rows(Response, ("text", "line_number"), changed)
    summary.count("responses", created=len(new), updated=len(changed))
    response_ids = {key: stored[0] for key, stored in existing.items()}
    response_ids.update({(item_id, model): pk
                         for pk, (item_id, model, _, _) in zip(new_ids, new, strict=True)})

    judgment_ids: dict[tuple[int, str, str, str], int] = {}
    stored_judgments: dict[tuple[int, str, str, str], tuple[int, float | None, str]] = {}
    for chunk in _chunks(sorted(stored[0] for stored in existing.values())):
        for pk, response_id, judge, protocol, dimension, score, raw in Judgment.objects.filter(
            response_id__in=chunk
        ).values_list("pk", "response_id", "judge", "protocol", "dimension", "score", "raw"):
            stored_judgments[(response_id, judge, protocol, dimension)] = (pk, score, raw)
            judgment_ids[(response_id, judge, protocol, dimension)] = pk
    new_j, changed_j = [], []
    for line in lines:
        response_id = response_ids[(line.item.pk, line.model)]
        for jl in line.judgments:
            stored = stored_judgments.get((response_id, jl.judge, jl.protocol, jl.dimension))
            if stored is None:
                new_j.append((response_id, jl.judge, jl.protocol, jl.dimension, jl.score, jl.raw))
            elif (stored[1], stored[2]) != (jl.score, jl.raw):
                changed_j.append((jl.score, jl.raw, stored[0]))
    new_j_ids = insert_rows(Judgment, ("response", "judge", "protocol", "dimension", "score",
                                        "raw"), new_j, returning_ids=True)
    _update_rows(Judgment, ("score", "raw"), changed_j)
    summary.count("judgments", created=len(new_j), updated=len(changed_j))
    judgment_ids.update({row[:4]: pk for pk, row in zip(new_j_ids, new_j, strict=True)})

    benchmark_id = lines[0].item.benchmark_id if lines else None
    requirements = {(group_id, key): pk for group_id, key, pk in Requirement.objects.filter(
        group__benchmark_id=benchmark_id).values_list("group_id", "key", "pk")}
    decisions: dict[tuple[int, int], tuple[int, bool, str]] = {}
    for chunk in _chunks(sorted(pk for pk, _, _ in stored_judgments.values())):
        for pk, judgment_id, requirement_id, verdict, observation in JudgeDecision.objects.filter(
            judgment_id__in=chunk
        ).values_list("pk", "judgment_id", "requirement_id", "decision", "observation"):
            decisions[(judgment_id, requirement_id)] = (pk, verdict, observation)
    new_d, changed_d = [], []
    for line in lines:
        response_id = response_ids[(line.item.pk, line.model)]
        for jl in line.judgments:
            judgment_id = judgment_ids[(response_id, jl.judge, jl.protocol, jl.dimension)]
            for req_key, (verdict, observation) in jl.decisions.items():
                requirement_id = requirements[(line.item.group_id, req_key)]
                stored_d = decisions.get((judgment_id, requirement_id))
                if stored_d is None:
                    new_d.append((judgment_id, requirement_id, verdict, observation))
                elif (stored_d[1], stored_d[2]) != (verdict, observation):
                    changed_d.append((verdict, observation, stored_d[0]))
    insert_rows(JudgeDecision, ("judgment", "requirement", "decision", "observation"), new_d)
    _update_rows(JudgeDecision, ("decision", "observation"), changed_d)
    summary.count("decisions", created=len(new_d), updated=len(changed_d))


def _chunks(values: list, size: int = 500) -> Iterator[list]:
    """`id__in` lists short enough for every backend's limit on query parameters."""
    for start in range(0, len(values), size):
        yield values[start:start + size]


# --- 3. pairs -------------------------------------------------------------------------------

PAIR_FIELDS = {"id", "language", "instruction", "model_a", "response_a", "model_b",
               "response_b", "judgments"}
PAIR_TEXT_FIELDS = ("instruction", "model_a", "response_a", "model_b", "response_b")


def import_pairs(*, data: bytes, file_name: str, benchmark_name: str,
                 progress: Progress | None = None) -> ImportSummary:
    """Import pairwise comparisons with judge preferences (spec section 3)."""
    problems = Problems(file_name)
    records = read_jsonl(data, problems)
    parsed: list[tuple[int, dict[str, str], dict[str, str]]] = []
    first_line: dict[str, int] = {}
    for done, (number, obj) in enumerate(records, start=1):
        before = problems.total
        _check_fields(obj, PAIR_FIELDS, number, problems)
        key = _string(obj, "id", number, problems, required=True, max_length=MAX_KEY)
        language = _language(obj, number, problems)
        values = {}
        for name in PAIR_TEXT_FIELDS:
            values[name] = _string(obj, name, number, problems, required=True,
                                   allow_empty=name.startswith("response"),
                                   max_length=MAX_KEY if name.startswith("model") else None)
        # (judge, swapped) -> preference; `swapped` marks a verdict given with the two
        # responses shown in the other order (for position consistency).
        preferences: dict[tuple[str, bool], str] = {}
        raw_judgments = obj.get("judgments", [])
        if not isinstance(raw_judgments, list):
            problems.add(number, "judgments", f"expected a list, got {_json_type(raw_judgments)}")
            raw_judgments = []
        for index, raw in enumerate(raw_judgments):
            at = f"judgments[{index}]."
            if not isinstance(raw, dict):
                problems.add(number, f"judgments[{index}]",
                             f"expected an object, got {_json_type(raw)}")
                continue
            _check_fields(raw, {"judge", "preference", "swapped"}, number, problems, at)
            judge = _string(raw, "judge", number, problems, required=True, at=at,
                            max_length=MAX_KEY)
            preference = _string(raw, "preference", number, problems, required=True, at=at)
            swapped = raw.get("swapped", False)
            if not isinstance(swapped, bool):
                problems.add(number, f"{at}swapped", f"expected true or false, got "
                             f"{_json_type(swapped)}")
            elif preference is not None and (
                preference.lower() not in PairJudgment.Preference.values
            ):
                problems.add(number, f"{at}preference", f"{preference!r} is not a, b or tie")
            elif judge is not None and preference is not None:
                if (judge, swapped) in preferences:
                    order = " in swapped order" if swapped else ""
                    problems.add(number, f"{at}judge", f"{judge!r} judged this pair twice{order}")
                preferences[(judge, swapped)] = preference.lower()
        if key is not None and key in first_line:
            problems.add(number, "id", f"duplicate id {key!r} (first on line {first_line[key]})")
        elif key is not None and ("|" in key or "#" in key):
            problems.add(number, "id", "must not contain '#' or '|' (they separate unit ids)")
        if key is not None:
            first_line.setdefault(key, number)
        if problems.total == before:
            values.update(id=key, language=language)
            parsed.append((number, values, preferences))
        _report(progress, done, len(records))
    problems.raise_if_any()

    summary = ImportSummary(file_name=file_name, lines=len(parsed))
    with transaction.atomic():
        benchmark = _benchmark_for_write(benchmark_name)
        existing = {p.key: p for p in Pair.objects.filter(benchmark=benchmark)}
        new, changed = [], []
        fields = ["language", *PAIR_TEXT_FIELDS, "line_number"]
        for number, values, _ in parsed:
            attrs = {name: values[name] for name in fields if name != "line_number"}
            attrs["line_number"] = number
            pair = existing.get(values["id"])
            if pair is None:
                new.append(Pair(benchmark=benchmark, key=values["id"], **attrs))
            elif any(getattr(pair, k) != v for k, v in attrs.items()):
                for k, v in attrs.items():
                    setattr(pair, k, v)
                changed.append(pair)
        Pair.objects.bulk_create(new, batch_size=1000)
        Pair.objects.bulk_update(changed, fields, batch_size=1000)
        summary.count("pairs", created=len(new), updated=len(changed))
        pairs = {p.key: p for p in Pair.objects.filter(benchmark=benchmark)}
        current = {(j.pair_id, j.judge, j.swapped): j for j in PairJudgment.objects.filter(
            pair__benchmark=benchmark)}
        new_j, changed_j = [], []
        for _, values, preferences in parsed:
            pair = pairs[values["id"]]
            for (judge, swapped), preference in preferences.items():
                judgment = current.get((pair.pk, judge, swapped))
                if judgment is None:
                    new_j.append(PairJudgment(pair=pair, judge=judge, swapped=swapped,
                                              preference=preference))
                elif judgment.preference != preference:
                    judgment.preference = preference
                    changed_j.append(judgment)
        PairJudgment.objects.bulk_create(new_j, batch_size=1000)
        PairJudgment.objects.bulk_update(changed_j, ["preference"], batch_size=1000)
        summary.count("pair judgments", created=len(new_j), updated=len(changed_j))
        _refresh_summaries(benchmark, summary, ("pairs",))
        _content_written(benchmark, summary)
    _update_planner_statistics(summary, (Pair, PairJudgment))
    return summary


# --- 4. labels ------------------------------------------------------------------------------

LABEL_COLUMNS = ("task", "unit", "annotator", "field", "value", "note")


@dataclass(frozen=True, slots=True)
class _LabelRow:
    line: int
    task: str
    unit: str
    annotator: str
    field: str
    value: str
    note: str


def import_labels(*, data: bytes, file_name: str, benchmark_name: str,
                  progress: Progress | None = None) -> ImportSummary:
    """Import human labels (spec section 4). Unknown annotators get accounts that cannot log
    in until an admin sets a password. A value equal to the current one adds no history."""
    problems = Problems(file_name)
    benchmark = _existing_benchmark(benchmark_name, file_name)
    rows = _read_label_rows(data, problems)
    # Judge decisions are many: read only those of the items the file's units name.
    units = UnitIndex(benchmark, judged_items={row.unit.partition("|")[0] for row in rows
                                               if row.task == "judge_agreement"})
    first_line: dict[tuple[str, str, str, str], int] = {}
    valid: list[_LabelRow] = []
    for done, row in enumerate(rows, start=1):
        before = problems.total
        spec = TASKS.get(row.task)
        if spec is None:
            problems.add(row.line, "task", f"{row.task!r} is not one of {', '.join(TASKS)}")
        else:
            field_def = spec.field(row.field)
            if field_def is None:
                problems.add(row.line, "field", f"{row.field!r} is not a field of {row.task} "
                             f"({spec.field_names()})")
            elif row.value not in field_def.values:
                problems.add(row.line, "value", f"{row.value!r} is not one of "
                             f"{', '.join(c.value for c in field_def.choices)} for {row.field}")
            else:
                reason = units.problem(row.task, row.unit,
                                       per_requirement=field_def.per_requirement)
                if reason:
                    problems.add(row.line, "unit", reason)
        if not row.annotator:
            problems.add(row.line, "annotator", "empty")
        elif len(row.annotator) > MAX_USERNAME:
            problems.add(row.line, "annotator",
                         f"longer than {MAX_USERNAME} characters ({len(row.annotator)})")
        ident = (row.task, row.unit, row.annotator, row.field)
        if ident in first_line:
            problems.add(row.line, "field", f"a second {row.field!r} label by {row.annotator!r} "
                         f"on {row.unit!r} (first on line {first_line[ident]})")
        first_line.setdefault(ident, row.line)
        if problems.total == before:
            valid.append(row)
        _report(progress, done, len(rows))
    problems.raise_if_any()

    refs = {(row.task, row.unit): units.refs(row.task, row.unit,
                                             per_requirement=TASKS[row.task].field(
                                                 row.field).per_requirement)
            for row in valid}
    summary = ImportSummary(file_name=file_name, lines=len(valid))
    with transaction.atomic():
        _write_labels(benchmark, valid, refs, summary)
        summaries.refresh_units(benchmark, {(row.task, row.unit) for row in valid})
    _update_planner_statistics(summary, (Label, LabelEvent, Submission, get_user_model(),
                                         *SUMMARY_MODELS))
    return summary


def _read_label_rows(data: bytes, problems: Problems) -> list[_LabelRow]:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    _check_encoding_and_length(data, problems)
    problems.raise_if_any()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        problems.add(line, "", "not valid UTF-8")
        problems.raise_if_any()
    # strict: a quote that is never closed is an error, not a note running to the end.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        problems.add(1, "", "the file is empty; expected the header "
                     + ",".join(LABEL_COLUMNS))
        problems.raise_if_any()
    except csv.Error as exc:
        problems.add(1, "header", f"malformed CSV ({exc})")
        problems.raise_if_any()
    header = [h.strip() for h in header]
    missing = [c for c in LABEL_COLUMNS if c not in header and c != "note"]
    if missing:
        problems.add(1, "header", f"missing column(s) {', '.join(missing)}; expected "
                     + ",".join(LABEL_COLUMNS))
        problems.raise_if_any()
    unknown = [c for c in header if c not in LABEL_COLUMNS]
    if unknown:
        problems.add(1, "header", f"unknown column(s) {', '.join(unknown)}")
    index = {name: header.index(name) for name in LABEL_COLUMNS if name in header}
    rows = []
    line = reader.line_num
    try:
        for record in reader:
            # A quoted note may span lines; a record is named by the line it starts on.
            start, line = line + 1, reader.line_num
            if not record or all(not cell.strip() for cell in record):
                continue
            if len(record) != len(header):
                problems.add(start, "", f"{len(record)} columns where the header has "
                             f"{len(header)}")
                continue
            values = {name: record[i] for name, i in index.items()}
            if any("\x00" in value for value in values.values()):
                name = next(n for n, v in values.items() if "\x00" in v)
                problems.add(start, name, "contains a NUL character")
                continue
            # Interned: a million rows hold a few dozen distinct tasks, annotators, fields
            # and values, and a string object each would be a hundred megabytes.
            rows.append(_LabelRow(line=start, task=intern(values["task"].strip()),
                                  unit=values["unit"].strip(),
                                  annotator=intern(values["annotator"].strip()),
                                  field=intern(values["field"].strip()),
                                  value=intern(values["value"].strip().lower()),
                                  note=values.get("note", "")))
    except csv.Error as exc:
        hint = ("; a quote opened in this record is never closed"
                if "unexpected end of data" in str(exc) else "")
        problems.add(line + 1, "", f"malformed CSV ({exc}{hint})")
    if not rows and not problems.total:
        problems.add(2, "", "the file has a header but no labels")
    return rows


@dataclass(frozen=True, slots=True)
class UnitRefs:
    """What a label's unit points to, stored on the label so reports can group labels by
    language, subset, requirement category or model with joins instead of parsing keys."""

    item_id: int | None = None
    requirement_id: int | None = None
    pair_id: int | None = None
    model: str = ""


class UnitIndex:
    """Answers 'does this unit exist in the benchmark, and what does it point to?' for every
    task kind, loading each kind of unit once."""

    def __init__(self, benchmark: Benchmark, *, judged_items: set[str] | None = None) -> None:
        """`judged_items`: when given, the only items whose judge decisions are asked about."""
        self.benchmark = benchmark
        self.judged_items = judged_items
        self._items: dict[str, tuple[str, int, int]] | None = None
        self._requirements: dict[tuple[int, str], int] | None = None
        self._pairs: dict[str, int] | None = None
        self._decisions: dict[str, UnitRefs] | None = None
        self._responses: dict[str, UnitRefs] | None = None

    @property
    def items(self) -> dict[str, tuple[str, int, int]]:
        """item key -> (language, group id, item id)"""
        if self._items is None:
            self._items = {k: (lang, g, pk) for k, lang, g, pk in Item.objects.filter(
                benchmark=self.benchmark).values_list("key", "language", "group_id", "id")}
        return self._items

    @property
    def requirements(self) -> dict[tuple[int, str], int]:
        if self._requirements is None:
            self._requirements = {(g, k): pk for g, k, pk in Requirement.objects.filter(
                group__benchmark=self.benchmark).values_list("group_id", "key", "id")}
        return self._requirements

    @property
    def pairs(self) -> dict[str, int]:
        if self._pairs is None:
            self._pairs = dict(Pair.objects.filter(benchmark=self.benchmark)
                               .values_list("key", "id"))
        return self._pairs

    @property
    def decisions(self) -> dict[str, UnitRefs]:
        if self._decisions is None:
            from .tasks import judge_unit_key

            decisions = JudgeDecision.objects.filter(
                judgment__response__item__benchmark=self.benchmark,
                judgment__protocol=Protocol.REQUIREMENTS)
            if self.judged_items is None:
                selections = [decisions]
            else:
                item_ids = sorted(self.items[key][2] for key in self.judged_items
                                  if key in self.items)
                selections = [decisions.filter(judgment__response__item_id__in=chunk)
                              for chunk in _chunks(item_ids)]
            self._decisions = {
                judge_unit_key(item, model, req, judge): UnitRefs(
                    item_id=item_id, requirement_id=req_id, model=model)
                for selection in selections
                for item, model, req, judge, item_id, req_id in selection.values_list(
                    "judgment__response__item__key", "judgment__response__model",
                    "requirement__key", "judgment__judge", "judgment__response__item_id",
                    "requirement_id")
            }
        return self._decisions

    @property
    def responses(self) -> dict[str, UnitRefs]:
        if self._responses is None:
            self._responses = {
                response_unit_key(item, model): UnitRefs(item_id=item_id, model=model)
                for item, model, item_id in Response.objects.filter(
                    item__benchmark=self.benchmark).values_list("item__key", "model", "item_id")
            }
        return self._responses

    def problem(self, task: str, unit: str, *, per_requirement: bool) -> str | None:
        """Why `unit` is not a unit of `task` in this benchmark, or None if it is."""
        if task == "response_rating":
            if unit in self.responses:
                return None
            return f"no response {unit!r} in this benchmark (expected <item id>|<model>)"
        if task == "pairwise_preference":
            return None if unit in self.pairs else f"no pair {unit!r} in this benchmark"
        if task == "judge_agreement":
            if unit in self.decisions:
                return None
            return (f"no judge decision {unit!r} (expected <item>|<model>|<requirement>|<judge>"
                    " of an imported requirements judgment)")
        if per_requirement:
            item_key, sep, req_key = unit.rpartition("#")
            if not sep:
                return f"{unit!r} names no requirement (expected <item id>#<requirement id>)"
            found = self.items.get(item_key)
            if found is None:
                return f"no item {item_key!r} in this benchmark"
            if (found[1], req_key) not in self.requirements:
                return f"item {item_key!r} has no requirement {req_key!r}"
            return None
        found = self.items.get(unit)
        if found is None:
            return f"no item {unit!r} in this benchmark"
        if task == "translation_validation" and found[0] == "en":
            return f"{unit!r} is an English item; translation validation needs a translation"
        return None

    def refs(self, task: str, unit: str, *, per_requirement: bool) -> UnitRefs:
        """What a valid unit points to (call `problem` first)."""
        if task == "response_rating":
            return self.responses[unit]
        if task == "pairwise_preference":
            return UnitRefs(pair_id=self.pairs[unit])
        if task == "judge_agreement":
            return self.decisions[unit]
        if per_requirement:
            item_key, _, req_key = unit.rpartition("#")
            _, group_id, item_id = self.items[item_key]
            return UnitRefs(item_id=item_id, requirement_id=self.requirements[(group_id, req_key)])
        return UnitRefs(item_id=self.items[unit][2])


def _write_labels(benchmark: Benchmark, rows: list[_LabelRow],
                  refs: dict[tuple[str, str], UnitRefs], summary: ImportSummary) -> None:
    User = get_user_model()
    names = sorted({row.annotator for row in rows})
    users = {u.username: u for u in User.objects.filter(username__in=names)}
    for name in names:
        if name not in users:
            user = User(username=name)
            user.set_unusable_password()
            user.save()
            users[name] = user
            summary.count("annotators", created=1)
    batch_id = uuid.uuid4().hex
    submissions = {
        users[name].pk: Submission.objects.create(
            client_id=f"import-{batch_id}-{users[name].pk}", annotator=users[name],
            source=Submission.Source.IMPORT).pk
        for name in names
    }
    # Tuples, not model instances: a labels file of a million rows is compared with the
    # labels already stored, and instances cost ~1 KB and ~10 us each. One pass over the
    # stored labels (looking them up by unit, a query per few hundred units, made PostgreSQL
    # scan the table each time), keeping only those of the file's units.
    file_units = {(row.task, row.unit) for row in rows}
    current = {
        (task, unit, annotator, field_name): (pk, value, note)
        for pk, task, unit, annotator, field_name, value, note in Label.objects.filter(
            benchmark=benchmark, annotator__in=users.values()
        ).values_list("pk", "task", "unit", "annotator_id", "field", "value", "note").iterator(
            chunk_size=10_000)
        if (task, unit) in file_units
    }
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    new: list[tuple] = []
    changed: list[tuple[int, int, str, str]] = []      # (label id, annotator, value, note)
    for row in rows:
        annotator = users[row.annotator].pk
        key = (row.task, row.unit, annotator, row.field)
        stored = current.get(key)
        if stored is None:
            ref = refs[(row.task, row.unit)]
            new.append((benchmark.pk, row.task, row.unit, annotator, row.field, row.value,
                        row.note, now, ref.item_id, ref.requirement_id, ref.pair_id, ref.model))
            current[key] = (0, row.value, row.note)
        elif (stored[1], stored[2]) != (row.value, row.note):
            changed.append((stored[0], annotator, row.value, row.note))
    # Raw SQL: Django's bulk_create spends most of an import's time building and preparing
    # model instances; these rows are already validated and complete.
    event_fields = ("label", "submission", "value", "note", "created_at")
    for start in range(0, len(new), INSERT_CHUNK):
        # A chunk's events right after its labels: no list of every new id and event.
        chunk = new[start:start + INSERT_CHUNK]
        ids = insert_rows(Label, LABEL_INSERT_FIELDS, chunk, returning_ids=True)
        insert_rows(LabelEvent, event_fields, [(pk, submissions[row[3]], row[5], row[6], now)
                                                for pk, row in zip(ids, chunk, strict=True)])
    _update_rows(Label, ("value", "note", "updated_at"),
                 [(value, note, now, pk) for pk, _, value, note in changed])
    insert_rows(LabelEvent, event_fields, [(pk, submissions[annotator], value, note, now)
                                            for pk, annotator, value, note in changed])
    used = {row[3] for row in new} | {annotator for _, annotator, _, _ in changed}
    Submission.objects.filter(pk__in=[pk for annotator, pk in submissions.items()
                                      if annotator not in used]).delete()
    summary.count("labels", created=len(new), updated=len(changed))


LABEL_INSERT_FIELDS = ("benchmark", "task", "unit", "annotator", "field", "value", "note",
                       "updated_at", "item", "requirement", "pair", "model")


# --- raw writes ----------------------------------------------------------------------------

def _update_rows(model: type, fields: tuple[str, ...], rows: list[tuple]) -> None:
    """UPDATE `model`'s rows: each row is the new values of `fields`, then the row's id."""
    if not rows:
        return
    quote = connection.ops.quote_name
    params = bulksql.bulk_params(len(fields) + 1)
    assignments = ", ".join(f"{quote(model._meta.get_field(name).column)} = {param}"
                            for name, param in zip(fields, params, strict=False))
    with bulksql.bulk_cursor() as cursor:
        cursor.executemany(f"UPDATE {quote(model._meta.db_table)} SET {assignments} "  # noqa: S608 - names from the model
                           f"WHERE id = {params[-1]}", rows)
