"""The agreement report over the database (judging/reports.py).

Labels go in through the real label importer (format 4 CSVs written here), pairs through the
real pairs importer, the demo benchmark through tests/conftest.py. Expected values are worked
out by hand in the comments.
"""

from __future__ import annotations

import gc
import json

import pytest

from annotation import importers
from annotation.models import BatchUnit, TaskKind
from judging import reports
from judging.reports import ReportFilters, agreement_report
from tests.conftest import DEMO, FIXTURES

STAT_KEYS = {"value", "n_units", "n_labels", "reason", "ci95"}
JUDGE = "gpt-4o-2024-08-06"


def import_labels(rows: list[tuple[str, str, str, str, str]]) -> None:
    """rows: (task, unit, annotator, field, value)."""
    lines = ["task,unit,annotator,field,value,note"]
    lines += [",".join(row) + "," for row in rows]
    importers.import_labels(data=("\n".join(lines) + "\n").encode(), file_name="labels.csv",
                            benchmark_name=DEMO)


def iv(unit: str, annotator: str, value: str, field: str = "clarity") -> tuple:
    return ("instruction_validation", unit, annotator, field, value)


def ja(item: str, model: str, req: str, annotator: str, value: str) -> tuple:
    return ("judge_agreement", f"{item}|{model}|{req}|{JUDGE}", annotator, "agree", value)


def report(benchmark, **kwargs) -> dict:
    kwargs.setdefault("n_resamples", 50)
    result = agreement_report(benchmark=benchmark, **kwargs)
    json.dumps(result)  # JSON-able as it stands
    return result


def field(result: dict, task: str, name: str) -> dict:
    found = [f for f in result["fields"] if f["task"] == task and f["field"] == name]
    assert len(found) == 1, [(f["task"], f["field"]) for f in result["fields"]]
    return found[0]


def value(stat: dict | None) -> float | None:
    assert stat is not None
    assert set(stat) == STAT_KEYS
    return stat["value"]


# --- shape and degenerate cases ---------------------------------------------------------------

def test_no_labels_gives_an_empty_report(demo_benchmark):
    result = report(demo_benchmark)
    assert result["benchmark"] == DEMO
    assert result["batch"] is None
    assert result["filters"] == {"languages": [], "subsets": [], "models": [], "categories": []}
    assert result["fields"] == []
    assert result["judge_requirements"] == []
    assert result["judge_direct_score"] == []
    assert result["judge_pairwise"] == []
    assert result["judge_scores"] == []


def test_report_has_the_agreed_shape(demo_benchmark):
    importers.import_labels(data=(FIXTURES / "labels.csv").read_bytes(),
                            file_name="labels.csv", benchmark_name=DEMO)
    result = report(demo_benchmark)
    assert set(result) == {"benchmark", "batch", "filters", "generated_at", "fields",
                           "judge_requirements", "judge_direct_score", "judge_pairwise",
                           "judge_scores"}
    # TASKS order, then field order; only fields with labels.
    assert [(f["task"], f["field"]) for f in result["fields"]] == [
        ("instruction_validation", "clarity"),
        ("instruction_validation", "linguistic_independence"),
        ("instruction_validation", "cultural_accessibility"),
        ("pairwise_preference", "preference"),
    ]
    for f in result["fields"]:
        assert set(f) == {"task", "field", "level", "positive", "n_units", "n_annotators",
                          "n_labels", "ratio", "prevalence", "stats", "pairs", "vs_consensus",
                          "confusion", "breakdowns"}
        assert set(f["stats"]) == {"percent_agreement", "cohen_kappa", "fleiss_kappa",
                                   "krippendorff_alpha", "gwet_ac1", "brennan_prediger"}
        for stat in f["stats"].values():
            assert set(stat) == STAT_KEYS
    clarity = field(result, "instruction_validation", "clarity")
    assert (clarity["n_units"], clarity["n_annotators"], clarity["n_labels"]) == (4, 2, 8)
    assert clarity["positive"] == "yes" and clarity["level"] == "nominal"
    assert clarity["prevalence"] == {"yes": 7 / 8, "no": 1 / 8}
    # Bootstrap intervals on percent agreement and alpha when they are defined.
    assert clarity["stats"]["percent_agreement"]["ci95"] is not None
    preference = field(result, "pairwise_preference", "preference")
    assert preference["positive"] is None
    assert preference["ratio"] == {"conservative": None, "majority": None}
    assert set(preference["breakdowns"]) == {"language", "model"}


def test_one_annotator_leaves_kappa_undefined_with_a_reason(demo_benchmark):
    import_labels([iv("hard-004-en", "ana", "yes"), iv("hard-005-en", "ana", "no")])
    clarity = field(report(demo_benchmark), "instruction_validation", "clarity")
    assert clarity["n_annotators"] == 1
    kappa = clarity["stats"]["cohen_kappa"]
    assert value(kappa) is None and "exactly 2 annotators" in kappa["reason"]
    for name in ("percent_agreement", "fleiss_kappa", "krippendorff_alpha", "gwet_ac1"):
        stat = clarity["stats"][name]
        assert value(stat) is None and stat["reason"], name
    assert clarity["pairs"] == []
    [alone] = clarity["vs_consensus"]
    assert alone["n_units"] == 0 and value(alone["cohen_kappa"]) is None
    assert alone["cohen_kappa"]["reason"]
    assert clarity["confusion"] is None
    # The ratio needs no second annotator.
    assert clarity["ratio"] == {"conservative": 0.5, "majority": 0.5}


