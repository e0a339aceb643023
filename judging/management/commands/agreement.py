"""`manage.py agreement FILE.csv --level ...`: agreement on any long-format CSV (spec section 5).

No database is touched: the file is read, the statistics of `judging.agreement` are computed,
and the result is printed as one JSON object (`--json`) or as a table that explains each null.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.core.management.base import BaseCommand, CommandError

from judging import agreement

REQUIRED_COLUMNS = ("unit", "annotator", "value")
LEVELS = ("nominal", "ordinal", "interval", "ratio")
NUMERIC_LEVELS = ("ordinal", "interval", "ratio")
N_RESAMPLES = 1000
SEED = 0
# The prevalence note is printed when one category holds more than this share of the labels
# and a kappa-type coefficient is undefined or well below percent agreement.
PREVALENCE_SHARE = 0.9
PREVALENCE_GAP = 0.2


@dataclass(frozen=True)
class Labels:
    units: list[str]
    annotators: list[str]
    values: list  # str at the nominal level, float otherwise


def read_labels(path: Path, level: str) -> Labels:
    """The non-missing labels of a long CSV, one per (unit, annotator).

    Bad input is a CommandError naming the file, the line and the column.
    """
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CommandError(f"{name}: no such file") from None
    except UnicodeDecodeError as error:
        raise CommandError(f"{name}: not UTF-8 text (byte {error.start})") from None
    except OSError as error:
        raise CommandError(f"{name}: cannot read: {error.strerror or error}") from None
    reader = csv.DictReader(text.splitlines(keepends=True))
    header = [column.strip() for column in (reader.fieldnames or [])]
    for column in REQUIRED_COLUMNS:
        if column not in header:
            raise CommandError(f"{name}:1: column {column}: missing (the header must name "
                               f"unit, annotator and value)")
    reader.fieldnames = header
    seen: dict[tuple[str, str], tuple[int, object]] = {}
    try:
        for row in reader:
            line = reader.line_num
            unit = (row.get("unit") or "").strip()
            annotator = (row.get("annotator") or "").strip()
            raw = (row.get("value") or "").strip()
            if not unit:
                raise CommandError(f"{name}:{line}: column unit: empty")
            if not annotator:
                raise CommandError(f"{name}:{line}: column annotator: empty")
            if raw == "":
                continue  # a missing label
            value: object = raw
            if level in NUMERIC_LEVELS:
                try:
                    value = float(raw)
                except ValueError:
                    value = math.nan
                if not math.isfinite(value):
                    raise CommandError(f"{name}:{line}: column value: {raw!r} is not a number "
                                       f"(--level {level} needs numbers)")
            key = (unit, annotator)
            if key in seen and seen[key][1] != value:
                raise CommandError(
                    f"{name}:{line}: column value: annotator {annotator!r} labelled unit "
                    f"{unit!r} twice with different values ({seen[key][1]!r} on line "
                    f"{seen[key][0]}, {value!r} here)")
            seen.setdefault(key, (line, value))
    except csv.Error as error:
        raise CommandError(f"{name}:{reader.line_num}: malformed CSV: {error}") from None
    return Labels(units=[k[0] for k in seen], annotators=[k[1] for k in seen],
                  values=[v for _, v in seen.values()])


def _cohen(labels: Labels, categories: list, annotators: list) -> agreement.Stat:
    if len(annotators) != 2:
        return agreement.Stat("cohen_kappa", None, 0, 0,
                              f"{len(annotators)} annotators: Cohen's kappa needs exactly 2")
    position = {category: i for i, category in enumerate(categories)}
    by_unit: dict[str, list[int]] = {}
    for unit, annotator, value in zip(labels.units, labels.annotators, labels.values,
                                      strict=True):
        by_unit.setdefault(unit, [-1, -1])[annotators.index(annotator)] = position[value]
    pairs = np.array(list(by_unit.values()), dtype=np.int64).reshape(-1, 2)
    return agreement.cohen_kappa(pairs[:, 0], pairs[:, 1], len(categories))


def compute(labels: Labels, level: str) -> dict:
    """The spec's JSON object (plus "reasons"), and the Stats behind it under "_stats"."""
    counts, _, categories = agreement.counts_from_long(labels.units, labels.values)
    annotators = list(dict.fromkeys(labels.annotators))
    values = [float(c) for c in categories] if level in NUMERIC_LEVELS else None
    stats = agreement.summary(counts, level=level, values=values, n_resamples=N_RESAMPLES,
                              seed=SEED)
    kept = {
        "percent_agreement": stats["percent_agreement"],
        "cohen_kappa": _cohen(labels, categories, annotators),
        "fleiss_kappa": stats["fleiss_kappa"],
        "krippendorff_alpha": stats["krippendorff_alpha"],
        "gwet_ac1": stats["gwet_ac1"],
    }
    ci = {key: (list(kept[key].ci95) if kept[key].ci95 else None)
          for key in ("krippendorff_alpha", "percent_agreement")}
    result = {
        "n_units": int((counts.sum(axis=1) > 0).sum()),
        "n_annotators": len(annotators),
        "n_labels": int(counts.sum()),
        **{key: stat.value for key, stat in kept.items()},
        "ci95": ci,
        "reasons": {key: stat.reason for key, stat in kept.items() if not stat.defined},
    }
    totals = counts.sum(axis=0)
    top = int(totals.argmax()) if totals.size else None
    result["_stats"] = kept
    result["_top"] = (categories[top], float(totals[top] / totals.sum())) if top is not None \
        else None
    return result


