"""`manage.py agreement_report --benchmark NAME [...]`: the agreement report from the shell.

The same dict as the report page and the REST endpoint (judging.reports.agreement_report),
printed as JSON, CSV, LaTeX (judging.report_formats) or a readable text table that says why
each null is null.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.models import Batch, Benchmark
from judging.reports import ReportFilters, agreement_report

FORMATS = ("json", "csv", "latex", "table")


class Command(BaseCommand):
    help = ("Inter-annotator and judge-human agreement of a benchmark or one of its batches, "
            "as JSON, CSV, LaTeX or a text table.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--benchmark", required=True, help="benchmark name")
        parser.add_argument("--batch", type=int, help="restrict to one batch (its id)")
        parser.add_argument("--language", action="append", default=[], nargs="+",
                            help="only these languages (repeatable)")
        parser.add_argument("--subset", action="append", default=[], nargs="+")
        parser.add_argument("--model", action="append", default=[], nargs="+")
        parser.add_argument("--category", action="append", default=[], nargs="+",
                            help="only these requirement categories")
        parser.add_argument("--format", choices=FORMATS, default="table")
        parser.add_argument("--out", help="write to this file instead of standard output")
        parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
        parser.add_argument("--resamples", type=int, default=1000,
                            help="bootstrap resamples (default 1000; 0 for no intervals)")

    def handle(self, *args: Any, **options: Any) -> None:
        benchmark = Benchmark.objects.filter(name=options["benchmark"]).first()
        if benchmark is None:
            raise CommandError(f"no benchmark named {options['benchmark']!r}")
        batch = None
        if options["batch"] is not None:
            batch = Batch.objects.filter(pk=options["batch"], benchmark=benchmark).first()
            if batch is None:
                raise CommandError(f"benchmark {benchmark.name!r} has no batch "
                                   f"{options['batch']}")
        if options["resamples"] < 0:
            raise CommandError("--resamples must be 0 or more")
        filters = ReportFilters(
            languages=_flat(options["language"]), subsets=_flat(options["subset"]),
            models=_flat(options["model"]), categories=_flat(options["category"]))
        report = agreement_report(benchmark=benchmark, batch=batch, filters=filters,
                                  n_resamples=options["resamples"], seed=options["seed"])
        text = render(report, options["format"])
        if options["out"]:
            Path(options["out"]).write_text(text, encoding="utf-8")
            self.stderr.write(f"wrote {options['out']}")
        else:
            self.stdout.write(text, ending="" if text.endswith("\n") else "\n")


def _flat(values: list[list[str]]) -> tuple[str, ...]:
    return tuple(v for group in values for v in group)


def render(report: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        from judging.report_formats import to_csv

        return to_csv(report)
    if fmt == "latex":
        from judging.report_formats import to_latex

        return to_latex(report)
    return to_table(report)


# --- the text table ---------------------------------------------------------------------------

def _value(stat: dict[str, Any] | None, notes: list[str]) -> str:
    """A statistic as text; a null becomes a numbered note that gives its reason."""
    if stat is None:
        return "-"
    if stat["value"] is None:
        reason = stat["reason"] or "undefined"
        if reason not in notes:
            notes.append(reason)
        return f"null[{notes.index(reason) + 1}]"
    text = f"{stat['value']:.4f}"
    if stat.get("ci95"):
        lo, hi = stat["ci95"]
        text += f" [{lo:.3f}, {hi:.3f}]"
    return text


def _rows(header: list[str], rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
    line = [indent + "  ".join(str(c).ljust(w) for c, w in zip(header, widths, strict=True))]
    line.append(indent + "  ".join("-" * w for w in widths))
    line += [indent + "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True))
             for row in rows]
    return line


def _mean(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


STAT_NAMES = ("percent_agreement", "cohen_kappa", "fleiss_kappa", "krippendorff_alpha",
              "gwet_ac1", "brennan_prediger")


def to_table(report: dict[str, Any]) -> str:
    notes: list[str] = []
    out = [f"Agreement report: {report['benchmark']}"
           + (f", batch {report['batch']['id']} ({report['batch']['name']})"
              if report["batch"] else "")]
    active = {k: v for k, v in report["filters"].items() if v}
    if active:
        out.append("Filters: " + "; ".join(f"{k} = {', '.join(v)}" for k, v in active.items()))
    out.append(f"Generated at {report['generated_at']}")
    if not report["fields"]:
        out.append("")
        out.append("No human labels match: nothing to report.")
    for f in report["fields"]:
        out.append("")
        out.append(f"{f['task']} / {f['field']} ({f['level']}): {f['n_units']} units, "
                   f"{f['n_annotators']} annotators, {f['n_labels']} labels")
        if f["ratio"]["conservative"] is not None:
            out.append(f"  ratio meeting the criterion: conservative "
                       f"{f['ratio']['conservative']:.4f}, majority {f['ratio']['majority']:.4f}")
        out.append("  prevalence: " + ", ".join(
            f"{k} {v:.3f}" for k, v in f["prevalence"].items() if v is not None))
        out += _rows(["statistic", "value [95% CI]", "units"],
                     [[name, _value(f["stats"][name], notes), str(f["stats"][name]["n_units"])]
                      for name in STAT_NAMES])
        if f["pairs"]:
            out.append("  annotator pairs:")
            out += _rows(["a", "b", "units", "agreement", "Cohen's kappa"],
                         [[p["a"], p["b"], str(p["n_units"]),
                           _value(p["percent_agreement"], notes), _value(p["cohen_kappa"], notes)]
                          for p in f["pairs"]], indent="    ")
        if f["vs_consensus"]:
            out.append("  each annotator against the majority of the others:")
            out += _rows(["annotator", "units", "agreement", "Cohen's kappa"],
                         [[c["annotator"], str(c["n_units"]), _value(c["percent_agreement"], notes),
                           _value(c["cohen_kappa"], notes)] for c in f["vs_consensus"]],
                         indent="    ")
        for dimension, entries in f["breakdowns"].items():
            if len(entries) < 2:
                continue
            out.append(f"  by {dimension}:")
            out += _rows([dimension, "units", "ratio", "agreement", "alpha", "AC1"],
                         [[e["key"] or "(none)", str(e["n_units"]),
                           "-" if e["ratio_conservative"] is None
                           else f"{e['ratio_conservative']:.4f}",
                           _value(e["percent_agreement"], notes),
                           _value(e["krippendorff_alpha"], notes), _value(e["gwet_ac1"], notes)]
                          for e in entries], indent="    ")
    if report["judge_requirements"]:
        out.append("")
        out.append("Judge decisions confirmed by the humans (requirement protocol, conservative):")
        out += _rows(["judge", "decisions", "confirmed", "kappa", "precision", "recall", "F1"],
                     [[j["judge"], str(j["n_decisions"]), _value(j["confirmed"], notes),
                       _value(j["kappa"], notes), _value(j["precision"], notes),
                       _value(j["recall"], notes), _value(j["f1"], notes)]
                      for j in report["judge_requirements"]])
        for j in report["judge_requirements"]:
            out.append(f"  {j['judge']} by language: " + ", ".join(
                f"{e['key']} {_value(e['confirmed'], notes)}" for e in j["by_language"]))
    if report["judge_direct_score"]:
        out.append("")
        out.append("Direct scores (score above the threshold = meets every requirement):")
        out += _rows(["judge", "threshold", "responses", "agreement", "kappa"],
                     [[j["judge"], f"{j['threshold']:g}", str(j["n_responses"]),
                       _value(j["agreement"], notes), _value(j["kappa"], notes)]
                      for j in report["judge_direct_score"]])
    if report["judge_pairwise"]:
        out.append("")
        out.append("Pairwise judges against the human majority:")
        out += _rows(["judge", "pairs", "accuracy", "macro P", "macro R", "macro F1", "kappa",
                      "position consistency", "accuracy (both orders)"],
                     [[j["judge"], str(j["n_pairs"]), _value(j["accuracy"], notes),
                       _value(j["macro_precision"], notes), _value(j["macro_recall"], notes),
                       _value(j["macro_f1"], notes), _value(j["kappa"], notes),
                       _value(j["position_consistency"], notes),
                       _value(j["accuracy_both_orders"], notes)]
                      for j in report["judge_pairwise"]])
    if report.get("judge_scores"):
        out.append("")
        out.append("Score judges against the mean human rating, per dimension "
                   "(summary-level correlation):")
        out += _rows(["judge", "dimension", "responses", "Spearman", "Kendall", "Pearson",
                      "mean judge", "mean human"],
                     [[j["judge"], j["dimension"], str(j["n_responses"]),
                       _value(j["spearman"], notes), _value(j["kendall"], notes),
                       _value(j["pearson"], notes), _mean(j["mean_judge"]),
                       _mean(j["mean_human"])]
                      for j in report["judge_scores"]])
        for j in report["judge_scores"]:
            if len(j["by_language"]) > 1:
                out.append(f"  {j['judge']} / {j['dimension']} Spearman by language: "
                           + ", ".join(f"{e['key']} {_value(e['spearman'], notes)}"
                                       for e in j["by_language"]))
    if notes:
        out.append("")
        out.append("Why some values are null:")
        out += [f"  [{i}] {reason}" for i, reason in enumerate(notes, start=1)]
    return "\n".join(out) + "\n"
