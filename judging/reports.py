"""The agreement report of a benchmark (or of one batch): a JSON-able dict.

The web page, the CSV/LaTeX downloads, the REST endpoint, the `agreement_report` command and
the gold export all render this one dict, so they never disagree. Its shape (keys are stable):

- `fields`: one entry per task and field that has labels, in TASKS order: counts, the paper's
  ratio after resolution (tables 9 and 13), prevalence, the coefficients over all annotators,
  each annotator pair, each annotator against the majority of the others, a confusion matrix
  for exactly two annotators, and breakdowns by language, resource level, subset, requirement
  category and dimension, and model (the dimensions that apply to the task).
- `judge_requirements`: the paper's table 3, the share of a judge's YES/NO decisions that the
  humans confirm (conservative resolution: one "disagree" reverses the decision).
- `judge_direct_score`: a 1-10 score above the threshold read as "meets all requirements",
  against the humans' verdict that every requirement is met.
- `judge_pairwise`: pairwise judges against the majority of the human preferences.
- `judge_scores`: per judge and dimension, the summary-level correlation (Pearson, Spearman,
  Kendall) between the judge's score of a response on that dimension and the mean human
  rating of the response on it (response-rating labels), over the responses having both
  (Shen et al. 2023, table 5).

Every statistic is `{"value", "n_units", "n_labels", "reason", "ci95"}`; `value` is null with
a `reason` when the data leave it undefined. Breakdown keys are the stored values; an empty
string means the attribute is not set (e.g. an item without a subset). `by_language` entries
are `{"key", "confirmed"}` (requirements), `{"key", "agreement"}` (direct score),
`{"key", "accuracy"}` (pairwise) and `{"key", "spearman"}` (judge scores).

Response ratings (1-5 Likert scores, one field per dimension) are at the interval level, as
SummEval reports their agreement; translation quality stays ordinal.

Counts: a benchmark-wide report reads the histograms annotation/summaries.py keeps current as
labels are written (patterns of label counts per unit slice, each annotator's value by pattern,
each annotator pair's joint values): a few thousand rows whatever the number of labels. A batch
or filtered report builds the same histograms from its labels on the fly, with the same code.
The statistics run on those histograms (agreement.Tally), never on one row per unit.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from itertools import combinations
from math import isfinite
from typing import Any

import numpy as np
from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from annotation import summaries
from annotation.models import SLICE_FIELDS, Batch, Benchmark, TaskKind
from annotation.tasks import TASKS, FieldDef, judge_unit_key, response_unit_key

from . import agreement
from .agreement import Stat
from .selectors import (
    ReportFilters,
    dimension_scores,
    direct_scores,
    has_direct_scores,
    pair_judgments,
    report_labels,
    requirement_decisions,
    requirements_per_group,
    verdict_counts,
)

__all__ = ["ReportFilters", "agreement_report"]

ORDINAL_TASKS = {TaskKind.TRANSLATION_VALIDATION}
INTERVAL_TASKS = {TaskKind.RESPONSE_RATING}
ITEM_DIMENSIONS = ("language", "resource_level", "subset")
REQUIREMENT_DIMENSIONS = ("category", "dimension")
PREFERENCES = ("a", "b", "tie")
YES, NO = 0, 1  # indices of "yes" and "no" in YES_NO choices
NO_FILTERS = ReportFilters()
# Tasks whose judge sections match human labels to judge outputs unit by unit.
PER_UNIT_TASKS = (str(TaskKind.PAIRWISE_PREFERENCE), str(TaskKind.RESPONSE_RATING))


def agreement_report(*, benchmark: Benchmark, batch: Batch | None = None,
                     filters: ReportFilters = NO_FILTERS, n_resamples: int = 1000,
                     seed: int = 0) -> dict[str, Any]:
    """Inter-annotator and judge-human agreement of `benchmark` (or of one `batch` of it),
    restricted by `filters`. Bootstrap intervals use `n_resamples` resamples of units drawn
    with `seed`, so the same data and seed give the same report.

    The whole benchmark is read from the maintained summaries (annotation/summaries.py); a
    batch or filtered report counts its labels the same way on the fly."""
    if batch is None and filters == NO_FILTERS:
        tallies = _Tallies.from_summaries(benchmark)
    else:
        labels = report_labels(benchmark=benchmark, batch=batch, filters=filters)
        tallies = _Tallies.from_labels(labels, benchmark)

    fields = []
    field_data: dict[tuple[str, str], _FieldData] = {}
    for kind, spec in TASKS.items():
        # Open-scale tasks (response rating) have one field per dimension the labels name.
        field_defs = spec.fields if not spec.open_scale else [
            f for task, name in sorted(tallies.fields())
            if task == str(kind) and (f := spec.field(name)) is not None]
        for field_def in field_defs:
            data = tallies.field_data(str(kind), field_def)
            if data is None:
                continue
            field_data[(str(kind), field_def.name)] = data
            fields.append(_field_report(data, n_resamples=n_resamples, seed=seed))

    judge_data = field_data.get((str(TaskKind.JUDGE_AGREEMENT), "agree"))
    pairwise = field_data.get((str(TaskKind.PAIRWISE_PREFERENCE), "preference"))
    return {
        "benchmark": benchmark.name,
        "batch": {"id": batch.pk, "name": batch.name} if batch is not None else None,
        "filters": filters.as_dict(),
        "generated_at": timezone.now().isoformat(),
        "fields": fields,
        "judge_requirements": _judge_requirements(judge_data) if judge_data else [],
        "judge_direct_score": (
            _judge_direct_score(benchmark, batch, filters)
            if judge_data and has_direct_scores(benchmark=benchmark) else []),
        "judge_pairwise": (_judge_pairwise(benchmark, pairwise)
                           if pairwise is not None else []),
        "judge_scores": _judge_scores(benchmark, field_data, filters),
    }


class _Tallies:
    """A report's label counts, by task and field: the histograms of annotation/summaries.py,
    either read from the maintained tables or computed from some labels on the fly."""

    def __init__(self, patterns: Counter, annotators: Counter, pairs: Counter,
                 per_unit: dict[tuple[str, str], dict[str, Counter]]) -> None:
        self.patterns, self.annotators, self.pairs = (
            _by_field(patterns), _by_field(annotators), _by_field(pairs))
        self.per_unit = per_unit

    @classmethod
    def from_summaries(cls, benchmark: Benchmark) -> _Tallies:
        patterns = Counter({tuple(row[:-1]): row[-1] for row in summaries.pattern_rows(benchmark)})
        annotators = Counter({tuple(row[:-1]): row[-1]
                              for row in summaries.annotator_rows(benchmark)})
        pairs: Counter = Counter()
        for task, field, a, b, value_a, value_b, n in summaries.pair_rows(benchmark):
            if a > b:  # stored by id; reports order pairs by name
                a, b, value_a, value_b = b, a, value_b, value_a
            pairs[(task, field, a, b, value_a, value_b)] += n
        per_unit: dict[tuple[str, str], dict[str, Counter]] = defaultdict(dict)
        for task, unit, votes in summaries.unit_votes(benchmark, PER_UNIT_TASKS):
            for field, by_annotator in votes.items():
                per_unit[(task, field)][unit] = Counter(by_annotator.values())
        return cls(patterns, annotators, pairs, per_unit)

    @classmethod
    def from_labels(cls, labels: QuerySet, benchmark: Benchmark) -> _Tallies:
        states = summaries.states_from_labels(labels, annotator="annotator__username",
                                              benchmark=benchmark)
        total: Counter = Counter()
        per_unit: dict[tuple[str, str], dict[str, Counter]] = defaultdict(dict)
        for (task, unit), state in states.items():
            total.update(summaries.contributions(task, state.attributes, state.votes))
            if task in PER_UNIT_TASKS:
                for field, by_annotator in state.votes.items():
                    per_unit[(task, field)][unit] = Counter(by_annotator.values())
        split: dict[str, Counter] = defaultdict(Counter)
        for key, n in total.items():
            split[key[0]][key[1:]] = n
        return cls(split["pattern"], split["annotator"], split["pair"], per_unit)

    def fields(self) -> list[tuple[str, str]]:
        return list(self.patterns)

    def field_data(self, task: str, field_def: FieldDef) -> _FieldData | None:
        key = (task, field_def.name)
        if key not in self.patterns:
            return None
        return _FieldData(task, field_def, self.patterns[key], self.annotators.get(key, {}),
                          self.pairs.get(key, {}), self.per_unit.get(key, {}))


def _by_field(counter: Counter) -> dict[tuple[str, str], dict[tuple, int]]:
    out: dict[tuple[str, str], dict[tuple, int]] = defaultdict(dict)
    for key, n in counter.items():
        if n:
            out[(key[0], key[1])][key[2:]] = n
    return out


def _without_categories(filters: ReportFilters) -> ReportFilters:
    return ReportFilters(languages=filters.languages, subsets=filters.subsets,
                         models=filters.models)


# --- serialising ----------------------------------------------------------------------------

def stat_dict(stat: Stat) -> dict[str, Any]:
    value, reason = stat.value, stat.reason
    if value is not None and not isfinite(float(value)):
        value, reason = None, reason or "not a finite number for these data"
    ci95 = None
    if stat.ci95 is not None and value is not None:
        lo, hi = stat.ci95
        if lo is not None and hi is not None and isfinite(float(lo)) and isfinite(float(hi)):
            ci95 = [float(lo), float(hi)]
    return {"value": None if value is None else float(value), "n_units": int(stat.n_units),
            "n_labels": int(stat.n_labels), "reason": reason, "ci95": ci95}


def _undefined(name: str, reason: str, n_units: int = 0, n_labels: int = 0) -> Stat:
    return Stat(name=name, value=None, n_units=n_units, n_labels=n_labels, reason=reason)


def _share(name: str, hits: np.ndarray, n_labels: int, empty_reason: str) -> Stat:
    if len(hits) == 0:
        return _undefined(name, empty_reason, 0, n_labels)
    return Stat(name=name, value=float(np.mean(hits)), n_units=len(hits), n_labels=n_labels)


def _ratio(numerator: int, denominator: int, name: str, n_labels: int, reason: str) -> Stat:
    if denominator == 0:
        return _undefined(name, reason, 0, n_labels)
    return Stat(name=name, value=numerator / denominator, n_units=denominator, n_labels=n_labels)


# --- per field -------------------------------------------------------------------------------

class _FieldData:
    """One field's label counts as arrays.

    `patterns` (slices x categories) and `weights`: how many units of each slice (a set of
    unit attributes, `attributes[i]`) have each pattern of counts; `pair_tables` the joint
    values of every two annotators on the units both labelled; `consensus` per annotator, how
    many units they gave a value on, by the unit's pattern; `unit_counts` the counts of each
    unit (`units`), kept only for the tasks whose judge sections match units one by one."""

    def __init__(self, task: str, field_def: FieldDef, patterns: dict[tuple, int],
                 annotators: dict[tuple, int], pairs: dict[tuple, int],
                 per_unit: dict[str, Counter]) -> None:
        self.task = task
        self.field_def = field_def
        self.categories = [choice.value for choice in field_def.choices]
        index = {value: i for i, value in enumerate(self.categories)}
        n_cat = len(self.categories)
        keys = sorted(patterns)
        self.attributes = [dict(zip(SLICE_FIELDS, key[:-1], strict=True)) for key in keys]
        self.patterns = np.array([summaries.parse_pattern(key[-1]) for key in keys],
                                 dtype=np.int64).reshape(len(keys), n_cat)
        self.weights = np.array([patterns[key] for key in keys], dtype=np.int64)
        self.annotators = sorted({name for name, _, _ in annotators})
        self.consensus: dict[str, list[tuple[int, np.ndarray, int]]] = defaultdict(list)
        for (name, value, pattern), n in sorted(annotators.items()):
            self.consensus[name].append(
                (index[value], np.array(summaries.parse_pattern(pattern)), n))
        self.pair_tables: dict[tuple[str, str], np.ndarray] = {}
        for (a, b, value_a, value_b), n in pairs.items():
            table = self.pair_tables.setdefault((a, b), np.zeros((n_cat, n_cat), np.int64))
            table[index[value_a], index[value_b]] += n
        self.units = sorted(per_unit)
        self.unit_counts = np.zeros((len(self.units), n_cat), dtype=np.int64)
        for i, unit in enumerate(self.units):
            for value, n in per_unit[unit].items():
                self.unit_counts[i, index[value]] = n

    def tally(self, rows: Sequence[int] | None = None) -> agreement.Tally:
        if rows is None:
            return agreement.Tally.of(self.patterns, self.weights)
        return agreement.Tally.of(self.patterns[rows], self.weights[rows])

    @property
    def level(self) -> str:
        if self.task in INTERVAL_TASKS:
            return "interval"
        return "ordinal" if self.task in ORDINAL_TASKS else "nominal"

    @property
    def values(self) -> np.ndarray | None:
        if self.level == "nominal":
            return None
        return np.array([float(c) for c in self.categories])

    @property
    def is_yes_no(self) -> bool:
        return self.categories == ["yes", "no"]

    @property
    def n_units(self) -> int:
        return int(self.weights.sum())

    @property
    def n_labels(self) -> int:
        return int(self.weights @ self.patterns.sum(axis=1))

    def dimensions(self) -> tuple[str, ...]:
        if self.task == TaskKind.PAIRWISE_PREFERENCE:
            return ("language", "model")
        if self.task == TaskKind.RESPONSE_RATING:
            return (*ITEM_DIMENSIONS, "model")
        dims = ITEM_DIMENSIONS
        if self.field_def.per_requirement or self.task == TaskKind.JUDGE_AGREEMENT:
            dims += REQUIREMENT_DIMENSIONS
        if self.task == TaskKind.JUDGE_AGREEMENT:
            dims += ("model",)
        return dims

    def keys_of(self, row: int, dimension: str) -> list[str]:
        """The breakdown keys a slice falls under (a pair falls under both of its models)."""
        attributes = self.attributes[row]
        if dimension == "model" and self.task == TaskKind.PAIRWISE_PREFERENCE:
            return sorted({attributes["model"], attributes["model_b"]})
        return [attributes[dimension]]


def _weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    return float(weights @ values / weights.sum())


def _resolved_yes(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per unit (or pattern), whether the criterion is met after resolution: conservative
    (any "no" fails) and majority (a tie falls back to conservative)."""
    conservative = counts[:, NO] == 0
    majority = agreement.majority(counts)
    by_majority = np.where(majority < 0, conservative, majority == YES)
    return conservative, by_majority


