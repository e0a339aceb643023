"""On PostgreSQL, a benchmark import without a progress callback writes the lines new to the
benchmark while it is still reading the file (importers._FreshLines); with a callback it
checks the whole file first. Both ways must leave the same rows, count the same changes and
refuse the same files with the same problems."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection

from annotation import importers
from annotation.bulksql import INSERT_CHUNK
from annotation.importers import ImportRejected
from annotation.models import Benchmark, Group, Item, Requirement

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="only PostgreSQL writes while it reads"),
]

STREAMED, CHECKED_FIRST = "streamed", "checked-first"


def line(key: str, group: str, language: str, reqs: tuple = ("r1", "r2"), **extra) -> dict:
    record = {"id": key, "group": group, "language": language,
              "instruction": f"Instruction of {key}.",
              "requirements": [{"id": r, "text": f"{r} of {group}?"} for r in reqs]}
    return record | extra


def groups(prefix: str, count: int, languages=("en", "zh")) -> list[dict]:
    return [line(f"{prefix}{n}-{lang}", f"{prefix}{n}", lang)
            for n in range(count) for lang in languages]


def jsonl(records: list[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()


def run(way: str, data: bytes) -> dict[str, Any]:
    progress = None if way == STREAMED else (lambda done, total: None)
    return importers.import_benchmark(data=data, file_name="benchmark.jsonl",
                                      benchmark_name=way, progress=progress).as_dict()


def stored(name: str) -> dict[str, Any]:
    """Everything an import writes for benchmark `name`, by key (ids differ between the two)."""
    return {
        "groups": sorted(Group.objects.filter(benchmark__name=name).values_list(
            "key", "seed_key", "subset")),
        "requirements": sorted(Requirement.objects.filter(group__benchmark__name=name)
                               .values_list("group__key", "key", "text", "category",
                                            "dimension", "position")),
        "items": sorted(Item.objects.filter(benchmark__name=name).values_list(
            "key", "group__key", "language", "instruction", "core_instruction",
            "input_material", "resource_level", "meta_json", "line_number")),
    }


def both_ways(data: bytes) -> dict[str, Any]:
    summaries = {way: run(way, data) for way in (STREAMED, CHECKED_FIRST)}
    assert summaries[STREAMED] == summaries[CHECKED_FIRST]
    assert stored(STREAMED) == stored(CHECKED_FIRST)
    return summaries[STREAMED]


def test_a_mixed_reimport_leaves_the_same_rows_both_ways():
    # More new lines than one chunk, so that chunks are written while the file is read.
    first = both_ways(jsonl(groups("g", 3) + groups("a", INSERT_CHUNK)))
    assert first["created"]["items"] == 2 * (3 + INSERT_CHUNK)

    again = [
        *groups("g", 1),  # unchanged lines of a stored group
        line("g1-en", "n1", "en"),  # a stored item moves into a new group...
        line("n1-zh", "n1", "zh"),  # ...beside a new item of that group
        line("x-new", "g1", "en"),  # a new item takes the slot the moved one left
        line("g1-zh", "g1", "zh"),
        *[line(f"g2-{lang}", "g2", lang, reqs=("r1", "r9")) for lang in ("en", "zh")],
        line("n2-en", "n2", "en", seed="s", subset="hard"),
        line("a0-zh", "n2", "zh", seed="s", subset="hard"),  # moves in after a new line
        *groups("b", INSERT_CHUNK + 5, languages=("ru",)),
    ]
    summary = both_ways(jsonl(again))
    assert summary["created"] == {"groups": 2 + INSERT_CHUNK + 5,
                                  "requirements": 2 * (2 + INSERT_CHUNK + 5) + 1,
                                  "items": 3 + INSERT_CHUNK + 5}
    # Items moved: g1-en, a0-zh; on other lines than before: g1-zh, g2-en, g2-zh. g2's r2
    # was dropped (r9 is new).
    assert summary["updated"] == {"groups": 0, "requirements": 1, "items": 5}
    moved = dict(Item.objects.filter(benchmark__name=STREAMED).values_list("key", "group__key"))
    assert (moved["g1-en"], moved["x-new"], moved["a0-zh"]) == ("n1", "g1", "n2")


def test_lines_are_written_while_the_file_is_still_read(monkeypatch):
    written_when_read: dict[str, list[int]] = {STREAMED: [], CHECKED_FIRST: []}
    parse = importers._parse_item_line
    way = {"now": STREAMED}

    def counting(number: int, obj: dict, problems):
        if number == 2 * INSERT_CHUNK:
            written_when_read[way["now"]].append(
                Item.objects.filter(benchmark__name=way["now"]).count())
        return parse(number, obj, problems)

    monkeypatch.setattr(importers, "_parse_item_line", counting)
    for way["now"] in (STREAMED, CHECKED_FIRST):
        run(way["now"], jsonl(groups("g", INSERT_CHUNK + 10)))
    assert written_when_read == {STREAMED: [INSERT_CHUNK], CHECKED_FIRST: [0]}


@pytest.mark.parametrize("bad", [
    pytest.param(lambda lines: lines.append(dict(lines[5])), id="id-given-twice-at-the-end"),
    pytest.param(lambda lines: lines.append({"id": "late"}), id="bad-last-line"),
    pytest.param(lambda lines: lines.append(line("late-en", "g3", "en", reqs=("r7",))),
                 id="group-requirements-differ-at-the-end"),
])
def test_a_problem_after_chunks_were_written_writes_nothing_either_way(bad):
    before = Benchmark.objects.count()
    lines = groups("g", INSERT_CHUNK)
    bad(lines)
    problems = {}
    for way in (STREAMED, CHECKED_FIRST):
        with pytest.raises(ImportRejected) as excinfo:
            run(way, jsonl(lines))
        problems[way] = excinfo.value.problems
    assert problems[STREAMED] == problems[CHECKED_FIRST]
    assert problems[STREAMED][0].startswith(f"benchmark.jsonl:{len(lines)}:")
    assert Benchmark.objects.count() == before
    assert not Item.objects.exists() and not Group.objects.exists()
    assert not Requirement.objects.exists()


def test_a_file_refused_by_the_stored_rows_writes_nothing():
    run(STREAMED, jsonl([line("old-en", "g0", "en")]))
    before = stored(STREAMED)
    # New lines first (written while reading), then a line that takes a stored item's slot.
    lines = groups("n", INSERT_CHUNK) + [line("other-en", "g0", "en")]
    with pytest.raises(ImportRejected) as excinfo:
        run(STREAMED, jsonl(lines))
    assert "already has a 'en' item ('old-en')" in excinfo.value.problems[0]
    assert stored(STREAMED) == before
