"""Gold export (spec section 6): resolution, rejection down the seed chains, tags, corrected
judge decisions, scores by hand, the exact files, Parquet, round trip and atomic output.

The data is small and built by hand, loaded through the real importers and services.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from annotation import importers
from annotation.models import Benchmark, Item, Label, Requirement
from annotation.services import adjudication_set
from judging import gold
from judging.gold import (
    STRATEGIES,
    ExportSummary,
    GoldExportError,
    export_gold,
    resolve_field,
    score_rows,
)
from judging.reports import agreement_report

NAME = "gold-test"
JUDGE = "judge-x"
META = {"b": 1, "a": [1.5, "x"], "ü": "日本"}
FILES = ("benchmark.jsonl", "removed.jsonl", "judgments_gold.jsonl", "labels.csv",
         "agreement.json", "scores.csv")
PARQUET = ("benchmark.parquet", "removed.parquet", "judgments_gold.parquet", "labels.parquet",
           "scores.parquet")


def _req(*keys: str) -> list[dict]:
    return [{"id": k, "text": f"Does the response {k}?", "category": "format",
             "dimension": "d1"} for k in keys]


def _line(key: str, group: str, language: str = "en", *, requirements=("r1",),
          **extra) -> dict:
    return {"id": key, "group": group, "language": language,
            "instruction": f"instruction {key}", "requirements": _req(*requirements), **extra}


# g1 <- g2 <- g3 <- g4 is a chain of seeds three deep below g1.
LINES = [
    _line("g1-en", "g1", requirements=("r1", "r2"), subset="easy", meta=META,
          core_instruction="core", input_material="material"),
    _line("g1-zh", "g1", "zh", requirements=("r1", "r2"), subset="easy", meta=META),
    _line("g2-en", "g2", subset="hard", seed="g1"),
    _line("g3-en", "g3", subset="hard", seed="g2"),
    _line("g4-en", "g4", subset="hard", seed="g3"),
    _line("g5-en", "g5", requirements=("r1", "r2", "r3")),
    _line("g5-zh", "g5", "zh", requirements=("r1", "r2", "r3")),
    _line("g6-en", "g6"),
    _line("g6-zh", "g6", "zh"),
    _line("g7-en", "g7"),
    _line("g8-en", "g8"),
    _line("g9-en", "g9"),
    _line("g10-en", "g10", seed="g9"),
]


def _response(item: str, model: str, decisions: str) -> dict:
    return {"item": item, "model": model, "response": f"{model} on {item}",
            "judgments": [{"judge": JUDGE, "protocol": "requirements",
                           "decisions": [{"requirement": f"r{i}", "decision": d}
                                         for i, d in enumerate(decisions.split(), start=1)]}]}


RESPONSES = [
    _response("g1-en", "m1", "YES YES"),  # its group is removed: no judgments_gold line
    _response("g5-en", "m1", "YES YES NO"),
    _response("g5-zh", "m1", "YES NO NO"),
    _response("g5-en", "m2", "NO NO NO"),
    _response("g5-zh", "m2", "YES YES YES"),
    _response("g8-en", "m1", "YES"),
]

IV = "instruction_validation"
JA = "judge_agreement"
LABELS = [
    # g1: max_constraints fails -> g1 removed, and g2, g3, g4 down the chain.
    (IV, "g1-en", "ana", "clarity", "yes", ""),
    (IV, "g1-en", "ben", "max_constraints", "no", "six constraints"),
    # g5: cultural accessibility "no" only tags; labels on both lines resolve together.
    (IV, "g5-en", "ana", "clarity", "yes", ""),
    (IV, "g5-en", "ana", "cultural_accessibility", "no", "a local holiday"),
    (IV, "g5-zh", "ben", "clarity", "yes", ""),
    # g6: labelled only on its zh line; that decides for the whole group.
    (IV, "g6-zh", "ana", "linguistic_independence", "no", "a pun in Chinese"),
    (IV, "g6-zh", "ana", "clarity", "yes", ""),
    # g7: a 1-1 tie: conservative under both strategies -> removed.
    (IV, "g7-en", "ana", "clarity", "yes", ""),
    (IV, "g7-en", "ben", "clarity", "no", ""),
    # g8: 2 yes, 1 no: conservative removes it, majority keeps it.
    (IV, "g8-en", "ana", "clarity", "yes", ""),
    (IV, "g8-en", "ben", "clarity", "yes", ""),
    (IV, "g8-en", "carl", "clarity", "no", "ambiguous, \"quoted\"\nover two lines"),
    # g9: everyone says clarity no; g10 is its variant.
    (IV, "g9-en", "ana", "clarity", "no", ""),
    (IV, "g9-en", "ben", "clarity", "no", ""),
    # Judge agreement on the judge's decisions.
    (JA, f"g5-en|m1|r1|{JUDGE}", "ana", "agree", "no", "it did not"),
    (JA, f"g5-en|m1|r1|{JUDGE}", "ben", "agree", "yes", ""),
    (JA, f"g5-en|m1|r2|{JUDGE}", "ana", "agree", "no", ""),
    (JA, f"g5-en|m1|r2|{JUDGE}", "ben", "agree", "yes", ""),
    (JA, f"g5-en|m1|r2|{JUDGE}", "carl", "agree", "yes", ""),
    (JA, f"g5-en|m1|r3|{JUDGE}", "ana", "agree", "yes", ""),
    (JA, f"g5-zh|m1|r2|{JUDGE}", "ana", "agree", "no", ""),
    (JA, f"g5-zh|m1|r3|{JUDGE}", "ana", "agree", "no", ""),
    (JA, f"g5-zh|m1|r3|{JUDGE}", "ben", "agree", "no", ""),
    # Other tasks are exported as labels, untouched by the rules.
    ("requirement_assessment", "g5-en#r1", "ana", "atomicity", "yes", ""),
    ("translation_validation", "g5-zh", "ben", "quality", "4", ""),
]


def _jsonl(records) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()


def _csv(rows) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["task", "unit", "annotator", "field", "value", "note"])
    writer.writerows(rows)
    return out.getvalue().encode()


def load(name: str = NAME, *, lines=LINES, responses=RESPONSES, labels=LABELS) -> Benchmark:
    importers.import_benchmark(data=_jsonl(lines), file_name="benchmark.jsonl",
                               benchmark_name=name)
    importers.import_responses(data=_jsonl(responses), file_name="responses.jsonl",
                               benchmark_name=name)
    if labels:
        importers.import_labels(data=_csv(labels), file_name="labels.csv", benchmark_name=name)
    return Benchmark.objects.get(name=name)


@pytest.fixture
def benchmark(db, admin) -> Benchmark:
    bench = load()
    # g9 and g10: everyone failed g9's clarity; the admin overrules them... then overrules
    # themself: the latest adjudication counts.
    adjudication_set(benchmark=bench, task=IV, unit="g9", field="clarity", value="yes",
                     reason="clear enough", adjudicator=admin)
    # g5-zh r2: one "no" would reverse the judge; the admin confirms the judge instead.
    adjudication_set(benchmark=bench, task=JA, unit=f"g5-zh|m1|r2|{JUDGE}", field="agree",
                     value="yes", reason="the response does satisfy r2", adjudicator=admin)
    return bench


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def export(benchmark: Benchmark, tmp_path: Path, strategy: str = "conservative",
           name: str = "gold") -> Path:
    summary = export_gold(benchmark=benchmark, out_dir=tmp_path / name, strategy=strategy)
    return summary.out_dir


# --- resolve_field ----------------------------------------------------------------------------

@pytest.mark.parametrize(("values", "conservative", "majority"), [
    ([], None, None),
    (["yes"], "yes", "yes"),
    (["yes", "yes"], "yes", "yes"),
    (["yes", "no"], "no", "no"),  # a tie falls back to conservative
    (["yes", "yes", "no"], "no", "yes"),
    (["no", "no", "yes"], "no", "no"),
    (["yes", "yes", "no", "no"], "no", "no"),
])
def test_resolve_field_conservative_and_majority(values, conservative, majority):
    assert resolve_field(values, "conservative") == conservative
    assert resolve_field(values, "majority") == majority


def test_resolve_field_names_its_failing_value():
    assert resolve_field(["agree", "agree", "disagree"], "conservative",
                         failing="disagree") == "disagree"
    assert resolve_field(["agree", "agree", "disagree"], "majority",
                         failing="disagree") == "agree"


def test_resolve_field_rejects_an_unknown_strategy():
    with pytest.raises(GoldExportError, match="unknown strategy"):
        resolve_field(["yes"], "dawid_skene")
    assert STRATEGIES == ("conservative", "majority")


# --- files and rules --------------------------------------------------------------------------

def test_export_writes_exactly_the_spec_files(benchmark, tmp_path):
    summary = export_gold(benchmark=benchmark, out_dir=tmp_path / "gold")
    assert isinstance(summary, ExportSummary)
    assert summary.out_dir == tmp_path / "gold" and summary.strategy == "conservative"
    names = {p.name for p in summary.out_dir.iterdir()}
    assert set(FILES) | set(PARQUET) <= names
    assert names - set(FILES) - set(PARQUET) <= {"resolution_models.json"}
    assert summary.files["benchmark.jsonl"] == len(read_jsonl(summary.out_dir / "benchmark.jsonl"))
    assert summary.files["labels.csv"] == len(LABELS)
    assert summary.removed_groups == 7  # g1 (and g2, g3, g4 down its chain), g6, g7, g8
    # Nothing beside the export is left behind.
    assert [p.name for p in tmp_path.iterdir()] == ["gold"]


def test_seed_chains_three_deep_are_removed_with_their_root(benchmark, tmp_path):
    out = export(benchmark, tmp_path)
    removed = read_jsonl(out / "removed.jsonl")
    assert {r["group"]: (r["reason"], r["via_seed"]) for r in removed} == {
        "g1": ("max_constraints", None), "g2": ("max_constraints", "g1"),
        "g3": ("max_constraints", "g2"), "g4": ("max_constraints", "g3"),
        "g6": ("linguistic_independence", None), "g7": ("clarity", None),
        "g8": ("clarity", None),
    }
    # Roots first, then each level of the chain after the one that took it.
    order = [r["group"] for r in removed]
    assert order.index("g1") < order.index("g2") < order.index("g3") < order.index("g4")
    assert all(set(r) == {"group", "reason", "via_seed"} for r in removed)
    kept = {line["group"] for line in read_jsonl(out / "benchmark.jsonl")}
    assert kept == {"g5", "g9", "g10"}


def test_majority_keeps_a_two_to_one_group_and_breaks_ties_conservatively(benchmark, tmp_path):
    out = export(benchmark, tmp_path, "majority")
    removed = {r["group"] for r in read_jsonl(out / "removed.jsonl")}
    assert "g8" not in removed  # 2 yes : 1 no
    assert "g7" in removed  # 1 : 1 falls back to conservative
    lines = {line["id"]: line for line in read_jsonl(out / "benchmark.jsonl")}
    assert lines["g8-en"]["human_annotation_tags"] == {"clarity": True}


def test_a_group_labelled_only_on_its_translation_is_decided_by_it(benchmark, tmp_path):
    out = export(benchmark, tmp_path)
    assert not any(line["group"] == "g6" for line in read_jsonl(out / "benchmark.jsonl"))
    # Its tags, had it been kept, come from the zh labels for both lines: see g5.
    lines = {line["id"]: line for line in read_jsonl(out / "benchmark.jsonl")}
    assert lines["g5-en"]["human_annotation_tags"] == lines["g5-zh"]["human_annotation_tags"]


def test_cultural_accessibility_only_tags(benchmark, tmp_path):
    out = export(benchmark, tmp_path)
    lines = {line["id"]: line for line in read_jsonl(out / "benchmark.jsonl")}
    # g5: clarity labelled on en (ana) and zh (ben), cultural accessibility "no" on en.
    assert lines["g5-en"]["human_annotation_tags"] == {"clarity": True,
                                                       "cultural_accessibility": False}
    assert lines["g5-zh"]["human_annotation_tags"] == {"clarity": True,
                                                       "cultural_accessibility": False}
    assert "g5" not in {r["group"] for r in read_jsonl(out / "removed.jsonl")}


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_adjudication_overrides_both_strategies(benchmark, admin, tmp_path, strategy):
    out = export(benchmark, tmp_path, strategy, name=f"first-{strategy}")
    lines = {line["id"]: line for line in read_jsonl(out / "benchmark.jsonl")}
    # g9: both annotators said "no"; the admin said "yes": kept, with g10 its variant.
    assert lines["g9-en"]["human_annotation_tags"] == {"clarity": True}
    assert lines["g10-en"]["human_annotation_tags"] == {}
    # The admin changes their mind: the latest adjudication wins, and g10 follows g9.
    adjudication_set(benchmark=benchmark, task=IV, unit="g9", field="clarity", value="no",
                     reason="on second reading, no", adjudicator=admin)
    # And overrules the 2:1 majority on g8 (majority would keep it).
    adjudication_set(benchmark=benchmark, task=IV, unit="g8", field="clarity", value="no",
                     reason="the note is right", adjudicator=admin)
    out = export(benchmark, tmp_path, strategy, name=f"second-{strategy}")
    removed = {r["group"]: r for r in read_jsonl(out / "removed.jsonl")}
    assert removed["g9"] == {"group": "g9", "reason": "clarity", "via_seed": None}
    assert removed["g10"] == {"group": "g10", "reason": "clarity", "via_seed": "g9"}
    assert "g8" in removed


def test_an_adjudicated_group_without_labels_is_tagged(benchmark, admin, tmp_path):
    adjudication_set(benchmark=benchmark, task=IV, unit="g10", field="clarity", value="yes",
                     reason="checked", adjudicator=admin)
    lines = {line["id"]: line for line in read_jsonl(export(benchmark, tmp_path)
                                                     / "benchmark.jsonl")}
    assert lines["g10-en"]["human_annotation_tags"] == {"clarity": True}


def test_benchmark_lines_are_format_1_with_meta_verbatim(benchmark, admin, tmp_path):
    adjudication_set(benchmark=benchmark, task=IV, unit="g1", field="max_constraints",
                     value="yes", reason="five", adjudicator=admin)
    out = export(benchmark, tmp_path)
    text = (out / "benchmark.jsonl").read_text(encoding="utf-8")
    line = json.loads(text.splitlines()[0])
    assert line == {
        "id": "g1-en", "language": "en", "instruction": "instruction g1-en",
        "requirements": _req("r1", "r2"), "group": "g1", "subset": "easy", "seed": "",
        "core_instruction": "core", "input_material": "material", "resource_level": "high",
        "meta": META, "human_annotation_tags": {"clarity": True, "max_constraints": True},
    }
    assert '"meta": {"b": 1, "a": [1.5, "x"], "ü": "日本"}' in text.splitlines()[0]
    ids = [json.loads(t)["id"] for t in text.splitlines()]
    assert ids[:5] == ["g1-en", "g1-zh", "g2-en", "g3-en", "g4-en"]  # file order kept
    g2 = json.loads(text.splitlines()[2])
    assert (g2["seed"], g2["subset"], "meta" in g2) == ("g1", "hard", False)


def test_every_line_of_a_group_carries_the_same_tags(benchmark, tmp_path):
    by_group: dict[str, set[str]] = {}
    for line in read_jsonl(export(benchmark, tmp_path) / "benchmark.jsonl"):
        by_group.setdefault(line["group"], set()).add(
            json.dumps(line["human_annotation_tags"], sort_keys=True))
    assert all(len(tags) == 1 for tags in by_group.values())


# --- judge decisions and scores ---------------------------------------------------------------

def _decisions(out: Path) -> dict[tuple[str, str], list[tuple]]:
    return {(line["item"], line["model"]): [
        (d["requirement"], d["judge_decision"], d["gold_decision"], d["source"])
        for d in line["decisions"]] for line in read_jsonl(out / "judgments_gold.jsonl")}


def test_judge_decisions_reversed_conservatively_with_sources(benchmark, tmp_path):
    out = export(benchmark, tmp_path)
    lines = read_jsonl(out / "judgments_gold.jsonl")
    assert all(set(line) == {"item", "model", "judge", "decisions"} for line in lines)
    assert all(line["judge"] == JUDGE for line in lines)
    assert all(set(d) == {"requirement", "judge_decision", "gold_decision", "source"}
               for line in lines for d in line["decisions"])
    assert _decisions(out) == {
        # r1: ana disagrees -> reversed; r2: one of three disagrees -> reversed;
        # r3: confirmed by ana.
        ("g5-en", "m1"): [("r1", True, False, "human"), ("r2", True, False, "human"),
                          ("r3", False, False, "human")],
        # r2: ana disagrees but the admin confirmed the judge; r3: both disagree.
        ("g5-zh", "m1"): [("r1", True, True, "judge"), ("r2", False, False, "human"),
                          ("r3", False, True, "human")],
        ("g5-en", "m2"): [("r1", False, False, "judge"), ("r2", False, False, "judge"),
                          ("r3", False, False, "judge")],
        ("g5-zh", "m2"): [("r1", True, True, "judge"), ("r2", True, True, "judge"),
                          ("r3", True, True, "judge")],
        # g1-en's judgment is gone with its group; g8 was removed (conservative).
    }


def test_judge_decisions_under_majority(benchmark, tmp_path):
    decisions = _decisions(export(benchmark, tmp_path, "majority"))
    assert decisions[("g5-en", "m1")] == [
        ("r1", True, False, "human"),  # 1:1 tie -> conservative: reversed
        ("r2", True, True, "human"),  # 2:1 agree -> kept
        ("r3", False, False, "human"),
    ]
    assert decisions[("g8-en", "m1")] == [("r1", True, True, "judge")]  # g8 kept now


def test_judged_items_read_the_same_whether_few_or_most_groups_are_removed(benchmark):
    # Few removed: one stream of every decision; most removed: the kept judgments' decisions
    # in chunks. Both must give the kept judgments, in order, with the same decisions.
    every = list(gold.judged_items(benchmark=benchmark, strategy="conservative"))
    groups = sorted({judged.group for judged in every})
    assert len(groups) >= 3
    all_groups = list(benchmark.groups.values_list("key", flat=True))
    kept = groups[:2]
    removed = set(all_groups) - set(kept)
    assert len(removed) * 2 > len(all_groups)  # the chunked path
    few_removed = {groups[0]}  # the stream

    chunked = list(gold.judged_items(benchmark=benchmark, strategy="conservative",
                                     removed=removed))
    streamed = list(gold.judged_items(benchmark=benchmark, strategy="conservative",
                                      removed=few_removed))

    assert chunked == [judged for judged in every if judged.group in kept]
    assert streamed == [judged for judged in every if judged.group not in few_removed]
    assert any(judged.decisions for judged in chunked)


def test_adjudication_overrides_the_judge_verdict_under_both_strategies(benchmark, tmp_path):
    # ana's single "disagree" on g5-zh|m1|r2 would reverse it under both strategies.
    for strategy in STRATEGIES:
        decisions = _decisions(export(benchmark, tmp_path, strategy, name=strategy))
        assert decisions[("g5-zh", "m1")][1] == ("r2", False, False, "human")


def _scores(out: Path) -> dict[tuple[str, str, str], dict]:
    return {(r["language"], r["model"], r["judge"]): r for r in read_csv(out / "scores.csv")}


def test_scores_by_hand_conservative(benchmark, tmp_path):
    out = export(benchmark, tmp_path)
    header = (out / "scores.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == ("language,model,judge,n_instructions,n_requirements,rfr_judge,rfr_gold,"
                      "ifr_judge,ifr_gold")
    expected = {
        ("en", "m1", JUDGE): (1, 3, 2 / 3, 0, 0, 0),
        ("zh", "m1", JUDGE): (1, 3, 1 / 3, 2 / 3, 0, 0),
        ("en", "m2", JUDGE): (1, 3, 0, 0, 0, 0),
        ("zh", "m2", JUDGE): (1, 3, 1, 1, 1, 1),
    }
    got = _scores(out)
    assert set(got) == set(expected)
    for key, (n_instr, n_req, rfr_j, rfr_g, ifr_j, ifr_g) in expected.items():
        row = got[key]
        assert (int(row["n_instructions"]), int(row["n_requirements"])) == (n_instr, n_req)
        assert float(row["rfr_judge"]) == pytest.approx(rfr_j)
        assert float(row["rfr_gold"]) == pytest.approx(rfr_g)
        assert float(row["ifr_judge"]) == pytest.approx(ifr_j)
        assert float(row["ifr_gold"]) == pytest.approx(ifr_g)
    assert score_rows(benchmark=benchmark) == [
        {k: (v if k in ("language", "model", "judge") else
             int(v) if k.startswith("n_") else pytest.approx(float(v)))
         for k, v in row.items()} for row in read_csv(out / "scores.csv")]


def test_scores_by_hand_majority(benchmark):
    rows = {(r["language"], r["model"]): r for r in
            score_rows(benchmark=benchmark, strategy="majority")}
    # en/m1: g5-en judge Y Y N, gold N Y N; g8-en judge Y, gold Y (kept under majority).
    assert rows[("en", "m1")] == {
        "language": "en", "model": "m1", "judge": JUDGE, "n_instructions": 2,
        "n_requirements": 4, "rfr_judge": 0.75, "rfr_gold": 0.5, "ifr_judge": 0.5,
        "ifr_gold": 0.5}
    assert list(rows[("en", "m1")]) == list(gold.SCORE_COLUMNS)


def test_score_rows_without_labels_equal_the_judge(db, tmp_path):
    bench = load("no-labels", labels=[])
    for row in score_rows(benchmark=bench):
        assert (row["rfr_gold"], row["ifr_gold"]) == (row["rfr_judge"], row["ifr_judge"])
        assert 0 <= row["rfr_judge"] <= 1 and 0 <= row["ifr_judge"] <= 1
    out = export(bench, tmp_path)
    assert read_jsonl(out / "removed.jsonl") == []
    assert all(line["human_annotation_tags"] == {}
               for line in read_jsonl(out / "benchmark.jsonl"))
    assert {d["source"] for line in read_jsonl(out / "judgments_gold.jsonl")
            for d in line["decisions"]} == {"judge"}


# --- labels, agreement, parquet ---------------------------------------------------------------

def test_labels_csv_holds_every_label_and_reimports_unchanged(benchmark, tmp_path):
    out = export(benchmark, tmp_path)
    rows = read_csv(out / "labels.csv")
    assert (out / "labels.csv").read_text(encoding="utf-8").splitlines()[0] == (
        "task,unit,annotator,field,value,note")
    assert sorted(tuple(r.values()) for r in rows) == sorted(LABELS)
    summary = importers.import_labels(data=(out / "labels.csv").read_bytes(),
                                      file_name="labels.csv", benchmark_name=NAME)
    assert summary.lines == len(LABELS)
    assert not any(summary.created.values()) and not any(summary.updated.values())


def test_agreement_json_is_the_agreement_report(benchmark, tmp_path):
    report = json.loads((export(benchmark, tmp_path) / "agreement.json").read_text("utf-8"))
    expected = agreement_report(benchmark=benchmark)
    report.pop("generated_at"), expected.pop("generated_at")
    assert report == json.loads(json.dumps(expected))


def test_parquet_files_hold_the_same_tables(benchmark, tmp_path):
    out = export(benchmark, tmp_path)
    for name in ("benchmark", "removed", "judgments_gold"):
        table = pq.read_table(out / f"{name}.parquet")
        records = read_jsonl(out / f"{name}.jsonl")
        assert table.num_rows == len(records)
        rows = table.to_pylist()
        if name == "benchmark":
            for row, record in zip(rows, records, strict=True):
                meta = row.pop("meta")
                assert (json.loads(meta) if meta else None) == record.pop("meta", None)
                tags = {k: v for k, v in row.pop("human_annotation_tags").items()
                        if v is not None}
                assert tags == record.pop("human_annotation_tags")
                assert row == record
        else:
            assert rows == records
    labels = pq.read_table(out / "labels.parquet")
    assert labels.column_names == list(gold.LABEL_COLUMNS)
    assert labels.to_pylist() == read_csv(out / "labels.csv")
    scores = pq.read_table(out / "scores.parquet")
    assert scores.column_names == list(gold.SCORE_COLUMNS)
    assert scores.to_pylist() == score_rows(benchmark=benchmark)


def test_resolution_models_report_dawid_skene_beside_the_strategies(benchmark, tmp_path):
    report = json.loads((export(benchmark, tmp_path) / "resolution_models.json")
                        .read_text("utf-8"))
    assert report["model"] == "dawid_skene" and report["available"] is True
    fields = {(f["task"], f["field"]): f for f in report["fields"]}
    # Instruction-level fields count groups, like the strategies.
    assert fields[(IV, "clarity")]["n_units"] == len({"g1", "g5", "g6", "g7", "g8", "g9"})
    assert fields[(JA, "agree")]["n_units"] == 5
    assert fields[(JA, "agree")]["n_labels"] == 9
    for entry in fields.values():
        assert 0 <= entry["differs_from_conservative"] <= entry["n_units"]
        assert 0 <= entry["differs_from_majority"] <= entry["n_units"]
    # Only yes/no fields: translation quality is not resolved by the strategies' rule.
    assert ("translation_validation", "quality") not in fields


def test_dawid_skene_matches_crowd_kit():
    """gold.dawid_skene runs crowd-kit's steps on numpy arrays: the same probabilities."""
    pd = pytest.importorskip("pandas")
    pytest.importorskip("crowdkit")
    import warnings

    import numpy as np
    from crowdkit.aggregation import DawidSkene

    rng = np.random.default_rng(5)
    for n_labels in (2, 3):
        truth = rng.integers(0, n_labels, 200)
        rows = [(task, worker, truth[task] if rng.random() < 0.55 + 0.05 * worker
                 else rng.integers(0, n_labels))
                for task in range(200) for worker in rng.choice(8, 3, replace=False)]
        tasks, workers, labels = (np.array(column) for column in zip(*rows, strict=True))
        ours = gold.dawid_skene(tasks, workers, labels, n_tasks=200, n_workers=8,
                                n_labels=n_labels)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = DawidSkene(n_iter=gold.DS_ITERATIONS).fit_predict_proba(
                pd.DataFrame({"task": tasks, "worker": workers, "label": labels}))
        theirs = theirs.sort_index()[sorted(theirs.columns)].to_numpy()
        assert np.allclose(ours, theirs, rtol=0, atol=1e-12)