def test_identical_labels_kappa_null_percent_one_ac1_defined(demo_benchmark):
    import_labels([iv(unit, who, "yes") for unit in ("hard-004-en", "hard-005-en", "hard-006-en")
                   for who in ("ana", "ben")])
    clarity = field(report(demo_benchmark), "instruction_validation", "clarity")
    stats = clarity["stats"]
    assert value(stats["percent_agreement"]) == 1.0
    assert value(stats["cohen_kappa"]) is None and stats["cohen_kappa"]["reason"]
    assert value(stats["fleiss_kappa"]) is None and stats["fleiss_kappa"]["reason"]
    assert value(stats["gwet_ac1"]) == pytest.approx(1.0)
    assert value(stats["brennan_prediger"]) == pytest.approx(1.0)
    assert clarity["ratio"] == {"conservative": 1.0, "majority": 1.0}
    assert clarity["prevalence"] == {"yes": 1.0, "no": 0.0}


def test_the_cycle_collector_is_paused_while_a_report_is_built_and_only_then(demo_benchmark,
                                                                             monkeypatch):
    import_labels([iv("hard-004-en", who, "yes") for who in ("ana", "ben")])
    seen = []
    build = reports._agreement_report
    monkeypatch.setattr(reports, "_agreement_report",
                        lambda *args: seen.append(gc.isenabled()) or build(*args))
    report(demo_benchmark)
    assert seen == [False] and gc.isenabled()
    gc.disable()  # a caller that paused it keeps it paused
    try:
        report(demo_benchmark)
        assert not gc.isenabled()
    finally:
        gc.enable()


# --- one field ---------------------------------------------------------------------------------

def test_two_annotators_cohen_pairs_consensus_and_confusion(demo_benchmark):
    # ana/ben: (y,y) (y,n) (n,n) (y,y). Agreement 3/4; p_ana(yes) = 3/4, p_ben(yes) = 1/2,
    # chance = 3/4*1/2 + 1/4*1/2 = 1/2, kappa = (3/4 - 1/2) / (1/2) = 0.5.
    pairs = [("hard-004-en", "yes", "yes"), ("hard-005-en", "yes", "no"),
             ("hard-006-en", "no", "no"), ("hard-007-en", "yes", "yes")]
    import_labels([iv(u, "ana", a) for u, a, _ in pairs] + [iv(u, "ben", b) for u, _, b in pairs])
    clarity = field(report(demo_benchmark), "instruction_validation", "clarity")
    assert value(clarity["stats"]["percent_agreement"]) == pytest.approx(0.75)
    assert value(clarity["stats"]["cohen_kappa"]) == pytest.approx(0.5)
    [pair] = clarity["pairs"]
    assert (pair["a"], pair["b"], pair["n_units"]) == ("ana", "ben", 4)
    assert value(pair["cohen_kappa"]) == pytest.approx(0.5)
    assert value(pair["percent_agreement"]) == pytest.approx(0.75)
    # With two annotators the "others" of each is the other one.
    assert [c["annotator"] for c in clarity["vs_consensus"]] == ["ana", "ben"]
    for entry in clarity["vs_consensus"]:
        assert entry["n_units"] == 4
        assert value(entry["cohen_kappa"]) == pytest.approx(0.5)
    assert clarity["confusion"] == {"rows": "ana", "cols": "ben", "categories": ["yes", "no"],
                                    "matrix": [[2, 1], [0, 1]]}
    # Conservative: units 1 and 4 pass; majority: the (y,n) tie falls back to conservative.
    assert clarity["ratio"] == {"conservative": 0.5, "majority": 0.5}


def test_pairs_are_named_by_username_whatever_order_the_ids_are_in(demo_benchmark,
                                                                   django_user_model):
    # The summaries keep a pair under its annotators' ids, the report names it by username:
    # here the ids run the other way.
    for name in ("zed", "mia", "abe"):
        django_user_model.objects.create_user(name)
    units = ["hard-004-en", "hard-005-en", "hard-006-en", "hard-007-en"]
    clarity_votes = {"zed": "yyyy", "mia": "yynn", "abe": "ynnn"}
    rows = [iv(unit, who, {"y": "yes", "n": "no"}[letter])
            for who, letters in clarity_votes.items()
            for unit, letter in zip(units, letters, strict=True)]
    # Two of them only on another field, for its confusion matrix (rows: the first by name).
    rows += [iv(unit, who, {"y": "yes", "n": "no"}[letter], field="linguistic_independence")
             for who, letters in {"zed": "yyyy", "abe": "ynnn"}.items()
             for unit, letter in zip(units, letters, strict=True)]
    import_labels(rows)
    result = report(demo_benchmark)
    clarity = field(result, "instruction_validation", "clarity")
    assert {(p["a"], p["b"]): value(p["percent_agreement"]) for p in clarity["pairs"]} == {
        ("abe", "mia"): 0.75, ("abe", "zed"): 0.25, ("mia", "zed"): 0.5}
    independence = field(result, "instruction_validation", "linguistic_independence")
    assert independence["confusion"] == {"rows": "abe", "cols": "zed",
                                         "categories": ["yes", "no"],
                                         "matrix": [[1, 0], [3, 0]]}
    # The same report computed from the labels, which name annotators by username throughout.
    from_labels = report(demo_benchmark, filters=ReportFilters(languages=("en",)))
    for name in ("clarity", "linguistic_independence"):
        assert (field(from_labels, "instruction_validation", name)
                == field(result, "instruction_validation", name))


