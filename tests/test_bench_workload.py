"""The bench workload generator (bench/workload.py) at a tiny scale: the same seed writes the
same bytes, the texts are in each language's script, the labels are what workload.json says,
and the three parts import cleanly through the real importers. No timings here."""

from __future__ import annotations

import csv
import json
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from annotation import importers
from annotation.models import Group, Item, Label, Pair
from bench import workload
from judging.models import JudgeDecision, Response

SCALE = 0.005  # 3 instructions x 10 copies = 30 groups, 5,000 labels
SCRIPT = {"en": "LATIN", "sw": "LATIN", "zh": "CJK", "ru": "CYRILLIC", "ar": "ARABIC",
          "hi": "DEVANAGARI"}


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("workload")
    return out, workload.generate(out, SCALE, seed=7)


def test_same_seed_same_bytes_other_seed_other_bytes(generated, tmp_path):
    out, _ = generated
    workload.generate(tmp_path / "again", SCALE, seed=7)
    workload.generate(tmp_path / "other", SCALE, seed=8)
    for name in workload.FILES:
        for part in ("", *workload.PARTS):
            same = (tmp_path / "again" / part / name).read_bytes()
            assert same == (out / part / name).read_bytes(), f"{part}/{name}"
        assert (tmp_path / "other" / name).read_bytes() != (out / name).read_bytes()
    assert workload.matches(out, SCALE, 7)
    assert not workload.matches(out, SCALE, 8)


def test_texts_are_in_the_language_script_and_200_to_2000_chars(generated):
    out, _ = generated
    for line in (out / "benchmark.jsonl").read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        text = item["instruction"]
        assert 200 <= len(text) <= 2000
        letters = [c for c in text if c.isalpha()]
        assert all(SCRIPT[item["language"]] in unicodedata.name(c) for c in letters), item["id"]


def test_labels_match_the_counts_with_two_or_three_annotators_per_unit(generated):
    out, summary = generated
    with (out / "labels.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == summary["counts"]["labels"] == round(workload.LABELS_AT_SCALE_1 * SCALE)
    assert Counter(r["task"] for r in rows) == summary["counts"]["labels_by_task"]
    annotators = defaultdict(set)
    for row in rows:
        annotators[(row["task"], row["unit"], row["field"])].add(row["annotator"])
    assert {len(names) for names in annotators.values()} == {2, 3}
    parts = [summary["parts"][p]["labels.csv"] for p in workload.PARTS]
    assert sum(parts) == len(rows)


def test_hard_groups_name_easy_seeds_in_the_same_part(generated):
    out, _ = generated
    for part in workload.PARTS:
        lines = [json.loads(x) for x in
                 (out / part / "benchmark.jsonl").read_text(encoding="utf-8").splitlines()]
        groups = {line["group"]: line for line in lines}
        seeds = {line["seed"] for line in lines if "seed" in line}
        assert seeds, part
        assert all(groups[s]["subset"] == "easy" for s in seeds)


@pytest.mark.django_db
def test_the_parts_import_cleanly_and_add_up(generated):
    out, summary = generated
    name = workload.BENCHMARK_NAME
    for part in workload.PARTS:
        for file_name, importer in (("benchmark.jsonl", importers.import_benchmark),
                                    ("responses.jsonl", importers.import_responses),
                                    ("pairs.jsonl", importers.import_pairs),
                                    ("labels.csv", importers.import_labels)):
            importer(data=(out / part / file_name).read_bytes(), file_name=file_name,
                     benchmark_name=name)
    counts = summary["counts"]
    assert Group.objects.count() == counts["groups"]
    assert Item.objects.count() == counts["items"]
    assert Response.objects.count() == counts["responses"]
    assert JudgeDecision.objects.count() == counts["decisions"]
    assert Pair.objects.count() == counts["pairs"]
    assert Label.objects.count() == counts["labels"]
