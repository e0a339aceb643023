"""CSV, LaTeX and the page's view of an agreement report, from a hand-written sample report.

The sample has the shape `judging.reports.agreement_report` returns, with the cases that
matter: a criterion nearly everyone passes (kappa collapses: the prevalence paradox), a field
whose kappa is undefined with a reason, judge names with LaTeX specials.
"""

from __future__ import annotations

import copy
import csv
import io

import pytest

from judging import report_formats
from judging.report_formats import latex_escape, present, to_csv, to_latex


def S(value, n_units=50, n_labels=100, ci=None, reason=None):  # noqa: N802 (reads like the dict)
    return {"value": value, "n_units": n_units, "n_labels": n_labels,
            "reason": reason if value is None else None, "ci95": ci}


ONE_CATEGORY = "only one category was used: chance agreement is 1"
CONSTANT_JUDGE = "the judge gave every one of these responses the same score"


def sample_report() -> dict:
    return {
        "benchmark": "xifbench-demo",
        "batch": {"id": 7, "name": "Hard 10%"},
        "filters": {"languages": ["en", "zh"], "subsets": [], "models": [], "categories": []},
        "generated_at": "2025-05-01T12:00:00+00:00",
        "fields": [
            {
                "task": "instruction_validation", "field": "clarity", "level": "nominal",
                "positive": "yes", "n_units": 50, "n_annotators": 2, "n_labels": 100,
                "ratio": {"conservative": 0.966, "majority": 0.98},
                "prevalence": {"yes": 0.97, "no": 0.03},
                "stats": {
                    "percent_agreement": S(0.96, ci=[0.9, 1.0]),
                    "cohen_kappa": S(0.31, ci=[-0.05, 0.79]),
                    "fleiss_kappa": S(0.30, ci=[-0.06, 0.78]),
                    "krippendorff_alpha": S(0.307, ci=[-0.04, 0.79]),
                    "gwet_ac1": S(0.958, ci=[0.89, 1.0]),
                    "brennan_prediger": S(0.92, ci=[0.8, 1.0]),
                },
                "pairs": [{"a": "ana", "b": "ben", "n_units": 50,
                           "percent_agreement": S(0.96), "cohen_kappa": S(0.31)}],
                "vs_consensus": [
                    {"annotator": "ana", "n_units": 50, "percent_agreement": S(0.98),
                     "cohen_kappa": S(0.66)},
                    {"annotator": "ben", "n_units": 50, "percent_agreement": S(0.96),
                     "cohen_kappa": S(None, reason="consensus has one category only")},
                ],
                "confusion": {"rows": "ana", "cols": "ben", "categories": ["yes", "no"],
                              "matrix": [[47, 1], [1, 1]]},
                "breakdowns": {
                    "language": [
                        {"key": "zh", "n_units": 25, "ratio_conservative": 0.96,
                         "percent_agreement": S(0.92, 25, 50, ci=[0.8, 1.0]),
                         "krippendorff_alpha": S(0.3, 25, 50), "gwet_ac1": S(0.91, 25, 50)},
                        {"key": "en", "n_units": 25, "ratio_conservative": 1.0,
                         "percent_agreement": S(1.0, 25, 50, ci=[1.0, 1.0]),
                         "krippendorff_alpha": S(None, 25, 50, reason=ONE_CATEGORY),
                         "gwet_ac1": S(1.0, 25, 50)},
                    ],
                },
            },
            {
                "task": "instruction_validation", "field": "linguistic_independence",
                "level": "nominal", "positive": "yes", "n_units": 50, "n_annotators": 2,
                "n_labels": 100, "ratio": {"conservative": 1.0, "majority": 1.0},
                "prevalence": {"yes": 1.0},
                "stats": {
                    "percent_agreement": S(1.0, ci=[1.0, 1.0]),
                    "cohen_kappa": S(None, reason=ONE_CATEGORY),
                    "fleiss_kappa": S(None, reason=ONE_CATEGORY),
                    "krippendorff_alpha": S(None, reason=ONE_CATEGORY),
                    "gwet_ac1": S(1.0, ci=[1.0, 1.0]),
                    "brennan_prediger": S(1.0),
                },
                "pairs": [], "vs_consensus": [], "confusion": None, "breakdowns": {},
            },
        ],
        "judge_requirements": [{
            "judge": "gpt-4o_2024-08-06", "n_decisions": 360,
            "confirmed": S(0.947, 360, 720, ci=[0.92, 0.97]),
            "by_language": [{"key": "zh", "confirmed": S(0.968, 60, 120)},
                            {"key": "en", "confirmed": S(0.958, 60, 120)},
                            {"key": "sw", "confirmed": S(None, 0, 0,
                                                         reason="no decision labelled")}],
            "kappa": S(0.41, 360, 720, ci=[0.3, 0.52]), "precision": S(0.95, 340, 340),
            "recall": S(0.99, 330, 330), "f1": S(0.97, 360, 720),
        }],
        "judge_direct_score": [{
            "judge": "gpt-4o_2024-08-06", "threshold": 5, "n_responses": 60,
            "agreement": S(0.609, 60, 120), "kappa": S(0.2, 60, 120),
            "by_language": [{"key": "en", "agreement": S(0.7, 10, 20)},
                            {"key": "zh", "agreement": S(0.567, 10, 20)}],
        }],
        "judge_pairwise": [{
            "judge": "pandalm-7b", "n_pairs": 999, "accuracy": S(0.667, 999, 999),
            "macro_precision": S(0.6), "macro_recall": S(0.58), "macro_f1": S(0.59),
            "kappa": S(0.45), "position_consistency": None, "accuracy_both_orders": None,
            "by_language": [{"key": "en", "accuracy": S(0.667, 999, 999)}],
        }],
        "judge_scores": [
            {"judge": "gpt-4_rts", "dimension": "coherence", "n_responses": 1200,
             "pearson": S(0.47, 1200, 3600), "spearman": S(0.4455, 1200, 3600),
             "kendall": S(0.37, 1200, 3600), "mean_judge": 3.8, "mean_human": 3.41,
             "by_language": [{"key": "en", "spearman": S(0.4455, 1200, 3600)}]},
            {"judge": "gpt-4_rts", "dimension": "fluency", "n_responses": 1200,
             "pearson": S(None, 1200, 3600, reason=CONSTANT_JUDGE),
             "spearman": S(None, 1200, 3600, reason=CONSTANT_JUDGE),
             "kendall": S(None, 1200, 3600, reason=CONSTANT_JUDGE), "mean_judge": 5.0,
             "mean_human": 4.6,
             "by_language": [{"key": "en", "spearman": S(None, 1200, 3600,
                                                         reason=CONSTANT_JUDGE)}]},
            {"judge": "gpt-3.5-mcq", "dimension": "coherence", "n_responses": 2,
             "pearson": S(None, 2, 6, reason="fewer than 3 pairs (2)"),
             "spearman": S(None, 2, 6, reason="fewer than 3 pairs (2)"),
             "kendall": S(None, 2, 6, reason="fewer than 3 pairs (2)"), "mean_judge": 4.0,
             "mean_human": 3.5, "by_language": []},
        ],
    }