def test_conservative_and_majority_ratios_differ_as_the_paper_says(demo_benchmark):
    votes = {"hard-004-en": "yyn", "hard-005-en": "yyy", "hard-006-en": "yn-",
             "hard-007-en": "nny"}
    rows = []
    for unit, letters in votes.items():
        for who, letter in zip(("ana", "ben", "cy"), letters, strict=True):
            if letter != "-":
                rows.append(iv(unit, who, {"y": "yes", "n": "no"}[letter]))
    import_labels(rows)
    clarity = field(report(demo_benchmark), "instruction_validation", "clarity")
    # Conservative (any "no" fails): only hard-005 passes. Majority: hard-004 (2 of 3) and
    # hard-005 pass; hard-006 ties 1-1 and falls back to conservative (fails).
    assert clarity["ratio"] == {"conservative": 0.25, "majority": 0.5}
    assert clarity["n_annotators"] == 3
    kappa = clarity["stats"]["cohen_kappa"]
    assert value(kappa) is None and "3" in kappa["reason"]
    assert [(p["a"], p["b"], p["n_units"]) for p in clarity["pairs"]] == [
        ("ana", "ben", 4), ("ana", "cy", 3), ("ben", "cy", 3)]
    assert clarity["confusion"] is None
    consensus = {c["annotator"]: c for c in clarity["vs_consensus"]}
    # ana against the majority of ben and cy: hard-004 (y vs y,n: tie, no majority),
    # hard-005 (y vs y), hard-006 (y vs n), hard-007 (n vs n,y: tie) -> 2 units, 1 agrees.
    assert consensus["ana"]["n_units"] == 2
    assert value(consensus["ana"]["percent_agreement"]) == pytest.approx(0.5)
    # cy against ana+ben: hard-004 (n vs y,y -> y), hard-005 (y vs y), hard-007 (y vs n) ->
    # 3 units, 1 agrees.
    assert consensus["cy"]["n_units"] == 3
    assert value(consensus["cy"]["percent_agreement"]) == pytest.approx(1 / 3)


def test_breakdowns_by_language_resource_level_and_subset(demo_benchmark):
    # easy-002-sw carries resource_level "low" in the file; hi is low, ru medium by settings.
    rows = []
    for unit, (a, b) in {"easy-001-en": ("yes", "yes"), "easy-001-ru": ("yes", "no"),
                         "easy-002-sw": ("no", "no"), "hard-004-en": ("yes", "no"),
                         "hard-004-hi": ("yes", "yes")}.items():
        rows += [iv(unit, "ana", a), iv(unit, "ben", b)]
    import_labels(rows)
    clarity = field(report(demo_benchmark), "instruction_validation", "clarity")
    breakdowns = clarity["breakdowns"]
    assert set(breakdowns) == {"language", "resource_level", "subset"}
    by_language = {e["key"]: e for e in breakdowns["language"]}
    assert list(by_language) == ["en", "hi", "ru", "sw"]
    assert by_language["en"]["n_units"] == 2
    assert value(by_language["en"]["percent_agreement"]) == pytest.approx(0.5)
    assert by_language["en"]["ratio_conservative"] == 0.5
    assert by_language["sw"]["ratio_conservative"] == 0.0
    assert set(by_language["en"]) == {"key", "n_units", "ratio_conservative",
                                      "percent_agreement", "krippendorff_alpha", "gwet_ac1"}
    by_level = {e["key"]: e["n_units"] for e in breakdowns["resource_level"]}
    assert by_level == {"high": 2, "low": 2, "medium": 1}
    by_subset = {e["key"]: e for e in breakdowns["subset"]}
    assert {k: e["n_units"] for k, e in by_subset.items()} == {"easy": 3, "hard": 2}
    assert value(by_subset["easy"]["percent_agreement"]) == pytest.approx(2 / 3)