def _field_report(data: _FieldData, *, n_resamples: int, seed: int) -> dict[str, Any]:
    n_labels = data.n_labels
    ratio = {"conservative": None, "majority": None}
    if data.is_yes_no and data.n_units:
        conservative, majority = _resolved_yes(data.patterns)
        ratio = {"conservative": _weighted_mean(conservative, data.weights),
                 "majority": _weighted_mean(majority, data.weights)}
    totals = data.weights @ data.patterns
    prevalence = {c: (float(totals[i] / n_labels) if n_labels else None)
                  for i, c in enumerate(data.categories)}

    summary = agreement.summary(data.tally(), level=data.level, values=data.values,
                                n_resamples=n_resamples, seed=seed)
    stats = {
        "percent_agreement": summary["percent_agreement"],
        "cohen_kappa": _field_cohen(data),
        "fleiss_kappa": summary["fleiss_kappa"],
        "krippendorff_alpha": summary["krippendorff_alpha"],
        "gwet_ac1": summary["gwet_ac1"],
        "brennan_prediger": summary["brennan_prediger"],
    }
    return {
        "task": data.task,
        "field": data.field_def.name,
        "level": data.level,
        "positive": "yes" if data.is_yes_no else None,
        "n_units": data.n_units,
        "n_annotators": len(data.annotators),
        "n_labels": n_labels,
        "ratio": ratio,
        "prevalence": prevalence,
        "stats": {name: stat_dict(stat) for name, stat in stats.items()},
        "pairs": _pairs(data),
        "vs_consensus": _vs_consensus(data),
        "confusion": _confusion(data),
        "breakdowns": {dim: _breakdown(data, dim) for dim in data.dimensions()},
    }