def csv_rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


# --- CSV ------------------------------------------------------------------------------------

def test_csv_has_the_tidy_columns_and_one_row_per_statistic():
    rows = csv_rows(to_csv(sample_report()))
    assert list(rows[0]) == list(report_formats.CSV_COLUMNS)
    clarity = [r for r in rows if r["section"] == "field" and r["field"] == "clarity"]
    by_stat = {r["statistic"]: r for r in clarity if r["statistic"] != "prevalence"}
    assert set(by_stat) == {"ratio_conservative", "ratio_majority", *report_formats.FIELD_STATS}
    kappa = by_stat["cohen_kappa"]
    assert (kappa["value"], kappa["ci_low"], kappa["ci_high"]) == ("0.31", "-0.05", "0.79")
    assert (kappa["n_units"], kappa["n_labels"], kappa["task"]) == ("50", "100",
                                                                    "instruction_validation")


def test_csv_writes_nulls_as_empty_values_with_their_reason():
    rows = csv_rows(to_csv(sample_report()))
    alpha = next(r for r in rows if r["field"] == "linguistic_independence"
                 and r["statistic"] == "krippendorff_alpha")
    assert alpha["value"] == "" and alpha["ci_low"] == "" and alpha["reason"] == ONE_CATEGORY
    defined = next(r for r in rows if r["field"] == "linguistic_independence"
                   and r["statistic"] == "gwet_ac1")
    assert defined["value"] == "1.0" and defined["reason"] == ""