def test_requirement_fields_break_down_by_category_and_dimension(demo_benchmark):
    # hard-004 requirements: r1 content/include content, r2 situation/assume role,
    # r3 content/compare elements.
    rows = []
    for req, (a, b) in {"r1": ("yes", "yes"), "r2": ("yes", "no"), "r3": ("no", "no")}.items():
        rows += [("requirement_assessment", f"hard-004-en#{req}", who, "atomicity", v)
                 for who, v in (("ana", a), ("ben", b))]
    rows += [("requirement_assessment", "hard-004-en", who, "completeness", "yes")
             for who in ("ana", "ben")]
    import_labels(rows)
    result = report(demo_benchmark)
    atomicity = field(result, "requirement_assessment", "atomicity")
    assert set(atomicity["breakdowns"]) == {"language", "resource_level", "subset", "category",
                                            "dimension"}
    by_category = {e["key"]: e for e in atomicity["breakdowns"]["category"]}
    assert {k: e["n_units"] for k, e in by_category.items()} == {"content": 2, "situation": 1}
    assert value(by_category["content"]["percent_agreement"]) == 1.0
    assert value(by_category["situation"]["percent_agreement"]) == 0.0
    assert [e["key"] for e in atomicity["breakdowns"]["dimension"]] == [
        "assume role", "compare elements", "include content"]
    completeness = field(result, "requirement_assessment", "completeness")
    assert set(completeness["breakdowns"]) == {"language", "resource_level", "subset"}


def test_translation_quality_is_ordinal_without_a_ratio(demo_benchmark):
    rows = []
    for unit, (a, b) in {"easy-001-zh": ("5", "4"), "easy-001-ru": ("3", "3"),
                         "easy-001-ar": ("1", "2"), "easy-002-zh": ("4", "4")}.items():
        rows += [("translation_validation", unit, "ana", "quality", a),
                 ("translation_validation", unit, "ben", "quality", b)]
    import_labels(rows)
    quality = field(report(demo_benchmark), "translation_validation", "quality")
    assert quality["level"] == "ordinal" and quality["positive"] is None
    assert quality["ratio"] == {"conservative": None, "majority": None}
    assert list(quality["prevalence"]) == ["1", "2", "3", "4", "5"]
    assert value(quality["stats"]["percent_agreement"]) == pytest.approx(0.5)
    # Ordinal alpha credits near misses: above the nominal value of the same labels.
    assert value(quality["stats"]["krippendorff_alpha"]) > 0.5
    assert quality["confusion"]["categories"] == ["1", "2", "3", "4", "5"]
    assert set(quality["breakdowns"]) == {"language", "resource_level", "subset"}


# --- judges --------------------------------------------------------------------------------------

# (item, model, requirement): the judge's decision, then the labels. Worked out in
# test_judge_requirements_table_3 below.
JUDGE_LABELS = [
    ja("easy-002-en", "demo-model-large", "r1", "ana", "yes"),   # YES, confirmed
    ja("easy-002-en", "demo-model-large", "r2", "ana", "yes"),   # YES, confirmed
    ja("easy-002-en", "demo-model-small", "r1", "ana", "yes"),   # NO, confirmed
    ja("easy-002-en", "demo-model-small", "r1", "ben", "yes"),
    ja("easy-002-en", "demo-model-small", "r2", "ana", "no"),    # YES, reversed
    ja("hard-008-en", "demo-model-large", "r1", "ana", "yes"),   # YES, confirmed
    ja("hard-008-en", "demo-model-large", "r2", "ana", "yes"),   # YES, confirmed
    ja("hard-008-en", "demo-model-large", "r3", "ana", "no"),    # NO, reversed
    ja("hard-008-en", "demo-model-large", "r4", "ana", "yes"),   # YES, confirmed
    ja("hard-004-en", "demo-model-small", "r1", "ana", "yes"),   # YES, confirmed
    ja("hard-004-en", "demo-model-small", "r2", "ana", "no"),    # NO, reversed
    ja("hard-004-en", "demo-model-small", "r3", "ana", "yes"),   # YES, confirmed
    ja("hard-004-en", "demo-model-small", "r4", "ana", "no"),    # NO, reversed
    ja("hard-004-en", "demo-model-small", "r5", "ana", "no"),    # NO, reversed
    ja("hard-004-en", "demo-model-large", "r1", "ana", "yes"),   # YES, ben disagrees:
    ja("hard-004-en", "demo-model-large", "r1", "ben", "no"),    # reversed (conservative)
    ja("hard-004-en", "demo-model-large", "r2", "ana", "yes"),   # YES, confirmed
    ja("hard-004-en", "demo-model-large", "r3", "ana", "yes"),   # YES, confirmed
    ja("hard-004-en", "demo-model-large", "r4", "ana", "yes"),   # YES, confirmed (r5 unlabelled)
    ja("easy-001-hi", "demo-model-small", "r1", "ana", "yes"),   # NO, confirmed
    ja("easy-001-hi", "demo-model-small", "r2", "ana", "yes"),   # YES, confirmed
]


