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

import gc
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import chain, combinations
from math import isfinite
from operator import itemgetter
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
    with _cycle_collector_paused():
        return _agreement_report(benchmark, batch, filters, n_resamples, seed)


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """A report allocates some 10^5 objects in a burst, none in a reference cycle: left on,
    Python's cycle collector would walk the whole heap once or twice per report (a sixth of
    its time) to free nothing. Reference counting frees everything as usual."""
    if not gc.isenabled():  # paused by the caller (or by a report in another thread)
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _agreement_report(benchmark: Benchmark, batch: Batch | None, filters: ReportFilters,
                      n_resamples: int, seed: int) -> dict[str, Any]:
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


# Histogram rows (task, field, ..., n) by (task, field).
FieldRows = dict[tuple[str, str], list[tuple]]
# (task, field) -> unit -> the values its annotators gave.
PerUnitVotes = dict[tuple[str, str], dict[str, list[str]]]


class _Tallies:
    """A report's label counts, by task and field: the histograms of annotation/summaries.py,
    either read from the maintained tables or computed from some labels on the fly, as rows
    (task, field, ..., n) in the shapes of summaries.pattern_rows, annotator_rows and
    pair_rows (a pair's two annotators in either order, named by the key that ends each of
    their annotator rows)."""

    def __init__(self, patterns: FieldRows, annotators: FieldRows, pairs: FieldRows,
                 per_unit: PerUnitVotes) -> None:
        self.patterns, self.annotators, self.pairs = patterns, annotators, pairs
        self.per_unit = per_unit

    @classmethod
    def from_summaries(cls, benchmark: Benchmark) -> _Tallies:
        per_unit: PerUnitVotes = defaultdict(dict)
        for task, unit, votes in summaries.unit_votes(benchmark, PER_UNIT_TASKS):
            for field, by_annotator in votes.items():
                per_unit[(task, field)][unit] = list(by_annotator.values())
        return cls(_by_field(summaries.pattern_rows(benchmark)),
                   _by_field(summaries.annotator_rows(benchmark)),
                   _by_field(summaries.pair_rows(benchmark)), per_unit)

    @classmethod
    def from_labels(cls, labels: QuerySet, benchmark: Benchmark) -> _Tallies:
        states = summaries.states_from_labels(labels, annotator="annotator__username",
                                              benchmark=benchmark)
        total: Counter = Counter()
        per_unit: PerUnitVotes = defaultdict(dict)
        for (task, unit), state in states.items():
            total.update(summaries.contributions(task, state.attributes, state.votes))
            if task in PER_UNIT_TASKS:
                for field, by_annotator in state.votes.items():
                    per_unit[(task, field)][unit] = list(by_annotator.values())
        rows: dict[str, list[tuple]] = defaultdict(list)
        for (kind, *key), n in total.items():
            if n:
                # Here the annotators are named by username in pairs too.
                rows[kind].append((*key, n, key[2]) if kind == "annotator" else (*key, n))
        return cls(_by_field(rows["pattern"]), _by_field(rows["annotator"]),
                   _by_field(rows["pair"]), per_unit)

    def fields(self) -> list[tuple[str, str]]:
        return list(self.patterns)

    def field_data(self, task: str, field_def: FieldDef) -> _FieldData | None:
        key = (task, field_def.name)
        if key not in self.patterns:
            return None
        return _FieldData(task, field_def, self.patterns[key], self.annotators.get(key, []),
                          self.pairs.get(key, []), self.per_unit.get(key, {}))