def test_csv_covers_breakdowns_pairs_consensus_confusion_and_judges():
    rows = csv_rows(to_csv(sample_report()))
    zh = [r for r in rows if r["breakdown"] == "language" and r["key"] == "zh"
          and r["section"] == "breakdown"]
    assert {r["statistic"] for r in zh} == {"ratio_conservative", "percent_agreement",
                                           "krippendorff_alpha", "gwet_ac1"}
    assert any(r["section"] == "pair" and r["key"] == "ana | ben" for r in rows)
    assert any(r["section"] == "vs_consensus" and r["key"] == "ben"
               and r["reason"] == "consensus has one category only" for r in rows)
    confusion = {r["key"]: r["value"] for r in rows if r["section"] == "confusion"}
    assert confusion == {"yes | yes": "47", "yes | no": "1", "no | yes": "1", "no | no": "1"}
    judge = [r for r in rows if r["section"] == "judge_requirements"]
    assert {r["field"] for r in judge} == {"gpt-4o_2024-08-06"}
    sw = next(r for r in judge if r["key"] == "sw")
    assert sw["value"] == "" and sw["reason"] == "no decision labelled"
    pairwise = {r["statistic"] for r in rows if r["section"] == "judge_pairwise"}
    assert "position_consistency" not in pairwise and "macro_f1" in pairwise


def test_csv_pivots_with_the_standard_library_alone():
    # What a pandas pivot_table would do: (field, statistic) -> value for the whole-field rows.
    table = {(r["field"], r["statistic"]): r["value"]
             for r in csv_rows(to_csv(sample_report())) if r["section"] == "field"
             and r["statistic"] != "prevalence"}
    assert table[("clarity", "percent_agreement")] == "0.96"
    assert table[("linguistic_independence", "ratio_conservative")] == "1.0"


def test_csv_of_an_empty_report_is_just_the_header():
    report = {"benchmark": "x", "batch": None, "filters": {}, "generated_at": "",
              "fields": [], "judge_requirements": [], "judge_direct_score": [],
              "judge_pairwise": [], "judge_scores": []}
    assert to_csv(report).splitlines() == [",".join(report_formats.CSV_COLUMNS)]


# --- LaTeX ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "escaped"), [
    ("gpt-4o_2024", r"gpt-4o\_2024"),
    ("50% & more", r"50\% \& more"),
    ("$x^2$ #1 {a} ~b", r"\$x\textasciicircum{}2\$ \#1 \{a\} \textasciitilde{}b"),
    ("a\\b", r"a\textbackslash{}b"),
    ("中文 <ok>", r"中文 \textless{}ok\textgreater{}"),
])
def test_latex_escape(raw, escaped):
    assert latex_escape(raw) == escaped


def test_latex_criteria_table_is_laid_out_like_tables_9_and_13():
    tex = to_latex(sample_report())
    table = tex.split(r"\begin{table}")[1]
    for rule in (r"\toprule", r"\midrule", r"\bottomrule"):
        assert table.count(rule) == 1
    assert r"Criteria & Ratio (\%) & Agreement (\%) & $\kappa$ & $\alpha$ & AC1 & $n$ \\" in table
    assert (r"Clarity & 96.6 & 96.0 & 0.310 {\scriptsize[$-$0.050, 0.790]} & "
            in table)
    assert r"Linguistic Independence & 100.0 & 100.0 & --\textsuperscript{a}" in table
    # The reason behind the `--` is listed under the table.
    assert r"\textsuperscript{a}~only one category was used: chance agreement is 1" in table