def test_judge_requirements_table_3(demo_benchmark):
    import_labels(JUDGE_LABELS)
    [judge] = report(demo_benchmark)["judge_requirements"]
    assert judge["judge"] == JUDGE
    # 19 decisions, 6 reversed (one of them by ben alone): 13 confirmed.
    assert judge["n_decisions"] == 19
    confirmed = judge["confirmed"]
    assert value(confirmed) == pytest.approx(13 / 19)
    assert (confirmed["n_units"], confirmed["n_labels"]) == (19, 21)
    by_language = {e["key"]: e["confirmed"] for e in judge["by_language"]}
    assert list(by_language) == ["en", "hi"]
    assert value(by_language["en"]) == pytest.approx(11 / 17)
    assert value(by_language["hi"]) == 1.0
    # Judge YES 13 (2 reversed -> FP 2, TP 11); judge NO 6 (4 reversed -> FN 4, TN 2).
    assert value(judge["precision"]) == pytest.approx(11 / 13)
    assert value(judge["recall"]) == pytest.approx(11 / 15)
    assert value(judge["f1"]) == pytest.approx(22 / 28)
    # po = 13/19, pe = (13*15 + 6*4) / 19^2 = 219/361, kappa = (247 - 219) / (361 - 219).
    assert value(judge["kappa"]) == pytest.approx(28 / 142)


def test_judge_direct_score_against_all_requirements_met(demo_benchmark, settings):
    import_labels(JUDGE_LABELS)
    # Responses with a human verdict on every requirement, and the judge's direct score:
    #   easy-002-en large: all met; score 10 -> meets          agree
    #   easy-002-en small: r1 NO;   score 4 -> does not meet   agree
    #   hard-008-en large: all met (r3 reversed); score 7      agree
    #   hard-004-en small: all met (3 NO reversed); score 4    disagree
    #   easy-001-hi small: r1 NO;   score 3                    agree
    # hard-004-en large (score 10) has r5 unlabelled: left out.
    [judge] = report(demo_benchmark)["judge_direct_score"]
    assert (judge["judge"], judge["threshold"], judge["n_responses"]) == (JUDGE, 5.0, 5)
    assert value(judge["agreement"]) == pytest.approx(0.8)
    # judge meets [T F T F F], humans [T F T T F]: po .8, pe .4*.6 + .6*.4 = .48.
    assert value(judge["kappa"]) == pytest.approx((0.8 - 0.48) / 0.52)
    by_language = {e["key"]: value(e["agreement"]) for e in judge["by_language"]}
    assert by_language == {"en": pytest.approx(0.75), "hi": 1.0}

    settings.ACCORD_DIRECT_SCORE_THRESHOLD = 7
    [judge] = report(demo_benchmark)["judge_direct_score"]
    # A 7 is no longer above the threshold: hard-008-en large now disagrees.
    assert judge["threshold"] == 7.0
    assert value(judge["agreement"]) == pytest.approx(0.6)


def test_judge_model_and_category_filters(demo_benchmark):
    import_labels([*JUDGE_LABELS, iv("hard-004-en", "ana", "yes")])
    result = report(demo_benchmark, filters=ReportFilters(models=("demo-model-small",)))
    [judge] = result["judge_requirements"]
    # small: easy-002-en r1, r2; hard-004-en r1-r5; easy-001-hi r1, r2 -> 9, 5 confirmed.
    assert judge["n_decisions"] == 9
    assert value(judge["confirmed"]) == pytest.approx(5 / 9)
    agree = field(result, "judge_agreement", "agree")
    assert [e["key"] for e in agree["breakdowns"]["model"]] == ["demo-model-small"]
    # A model filter does not apply to instruction validation: reported whole.
    assert field(result, "instruction_validation", "clarity")["n_units"] == 1

    result = report(demo_benchmark, filters=ReportFilters(categories=("numerical",)))
    # numerical: hard-004 r4 (small: NO reversed; large: YES confirmed) and hard-008 has none.
    [judge] = result["judge_requirements"]
    assert judge["n_decisions"] == 2
    assert value(judge["confirmed"]) == 0.5
    assert {e["key"] for e in field(result, "judge_agreement", "agree")["breakdowns"][
        "category"]} == {"numerical"}
    # Direct scores judge whole responses: the category filter leaves them as they are.
    [direct] = result["judge_direct_score"]
    assert direct["n_responses"] == 5


def test_language_and_subset_filters(demo_benchmark):
    import_labels([*JUDGE_LABELS, iv("hard-004-en", "ana", "yes"), iv("easy-001-zh", "ana", "no"),
                   ("pairwise_preference", "pair-003", "ana", "preference", "a"),
                   ("pairwise_preference", "pair-001", "ana", "preference", "a")])
    result = report(demo_benchmark, filters=ReportFilters(languages=("zh",)))
    assert result["filters"]["languages"] == ["zh"]
    clarity = field(result, "instruction_validation", "clarity")
    assert clarity["n_units"] == 1
    assert clarity["breakdowns"]["language"][0]["key"] == "zh"
    assert field(result, "pairwise_preference", "preference")["n_units"] == 1
    assert result["judge_requirements"] == []

    result = report(demo_benchmark, filters=ReportFilters(subsets=("easy",)))
    assert field(result, "instruction_validation", "clarity")["n_units"] == 1
    [judge] = result["judge_requirements"]
    assert judge["n_decisions"] == 6  # easy-002-en x 4 + easy-001-hi x 2
    # Pairs have no subset: a subset filter leaves them whole.
    assert field(result, "pairwise_preference", "preference")["n_units"] == 2