# --- round trip -------------------------------------------------------------------------------

# Labels that remove no group (a removed group's labels could not come back in).
ROUND_TRIP_LABELS = [row for row in LABELS if row[1].startswith("g5")]


def _items(bench: Benchmark) -> list[tuple]:
    return sorted(Item.objects.filter(benchmark=bench).values_list(
        "key", "language", "instruction", "group__key", "group__subset", "group__seed_key",
        "core_instruction", "input_material", "resource_level", "meta_json"))


def _requirements(bench: Benchmark) -> list[tuple]:
    return sorted(Requirement.objects.filter(group__benchmark=bench).values_list(
        "group__key", "key", "text", "category", "dimension", "position"))


def _labels(bench: Benchmark) -> list[tuple]:
    return sorted(Label.objects.filter(benchmark=bench).values_list(
        "task", "unit", "annotator__username", "field", "value", "note"))


def test_round_trip_into_a_fresh_benchmark(db, tmp_path):
    labels = [*ROUND_TRIP_LABELS,
              (IV, "g1-zh", "ana", "clarity", "yes", "multi\nline, \"note\""),
              (IV, "g8-en", "ben", "clarity", "yes", "")]
    original = load("original", labels=labels)
    out = export(original, tmp_path)
    assert read_jsonl(out / "removed.jsonl") == []  # nothing removed: everything comes back
    importers.import_benchmark(data=(out / "benchmark.jsonl").read_bytes(),
                               file_name="benchmark.jsonl", benchmark_name="copy")
    importers.import_responses(data=_jsonl(RESPONSES), file_name="responses.jsonl",
                               benchmark_name="copy")
    importers.import_labels(data=(out / "labels.csv").read_bytes(), file_name="labels.csv",
                            benchmark_name="copy")
    copy = Benchmark.objects.get(name="copy")
    assert _items(copy) == _items(original)
    assert _requirements(copy) == _requirements(original)
    assert _labels(copy) == _labels(original)
    again = export(copy, tmp_path, name="again")
    for name in ("benchmark.jsonl", "labels.csv", "judgments_gold.jsonl", "scores.csv",
                 "removed.jsonl"):
        assert (again / name).read_bytes() == (out / name).read_bytes(), name