def _fmt(value: float | None) -> str:
    return "null" if value is None else f"{value:.4f}"


def prevalence_note(result: dict) -> str | None:
    """One line when a skewed distribution makes kappa low while agreement stays high."""
    top = result["_top"]
    pa, ac1 = result["percent_agreement"], result["gwet_ac1"]
    if top is None or pa is None or top[1] <= PREVALENCE_SHARE:
        return None
    alpha = result["krippendorff_alpha"]
    kappas = [result[key] for key in ("cohen_kappa", "fleiss_kappa", "krippendorff_alpha")
              if result[key] is not None]
    if alpha is not None and not any(pa - kappa >= PREVALENCE_GAP for kappa in kappas):
        return None
    ac1_text = f" and AC1 {ac1:.2f}" if ac1 is not None else ""
    return (f"Prevalence paradox: {top[0]!r} holds {top[1]:.0%} of the labels, so chance "
            f"agreement is high and kappa/alpha come out low or undefined even though "
            f"percent agreement is {pa:.2f}{ac1_text}; read percent agreement and AC1 here.")


def render_table(result: dict, path: str, level: str) -> str:
    lines = [f"{path}: {result['n_units']} units, {result['n_annotators']} annotators, "
             f"{result['n_labels']} labels (level {level})", ""]
    rows = [("statistic", "value", "units", "labels", "95% CI")]
    for key, stat in result["_stats"].items():
        ci = (f"[{stat.ci95[0]:.4f}, {stat.ci95[1]:.4f}]" if stat.ci95 else
              ("—" if key in result["ci95"] else ""))
        rows.append((key, _fmt(stat.value), str(stat.n_units), str(stat.n_labels), ci))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [cell.rjust(width)
                                             for cell, width in zip(row[1:4], widths[1:4],
                                                                    strict=True)]
        lines.append("  ".join([*cells, row[4]]).rstrip())
    reasons = result["reasons"]
    if reasons:
        lines.append("")
        lines.extend(f"{key} is null: {reason}" for key, reason in reasons.items())
    for key, interval in result["ci95"].items():
        if interval is None and key not in reasons:
            lines.append(f"{key}: no interval: the statistic is undefined on more than 5% of "
                         f"the bootstrap resamples")
    note = prevalence_note(result)
    if note:
        lines.extend(["", note])
    return "\n".join(lines)


class Command(BaseCommand):
    help = ("Agreement on a long-format CSV with columns unit,annotator,value (other columns "
            "ignored; an empty value is a missing label). Touches no database. --json prints "
            "the object of the interchange spec (section 5) with one compatible extension: "
            "\"reasons\", the reason for each null statistic. cohen_kappa is the unweighted "
            "kappa of exactly 2 annotators; gwet_ac1 is nominal; ci95 comes from a bootstrap "
            f"over units ({N_RESAMPLES} resamples, seed {SEED}). --level ratio is an extension.")

    def add_arguments(self, parser):
        parser.add_argument("file", help="long-format CSV: unit,annotator,value")
        parser.add_argument("--level", choices=LEVELS, default="nominal",
                            help="level of measurement for Krippendorff's alpha "
                                 "(ordinal, interval and ratio need numeric values)")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **options):
        level = options["level"]
        labels = read_labels(Path(options["file"]), level)
        result = compute(labels, level)
        if options["json"]:
            public = {key: value for key, value in result.items() if not key.startswith("_")}
            self.stdout.write(json.dumps(public, allow_nan=False))
        else:
            self.stdout.write(render_table(result, options["file"], level))