PAIRS_BOTH_ORDERS = [
    # id, language, two-way judge (original, swapped), one-way judge, humans (ana, ben, cy)
    ("pw-1", "en", ("a", "a"), "b", ("a", "a", "b")),        # gold a
    ("pw-2", "en", ("a", "b"), "b", ("b", "b", "b")),        # gold b
    ("pw-3", "en", ("tie", "a"), "tie", ("tie", "tie", "a")),  # gold tie
    ("pw-4", "en", ("a", "a"), "a", ("a", "b", "tie")),      # no majority: left out
    ("pw-5", "zh", ("b", "b"), "b", ("b", "b", "a")),        # gold b
]


def test_pairwise_judges_against_the_human_majority_in_both_orders(demo_benchmark):
    lines = []
    for key, language, (original, swapped), one_way, _ in PAIRS_BOTH_ORDERS:
        lines.append(json.dumps({
            "id": key, "language": language, "instruction": "Say hi.",
            "model_a": "m1", "response_a": "hi", "model_b": "m2", "response_b": "hello",
            "judgments": [{"judge": "two-way", "preference": original},
                          {"judge": "two-way", "preference": swapped, "swapped": True},
                          {"judge": "one-way", "preference": one_way}]}))
    importers.import_pairs(data="\n".join(lines).encode(), file_name="pairs.jsonl",
                           benchmark_name=DEMO)
    import_labels([("pairwise_preference", key, who, "preference", v)
                   for key, *_, humans in PAIRS_BOTH_ORDERS
                   for who, v in zip(("ana", "ben", "cy"), humans, strict=True)])
    judges = {j["judge"]: j for j in report(demo_benchmark)["judge_pairwise"]}
    assert list(judges) == ["one-way", "two-way"]  # the demo judge judged no labelled pair
    two = judges["two-way"]
    assert two["n_pairs"] == 4
    # Original order: pw-1 right, pw-2 wrong, pw-3 right, pw-5 right.
    assert value(two["accuracy"]) == pytest.approx(0.75)
    # truth [a b tie b], predicted [a a tie b]: P a .5 b 1 tie 1; R a 1 b .5 tie 1.
    assert value(two["macro_precision"]) == pytest.approx(2.5 / 3)
    assert value(two["macro_recall"]) == pytest.approx(2.5 / 3)
    assert value(two["macro_f1"]) == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)
    # Swapped order: pw-1, pw-2, pw-5 right, pw-3 wrong -> .75; mean of both .75.
    assert value(two["accuracy_both_orders"]) == pytest.approx(0.75)
    # Same verdict in both orders: pw-1 and pw-5 of 4.
    assert value(two["position_consistency"]) == pytest.approx(0.5)
    assert value(two["kappa"]) is not None
    by_language = {e["key"]: value(e["accuracy"]) for e in two["by_language"]}
    assert by_language == {"en": pytest.approx(2 / 3), "zh": 1.0}
    one = judges["one-way"]
    assert value(one["accuracy"]) == pytest.approx(0.75)  # pw-1 wrong, others right
    assert one["position_consistency"] is None
    assert one["accuracy_both_orders"] is None
    preference = field(report(demo_benchmark), "pairwise_preference", "preference")
    assert [e["key"] for e in preference["breakdowns"]["model"]] == ["m1", "m2"]


# --- batches -------------------------------------------------------------------------------------

def test_batch_restricts_to_its_task_and_units(make_batch, demo_benchmark):
    batch = make_batch(TaskKind.REQUIREMENT_ASSESSMENT, size=3)
    inside = list(BatchUnit.objects.filter(batch=batch).values_list("unit_key", flat=True))
    outside = next(key for key in ("easy-001-en", "easy-002-en", "easy-003-en", "hard-004-en")
                   if key not in inside)
    rows = []
    for item in (inside[0], outside):
        rows += [("requirement_assessment", f"{item}#r1", who, "atomicity", "yes")
                 for who in ("ana", "ben")]
        rows += [("requirement_assessment", item, who, "completeness", "yes")
                 for who in ("ana", "ben")]
    rows.append(iv(inside[0], "ana", "yes"))  # another task: not in a requirement batch
    import_labels(rows)
    whole = report(demo_benchmark)
    assert field(whole, "requirement_assessment", "atomicity")["n_units"] == 2
    result = report(demo_benchmark, batch=batch)
    assert result["batch"] == {"id": batch.pk, "name": batch.name}
    assert [(f["task"], f["field"]) for f in result["fields"]] == [
        ("requirement_assessment", "atomicity"), ("requirement_assessment", "completeness")]
    # `<item>#r1` labels match the batch's `<item>` unit through the item.
    assert field(result, "requirement_assessment", "atomicity")["n_units"] == 1
    assert field(result, "requirement_assessment", "completeness")["n_units"] == 1