def _pair_table(data: _FieldData, a: str, b: str) -> np.ndarray:
    """Joint values of two annotators on the units both labelled (rows: a's value)."""
    n_cat = len(data.categories)
    return data.pair_tables.get((a, b), np.zeros((n_cat, n_cat), dtype=np.int64))


def _field_cohen(data: _FieldData) -> Stat:
    n = len(data.annotators)
    if n != 2:
        reason = (f"Cohen's kappa needs exactly 2 annotators; this field has {n}"
                  + (" (see the annotator pairs)" if n > 2 else ""))
        return _undefined("cohen_kappa", reason, data.n_units, data.n_labels)
    [(_, kappa)] = agreement.two_rater_tables([_pair_table(data, *data.annotators)])
    return kappa


def _two_rater_entries(tables: list[np.ndarray], empty_reason: str) -> list[tuple[int, dict,
                                                                                    dict]]:
    """(units, percent agreement, Cohen's kappa) of each table, as report entries."""
    if not tables:
        return []
    out = []
    for percent, kappa in agreement.two_rater_tables(np.stack(tables)):
        if percent.n_units == 0:
            percent = _undefined("percent_agreement", empty_reason)
            kappa = _undefined("cohen_kappa", empty_reason)
        out.append((percent.n_units, stat_dict(percent), stat_dict(kappa)))
    return out