def test_latex_judge_table_has_languages_as_columns_like_table_3():
    tex = to_latex(sample_report())
    table = next(t for t in tex.split(r"\begin{table}") if "tab:judge-human-agreement" in t)
    assert r"Judge & En & Zh & Sw & Avg. & All \\" in table
    assert r"\begin{tabular}{lrrrrr}" in table
    # Judge names are escaped; undefined languages print -- with a footnote.
    assert (r"gpt-4o\_2024-08-06 (requirements) & 95.8 & 96.8 & --\textsuperscript{a} & 96.3 & "
            r"94.7 \\") in table
    assert (r"gpt-4o\_2024-08-06 (direct score \textgreater{} 5) & 70.0 & 56.7 & "
            r"--\textsuperscript{b}") in table
    assert "no decision labelled" in table and "no decision in this language" in table


def test_latex_pairwise_judges_say_why_position_consistency_is_missing():
    tex = to_latex(sample_report())
    table = next(t for t in tex.split(r"\begin{table}") if "tab:judge-pairwise" in t)
    assert r"pandalm-7b & 999 & 66.7" in table
    assert "did not judge both orders" in table


def test_csv_has_one_row_per_correlation_of_each_score_judge():
    rows = [r for r in csv_rows(to_csv(sample_report())) if r["section"] == "judge_scores"]
    coherence = {r["statistic"]: r for r in rows if r["field"] == "gpt-4_rts"
                 and r["breakdown"] == "dimension" and r["key"] == "coherence"}
    assert set(coherence) == {"pearson", "spearman", "kendall", "mean_judge", "mean_human"}
    assert (coherence["spearman"]["value"], coherence["spearman"]["n_units"]) == ("0.4455",
                                                                               "1200")
    assert coherence["mean_human"]["value"] == "3.41"
    fluency = next(r for r in rows if r["key"] == "fluency" and r["statistic"] == "spearman")
    assert fluency["value"] == "" and fluency["reason"] == CONSTANT_JUDGE
    by_language = [r for r in rows if r["breakdown"] == "dimension | language"]
    assert [r["key"] for r in by_language] == ["coherence | en", "fluency | en"]


def test_latex_score_judges_are_rows_and_dimensions_columns_like_shen_table_5():
    tex = to_latex(sample_report())
    table = next(t for t in tex.split(r"\begin{table}") if "tab:judge-scores" in t)
    assert r"\begin{tabular}{lrr}" in table
    assert r"Judge & Coherence & Fluency \\" in table
    assert r"gpt-4\_rts & 0.446 & --\textsuperscript{a} \\" in table
    # A judge without a dimension gets a dash with its own reason.
    assert (r"gpt-3.5-mcq & --\textsuperscript{b} & --\textsuperscript{c} \\") in table
    for reason in (CONSTANT_JUDGE, "fewer than 3 pairs (2)",
                   "the judge did not score this dimension"):
        assert reason in table
    assert "Spearman" in table


def test_present_lists_score_judges_with_reasons():
    view = present(sample_report())
    first, constant, few = view["score_judges"]
    assert (first["judge"], first["title"], first["n_responses"]) == ("gpt-4_rts", "Coherence",
                                                                     1200)
    assert [c.text for c in first["cells"]] == ["0.446", "0.370", "0.470"]
    assert [c.text for c in first["means"]] == ["3.80", "3.41"]
    assert constant["cells"][0].reason == CONSTANT_JUDGE
    assert view["notes"][constant["cells"][0].note - 1] == CONSTANT_JUDGE
    assert few["cells"][0].reason == "fewer than 3 pairs (2)"


def test_latex_of_a_report_without_judges_has_only_criteria_tables():
    report = sample_report()
    report.update(judge_requirements=[], judge_direct_score=[], judge_pairwise=[],
                  judge_scores=[])
    tex = to_latex(report)
    assert tex.count(r"\begin{table}") == 1 and "judge" not in tex.split("% Needs")[1]


def test_latex_escapes_the_benchmark_and_batch_names_in_comments():
    report = sample_report()
    report["benchmark"] = "my_bench%"
    assert r"% Agreement report: my\_bench\%, batch Hard 10\%" in to_latex(report)


# --- the page's view ------------------------------------------------------------------------