def test_batch_of_judge_decisions_restricts_the_judge_table(make_batch, demo_benchmark):
    batch = make_batch(TaskKind.JUDGE_AGREEMENT, size=4)
    inside = set(BatchUnit.objects.filter(batch=batch).values_list("unit_key", flat=True))
    import_labels([*JUDGE_LABELS, *[("judge_agreement", unit, "dora", "agree", "yes")
                                    for unit in sorted(inside)]])
    result = report(demo_benchmark, batch=batch)
    [judge] = result["judge_requirements"]
    assert judge["n_decisions"] == len(inside)
    assert field(result, "judge_agreement", "agree")["n_units"] == len(inside)


# --- cost -------------------------------------------------------------------------------------

def _many_labels(n_annotators: int, languages: tuple[str, ...]) -> list[tuple]:
    from annotation.models import Item
    from judging.models import JudgeDecision

    rows = []
    annotators = [f"rater{i}" for i in range(n_annotators)]
    items = Item.objects.filter(benchmark__name=DEMO, language__in=languages)
    for n, item in enumerate(items.select_related("group")):
        for k, who in enumerate(annotators):
            rows.append(iv(item.key, who, "yes" if (n + k) % 3 else "no"))
            if item.language != "en":
                rows.append(("translation_validation", item.key, who, "quality",
                             str(1 + (n + k) % 5)))
            for req in item.group.requirements.all():
                rows.append(("requirement_assessment", f"{item.key}#{req.key}", who,
                             "atomicity", "yes" if (n * k) % 4 else "no"))
    decisions = JudgeDecision.objects.filter(
        judgment__response__item__language__in=languages).select_related(
        "judgment__response__item", "requirement")
    for n, d in enumerate(decisions):
        r = d.judgment.response
        for k, who in enumerate(annotators):
            rows.append(ja(r.item.key, r.model, d.requirement.key, who,
                           "yes" if (n + k) % 5 else "no"))
    for n, pair in enumerate(("pair-001", "pair-002", "pair-003", "pair-005")[:len(languages)]):
        for k, who in enumerate(annotators):
            rows.append(("pairwise_preference", pair, who, "preference", "ab"[(n + k) % 2]))
    return rows


@pytest.mark.parametrize(("n_annotators", "languages"), [
    (2, ("en",)),
    (5, ("en", "zh", "ru", "ar", "hi", "sw")),
])
def test_query_count_does_not_grow_with_the_labels(demo_benchmark, django_assert_max_num_queries,
                                                   n_annotators, languages):
    rows = _many_labels(n_annotators, languages)
    import_labels(rows)
    # 10 queries whether there are ~100 or ~2,000 labels: the four maintained summaries
    # (patterns, annotators, pairs, per-unit votes of pairwise and rating units), whether
    # direct scores exist, then for them judge decisions, human verdicts, requirements per
    # group and the scores; pair verdicts.
    assert len(rows) > (1500 if n_annotators == 5 else 100)
    with django_assert_max_num_queries(10):
        result = agreement_report(benchmark=demo_benchmark, n_resamples=20)
    assert len(result["fields"]) == (5 if len(languages) > 1 else 4)  # + translation quality
    assert result["judge_requirements"] and result["judge_direct_score"]


# --- score judges (response rating) -------------------------------------------------------------

def rr(item: str, model: str, annotator: str, value: str, dimension: str = "helpfulness") -> tuple:
    return ("response_rating", f"{item}|demo-model-{model}", annotator, dimension, value)


# The demo judge's helpfulness scores (fixtures/responses.jsonl) and two annotators' ratings:
#   easy-001-en large: judge 5, humans 5 4 (mean 4.5)
#   easy-001-en small: judge 3, humans 2 2 (2)
#   easy-002-en large: judge 5, humans 4 4 (4)
#   easy-002-en small: judge 3, humans 3 2 (2.5)
#   easy-001-hi large: judge 5, human 5 (5)
RATINGS = [
    rr("easy-001-en", "large", "ana", "5"), rr("easy-001-en", "large", "ben", "4"),
    rr("easy-001-en", "small", "ana", "2"), rr("easy-001-en", "small", "ben", "2"),
    rr("easy-002-en", "large", "ana", "4"), rr("easy-002-en", "large", "ben", "4"),
    rr("easy-002-en", "small", "ana", "3"), rr("easy-002-en", "small", "ben", "2"),
    rr("easy-001-hi", "large", "ana", "5"),
]


def test_response_ratings_are_interval_fields_per_dimension(demo_benchmark):
    import_labels([*RATINGS, rr("easy-001-en", "large", "ana", "3", "concision")])
    result = report(demo_benchmark)
    helpfulness = field(result, "response_rating", "helpfulness")
    assert helpfulness["level"] == "interval" and helpfulness["positive"] is None
    assert (helpfulness["n_units"], helpfulness["n_annotators"], helpfulness["n_labels"]) == (
        5, 2, 9)
    assert helpfulness["ratio"] == {"conservative": None, "majority": None}
    assert set(helpfulness["breakdowns"]) == {"language", "resource_level", "subset", "model"}
    assert [e["key"] for e in helpfulness["breakdowns"]["model"]] == [
        "demo-model-large", "demo-model-small"]
    assert [e["key"] for e in helpfulness["breakdowns"]["language"]] == ["en", "hi"]
    # Dimensions in name order; a dimension no judge scored has no judge_scores entry.
    assert [f["field"] for f in result["fields"]] == ["concision", "helpfulness"]
    assert [(j["judge"], j["dimension"]) for j in result["judge_scores"]] == [
        (JUDGE, "helpfulness")]
    # A model filter applies to response ratings.
    small = report(demo_benchmark, filters=ReportFilters(models=("demo-model-small",)))
    assert field(small, "response_rating", "helpfulness")["n_units"] == 2


