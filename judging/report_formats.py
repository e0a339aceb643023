"""How an agreement report (the dict of `judging.reports.agreement_report`) is written out.

Pure functions over that dict, no ORM and no request:
- `to_csv`: one row per statistic (long, tidy), so a spreadsheet or pandas can pivot it;
- `to_latex`: booktabs tables laid out like the XIFBench paper's table 3 (judge-human
  agreement per language) and tables 9 and 13 (ratio and agreement per criterion), and for
  score judges like Shen et al. 2023's table 5 (Spearman per judge and dimension);
- `present`: the report page's view of the same dict: formatted cells, numbered footnotes for
  every undefined figure, prevalence warnings and the geometry of the inline SVG charts.

Percent-type statistics (agreement, confirmed share, accuracy, P/R/F1, ratios) are fractions
in the dict and printed as percentages; chance-corrected coefficients (kappa, alpha, AC1,
Brennan-Prediger) are printed as they are, with three decimals.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

Report = dict[str, Any]
Stat = dict[str, Any]

CSV_COLUMNS = ("section", "task", "field", "breakdown", "key", "statistic", "value",
               "ci_low", "ci_high", "n_units", "n_labels", "reason")

FIELD_STATS = ("percent_agreement", "cohen_kappa", "fleiss_kappa", "krippendorff_alpha",
               "gwet_ac1", "brennan_prediger")
BREAKDOWN_STATS = ("percent_agreement", "krippendorff_alpha", "gwet_ac1")
BREAKDOWN_ORDER = ("language", "resource_level", "subset", "category", "dimension", "model")
PERCENT_STATS = frozenset({
    "percent_agreement", "confirmed", "agreement", "accuracy", "accuracy_both_orders",
    "precision", "recall", "f1", "macro_precision", "macro_recall", "macro_f1",
    "position_consistency",
})
STAT_SYMBOLS = {
    "percent_agreement": "Agreement (%)", "cohen_kappa": "Cohen's κ",
    "fleiss_kappa": "Fleiss' κ", "krippendorff_alpha": "Krippendorff's α",
    "gwet_ac1": "Gwet's AC1", "brennan_prediger": "Brennan-Prediger",
}
# The paper's column order (table 3); other languages follow alphabetically.
PAPER_LANGUAGES = ("en", "zh", "ru", "ar", "hi", "sw")
FIELD_TITLES = {
    "category": "Categorization",
    "linguistic_independence": "Linguistic Independence",
    "cultural_accessibility": "Cultural Accessibility",
    "max_constraints": "At most 5 constraints",
    "max_content_constraints": "At most 4 content constraints",
    "agree": "Agrees with the judge",
}
TASK_TITLES = {
    "instruction_validation": "Instruction validation",
    "requirement_assessment": "Requirement assessment",
    "judge_agreement": "Judge agreement",
    "translation_validation": "Translation validation",
    "pairwise_preference": "Pairwise preference",
    "response_rating": "Response rating",
}
CORRELATIONS = ("spearman", "kendall", "pearson")
CORRELATION_SYMBOLS = {"spearman": "Spearman's ρ", "kendall": "Kendall's τ",
                       "pearson": "Pearson's r"}
BREAKDOWN_TITLES = {
    "language": "Language", "resource_level": "Resource level", "subset": "Subset",
    "category": "Requirement category", "dimension": "Dimension", "model": "Response model",
}


def field_title(name: str) -> str:
    return FIELD_TITLES.get(name, name.replace("_", " ").capitalize())


def task_title(name: str) -> str:
    return TASK_TITLES.get(name, name.replace("_", " ").capitalize())


def language_order(keys: Iterable[str]) -> list[str]:
    keys = set(keys)
    paper = [k for k in PAPER_LANGUAGES if k in keys]
    return paper + sorted(keys - set(paper))


def _judge_languages(report: Report) -> list[str]:
    keys: set[str] = set()
    for section in ("judge_requirements", "judge_direct_score", "judge_pairwise"):
        for judge in report.get(section) or []:
            keys.update(row["key"] for row in judge.get("by_language") or [])
    return language_order(keys)


# --- CSV ------------------------------------------------------------------------------------

def _stat_row(section: str, statistic: str, stat: Stat | None, *, task: str = "",
              field_: str = "", breakdown: str = "", key: str = "") -> dict[str, Any]:
    stat = stat or {"value": None, "n_units": 0, "n_labels": 0,
                    "reason": "not computed for this report", "ci95": None}
    ci = stat.get("ci95") or (None, None)
    return {"section": section, "task": task, "field": field_, "breakdown": breakdown,
            "key": key, "statistic": statistic, "value": _csv_number(stat.get("value")),
            "ci_low": _csv_number(ci[0]), "ci_high": _csv_number(ci[1]),
            "n_units": stat.get("n_units", ""), "n_labels": stat.get("n_labels", ""),
            "reason": stat.get("reason") or ""}


def _plain(value: float | int | None, n_units: int | str = "", n_labels: int | str = "",
           reason: str | None = None) -> Stat:
    """A bare number (ratio, prevalence, count) in the shape of a statistic."""
    return {"value": value, "n_units": n_units, "n_labels": n_labels, "ci95": None,
            "reason": reason if value is None else None}


def _csv_number(value: float | int | None) -> str | float | int:
    return "" if value is None else value


def _csv_rows(report: Report) -> Iterator[dict[str, Any]]:
    for f in report.get("fields") or []:
        common = {"task": f["task"], "field_": f["field"]}
        n_units, n_labels = f.get("n_units", ""), f.get("n_labels", "")
        for kind, value in (f.get("ratio") or {}).items():
            yield _stat_row("field", f"ratio_{kind}", _plain(
                value, n_units, n_labels, "no resolved unit"), **common)
        for category, share in (f.get("prevalence") or {}).items():
            yield _stat_row("field", "prevalence", _plain(share, n_units, n_labels),
                            key=str(category), **common)
        for name in FIELD_STATS:
            yield _stat_row("field", name, f.get("stats", {}).get(name), **common)
        for pair in f.get("pairs") or []:
            key = f"{pair['a']} | {pair['b']}"
            for name in ("percent_agreement", "cohen_kappa"):
                yield _stat_row("pair", name, pair.get(name), breakdown="annotator_pair",
                                key=key, **common)
        for row in f.get("vs_consensus") or []:
            for name in ("percent_agreement", "cohen_kappa"):
                yield _stat_row("vs_consensus", name, row.get(name), breakdown="annotator",
                                key=row["annotator"], **common)
        confusion = f.get("confusion")
        if confusion:
            breakdown = f"{confusion['rows']} x {confusion['cols']}"
            for i, row_cat in enumerate(confusion["categories"]):
                for j, col_cat in enumerate(confusion["categories"]):
                    yield _stat_row("confusion", "count",
                                    _plain(confusion["matrix"][i][j]), breakdown=breakdown,
                                    key=f"{row_cat} | {col_cat}", **common)
        for dim, rows in (f.get("breakdowns") or {}).items():
            for row in rows:
                yield _stat_row("breakdown", "ratio_conservative", _plain(
                    row.get("ratio_conservative"), row.get("n_units", ""), "",
                    "no resolved unit"), breakdown=dim, key=row["key"], **common)
                for name in BREAKDOWN_STATS:
                    yield _stat_row("breakdown", name, row.get(name), breakdown=dim,
                                    key=row["key"], **common)

    # Judge sections: the `field` column holds the judge's name.
    for j in report.get("judge_requirements") or []:
        judge = {"task": "judge_requirements", "field_": j["judge"]}
        for name in ("confirmed", "kappa", "precision", "recall", "f1"):
            yield _stat_row("judge_requirements", name, j.get(name), **judge)
        for row in j.get("by_language") or []:
            yield _stat_row("judge_requirements", "confirmed", row.get("confirmed"),
                            breakdown="language", key=row["key"], **judge)
    for j in report.get("judge_direct_score") or []:
        judge = {"task": "judge_direct_score", "field_": j["judge"]}
        yield _stat_row("judge_direct_score", "threshold", _plain(j.get("threshold")), **judge)
        for name in ("agreement", "kappa"):
            yield _stat_row("judge_direct_score", name, j.get(name), **judge)
        for row in j.get("by_language") or []:
            yield _stat_row("judge_direct_score", "agreement", row.get("agreement"),
                            breakdown="language", key=row["key"], **judge)
    for j in report.get("judge_pairwise") or []:
        judge = {"task": "judge_pairwise", "field_": j["judge"]}
        for name in ("accuracy", "macro_precision", "macro_recall", "macro_f1", "kappa",
                     "position_consistency", "accuracy_both_orders"):
            if j.get(name) is not None:
                yield _stat_row("judge_pairwise", name, j[name], **judge)
        for row in j.get("by_language") or []:
            yield _stat_row("judge_pairwise", "accuracy", row.get("accuracy"),
                            breakdown="language", key=row["key"], **judge)
    # Score judges: one row per correlation, the dimension in `key`; per language the key
    # is `<dimension> | <language>`.
    for j in report.get("judge_scores") or []:
        judge = {"task": "judge_scores", "field_": j["judge"]}
        dimension = j["dimension"]
        for name in CORRELATIONS:
            yield _stat_row("judge_scores", name, j.get(name), breakdown="dimension",
                            key=dimension, **judge)
        n = j.get("n_responses", "")
        for name in ("mean_judge", "mean_human"):
            yield _stat_row("judge_scores", name, _plain(
                j.get(name), n, "", "no response has both a judge score and a human rating"),
                breakdown="dimension", key=dimension, **judge)
        for row in j.get("by_language") or []:
            yield _stat_row("judge_scores", "spearman", row.get("spearman"),
                            breakdown="dimension | language",
                            key=f"{dimension} | {row['key']}", **judge)


def to_csv(report: Report) -> str:
    """The report as a long CSV: one row per statistic, with its CI, n and null reason.

    Judge sections put the judge's name in the `field` column.
    """
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in _csv_rows(report):
        writer.writerow({("field" if k == "field_" else k): v for k, v in row.items()})
    return out.getvalue()


# --- LaTeX ----------------------------------------------------------------------------------

_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "<": r"\textless{}", ">": r"\textgreater{}",
}


def latex_escape(text: object) -> str:
    return "".join(_LATEX_SPECIALS.get(ch, ch) for ch in str(text))


class _Notes:
    """Footnote markers (a, b, c...) for the reasons behind undefined figures of one table."""

    def __init__(self) -> None:
        self.reasons: list[str] = []

    def mark(self, reason: str | None) -> str:
        reason = reason or "undefined"
        if reason not in self.reasons:
            self.reasons.append(reason)
        return r"\textsuperscript{" + _letter(self.reasons.index(reason)) + "}"

    def latex(self) -> list[str]:
        return [r"\par\smallskip\footnotesize\raggedright"] + [
            r"\textsuperscript{" + _letter(i) + "}~" + latex_escape(reason)
            + (r"\\" if i < len(self.reasons) - 1 else "")
            for i, reason in enumerate(self.reasons)
        ] if self.reasons else []


def _letter(i: int) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return letters[i] if i < len(letters) else letters[i // 26 - 1] + letters[i % 26]


def _latex_value(stat: Stat | None, name: str, notes: _Notes, *, ci: bool = False) -> str:
    if stat is None or stat.get("value") is None:
        return "--" + notes.mark((stat or {}).get("reason") or "not computed")
    percent = name in PERCENT_STATS
    text = _number(stat["value"], percent)
    if ci and stat.get("ci95"):
        lo, hi = stat["ci95"]
        text += r" {\scriptsize[" + _number(lo, percent) + ", " + _number(hi, percent) + "]}"
    return text


def _number(value: float, percent: bool) -> str:
    """A figure for LaTeX: a real minus sign, not a hyphen."""
    text = f"{value * 100:.1f}" if percent else f"{value:.3f}"
    return text.replace("-", "$-$")


def _table(caption: str, label: str, spec: str, header: list[str], rows: list[list[str]],
           notes: _Notes) -> str:
    lines = [r"\begin{table}[t]", r"\centering", r"\small",
             r"\begin{tabular}{" + spec + "}", r"\toprule",
             " & ".join(header) + r" \\", r"\midrule",
             *(" & ".join(row) + r" \\" for row in rows),
             r"\bottomrule", r"\end{tabular}", *notes.latex(),
             r"\caption{" + caption + "}", r"\label{" + label + "}", r"\end{table}"]
    return "\n".join(lines)


def _judge_language_table(report: Report) -> str | None:
    """Table 3: per language, the share of judge decisions humans confirm (%)."""
    languages = _judge_languages(report)
    rows_in: list[tuple[str, Stat | None, dict[str, Stat]]] = []
    for j in report.get("judge_requirements") or []:
        rows_in.append((f"{j['judge']} (requirements)", j.get("confirmed"),
                        {r["key"]: r.get("confirmed") for r in j.get("by_language") or []}))
    for j in report.get("judge_direct_score") or []:
        rows_in.append((f"{j['judge']} (direct score > {j.get('threshold')})", j.get("agreement"),
                        {r["key"]: r.get("agreement") for r in j.get("by_language") or []}))
    if not rows_in:
        return None
    notes = _Notes()
    rows = []
    for name, overall, by_language in rows_in:
        cells = [_latex_value(by_language.get(lang), "agreement", notes) if lang in by_language
                 else "--" + notes.mark("no decision in this language")
                 for lang in languages]
        defined = [by_language[lang]["value"] for lang in languages
                   if by_language.get(lang) and by_language[lang].get("value") is not None]
        avg = (_number(sum(defined) / len(defined), True) if defined
               else "--" + notes.mark("no language with a defined figure"))
        rows.append([latex_escape(name), *cells, avg, _latex_value(overall, "agreement", notes)])
    header = ["Judge", *(latex_escape(lang.capitalize()) for lang in languages), "Avg.", "All"]
    caption = (latex_escape(f"Agreement rates between the judges and human annotations "
                            f"across languages (%), {report.get('benchmark', '')}.")
               + " Avg.\\ is the unweighted mean over languages; All pools every decision.")
    return _table(caption, "tab:judge-human-agreement", "l" + "r" * (len(languages) + 2),
                  header, rows, notes)


def _judge_summary_table(report: Report) -> str | None:
    judges = report.get("judge_requirements") or []
    if not judges:
        return None
    notes = _Notes()
    rows = [[latex_escape(j["judge"]), str(j.get("n_decisions", "")),
             _latex_value(j.get("confirmed"), "confirmed", notes, ci=True),
             _latex_value(j.get("kappa"), "kappa", notes, ci=True),
             _latex_value(j.get("precision"), "precision", notes),
             _latex_value(j.get("recall"), "recall", notes),
             _latex_value(j.get("f1"), "f1", notes)] for j in judges]
    header = ["Judge", "$n$", r"Confirmed (\%)", r"$\kappa$", r"P (\%)", r"R (\%)", r"F1 (\%)"]
    caption = ("Judge YES/NO decisions against the resolved human verdict "
               "(95\\% bootstrap intervals in brackets).")
    return _table(caption, "tab:judge-requirements", "lrrrrrr", header, rows, notes)


def _judge_pairwise_table(report: Report) -> str | None:
    judges = report.get("judge_pairwise") or []
    if not judges:
        return None
    notes = _Notes()
    rows = [[latex_escape(j["judge"]), str(j.get("n_pairs", "")),
             _latex_value(j.get("accuracy"), "accuracy", notes, ci=True),
             _latex_value(j.get("macro_precision"), "macro_precision", notes),
             _latex_value(j.get("macro_recall"), "macro_recall", notes),
             _latex_value(j.get("macro_f1"), "macro_f1", notes),
             _latex_value(j.get("kappa"), "kappa", notes),
             _latex_value(j.get("position_consistency"), "position_consistency", notes)
             if j.get("position_consistency") is not None
             else "--" + notes.mark("the judge did not judge both orders")]
            for j in judges]
    header = ["Judge", "$n$", r"Acc.\ (\%)", r"P (\%)", r"R (\%)", r"F1 (\%)", r"$\kappa$",
              r"Pos.\ cons.\ (\%)"]
    caption = ("Pairwise judges against the human majority: accuracy, macro precision, "
               "recall and F1, and position consistency.")
    return _table(caption, "tab:judge-pairwise", "lrrrrrrr", header, rows, notes)


def _judge_scores_table(report: Report) -> str | None:
    """Shen et al. 2023, table 5: summary-level Spearman correlation of each judge's score
    with the mean human rating, judges as rows and dimensions as columns."""
    entries = report.get("judge_scores") or []
    if not entries:
        return None
    judges = list(dict.fromkeys(j["judge"] for j in entries))
    dimensions = sorted({j["dimension"] for j in entries})
    found = {(j["judge"], j["dimension"]): j for j in entries}
    notes = _Notes()
    rows = []
    for judge in judges:
        cells = []
        for dimension in dimensions:
            entry = found.get((judge, dimension))
            cells.append(_latex_value(entry.get("spearman"), "spearman", notes) if entry
                         else "--" + notes.mark("the judge did not score this dimension"))
        rows.append([latex_escape(judge), *cells])
    header = ["Judge", *(latex_escape(field_title(d)) for d in dimensions)]
    caption = ("Summary-level Spearman correlation between each judge's score and the mean "
               "human rating of the same response, per dimension.")
    return _table(caption, "tab:judge-scores", "l" + "r" * len(dimensions), header, rows,
                  notes)


def _criteria_table(task: str, fields: list[dict[str, Any]]) -> str:
    """Tables 9 and 13: one row per criterion, ratio after resolution and agreement."""
    notes = _Notes()
    rows = []
    for f in fields:
        ratio = (f.get("ratio") or {}).get("conservative")
        stats = f.get("stats") or {}
        rows.append([
            latex_escape(field_title(f["field"])),
            _number(ratio, True) if ratio is not None else "--" + notes.mark(
                "no unit resolved"),
            _latex_value(stats.get("percent_agreement"), "percent_agreement", notes),
            _latex_value(stats.get("cohen_kappa"), "cohen_kappa", notes, ci=True),
            _latex_value(stats.get("krippendorff_alpha"), "krippendorff_alpha", notes, ci=True),
            _latex_value(stats.get("gwet_ac1"), "gwet_ac1", notes, ci=True),
            str(f.get("n_units", "")),
        ])
    header = ["Criteria", r"Ratio (\%)", r"Agreement (\%)", r"$\kappa$", r"$\alpha$",
              "AC1", "$n$"]
    caption = (latex_escape(f"{task_title(task)}: the ratio of units meeting each criterion "
                            "after conservative resolution and the agreement between "
                            "annotators") + " (95\\% bootstrap intervals in brackets).")
    return _table(caption, f"tab:criteria-{task.replace('_', '-')}", "lrrrrrr", header, rows,
                  notes)


def to_latex(report: Report) -> str:
    """Booktabs tables in the layout of the paper's tables 3, 9 and 13.

    Needs `\\usepackage{booktabs}`. Undefined figures print as `--` with a footnote marker
    whose reason is listed under the table.
    """
    batch = report.get("batch")
    scope = latex_escape(report.get("benchmark", ""))
    if batch:
        scope += ", batch " + latex_escape(batch.get("name", batch.get("id")))
    filters = "; ".join(f"{k}: {', '.join(map(str, v))}"
                        for k, v in (report.get("filters") or {}).items() if v)
    parts = ["\n".join([f"% Agreement report: {scope}",
                        f"% Filters: {latex_escape(filters) if filters else 'none'}",
                        f"% Generated {report.get('generated_at', '')} by Accord",
                        "% Needs \\usepackage{booktabs}"])]
    by_task: dict[str, list[dict[str, Any]]] = {}
    for f in report.get("fields") or []:
        by_task.setdefault(f["task"], []).append(f)
    parts += [_criteria_table(task, fields) for task, fields in by_task.items()]
    parts += [t for t in (_judge_language_table(report), _judge_summary_table(report),
                          _judge_pairwise_table(report), _judge_scores_table(report)) if t]
    return "\n\n".join(parts) + "\n"


# --- the page's view of the report ----------------------------------------------------------

@dataclass
class Cell:
    """One figure as the page shows it: text, CI, and for nulls the numbered reason."""

    text: str
    ci: str = ""
    value: float | None = None
    percent: bool = False
    reason: str | None = None
    note: int | None = None
    n_units: int | None = None
    n_labels: int | None = None

    @property
    def band(self) -> str:
        """A coarse quality band for colouring (percent: 90/75; coefficients: Landis and
        Koch's 0.8/0.6/0.4)."""
        if self.value is None:
            return "none"
        cuts = (0.9, 0.75, 0.5) if self.percent else (0.8, 0.6, 0.4)
        return next((band for cut, band in zip(cuts, ("high", "good", "fair"), strict=True)
                     if self.value >= cut), "low")

    @property
    def title(self) -> str:
        if self.reason:
            return self.reason
        parts = [f"n = {self.n_units} units"] if self.n_units is not None else []
        if self.n_labels:
            parts.append(f"{self.n_labels} labels")
        if self.ci:
            parts.append(f"95% CI {self.ci}")
        return ", ".join(parts)


@dataclass
class PageNotes:
    reasons: list[str] = field(default_factory=list)

    def number(self, reason: str) -> int:
        if reason not in self.reasons:
            self.reasons.append(reason)
        return self.reasons.index(reason) + 1


def _fmt(value: float, percent: bool) -> str:
    return f"{value * 100:.1f}" if percent else f"{value:.3f}".replace("-", "−")


def cell(stat: Stat | None, name: str, notes: PageNotes) -> Cell:
    percent = name in PERCENT_STATS or name.startswith("ratio")
    if stat is None or stat.get("value") is None:
        reason = (stat or {}).get("reason") or "not computed for this report"
        return Cell("—", reason=reason, note=notes.number(reason), percent=percent,
                    n_units=(stat or {}).get("n_units"), n_labels=(stat or {}).get("n_labels"))
    ci = ""
    if stat.get("ci95"):
        lo, hi = stat["ci95"]
        ci = f"[{_fmt(lo, percent)}, {_fmt(hi, percent)}]"
    return Cell(_fmt(stat["value"], percent), ci=ci, value=stat["value"], percent=percent,
                n_units=stat.get("n_units"), n_labels=stat.get("n_labels"))


def _plain_cell(value: float | None, notes: PageNotes, reason: str, n_units: int | None = None
                ) -> Cell:
    return cell({"value": value, "n_units": n_units, "n_labels": 0, "ci95": None,
                 "reason": reason}, "ratio", notes)


def prevalence_warning(f: dict[str, Any]) -> str | None:
    """The prevalence paradox: kappa far below percent agreement when one category dominates.

    Returns the sentence to show, or None when kappa and raw agreement tell the same story.
    """
    stats = f.get("stats") or {}
    pa = (stats.get("percent_agreement") or {}).get("value")
    ac1 = (stats.get("gwet_ac1") or {}).get("value")
    kappas = [(stats.get(k) or {}) for k in ("cohen_kappa", "fleiss_kappa")]
    kappa_values = [k["value"] for k in kappas if k.get("value") is not None]
    prevalence = f.get("prevalence") or {}
    top_category, top_share = max(prevalence.items(), key=lambda kv: kv[1],
                                  default=(None, 0.0))
    if pa is None or pa < 0.8:
        return None
    kappa = min(kappa_values) if kappa_values else None
    high = max(v for v in (pa, ac1) if v is not None)
    if kappa is not None and high - kappa < 0.2:
        return None
    if kappa is None and not any(k.get("reason") for k in kappas):
        return None
    share = f"{top_share * 100:.0f}% of labels are “{top_category}”" if top_category else (
        "one category dominates")
    kappa_text = (f"κ is {_fmt(kappa, False)}" if kappa is not None
                  else "κ is undefined")
    ac1_text = f" and AC1 {_fmt(ac1, False)}" if ac1 is not None else ""
    return f"{share}; {kappa_text} while agreement is {_fmt(pa, True)}%{ac1_text}."


PREVALENCE_PARADOX = (
    "Prevalence paradox: when one category is this common, the agreement expected by chance "
    "is close to 1, so κ and α collapse (or are undefined) although the annotators rarely "
    "disagree. Read percent agreement and Gwet's AC1 for these criteria; report κ beside "
    "them with this caveat.")


@dataclass
class Bar:
    label: str
    cell: Cell
    y: float
    width: float = 0.0
    lo: float | None = None
    hi: float | None = None


CHART_LEFT, CHART_WIDTH, CHART_ROW = 96, 360, 26


def bar_chart(rows: list[tuple[str, Cell]]) -> dict[str, Any] | None:
    """Horizontal bars of a percent statistic (0-100%) with 95% CI whiskers, as SVG geometry.

    x positions are in SVG user units; the template draws it without any script.
    """
    if not rows:
        return None
    bars = []
    for i, (label, c) in enumerate(rows):
        bar = Bar(label=label, cell=c, y=8 + i * CHART_ROW)
        if c.value is not None:
            bar.width = round(max(0.0, min(1.0, c.value)) * CHART_WIDTH, 1)
        if c.ci and c.value is not None:
            lo, hi = (float(x) / 100 for x in c.ci.strip("[]").split(", "))
            bar.lo = round(CHART_LEFT + max(0.0, lo) * CHART_WIDTH, 1)
            bar.hi = round(CHART_LEFT + min(1.0, hi) * CHART_WIDTH, 1)
        bars.append(bar)
    height = 8 + len(rows) * CHART_ROW + 22
    ticks = [{"x": CHART_LEFT + t / 100 * CHART_WIDTH, "label": f"{t}%"}
             for t in (0, 25, 50, 75, 100)]
    return {"bars": bars, "height": height, "width": CHART_LEFT + CHART_WIDTH + 70,
            "left": CHART_LEFT, "plot_width": CHART_WIDTH, "axis_y": height - 20,
            "ticks": ticks}


def _pair_matrix(pairs: list[dict[str, Any]], notes: PageNotes) -> dict[str, Any] | None:
    if not pairs:
        return None
    names = sorted({p["a"] for p in pairs} | {p["b"] for p in pairs})
    lookup = {}
    for p in pairs:
        entry = {"pa": cell(p.get("percent_agreement"), "percent_agreement", notes),
                 "kappa": cell(p.get("cohen_kappa"), "cohen_kappa", notes),
                 "n_units": p.get("n_units")}
        lookup[(p["a"], p["b"])] = lookup[(p["b"], p["a"])] = entry
    rows = [{"name": a, "cells": [None if a == b else lookup.get((a, b)) for b in names]}
            for a in names]
    return {"names": names, "rows": rows}


def _field_view(f: dict[str, Any], notes: PageNotes) -> dict[str, Any]:
    stats = f.get("stats") or {}
    ratio = f.get("ratio") or {}
    breakdowns = []
    for dim in sorted(f.get("breakdowns") or {}, key=lambda d: (
            BREAKDOWN_ORDER.index(d) if d in BREAKDOWN_ORDER else 99, d)):
        rows = f["breakdowns"][dim]
        if dim == "language":
            order = language_order(r["key"] for r in rows)
            rows = sorted(rows, key=lambda r: order.index(r["key"]))
        view_rows = [{
            "key": r["key"], "n_units": r.get("n_units"),
            "ratio": _plain_cell(r.get("ratio_conservative"), notes, "no unit resolved"),
            "cells": [cell(r.get(name), name, notes) for name in BREAKDOWN_STATS],
        } for r in rows]
        chart = bar_chart([(r["key"], r["cells"][0]) for r in view_rows]) if dim in (
            "language", "resource_level") else None
        breakdowns.append({"dim": dim, "title": BREAKDOWN_TITLES.get(dim, field_title(dim)),
                           "rows": view_rows, "chart": chart})
    confusion = f.get("confusion")
    if confusion:
        confusion = {**confusion, "rows_of": list(zip(confusion["categories"],
                                                      confusion["matrix"], strict=True))}
    return {
        "task": f["task"], "field": f["field"], "title": field_title(f["field"]),
        "anchor": f"{f['task']}-{f['field']}".replace("_", "-"),
        "level": f.get("level"), "positive": f.get("positive"),
        "n_units": f.get("n_units"), "n_annotators": f.get("n_annotators"),
        "n_labels": f.get("n_labels"),
        "ratio_conservative": _plain_cell(ratio.get("conservative"), notes,
                                          "no unit resolved", f.get("n_units")),
        "ratio_majority": _plain_cell(ratio.get("majority"), notes,
                                      "no majority: ties only", f.get("n_units")),
        "stats": [{"name": name, "label": STAT_SYMBOLS[name],
                   "cell": cell(stats.get(name), name, notes)} for name in FIELD_STATS],
        "prevalence": sorted((f.get("prevalence") or {}).items(), key=lambda kv: -kv[1]),
        "prevalence_pct": [(k, round(v * 100, 1)) for k, v in sorted(
            (f.get("prevalence") or {}).items(), key=lambda kv: -kv[1])],
        "warning": prevalence_warning(f),
        "pairs": _pair_matrix(f.get("pairs") or [], notes),
        "vs_consensus": [{"annotator": r["annotator"], "n_units": r.get("n_units"),
                          "pa": cell(r.get("percent_agreement"), "percent_agreement", notes),
                          "kappa": cell(r.get("cohen_kappa"), "cohen_kappa", notes)}
                         for r in f.get("vs_consensus") or []],
        "confusion": confusion,
        "breakdowns": breakdowns,
    }


def _judge_rows(report: Report, languages: list[str], notes: PageNotes) -> list[dict[str, Any]]:
    rows = []
    for section, stat_name, label in (("judge_requirements", "confirmed", "requirements"),
                                      ("judge_direct_score", "agreement", "direct score")):
        for j in report.get(section) or []:
            by_language = {r["key"]: r.get(stat_name) for r in j.get("by_language") or []}
            cells = [cell(by_language[lang], stat_name, notes) if lang in by_language
                     else Cell("—", reason="no decision in this language",
                               note=notes.number("no decision in this language"), percent=True)
                     for lang in languages]
            defined = [c.value for c in cells if c.value is not None]
            avg = (Cell(_fmt(sum(defined) / len(defined), True), value=sum(defined) / len(defined),
                        percent=True) if defined else
                   Cell("—", reason="no language with a defined figure",
                        note=notes.number("no language with a defined figure")))
            protocol = label if section == "judge_requirements" else (
                f"direct score > {j.get('threshold')}")
            rows.append({"judge": j["judge"], "protocol": protocol, "cells": cells, "avg": avg,
                         "all": cell(j.get(stat_name), stat_name, notes),
                         "chart": bar_chart([(lang, c) for lang, c in zip(
                             languages, cells, strict=True)])})
    return rows


def present(report: Report) -> dict[str, Any]:
    """Everything the report page shows, with every null numbered in `notes`."""
    notes = PageNotes()
    tasks: dict[str, dict[str, Any]] = {}
    for f in report.get("fields") or []:
        task = tasks.setdefault(f["task"], {"task": f["task"], "title": task_title(f["task"]),
                                            "fields": []})
        task["fields"].append(_field_view(f, notes))
    for task in tasks.values():
        task["warnings"] = [f for f in task["fields"] if f["warning"]]
    languages = _judge_languages(report)
    judge_rows = _judge_rows(report, languages, notes)
    requirement_judges = [{
        "judge": j["judge"], "n_decisions": j.get("n_decisions"),
        "cells": [cell(j.get(name), name, notes)
                  for name in ("confirmed", "kappa", "precision", "recall", "f1")],
    } for j in report.get("judge_requirements") or []]
    direct_judges = [{
        "judge": j["judge"], "threshold": j.get("threshold"), "n_responses": j.get("n_responses"),
        "cells": [cell(j.get(name), name, notes) for name in ("agreement", "kappa")],
    } for j in report.get("judge_direct_score") or []]
    pairwise_judges = []
    for j in report.get("judge_pairwise") or []:
        both_orders = j.get("position_consistency") is not None
        pairwise_judges.append({
            "judge": j["judge"], "n_pairs": j.get("n_pairs"),
            "cells": [cell(j.get(name), name, notes) for name in (
                "accuracy", "macro_precision", "macro_recall", "macro_f1", "kappa")],
            "position": [cell(j.get(name), name, notes) if both_orders else
                         Cell("—", reason="the judge did not judge both orders",
                              note=notes.number("the judge did not judge both orders"))
                         for name in ("position_consistency", "accuracy_both_orders")],
            "chart": bar_chart([(r["key"], cell(r.get("accuracy"), "accuracy", notes))
                                for r in j.get("by_language") or []]),
        })
    score_judges = [{
        "judge": j["judge"], "dimension": j["dimension"], "title": field_title(j["dimension"]),
        "n_responses": j.get("n_responses"),
        "cells": [cell(j.get(name), name, notes) for name in CORRELATIONS],
        "means": [_plain_cell(j.get(name), notes, "no response has both a judge score and a "
                              "human rating", j.get("n_responses"))
                  if j.get(name) is None else Cell(f"{j[name]:.2f}", n_units=j.get("n_responses"))
                  for name in ("mean_judge", "mean_human")],
    } for j in report.get("judge_scores") or []]
    return {
        "tasks": list(tasks.values()),
        "judge_languages": languages,
        "judge_rows": judge_rows,
        "requirement_judges": requirement_judges,
        "direct_judges": direct_judges,
        "pairwise_judges": pairwise_judges,
        "score_judges": score_judges,
        "has_judges": bool(judge_rows or pairwise_judges or score_judges),
        "notes": notes.reasons,
        "prevalence_paradox": PREVALENCE_PARADOX,
        "generated": str(report.get("generated_at") or "")[:16].replace("T", " "),
    }


def download_name(report: Report, extension: str) -> str:
    """agreement-<benchmark>[-batch-<id>].<ext>, safe for a Content-Disposition header."""
    stem = "agreement-" + "".join(ch if ch.isalnum() or ch in "-_." else "-"
                                  for ch in str(report.get("benchmark", "report")))
    if report.get("batch"):
        stem += f"-batch-{report['batch']['id']}"
    return f"{stem}.{extension}"