def test_present_numbers_each_distinct_reason_once():
    view = present(sample_report())
    assert view["notes"].count(ONE_CATEGORY) == 1
    li = view["tasks"][0]["fields"][1]
    kappa = next(s["cell"] for s in li["stats"] if s["name"] == "cohen_kappa")
    assert kappa.text == "—" and kappa.reason == ONE_CATEGORY
    assert view["notes"][kappa.note - 1] == ONE_CATEGORY
    assert kappa.title == ONE_CATEGORY


def test_present_formats_percentages_and_coefficients():
    clarity = present(sample_report())["tasks"][0]["fields"][0]
    cells = {s["name"]: s["cell"] for s in clarity["stats"]}
    assert (cells["percent_agreement"].text, cells["percent_agreement"].ci) == (
        "96.0", "[90.0, 100.0]")
    assert (cells["cohen_kappa"].text, cells["cohen_kappa"].ci) == ("0.310", "[−0.050, 0.790]")
    assert clarity["ratio_conservative"].text == "96.6"
    assert "n = 50 units" in cells["gwet_ac1"].title


def test_prevalence_warning_when_kappa_collapses_under_high_agreement():
    view = present(sample_report())
    clarity, li = view["tasks"][0]["fields"]
    assert clarity["warning"] == ("97% of labels are “yes”; κ is 0.300 while agreement is "
                                  "96.0% and AC1 0.958.")
    assert view["tasks"][0]["warnings"] == [clarity, li]
    assert "κ is undefined" in li["warning"]


def test_no_prevalence_warning_when_kappa_tells_the_same_story():
    report = sample_report()
    field = report["fields"][0]
    field["stats"]["cohen_kappa"] = S(0.9)
    field["stats"]["fleiss_kappa"] = S(0.89)
    assert report_formats.prevalence_warning(field) is None
    field["stats"]["percent_agreement"] = S(0.6)
    field["stats"]["cohen_kappa"] = S(0.1)
    assert report_formats.prevalence_warning(field) is None


def test_present_orders_languages_like_the_paper_and_charts_them():
    clarity = present(sample_report())["tasks"][0]["fields"][0]
    language = clarity["breakdowns"][0]
    assert [r["key"] for r in language["rows"]] == ["en", "zh"]
    bars = language["chart"]["bars"]
    assert bars[0].width == report_formats.CHART_WIDTH  # 100%
    assert bars[1].lo is not None and bars[1].lo < bars[1].hi


def test_present_pair_matrix_is_symmetric():
    pairs = present(sample_report())["tasks"][0]["fields"][0]["pairs"]
    assert pairs["names"] == ["ana", "ben"]
    assert pairs["rows"][0]["cells"][0] is None
    assert pairs["rows"][0]["cells"][1] is pairs["rows"][1]["cells"][0]


def test_present_judge_rows_follow_table_3():
    view = present(sample_report())
    assert view["judge_languages"] == ["en", "zh", "sw"]
    requirements, direct = view["judge_rows"]
    assert [c.text for c in requirements["cells"]] == ["95.8", "96.8", "—"]
    assert requirements["avg"].text == "96.3" and requirements["all"].text == "94.7"
    assert direct["cells"][2].reason == "no decision in this language"
    assert view["pairwise_judges"][0]["position"][0].reason == (
        "the judge did not judge both orders")


def test_present_does_not_change_the_report():
    report = sample_report()
    before = copy.deepcopy(report)
    present(report)
    to_csv(report)
    to_latex(report)
    assert report == before


def test_download_name_is_header_safe():
    report = sample_report()
    report["benchmark"] = 'my "bench"/v2'
    assert report_formats.download_name(report, "csv") == "agreement-my--bench--v2-batch-7.csv"


def test_command_table_lists_score_judges_and_why_they_are_null():
    from judging.management.commands.agreement_report import render

    text = render(sample_report(), "table")
    assert "Score judges against the mean human rating" in text
    line = next(t for t in text.splitlines() if "gpt-4_rts" in t and "coherence" in t)
    assert "0.4455" in line and "1200" in line and "3.800" in line
    fluency = next(t for t in text.splitlines() if "gpt-4_rts" in t and "fluency" in t)
    assert "null[" in fluency
    assert CONSTANT_JUDGE in text