def test_judge_scores_correlate_with_the_mean_human_rating(demo_benchmark):
    import_labels(RATINGS)
    result = report(demo_benchmark, filters=ReportFilters(languages=("en",)))
    [entry] = result["judge_scores"]
    assert set(entry) == {"judge", "dimension", "n_responses", "pearson", "spearman", "kendall",
                          "mean_judge", "mean_human", "by_language"}
    assert (entry["judge"], entry["dimension"], entry["n_responses"]) == (JUDGE, "helpfulness", 4)
    # judge x = 5 3 5 3, human mean y = 4.5 2 4 2.5. Deviations: x 1 -1 1 -1 (sum sq 4),
    # y 1.25 -1.25 .75 -.75 (sum sq 4.25), cross 4: r = 4 / sqrt(4 * 4.25) = 4 / sqrt(17).
    assert value(entry["pearson"]) == pytest.approx(4 / 17 ** 0.5)
    # Ranks x 3.5 1.5 3.5 1.5, y 4 1 3 2: deviations 1 -1 1 -1 and 1.5 -1.5 .5 -.5 (sum sq 5),
    # cross 4: rho = 4 / sqrt(4 * 5).
    assert value(entry["spearman"]) == pytest.approx(4 / 20 ** 0.5)
    # 6 pairs: 4 concordant, 0 discordant, 2 tied on x only: tau-b = 4 / sqrt(4 * 6).
    assert value(entry["kendall"]) == pytest.approx(4 / 24 ** 0.5)
    assert entry["spearman"]["n_units"] == 4 and entry["spearman"]["n_labels"] == 8
    assert (entry["mean_judge"], entry["mean_human"]) == (4.0, 3.25)
    assert [(e["key"], value(e["spearman"])) for e in entry["by_language"]] == [
        ("en", pytest.approx(4 / 20 ** 0.5))]

    [entry] = report(demo_benchmark)["judge_scores"]
    assert entry["n_responses"] == 5
    en, hi = entry["by_language"]
    assert value(en["spearman"]) == pytest.approx(4 / 20 ** 0.5)
    assert (hi["key"], value(hi["spearman"])) == ("hi", None)
    assert hi["spearman"]["reason"] == "fewer than 3 pairs (1)"


def test_judge_scores_undefined_with_a_reason(demo_benchmark):
    # Fluency: the judge gave every large response a 5, the humans differ.
    import_labels([*RATINGS, *[rr(item, "large", "ana", v, "fluency") for item, v in (
        ("easy-001-en", "5"), ("easy-002-en", "3"), ("easy-003-en", "4"))]])
    scores = {j["dimension"]: j for j in report(demo_benchmark)["judge_scores"]}
    fluency = scores["fluency"]
    assert fluency["n_responses"] == 3 and fluency["mean_judge"] == 5.0
    for name in ("pearson", "spearman", "kendall"):
        assert value(fluency[name]) is None
        assert "same score" in fluency[name]["reason"]
        assert fluency[name]["n_units"] == 3
    # Fewer than 3 responses with both: the small model's two English responses.
    result = report(demo_benchmark, filters=ReportFilters(models=("demo-model-small",)))
    [helpfulness] = [j for j in result["judge_scores"] if j["dimension"] == "helpfulness"]
    assert helpfulness["n_responses"] == 2
    assert value(helpfulness["spearman"]) is None
    assert helpfulness["spearman"]["reason"] == "fewer than 3 pairs (2)"
    assert helpfulness["mean_judge"] == 3.0
    # The filter leaves no fluency rating: no fluency field, so no fluency entry.
    assert [j["dimension"] for j in result["judge_scores"]] == ["helpfulness"]


def test_judge_scores_respect_the_batch_and_cost_one_query(make_batch, demo_benchmark,
                                                            django_assert_max_num_queries):
    batch = make_batch(TaskKind.RESPONSE_RATING, size=4, filters=None)
    inside = set(BatchUnit.objects.filter(batch=batch).values_list("unit_key", flat=True))
    import_labels([*RATINGS, *[("response_rating", unit, "dora", "helpfulness", "3")
                               for unit in sorted(inside)]])
    # Value counts, annotator tuples, requirement decisions (always read), dimension scores.
    with django_assert_max_num_queries(4):
        result = agreement_report(benchmark=demo_benchmark, batch=batch, n_resamples=0)
    assert [(f["task"], f["field"]) for f in result["fields"]] == [
        ("response_rating", "helpfulness")]
    assert field(result, "response_rating", "helpfulness")["n_units"] == len(inside)
    [entry] = result["judge_scores"]
    assert entry["n_responses"] == len(inside)