def _by_field(rows: Iterable[tuple]) -> FieldRows:
    """Histogram rows (task, field, ..., n) grouped by (task, field)."""
    # Task by task, then field by field: no (task, field) key to build per row.
    by_task: dict[str, dict[str, list[tuple]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        by_task[row[0]][row[1]].append(row)
    return {(task, field): field_rows for task, by_field in by_task.items()
            for field, field_rows in by_field.items()}


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

    The field's slices (sets of unit attributes, see `slice_keys`): `patterns[i]` a pattern
    of counts (one per category) and `weights[i]` how many units of slice i have it.
    `pair_tables[p]` holds the joint values of the p-th annotator pair (in
    `combinations(annotators, 2)` order) on the units both labelled. The consensus rows say
    how many units (`consensus_units`) annotator `consensus_annotator` gave value
    `consensus_value` on, by the unit's pattern `consensus_pattern`. `unit_counts` holds the
    counts of each unit (`units`), kept only for the tasks whose judge sections match units
    one by one."""

    def __init__(self, task: str, field_def: FieldDef, pattern_rows: list[tuple],
                 annotator_rows: list[tuple], pair_rows: list[tuple],
                 per_unit: dict[str, list[str]]) -> None:
        self.task = task
        self.field_def = field_def
        self.categories = [choice.value for choice in field_def.choices]
        index = {value: i for i, value in enumerate(self.categories)}
        n_cat = len(self.categories)

        # Pattern rows: (task, field, *SLICE_FIELDS, pattern, n).
        self._slice_rows = pattern_rows
        self._slice_keys: dict[str, tuple[list[str], np.ndarray]] = {}
        self.patterns = _parse_patterns(_column(pattern_rows, -2), n_cat)
        self.weights = _integers(pattern_rows, -1)
        self.distinct_patterns, self.pattern_index = agreement.distinct_patterns(self.patterns)

        # Annotator rows: (task, field, annotator, value, pattern, n, the annotator's key in
        # pair rows).
        names = _column(annotator_rows, 2)
        self.annotators = sorted(set(names))
        position = {name: i for i, name in enumerate(self.annotators)}
        self.consensus_annotator = _positions(position, names)
        self.consensus_value = _positions(index, _column(annotator_rows, 3))
        self.consensus_pattern = _parse_patterns(_column(annotator_rows, 4), n_cat)
        self.consensus_units = _integers(annotator_rows, 5)

        # Pair rows: (task, field, key a, key b, value a, value b, n).
        n = len(self.annotators)
        self.pair_tables = np.zeros((n * (n - 1) // 2, n_cat, n_cat), dtype=np.int64)
        key_position = {key: position[name]
                        for key, name in zip(_column(annotator_rows, 6), names, strict=True)}
        a = _positions(key_position, _column(pair_rows, 2))
        b = _positions(key_position, _column(pair_rows, 3))
        value_a = _positions(index, _column(pair_rows, 4))
        value_b = _positions(index, _column(pair_rows, 5))
        # Summaries store a pair in the order of the annotators' ids; reports by name.
        swap = a > b
        first, second = np.where(swap, b, a), np.where(swap, a, b)
        value_first = np.where(swap, value_b, value_a)
        value_second = np.where(swap, value_a, value_b)
        # The pair's place in combinations order: pairs (i, j > i) of the earlier i come first.
        pair = first * n - first * (first + 1) // 2 + second - first - 1
        np.add.at(self.pair_tables, (pair, value_first, value_second),
                  _integers(pair_rows, 6))

        self.units = sorted(per_unit)
        votes = [per_unit[unit] for unit in self.units]
        self.unit_counts = np.zeros((len(self.units), n_cat), dtype=np.int64)
        np.add.at(self.unit_counts, (np.repeat(np.arange(len(votes)), list(map(len, votes))),
                                     _positions(index, list(chain.from_iterable(votes)))), 1)

    def tally(self) -> agreement.Tally:
        return agreement.Tally.of(self.patterns, self.weights)

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

    def slice_keys(self, attribute: str) -> tuple[list[str], np.ndarray]:
        """The distinct values of a slice attribute (one of SLICE_FIELDS), sorted, and the
        position of each slice's value among them."""
        if attribute not in self._slice_keys:
            column = _column(self._slice_rows, 2 + SLICE_FIELDS.index(attribute))
            self._slice_keys[attribute] = _key_codes(column)
        return self._slice_keys[attribute]

    def breakdown_units(self, dimension: str) -> tuple[list[str], np.ndarray]:
        """The keys of a breakdown, sorted, and how many units of each key have each distinct
        pattern (keys x distinct_patterns). A pair falls under both of its models."""
        if dimension == "model" and self.task == TaskKind.PAIRWISE_PREFERENCE:
            keys_a, codes_a = self.slice_keys("model")
            keys_b, codes_b = self.slice_keys("model_b")
            keys = sorted(set(keys_a) | set(keys_b))
            position = {key: i for i, key in enumerate(keys)}
            model_a = _positions(position, keys_a)[codes_a]
            model_b = _positions(position, keys_b)[codes_b]
            # A pair of a model with itself counts once under it.
            second = np.flatnonzero(model_a != model_b)
            rows = np.concatenate([np.arange(len(model_a)), second])
            codes = np.concatenate([model_a, model_b[second]])
        else:
            keys, codes = self.slice_keys(dimension)
            rows = np.arange(len(codes))
        units = np.zeros((len(keys), len(self.distinct_patterns)), dtype=np.int64)
        np.add.at(units, (codes, self.pattern_index[rows]), self.weights[rows])
        return keys, units


def _column(rows: list[tuple], index: int) -> list:
    """One column of histogram rows."""
    # Not zip(*rows): it would hold one live iterator per row, enough objects to set off full
    # garbage collections.
    return list(map(itemgetter(index), rows))


def _integers(rows: list[tuple], index: int) -> np.ndarray:
    """One integer column of histogram rows, as an array."""
    return np.fromiter(map(itemgetter(index), rows), dtype=np.int64, count=len(rows))


def _parse_patterns(patterns: Sequence[str], n_categories: int) -> np.ndarray:
    """Stored patterns ("2,0,1") as a (rows x categories) matrix, each distinct one parsed
    once."""
    distinct = {pattern: i for i, pattern in enumerate(set(patterns))}
    parsed = np.array([summaries.parse_pattern(pattern) for pattern in distinct],
                      dtype=np.int64).reshape(len(distinct), n_categories)
    return parsed[_positions(distinct, patterns)]


def _key_codes(values: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """The distinct values sorted, and the position of each value among them."""
    keys = sorted(set(values))
    return keys, _positions({key: i for i, key in enumerate(keys)}, values)


def _positions(position: dict[Any, int], values: Sequence) -> np.ndarray:
    """The position of each value (an index array)."""
    return np.fromiter(map(position.__getitem__, values), dtype=np.intp, count=len(values))


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
        "breakdowns": _breakdowns(data),
    }


def _field_cohen(data: _FieldData) -> Stat:
    n = len(data.annotators)
    if n != 2:
        reason = (f"Cohen's kappa needs exactly 2 annotators; this field has {n}"
                  + (" (see the annotator pairs)" if n > 2 else ""))
        return _undefined("cohen_kappa", reason, data.n_units, data.n_labels)
    [(_, kappa)] = agreement.two_rater_tables(data.pair_tables)
    return kappa


def _two_rater_entries(tables: np.ndarray, empty_reason: str) -> list[tuple[int, dict, dict]]:
    """(units, percent agreement, Cohen's kappa) of each table, as report entries: what
    stat_dict gives on agreement.two_rater_tables, built straight from the numbers (a report
    has thousands of annotator pairs)."""
    undefined = {"value": None, "n_units": 0, "n_labels": 0, "reason": empty_reason,
                 "ci95": None}
    chance_is_one = agreement.REASON_KAPPA_CHANCE_IS_ONE
    return [
        (n, {"value": percent, "n_units": n, "n_labels": 2 * n, "reason": None, "ci95": None},
         {"value": kappa, "n_units": n, "n_labels": 2 * n,
          "reason": None if kappa is not None else chance_is_one, "ci95": None})
        if n else (0, dict(undefined), dict(undefined))
        for n, percent, kappa in zip(*agreement.two_rater_figures(tables), strict=True)]


def _pairs(data: _FieldData) -> list[dict[str, Any]]:
    pairs = list(combinations(data.annotators, 2))
    entries = _two_rater_entries(data.pair_tables,
                                 "the two annotators labelled no unit in common")
    return [{"a": a, "b": b, "n_units": n, "percent_agreement": percent, "cohen_kappa": kappa}
            for (a, b), (n, percent, kappa) in zip(pairs, entries, strict=True)]


def _vs_consensus(data: _FieldData) -> list[dict[str, Any]]:
    """Each annotator against the majority of the others on the units they labelled (a tie
    among the others has no majority: those units are left out)."""
    n_cat = len(data.categories)
    own = data.consensus_value
    others = data.consensus_pattern.copy()
    others[np.arange(len(own)), own] -= 1
    consensus = agreement.majority(others)
    decided = consensus >= 0
    tables = np.zeros((len(data.annotators), n_cat, n_cat), dtype=np.int64)
    np.add.at(tables, (data.consensus_annotator[decided], own[decided], consensus[decided]),
              data.consensus_units[decided])
    entries = _two_rater_entries(
        tables, "no unit where this annotator and a majority of the others both gave a label "
                "(a tie among the others has no majority)")
    return [{"annotator": name, "n_units": n, "percent_agreement": percent,
             "cohen_kappa": kappa}
            for name, (n, percent, kappa) in zip(data.annotators, entries, strict=True)]


def _confusion(data: _FieldData) -> dict[str, Any] | None:
    if len(data.annotators) != 2:
        return None
    [matrix] = data.pair_tables
    return {"rows": data.annotators[0], "cols": data.annotators[1],
            "categories": list(data.categories), "matrix": matrix.tolist()}


def _breakdowns(data: _FieldData) -> dict[str, list[dict[str, Any]]]:
    """Per dimension, the units, conservative ratio and coefficients of each key; the cells
    of every dimension computed at once."""
    dimensions = data.dimensions()
    breakdowns = [data.breakdown_units(dimension) for dimension in dimensions]
    units = np.vstack([key_units for _, key_units in breakdowns])
    n_units = units.sum(axis=1).tolist()
    ratios: list[float | None] = [None] * len(units)
    if data.is_yes_no:
        conservative, _ = _resolved_yes(data.distinct_patterns)
        ratios = [met / n for met, n in zip((units @ conservative).tolist(), n_units,
                                            strict=True)]
    coefficients = agreement.grouped_coefficients(data.distinct_patterns, units,
                                                  level=data.level, values=data.values)
    keys = [key for dimension_keys, _ in breakdowns for key in dimension_keys]
    cells = [{
        "key": key,
        "n_units": n,
        "ratio_conservative": ratio,
        "percent_agreement": stat_dict(stats["percent_agreement"]),
        "krippendorff_alpha": stat_dict(stats["krippendorff_alpha"]),
        "gwet_ac1": stat_dict(stats["gwet_ac1"]),
    } for key, n, ratio, stats in zip(keys, n_units, ratios, coefficients, strict=True)]
    out, start = {}, 0
    for dimension, (dimension_keys, _) in zip(dimensions, breakdowns, strict=True):
        out[dimension] = cells[start:start + len(dimension_keys)]
        start += len(dimension_keys)
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
    judge_values, judge_value_codes = data.slice_keys("judge_value")
    decided = np.array([bool(value) for value in judge_values], dtype=bool)[judge_value_codes]
    judge_said_yes = np.array([value == "yes" for value in judge_values],
                              dtype=bool)[judge_value_codes]
    judges, judge_codes = data.slice_keys("judge")
    languages, language_codes = data.slice_keys("language")
    out = []
    for code, judge in enumerate(judges):
        rows = np.flatnonzero(decided & (judge_codes == code))
        if not len(rows):
            continue
        weights = data.weights[rows]
        judge_yes = judge_said_yes[rows]
        confirmed = data.patterns[rows, NO] == 0
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
        per_language = [_sums_by(language_codes[rows], len(languages), values)
                        for values in (weights, weights * confirmed, weights * labels)]
        for language, units, confirmed_units, language_labels in zip(
                languages, *per_language, strict=True):
            if units:
                by_language.append({"key": language, "confirmed": stat_dict(Stat(
                    "confirmed", confirmed_units / units, units, language_labels))})
        table = np.zeros((1, 2, 2), dtype=np.int64)
        np.add.at(table, (0, _yes_no_index(judge_yes), _yes_no_index(human_yes)), weights)
        [(_, kappa)] = agreement.two_rater_tables(table)
        out.append({
            "judge": judge,
            "n_decisions": n_units,
            "confirmed": stat_dict(_weighted_share("confirmed", confirmed, weights, n_labels,
                                                   "no labelled decision")),
            "by_language": by_language,
            "kappa": stat_dict(kappa),
            "precision": stat_dict(precision),
            "recall": stat_dict(recall),
            "f1": stat_dict(f1),
        })
    return out


def _sums_by(codes: np.ndarray, n_keys: int, values: np.ndarray) -> list[int]:
    """The sum of the (integer) values of each key."""
    sums = np.zeros(n_keys, dtype=np.int64)
    np.add.at(sums, codes, values)
    return sums.tolist()


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