# --- atomic output ----------------------------------------------------------------------------

def test_a_failure_mid_export_leaves_nothing(benchmark, tmp_path, monkeypatch):
    def boom(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(gold, "agreement_report", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        export_gold(benchmark=benchmark, out_dir=tmp_path / "gold")
    assert list(tmp_path.iterdir()) == []


def test_refuses_a_directory_that_is_not_empty(benchmark, tmp_path):
    (tmp_path / "gold").mkdir()
    (tmp_path / "gold" / "keep.txt").write_text("mine")
    with pytest.raises(GoldExportError, match="not an empty directory"):
        export_gold(benchmark=benchmark, out_dir=tmp_path / "gold")
    assert [p.name for p in (tmp_path / "gold").iterdir()] == ["keep.txt"]


def test_an_empty_directory_is_filled(benchmark, tmp_path):
    (tmp_path / "gold").mkdir()
    summary = export_gold(benchmark=benchmark, out_dir=tmp_path / "gold")
    assert (summary.out_dir / "scores.csv").is_file()


def test_progress_reports_each_stage(benchmark, tmp_path):
    seen: list[tuple[str, int, int]] = []
    export_gold(benchmark=benchmark, out_dir=tmp_path / "gold",
                progress=lambda stage, done, total: seen.append((stage, done, total)))
    stages = list(dict.fromkeys(stage for stage, _, _ in seen))
    assert stages == ["resolve", "benchmark", "judgments", "labels", "agreement"]
    assert all(0 <= done <= total for _, done, total in seen)
    assert ("benchmark", 13, 13) in seen and ("labels", len(LABELS), len(LABELS)) in seen