def _pairs(data: _FieldData) -> list[dict[str, Any]]:
    pairs = list(combinations(data.annotators, 2))
    entries = _two_rater_entries([_pair_table(data, a, b) for a, b in pairs],
                                 "the two annotators labelled no unit in common")
    return [{"a": a, "b": b, "n_units": n, "percent_agreement": percent, "cohen_kappa": kappa}
            for (a, b), (n, percent, kappa) in zip(pairs, entries, strict=True)]


def _vs_consensus(data: _FieldData) -> list[dict[str, Any]]:
    """Each annotator against the majority of the others on the units they labelled (a tie
    among the others has no majority: those units are left out)."""
    n_cat = len(data.categories)
    tables = []
    for name in data.annotators:
        rows = data.consensus[name]
        own = np.array([value for value, _, _ in rows], dtype=np.int64)
        others = np.array([pattern for _, pattern, _ in rows], dtype=np.int64).reshape(-1, n_cat)
        others[np.arange(len(rows)), own] -= 1
        consensus = agreement.majority(others)
        table = np.zeros((n_cat, n_cat), dtype=np.int64)
        decided = consensus >= 0
        np.add.at(table, (own[decided], consensus[decided]),
                  np.array([n for _, _, n in rows], dtype=np.int64)[decided])
        tables.append(table)
    entries = _two_rater_entries(
        tables, "no unit where this annotator and a majority of the others both gave a label "
                "(a tie among the others has no majority)")
    return [{"annotator": name, "n_units": n, "percent_agreement": percent,
             "cohen_kappa": kappa}
            for name, (n, percent, kappa) in zip(data.annotators, entries, strict=True)]


def _confusion(data: _FieldData) -> dict[str, Any] | None:
    if len(data.annotators) != 2:
        return None
    matrix = _pair_table(data, *data.annotators)
    return {"rows": data.annotators[0], "cols": data.annotators[1],
            "categories": list(data.categories), "matrix": matrix.tolist()}


def _breakdown(data: _FieldData, dimension: str) -> list[dict[str, Any]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for row in range(len(data.attributes)):
        for key in data.keys_of(row, dimension):
            groups[key].append(row)
    out = []
    for key in sorted(groups):
        rows = groups[key]
        tally = data.tally(rows)
        ratio = None
        if data.is_yes_no:
            ratio = _weighted_mean(_resolved_yes(data.patterns[rows])[0], data.weights[rows])
        out.append({
            "key": key,
            "n_units": tally.shape[0],
            "ratio_conservative": ratio,
            "percent_agreement": stat_dict(agreement.percent_agreement(tally)),
            "krippendorff_alpha": stat_dict(agreement.krippendorff_alpha(
                tally, level=data.level, values=data.values)),
            "gwet_ac1": stat_dict(agreement.gwet_ac1(tally)),
        })
    return out


# --- judges ----------------------------------------------------------------------------------

def _by_key(keys: Iterable[str]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        groups[key].append(i)
    return dict(sorted(groups.items()))


def _yes_no_index(values: np.ndarray) -> np.ndarray:
    return np.where(values, YES, NO)


def _judge_requirements(data: _FieldData) -> list[dict[str, Any]]:
    """Table 3: per judge, the share of its decisions the humans confirm (no annotator
    disagrees). Units whose judge decision is unknown (no longer imported) are left out."""
    per_judge: dict[str, list[int]] = defaultdict(list)
    for row, attributes in enumerate(data.attributes):
        if attributes["judge_value"]:
            per_judge[attributes["judge"]].append(row)
    out = []
    for judge, rows in sorted(per_judge.items()):
        weights = data.weights[rows]
        judge_yes = np.array([data.attributes[r]["judge_value"] == "yes" for r in rows])
        confirmed = data.patterns[rows][:, NO] == 0
        labels = data.patterns[rows].sum(axis=1)
        n_units, n_labels = int(weights.sum()), int(weights @ labels)
        human_yes = np.where(confirmed, judge_yes, ~judge_yes)
        tp = int(weights @ (judge_yes & human_yes))
        fp = int(weights @ (judge_yes & ~human_yes))
        fn = int(weights @ (~judge_yes & human_yes))
        precision = _ratio(tp, tp + fp, "precision", n_labels,
                           "the judge said YES to none of these requirements")
        recall = _ratio(tp, tp + fn, "recall", n_labels,
                        "the humans' verdict is NO on every one of these requirements")
        if precision.value is None or recall.value is None:
            f1 = _undefined("f1", "precision or recall is undefined", n_units, n_labels)
        elif precision.value + recall.value == 0:
            f1 = _undefined("f1", "precision and recall are both 0", n_units, n_labels)
        else:
            f1 = Stat(name="f1", value=2 * precision.value * recall.value
                      / (precision.value + recall.value), n_units=n_units, n_labels=n_labels)
        by_language = []
        languages = [data.attributes[r]["language"] for r in rows]
        for language, index in _by_key(languages).items():
            by_language.append({"key": language, "confirmed": stat_dict(_weighted_share(
                "confirmed", confirmed[index], weights[index], int(weights[index] @ labels[index]),
                "no labelled decision"))})
        out.append({
            "judge": judge,
            "n_decisions": n_units,
            "confirmed": stat_dict(_weighted_share("confirmed", confirmed, weights, n_labels,
                                                   "no labelled decision")),
            "by_language": by_language,
            "kappa": stat_dict(agreement.cohen_kappa(
                np.repeat(_yes_no_index(judge_yes), weights),
                np.repeat(_yes_no_index(human_yes), weights), 2)),
            "precision": stat_dict(precision),
            "recall": stat_dict(recall),
            "f1": stat_dict(f1),
        })
    return out


def _weighted_share(name: str, hits: np.ndarray, weights: np.ndarray, n_labels: int,
                    empty_reason: str) -> Stat:
    n_units = int(weights.sum())
    if n_units == 0:
        return _undefined(name, empty_reason, 0, n_labels)
    return Stat(name=name, value=float(weights @ hits / n_units), n_units=n_units,
                n_labels=n_labels)


def _judge_direct_score(benchmark: Benchmark, batch: Batch | None,
                        filters: ReportFilters) -> list[dict[str, Any]]:
    """A direct score above the threshold means "meets every requirement"; the human verdict
    is that every requirement of the response is met, where each requirement's verdict is a
    judge decision reversed when the humans (conservatively) disagree with it. A requirement
    with labelled decisions of several judges is met only if every resolved verdict says so."""
    threshold = float(settings.ACCORD_DIRECT_SCORE_THRESHOLD)
    # A response's requirements count whatever the category filter: all of them decide
    # whether it meets every requirement.
    decisions = requirement_decisions(benchmark=benchmark, filters=_without_categories(filters))
    verdicts = verdict_counts(report_labels(benchmark=benchmark, batch=batch, filters=filters,
                                            apply_categories=False))
    verdict_of = {unit: no == 0 for unit, yes, no in verdicts if yes + no}
    labels_of = {unit: yes + no for unit, yes, no in verdicts}
    # (item id, model) -> requirement id -> met
    met: dict[tuple[int, str], dict[int, bool]] = defaultdict(dict)
    labels_on: dict[tuple[int, str], int] = defaultdict(int)
    for item_key, model, req_key, judge, decision, item_id, req_id, _, _ in decisions:
        unit = judge_unit_key(item_key, model, req_key, judge)
        if unit not in verdict_of:
            continue
        gold = bool(decision) if verdict_of[unit] else not decision
        response = (item_id, model)
        met[response][req_id] = met[response].get(req_id, True) and gold
        labels_on[response] += labels_of[unit]
    if not met:
        return []
    n_requirements = requirements_per_group(benchmark=benchmark)
    per_judge: dict[str, list[tuple[bool, bool, str, int]]] = defaultdict(list)
    touched: set[str] = set()
    for judge, item_id, model, group_id, language, score in direct_scores(
            benchmark=benchmark, filters=filters):
        response = (item_id, model)
        if response not in met:
            continue
        touched.add(judge)
        if len(met[response]) < n_requirements.get(group_id, 0) or not met[response]:
            continue
        per_judge[judge].append((score > threshold, all(met[response].values()), language,
                                 labels_on[response]))
    out = []
    for judge in sorted(touched):
        rows = per_judge.get(judge, [])
        reason = "no response has a human verdict on every one of its requirements"
        judge_meets = np.array([r[0] for r in rows], dtype=bool)
        human_meets = np.array([r[1] for r in rows], dtype=bool)
        n_labels = int(sum(r[3] for r in rows))
        by_language = []
        for language, index in _by_key(r[2] for r in rows).items():
            here = int(sum(rows[i][3] for i in index))
            by_language.append({"key": language, "agreement": stat_dict(_share(
                "agreement", judge_meets[index] == human_meets[index], here, reason))})
        kappa = (agreement.cohen_kappa(_yes_no_index(judge_meets), _yes_no_index(human_meets), 2)
                 if rows else _undefined("cohen_kappa", reason))
        out.append({
            "judge": judge,
            "threshold": threshold,
            "n_responses": len(rows),
            "agreement": stat_dict(_share("agreement", judge_meets == human_meets, n_labels,
                                          reason)),
            "kappa": stat_dict(kappa),
            "by_language": by_language,
        })
    return out


def _judge_pairwise(benchmark: Benchmark, data: _FieldData) -> list[dict[str, Any]]:
    """Pairwise judges against the human majority (pairs where the humans tie are left out).
    A judge that judged both orders is scored on the original order (`swapped` false) for
    accuracy and kappa; `accuracy_both_orders` averages the two orders' accuracies (LLMBar's
    Acc.) and `position_consistency` is the share of pairs with the same verdict in both."""
    gold_index = agreement.majority(data.unit_counts)
    gold = {unit: int(g) for unit, g in zip(data.units, gold_index, strict=True) if g >= 0}
    labels_on = dict(zip(data.units, data.unit_counts.sum(axis=1).tolist(), strict=True))
    index = {value: i for i, value in enumerate(PREFERENCES)}
    verdicts: dict[str, dict[str, dict[bool, int]]] = defaultdict(lambda: defaultdict(dict))
    language_of: dict[str, str] = {}
    for judge, pair, swapped, preference, language in pair_judgments(benchmark=benchmark):
        if pair in labels_on:
            verdicts[judge][pair][swapped] = index[preference]
            language_of[pair] = language
    out = []
    for judge, pairs in sorted(verdicts.items()):
        scored = [p for p in sorted(pairs) if p in gold]
        truth = np.array([gold[p] for p in scored], dtype=np.int64)
        predicted = np.array([pairs[p].get(False, pairs[p].get(True)) for p in scored],
                             dtype=np.int64)
        n_labels = int(sum(labels_on[p] for p in scored))
        no_gold = "no pair has a human majority (ties among the annotators are left out)"
        if scored:
            scores = agreement.classification_scores(truth, predicted, len(PREFERENCES))
            kappa = agreement.cohen_kappa(truth, predicted, len(PREFERENCES))
        else:
            scores = {name: _undefined(name, no_gold) for name in
                      ("accuracy", "macro_precision", "macro_recall", "macro_f1")}
            kappa = _undefined("cohen_kappa", no_gold)
        both = [p for p in scored if False in pairs[p] and True in pairs[p]]
        both_labels = int(sum(labels_on[p] for p in both))
        if both:
            original = np.array([pairs[p][False] for p in both])
            swapped = np.array([pairs[p][True] for p in both])
            expected = np.array([gold[p] for p in both])
            consistency = Stat("position_consistency", float(np.mean(original == swapped)),
                               len(both), both_labels)
            accuracy_both = Stat("accuracy_both_orders",
                                 float((np.mean(original == expected)
                                        + np.mean(swapped == expected)) / 2),
                                 len(both), both_labels)
        else:
            consistency = accuracy_both = None
        by_language = []
        for language, where in _by_key(language_of[p] for p in scored).items():
            here = int(sum(labels_on[scored[i]] for i in where))
            by_language.append({"key": language, "accuracy": stat_dict(_share(
                "accuracy", truth[where] == predicted[where], here, no_gold))})
        out.append({
            "judge": judge,
            "n_pairs": len(scored),
            "accuracy": stat_dict(_with_labels(scores["accuracy"], n_labels)),
            "macro_precision": stat_dict(_with_labels(scores["macro_precision"], n_labels)),
            "macro_recall": stat_dict(_with_labels(scores["macro_recall"], n_labels)),
            "macro_f1": stat_dict(_with_labels(scores["macro_f1"], n_labels)),
            "kappa": stat_dict(kappa),
            "position_consistency": stat_dict(consistency) if consistency else None,
            "accuracy_both_orders": stat_dict(accuracy_both) if accuracy_both else None,
            "by_language": by_language,
        })
    return out


def _with_labels(stat: Stat, n_labels: int) -> Stat:
    """Judge-versus-gold scores count the human labels behind the gold, not the judge's."""
    return Stat(name=stat.name, value=stat.value, n_units=stat.n_units, n_labels=n_labels,
                reason=stat.reason, ci95=stat.ci95)


# --- score judges ----------------------------------------------------------------------------

CORRELATIONS = ("pearson", "spearman", "kendall")
NO_OVERLAP = "no response has both this judge's score and a human rating on this dimension"


def _correlation(x: np.ndarray, y: np.ndarray, method: str, n_labels: int) -> dict[str, Any]:
    if len(x) == 0:
        return stat_dict(_undefined(method, NO_OVERLAP))
    stat = agreement.correlation(x, y, method)
    reason = stat.reason
    if reason and reason.startswith("x is constant"):
        reason = ("the judge gave every one of these responses the same score: "
                  "the correlation is undefined")
    elif reason and reason.startswith("y is constant"):
        reason = ("every one of these responses has the same mean human rating: "
                  "the correlation is undefined")
    return stat_dict(Stat(name=method, value=stat.value, n_units=stat.n_units,
                          n_labels=n_labels if stat.n_units else 0, reason=reason))


def human_means(data: _FieldData) -> dict[str, tuple[float, int]]:
    """Per response unit of a rating field: (mean human rating, number of ratings)."""
    values = data.values
    assert values is not None
    n = data.unit_counts.sum(axis=1)
    sums = data.unit_counts @ values
    return {unit: (float(sums[i] / n[i]), int(n[i]))
            for i, unit in enumerate(data.units) if n[i]}


def _judge_scores(benchmark: Benchmark, field_data: dict[tuple[str, str], _FieldData],
                  filters: ReportFilters) -> list[dict[str, Any]]:
    """Summary-level correlation of each judge's dimension score with the mean human rating
    of the same response on the same dimension (Shen et al. 2023, table 5), over the
    responses having both. Only dimensions the humans rated in this report are listed."""
    rated = {name: human_means(data) for (task, name), data in field_data.items()
             if task == TaskKind.RESPONSE_RATING}
    if not rated:
        return []
    scores: dict[tuple[str, str], list[tuple[float, float, int, str]]] = defaultdict(list)
    judged: set[tuple[str, str]] = set()
    for judge, dimension, item_key, model, language, score in dimension_scores(
            benchmark=benchmark, filters=filters):
        if dimension not in rated:
            continue
        judged.add((judge, dimension))
        found = rated[dimension].get(response_unit_key(item_key, model))
        if found is not None:
            scores[(judge, dimension)].append((float(score), found[0], found[1], language))
    out = []
    for judge, dimension in sorted(judged):
        rows = scores.get((judge, dimension), [])
        x = np.array([r[0] for r in rows], dtype=float)
        y = np.array([r[1] for r in rows], dtype=float)
        n_labels = int(sum(r[2] for r in rows))
        by_language = []
        for language, index in _by_key(r[3] for r in rows).items():
            here = int(sum(rows[i][2] for i in index))
            by_language.append({"key": language,
                                "spearman": _correlation(x[index], y[index], "spearman", here)})
        out.append({
            "judge": judge,
            "dimension": dimension,
            "n_responses": len(rows),
            **{method: _correlation(x, y, method, n_labels) for method in CORRELATIONS},
            "mean_judge": float(x.mean()) if len(rows) else None,
            "mean_human": float(y.mean()) if len(rows) else None,
            "by_language": by_language,
        })
    return out
