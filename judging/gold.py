"""Gold export (spec section 6): the humans' resolved labels back into the benchmark.

`export_gold` writes, into one directory, the benchmark without its rejected groups (each line
tagged with `human_annotation_tags`), the removed groups, the judge's requirement decisions
with the gold decision beside each, every human label (format 4), the agreement report and
the benchmark's scores (RFR, IFR) from the judge's decisions and from gold; every table also
as Parquet. `score_rows` is the scores table alone (the score-shift page).

Resolution (spec section 6). Instruction-level fields (`instruction_validation`) are resolved
per group, over the labels on all of the group's items, so a group labelled only on its zh
line is decided by the zh labels; every other field per unit.
- `conservative` (the XIFBench rule): the failing value ("no") wins if any annotator gave it;
  for judge agreement, one "disagree" reverses the judge's decision.
- `majority`: the most common value; a tie falls back to conservative.
An admin's adjudication (the latest row per task, unit and field; for instruction-level
fields the unit is the group's key) overrides both.

Streaming: labels are never loaded as a list. Instruction-level values come as GROUP BY
counts ordered by group and field and are resolved one group at a time; judgments stream in
item order, and only the kept ones' decisions are read, a chunk at a time, each with its
human verdict counted in the database (correlated subqueries). What stays in memory is one small
dict per labelled group, the set of removed groups and one accumulator per language, model
and judge. The Dawid-Skene report (`resolution_models.json`) is an EM fit that needs
all labels of a yes/no field at once: it keeps them as three int codes per label (numpy),
never as rows of strings.

Output is written into a temporary directory beside `out_dir` and renamed at the end, so a
failed export leaves nothing half-written.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from array import array
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import reduce
from itertools import groupby, islice
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from django.db.models import (
    CharField,
    Count,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Concat

from annotation.models import Adjudication, Benchmark, Group, Item, Label, Requirement, TaskKind
from annotation.tasks import TASKS

from .models import JudgeDecision, Judgment, Protocol
from .reports import agreement_report

STRATEGIES = ("conservative", "majority")
# Reported beside the strategies in resolution_models.json, never used to build the gold.
REPORTED_MODELS = ("dawid_skene",)
FAILING = "no"
INSTRUCTION_TASK = str(TaskKind.INSTRUCTION_VALIDATION)
INSTRUCTION_FIELDS = tuple(f.name for f in TASKS[TaskKind.INSTRUCTION_VALIDATION].fields)
# A group is rejected when one of these resolves to "no" (cultural_accessibility only tags).
REJECTING_FIELDS = ("clarity", "linguistic_independence", "max_constraints",
                    "max_content_constraints")
JUDGE_TASK = str(TaskKind.JUDGE_AGREEMENT)
SCORE_COLUMNS = ("language", "model", "judge", "n_instructions", "n_requirements",
                 "rfr_judge", "rfr_gold", "ifr_judge", "ifr_gold")
LABEL_COLUMNS = ("task", "unit", "annotator", "field", "value", "note")
CHUNK = 2000
# Below SQLite's limit on query parameters for `__in` lists.
IN_CHUNK = 500

Progress = Callable[[str, int, int], None]


class GoldExportError(ValueError):
    """The export was refused before anything was written; the message says why."""


@dataclass(frozen=True)
class ExportSummary:
    out_dir: Path
    files: dict[str, int]  # file name -> rows written
    removed_groups: int
    strategy: str


# --- resolution (pure) -----------------------------------------------------------------------

def _check_strategy(strategy: str) -> None:
    if strategy not in STRATEGIES:
        raise GoldExportError(f"unknown strategy {strategy!r}; one of {', '.join(STRATEGIES)}")


def resolve_counts(counts: Mapping[str, int], strategy: str, *,
                   failing: str = FAILING) -> str | None:
    """The resolved value of one field of one unit from its value counts (None: no label).

    Conservative: `failing` if any label is failing; otherwise the most common value (ties:
    the smallest, which for yes/no fields is never reached, every label being "yes").
    Majority: the most common value; a tie falls back to conservative."""
    _check_strategy(strategy)
    present = {value: n for value, n in counts.items() if n > 0}
    if not present:
        return None
    top = max(present.values())
    leaders = sorted(value for value, n in present.items() if n == top)
    conservative = failing if failing in present else leaders[0]
    if strategy == "conservative" or len(leaders) > 1:
        return conservative
    return leaders[0]


def resolve_field(values: Sequence[str], strategy: str, *, failing: str = FAILING) -> str | None:
    """The resolved value of a field from its labels' values (see `resolve_counts`)."""
    return resolve_counts(Counter(values), strategy, failing=failing)


# --- groups: values, tags, rejection ---------------------------------------------------------

@dataclass(frozen=True)
class Removal:
    group: str
    reason: str
    via_seed: str | None


@dataclass
class GroupResolution:
    """Resolved instruction-level values of the labelled (or adjudicated) groups and the
    groups the rejection rule removes, roots first, then down the seed chains."""

    values: dict[str, dict[str, str]]
    removed: list[Removal] = field(default_factory=list)

    @property
    def removed_keys(self) -> set[str]:
        return {r.group for r in self.removed}

    def tags(self, group: str) -> dict[str, bool]:
        values = self.values.get(group, {})
        return {name: values[name] == "yes" for name in INSTRUCTION_FIELDS if name in values}


def _latest_adjudications(benchmark: Benchmark, task: str) -> dict[tuple[str, str], str]:
    """(unit, field) -> the latest adjudicated value (rows in creation order: last wins)."""
    latest: dict[tuple[str, str], str] = {}
    rows = (Adjudication.objects.filter(benchmark=benchmark, task=task)
            .order_by("created_at", "id").values_list("unit", "field", "value"))
    for unit, field_name, value in rows.iterator(chunk_size=CHUNK):
        latest[(unit, field_name)] = value
    return latest


def resolve_groups(*, benchmark: Benchmark, strategy: str) -> GroupResolution:
    """Instruction-level values per group (labels of all the group's items, then the
    adjudications) and the removed groups (the rejection rule and the seed chains)."""
    _check_strategy(strategy)
    counts = (Label.objects.filter(benchmark=benchmark, task=INSTRUCTION_TASK,
                                   item__isnull=False)
              .order_by("item__group__key", "field")
              .values("item__group__key", "field", "value").annotate(n=Count("id"))
              .values_list("item__group__key", "field", "value", "n"))
    values: dict[str, dict[str, str]] = {}
    for (group, field_name), rows in groupby(counts.iterator(chunk_size=CHUNK),
                                             key=lambda r: (r[0], r[1])):
        resolved = resolve_counts({value: n for _, _, value, n in rows}, strategy)
        if resolved is not None:
            values.setdefault(group, {})[field_name] = resolved
    for (group, field_name), value in _latest_adjudications(benchmark, INSTRUCTION_TASK).items():
        values.setdefault(group, {})[field_name] = value

    resolution = GroupResolution(values=values)
    roots: dict[str, str] = {}
    for group in sorted(values):
        failed = next((f for f in REJECTING_FIELDS if values[group].get(f) == FAILING), None)
        if failed is not None:
            roots[group] = failed
    resolution.removed = [Removal(group, reason, None) for group, reason in roots.items()]
    reasons = dict(roots)
    frontier = list(roots)
    while frontier:
        following: list[str] = []
        for start in range(0, len(frontier), IN_CHUNK):
            children = (Group.objects.filter(benchmark=benchmark,
                                             seed_key__in=frontier[start:start + IN_CHUNK])
                        .order_by("seed_key", "key").values_list("key", "seed_key"))
            for child, seed in children:
                if child in reasons:
                    continue  # a root itself, or reached already (a cycle of seeds)
                reasons[child] = reasons[seed]
                resolution.removed.append(Removal(child, reasons[seed], seed))
                following.append(child)
        frontier = following
    return resolution


# --- judge decisions with their human verdicts ------------------------------------------------

@dataclass(frozen=True)
class GoldDecision:
    requirement: str
    judge_decision: bool
    gold_decision: bool
    source: str  # "human" where a resolved human verdict exists, else "judge"


@dataclass(frozen=True)
class JudgedItem:
    item: str
    language: str
    group: str
    model: str
    judge: str
    decisions: list[GoldDecision]


def _count_of(labels: Any, value: str) -> Coalesce:
    # The field and value are conditions of the count, not of the WHERE clause: filtered on
    # (benchmark, task, field), SQLite's planner (without ANALYZE statistics) picks the
    # (benchmark, task, field) index and scans every judge label for every decision.
    # Filtered on (benchmark, task, unit) only the unique index fits: one seek per decision.
    return Coalesce(Subquery(labels.order_by().values("unit")
                             .annotate(n=Count("id", filter=Q(field="agree", value=value)))
                             .values("n")[:1]),
                    Value(0), output_field=IntegerField())


def judged_items(*, benchmark: Benchmark, strategy: str,
                 removed: set[str] | frozenset[str] = frozenset()) -> Iterator[JudgedItem]:
    """Every requirement-protocol judgment of the items outside `removed` groups, in item
    order, with its decisions and their gold values. Each decision's human verdict is counted
    in the database (a correlated subquery on its judge-agreement unit), with the latest
    adjudication beside it; nothing is collected over the benchmark."""
    _check_strategy(strategy)
    judgments = (
        Judgment.objects.filter(protocol=Protocol.REQUIREMENTS,
                                response__item__benchmark=benchmark)
        .order_by("response__item__line_number", "response__item_id", "id")
        .values_list("id", "response__item__key", "response__item__language",
                     "response__item__group__key", "response__model", "judge"))
    for (_, item, language, group, model, judge), decisions in _with_decisions(
            judgments, benchmark, removed):
        out = []
        for requirement, decision, n_yes, n_no, adjudication in decisions:
            verdict = adjudication or resolve_counts({"yes": n_yes, "no": n_no}, strategy)
            decision = bool(decision)
            out.append(GoldDecision(
                requirement=requirement, judge_decision=decision,
                gold_decision=decision if verdict in (None, "yes") else not decision,
                source="judge" if verdict is None else "human"))
        yield JudgedItem(item=item, language=language, group=group, model=model, judge=judge,
                         decisions=out)


def _with_decisions(judgments: QuerySet, benchmark: Benchmark,
                    removed: set[str] | frozenset[str]
                    ) -> Iterator[tuple[tuple, list[tuple]]]:
    """Each judgment row outside `removed` groups with its decisions in requirement order:
    (requirement key, decision, "yes" labels, "no" labels, latest adjudicated verdict).

    A decision's verdict subqueries are the costliest per-row work. While most groups are
    kept (the usual case), one stream of every decision runs beside the judgments, in the same
    order, merged on the judgment id. When most are removed, only the kept judgments'
    decisions are read, IN_CHUNK judgments at a time (the chunked reads cost ~20% more
    per decision, so they only pay when they skip most of them)."""
    rows = judgments.iterator(chunk_size=CHUNK)
    if len(removed) * 2 < Group.objects.filter(benchmark=benchmark).count():
        stream = (_decisions(benchmark)
                  .filter(judgment__protocol=Protocol.REQUIREMENTS,
                          judgment__response__item__benchmark=benchmark)
                  .order_by("judgment__response__item__line_number",
                            "judgment__response__item_id", "judgment_id",
                            "requirement__position", "requirement_id")
                  .iterator(chunk_size=CHUNK))
        pending = next(stream, None)
        for row in rows:
            found = []
            while pending is not None and pending[0] == row[0]:
                found.append(pending[1:])
                pending = next(stream, None)
            if row[3] not in removed:
                yield row, found
        return
    kept = (row for row in rows if row[3] not in removed)
    for chunk in _batched(kept, IN_CHUNK):
        found: dict[int, list[tuple]] = defaultdict(list)
        for judgment_id, *decision in (_decisions(benchmark)
                                       .filter(judgment_id__in=[row[0] for row in chunk])
                                       .order_by("judgment_id", "requirement__position",
                                                 "requirement_id")):
            found[judgment_id].append(tuple(decision))
        for row in chunk:
            yield row, found.get(row[0], [])


def _decisions(benchmark: Benchmark) -> QuerySet:
    """Judge decisions as (judgment id, requirement key, decision, "yes" labels, "no" labels,
    the latest adjudicated verdict or None); filter and order them."""
    unit = Concat(F("judgment__response__item__key"), Value("|"), F("judgment__response__model"),
                  Value("|"), F("requirement__key"), Value("|"), F("judgment__judge"),
                  output_field=CharField())
    labels = Label.objects.filter(benchmark=benchmark, task=JUDGE_TASK, unit=OuterRef("unit_key"))
    adjudicated = Subquery(
        Adjudication.objects.filter(benchmark=benchmark, task=JUDGE_TASK, field="agree",
                                    unit=OuterRef("unit_key"))
        .order_by("-created_at", "-id").values("value")[:1])
    return (JudgeDecision.objects.annotate(unit_key=unit)
            .annotate(n_yes=_count_of(labels, "yes"), n_no=_count_of(labels, "no"),
                      adjudicated=adjudicated)
            .values_list("judgment_id", "requirement__key", "decision", "n_yes", "n_no",
                         "adjudicated"))


class _Scores:
    """RFR and IFR per language, model and judge, from the judge's decisions and from gold."""

    def __init__(self) -> None:
        # [instructions, requirements, satisfied judge, satisfied gold, all judge, all gold]
        self.cells: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0] * 6)

    def add(self, judged: JudgedItem) -> None:
        cell = self.cells[(judged.language, judged.model, judged.judge)]
        judge = sum(d.judge_decision for d in judged.decisions)
        gold = sum(d.gold_decision for d in judged.decisions)
        n = len(judged.decisions)
        cell[0] += 1
        cell[1] += n
        cell[2] += judge
        cell[3] += gold
        cell[4] += judge == n
        cell[5] += gold == n

    def rows(self) -> list[dict]:
        out = []
        for (language, model, judge), c in sorted(self.cells.items()):
            out.append({
                "language": language, "model": model, "judge": judge,
                "n_instructions": c[0], "n_requirements": c[1],
                "rfr_judge": c[2] / c[1] if c[1] else None,
                "rfr_gold": c[3] / c[1] if c[1] else None,
                "ifr_judge": c[4] / c[0] if c[0] else None,
                "ifr_gold": c[5] / c[0] if c[0] else None,
            })
        return out


def score_rows(*, benchmark: Benchmark, strategy: str = "conservative") -> list[dict]:
    """The rows of scores.csv: per language, model and judge, over the items the export
    keeps, RFR (satisfied requirements / requirements) and IFR (instructions with every
    requirement satisfied / instructions), from the judge's decisions and from gold."""
    resolution = resolve_groups(benchmark=benchmark, strategy=strategy)
    scores = _Scores()
    for judged in judged_items(benchmark=benchmark, strategy=strategy,
                               removed=resolution.removed_keys):
        scores.add(judged)
    return scores.rows()


# --- Dawid-Skene, reported beside the strategies ---------------------------------------------

# Clip of probabilities and error rates, as crowd-kit's DawidSkene has it.
DS_EPS = 1e-10
DS_ITERATIONS = 100
DS_TOLERANCE = 1e-5
DS_LIBRARY = f"numpy {np.__version__}, the steps of crowd-kit's DawidSkene"


def dawid_skene(tasks: np.ndarray, workers: np.ndarray, labels: np.ndarray, *,
                n_tasks: int, n_workers: int, n_labels: int) -> np.ndarray:
    """Dawid-Skene EM over int-coded labels (one row per label: task, worker and label codes,
    each 0..n-1); the tasks' label probabilities, shape (n_tasks, n_labels).

    The steps of crowd-kit's `DawidSkene` (1.4: majority-vote start, log2 E-step, errors
    clipped and normalised per worker over the labels that worker gave, the same evidence
    lower bound and tolerance), on numpy arrays: crowd-kit's pandas frames of strings cost
    hundreds of MB at a million labels and its import alone ~100 MB. The tests hold the
    two to the same results.

    Memory: one float per label (`weights`, refilled by every gather) and two (n_tasks,
    n_labels) tables, reused by every iteration (computed in place, with the same floating
    point operations in the same order as the plain expressions, so the same bits)."""
    pairs = workers * n_labels + labels
    given = (np.bincount(pairs, minlength=n_workers * n_labels) > 0).reshape(
        n_workers, n_labels, 1)
    counts = np.bincount(tasks * n_labels + labels, minlength=n_tasks * n_labels)
    probas = counts.reshape(n_tasks, n_labels).astype(float)
    del counts
    probas /= probas.sum(axis=1, keepdims=True)
    # The per-label gathers go into this buffer ("clip": the codes are in range, and an
    # out= take in the default "raise" mode buffers a copy anyway).
    weights = np.empty(len(tasks))

    def expected_counts(probas: np.ndarray) -> np.ndarray:
        """[worker, given label, true label]: the sum of the true label's probability over
        the tasks where the worker gave that label."""
        return np.stack([np.bincount(pairs, weights=probas[:, k].take(tasks, out=weights,
                                                                        mode="clip"),
                                     minlength=n_workers * n_labels)
                         for k in range(n_labels)], axis=1).reshape(n_workers, n_labels,
                                                                    n_labels)

    def m_step(counts: np.ndarray) -> np.ndarray:
        errors = np.where(given, np.maximum(counts, DS_EPS), 0.0)
        # 0/0 only in the rows of a worker with no label on this field: rows no label reads.
        with np.errstate(invalid="ignore"):
            return errors / errors.sum(axis=1, keepdims=True)

    rows_per_task = np.bincount(tasks, minlength=n_tasks)
    priors = probas.mean(axis=0)
    errors = m_step(expected_counts(probas))
    loss = -np.inf
    # The E-step's table (its log-likelihoods become the new probabilities in place) and
    # the entropy's; both C-ordered like the arrays they stand for, so reductions over
    # them add in the same order.
    table = np.empty((n_tasks, n_labels))
    spare = probas  # the start's probabilities are not read again
    with np.errstate(divide="ignore"):  # log of a label a worker never gave: never read
        for _ in range(DS_ITERATIONS):
            # Rows (worker, given label) of the error table, gathered by `pairs`: the same
            # values as indexing by worker and label, without a 2-D fancy index per label.
            log2_errors = np.log2(errors).reshape(n_workers * n_labels, n_labels)
            for k in range(n_labels):
                table[:, k] = np.bincount(
                    tasks, weights=log2_errors[:, k].take(pairs, out=weights, mode="clip"),
                    minlength=n_tasks)
            table += np.log2(np.maximum(priors, DS_EPS))  # log2 priors + sums, per task
            # The row maximum column by column: max over a 2-wide axis is numpy's slow case.
            top = reduce(np.maximum, (table[:, k] for k in range(n_labels)))
            table -= top[:, None]
            del top
            probas = np.exp2(table, out=table)
            probas /= probas.sum(axis=1, keepdims=True)
            priors = probas.mean(axis=0)
            counts = expected_counts(probas)
            errors = m_step(counts)
            # The expected joint log-likelihood over every label, from the same sums as
            # the M-step rather than another pass over the labels.
            log_errors = np.where(given, np.log(np.where(given, errors, 1.0)), 0.0)
            expectation = float((counts * log_errors).sum()) + float(
                np.log(np.maximum(priors, DS_EPS)) @ (rows_per_task @ probas))
            probas = np.maximum(probas, DS_EPS, out=probas)
            np.log(probas, out=spare)
            spare *= probas
            entropy = -float(spare.sum())
            new_loss = (expectation + entropy) / len(tasks)
            if new_loss - loss < DS_TOLERANCE:
                break
            loss = new_loss
    return probas


class _FieldCodes:
    """One yes/no field's labels as int codes, filled in (task, unit) order: a unit's code
    is the next one whenever its unit changes, so no table of unit names is kept."""

    def __init__(self) -> None:
        self.tasks = array("i")
        self.workers = array("i")
        self.labels = array("i")
        self.last_unit: object = None
        self.n_units = 0
        self.unit_codes: dict[int, int] = {}  # group id -> code (instruction-level fields)
        self.values: dict[str, int] = {}

    def add_unit(self, unit: str, worker: int, value: str) -> None:
        if unit != self.last_unit:
            self.last_unit = unit
            self.n_units += 1
        self.tasks.append(self.n_units - 1)
        self.workers.append(worker)
        self.labels.append(self.values.setdefault(value, len(self.values)))

    def add_group(self, group_id: int, worker: int, value: str) -> None:
        """A label of an instruction-level field, whose unit is the item's group."""
        self.tasks.append(self.unit_codes.setdefault(group_id, len(self.unit_codes)))
        self.n_units = len(self.unit_codes)
        self.workers.append(worker)
        self.labels.append(self.values.setdefault(value, len(self.values)))

    def report(self, task: str, field_name: str, n_workers: int) -> dict[str, Any]:
        # Label codes in sorted order: ties go to the first label, as crowd-kit's idxmax.
        names = sorted(self.values)
        recode = np.empty(len(names), dtype=np.int32)
        for value, code in self.values.items():
            recode[code] = names.index(value)
        tasks = np.frombuffer(self.tasks, dtype=np.int32)
        workers = np.frombuffer(self.workers, dtype=np.int32)
        labels = np.frombuffer(self.labels, dtype=np.int32)
        if (recode != np.arange(len(names))).any():
            labels = recode[labels]
        probas = dawid_skene(tasks, workers, labels, n_tasks=self.n_units,
                             n_workers=n_workers, n_labels=len(names))
        failing = names.index(FAILING) if FAILING in names else -1
        predicted_no = probas.argmax(axis=1) == failing
        del probas
        n_no = np.bincount(tasks[labels == failing], minlength=self.n_units)
        n_yes = np.bincount(tasks, minlength=self.n_units) - n_no
        # resolve_counts on a yes/no field: conservative fails on one "no"; majority fails
        # unless "yes" has more votes (a tie falls back to conservative).
        conservative_no = n_no > 0
        majority_no = n_yes <= n_no
        return {"task": task, "field": field_name, "n_units": self.n_units,
                "n_labels": len(tasks),
                "differs_from_conservative": int((predicted_no != conservative_no).sum()),
                "differs_from_majority": int((predicted_no != majority_no).sum())}


def resolution_models_report(*, benchmark: Benchmark) -> dict[str, Any]:
    """Per yes/no field, on how many units Dawid-Skene's value differs from the conservative
    and the majority value. Units as the strategies resolve them: groups for
    instruction-level fields, units elsewhere. Adjudications are left out: they override
    every model alike.

    Labels stream in the order of the (benchmark, task, unit, ...) unique index; what stays
    in memory is three int codes per label of a yes/no field (see `dawid_skene`)."""
    yes_no = {(str(kind), f.name) for kind, spec in TASKS.items() for f in spec.fields
              if f.values == frozenset({"yes", "no"})}
    workers: dict[int, int] = {}
    fields: dict[tuple[str, str], _FieldCodes] = {}
    # One query per task, in task order (the order of one query by task and unit): only the
    # instruction-level labels need their item's group, the others no join at all.
    for task in sorted({task for task, _ in yes_no}):
        names = {name for kind, name in yes_no if kind == task}
        labels = Label.objects.filter(benchmark=benchmark, task=task).order_by("unit")
        by_group = task == INSTRUCTION_TASK
        rows = (labels.filter(item__isnull=False).values_list(
                    "field", "item__group_id", "annotator_id", "value") if by_group
                else labels.values_list("field", "unit", "annotator_id", "value"))
        for field_name, unit, annotator, value in rows.iterator(chunk_size=CHUNK):
            if field_name not in names:
                continue
            codes = fields.get((task, field_name))
            if codes is None:
                codes = fields[(task, field_name)] = _FieldCodes()
            worker = workers.setdefault(annotator, len(workers))
            if by_group:
                codes.add_group(unit, worker, value)
            else:
                codes.add_unit(unit, worker, value)
    return {"model": "dawid_skene", "available": True, "library": DS_LIBRARY,
            "fields": [fields[key].report(*key, n_workers=len(workers))
                       for key in sorted(fields)]}


# --- writing -----------------------------------------------------------------------------------

BENCHMARK_SCHEMA = pa.schema([
    ("id", pa.string()), ("language", pa.string()), ("instruction", pa.string()),
    ("requirements", pa.list_(pa.struct([("id", pa.string()), ("text", pa.string()),
                                         ("category", pa.string()),
                                         ("dimension", pa.string())]))),
    ("group", pa.string()), ("subset", pa.string()), ("seed", pa.string()),
    ("core_instruction", pa.string()), ("input_material", pa.string()),
    ("resource_level", pa.string()),
    ("meta", pa.string()),  # the `meta` object as JSON text (any shape), null when absent
    ("human_annotation_tags", pa.struct([(name, pa.bool_()) for name in INSTRUCTION_FIELDS])),
])
REMOVED_SCHEMA = pa.schema([("group", pa.string()), ("reason", pa.string()),
                            ("via_seed", pa.string())])
JUDGMENTS_SCHEMA = pa.schema([
    ("item", pa.string()), ("model", pa.string()), ("judge", pa.string()),
    ("decisions", pa.list_(pa.struct([("requirement", pa.string()),
                                      ("judge_decision", pa.bool_()),
                                      ("gold_decision", pa.bool_()),
                                      ("source", pa.string())]))),
])
LABELS_SCHEMA = pa.schema([(name, pa.string()) for name in LABEL_COLUMNS])
SCORES_SCHEMA = pa.schema([
    ("language", pa.string()), ("model", pa.string()), ("judge", pa.string()),
    ("n_instructions", pa.int64()), ("n_requirements", pa.int64()),
    ("rfr_judge", pa.float64()), ("rfr_gold", pa.float64()),
    ("ifr_judge", pa.float64()), ("ifr_gold", pa.float64()),
])


class _Parquet:
    """Rows appended as dicts or as tuples in schema order, written as row groups of CHUNK
    rows. Buffered as tuples and converted one column at a time: a million label rows as
    dicts cost seconds.

    The arrays and the writer's buffers come from the system allocator: pyarrow's default
    pool (mimalloc) keeps the pages it freed, a few MB more peak RSS, for no speed here."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.schema = schema
        self.pool = pa.system_memory_pool()
        self.writer = pq.ParquetWriter(path, schema, memory_pool=self.pool)
        self.buffer: list[tuple] = []
        self.rows = 0

    def add(self, row: dict) -> None:
        self.extend([tuple(row[name] for name in self.schema.names)])

    def extend(self, rows: Iterable[tuple]) -> None:
        self.buffer.extend(rows)
        while len(self.buffer) >= CHUNK:
            self._write(self.buffer[:CHUNK])
            del self.buffer[:CHUNK]

    def _write(self, rows: list[tuple]) -> None:
        columns = [pa.array(column, type=f.type, memory_pool=self.pool)
                   for column, f in zip(zip(*rows, strict=True), self.schema, strict=True)]
        self.writer.write_table(pa.Table.from_arrays(columns, schema=self.schema))
        self.rows += len(rows)

    def close(self) -> None:
        if self.buffer:
            self._write(self.buffer)
            self.buffer = []
        self.writer.close()


def _batched(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _jsonl_object(pairs: Iterable[tuple[str, str]]) -> str:
    """A JSON object from (key, JSON text) pairs, so `meta` goes out as stored, verbatim."""
    return "{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in pairs) + "}\n"


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


class _Export:
    def __init__(self, benchmark: Benchmark, directory: Path, strategy: str,
                 progress: Progress | None) -> None:
        self.benchmark = benchmark
        self.directory = directory
        self.strategy = strategy
        self.progress = progress or (lambda stage, done, total: None)
        self.files: dict[str, int] = {}

    def _open(self, name: str) -> TextIO:
        return (self.directory / name).open("w", encoding="utf-8", newline="")

    def run(self) -> int:
        self.progress("resolve", 0, 1)
        # The Dawid-Skene fit first (its report is small, written with the agreement report):
        # its arrays, the export's largest allocations, come and go before the other stages
        # have fragmented the heap, rather than on top of what they leave behind.
        models = resolution_models_report(benchmark=self.benchmark)
        resolution = resolve_groups(benchmark=self.benchmark, strategy=self.strategy)
        self.progress("resolve", 1, 1)
        removed = resolution.removed_keys
        self._removed(resolution)
        self._benchmark(resolution, removed)
        scores = self._judgments(removed)
        self._labels()
        self._scores(scores)
        n_removed = len(resolution.removed)
        # Nothing of the above stays alive under the agreement report, the export's peak.
        del resolution, removed, scores
        self.progress("agreement", 0, 1)
        self._json("agreement.json", agreement_report(benchmark=self.benchmark))
        self._json("resolution_models.json", models)
        self.progress("agreement", 1, 1)
        return n_removed

    def _json(self, name: str, data: dict) -> None:
        with self._open(name) as handle:
            handle.write(json.dumps(data, ensure_ascii=False))
        self.files[name] = 1

    def _removed(self, resolution: GroupResolution) -> None:
        sink = _Parquet(self.directory / "removed.parquet", REMOVED_SCHEMA)
        with self._open("removed.jsonl") as handle:
            for removal in resolution.removed:
                row = {"group": removal.group, "reason": removal.reason,
                       "via_seed": removal.via_seed}
                handle.write(_dumps(row) + "\n")
                sink.add(row)
        sink.close()
        self.files["removed.jsonl"] = self.files["removed.parquet"] = sink.rows

    def _benchmark(self, resolution: GroupResolution, removed: set[str]) -> None:
        items = Item.objects.filter(benchmark=self.benchmark)
        total = items.count()
        rows = (items.order_by("line_number", "id").values_list(
            "key", "language", "instruction", "group__key", "group__subset", "group__seed_key",
            "core_instruction", "input_material", "resource_level", "meta_json", "group_id"))
        sink = _Parquet(self.directory / "benchmark.parquet", BENCHMARK_SCHEMA)
        done = 0
        with self._open("benchmark.jsonl") as handle:
            for chunk in _batched(rows.iterator(chunk_size=CHUNK), IN_CHUNK):
                requirements: dict[int, list[dict[str, str]]] = defaultdict(list)
                group_ids = {row[10] for row in chunk if row[3] not in removed}
                for group_id, key, text, category, dimension in (
                        Requirement.objects.filter(group_id__in=group_ids)
                        .order_by("group_id", "position")
                        .values_list("group_id", "key", "text", "category", "dimension")):
                    requirements[group_id].append({"id": key, "text": text,
                                                   "category": category,
                                                   "dimension": dimension})
                for (key, language, instruction, group, subset, seed, core, material, level,
                     meta_json, group_id) in chunk:
                    done += 1
                    if group in removed:
                        continue
                    tags = resolution.tags(group)
                    record = {"id": key, "language": language, "instruction": instruction,
                              "requirements": requirements[group_id], "group": group,
                              "subset": subset, "seed": seed, "core_instruction": core,
                              "input_material": material, "resource_level": level}
                    pairs = [(k, _dumps(v)) for k, v in record.items()]
                    if meta_json:
                        pairs.append(("meta", meta_json))
                    pairs.append(("human_annotation_tags", _dumps(tags)))
                    handle.write(_jsonl_object(pairs))
                    sink.add({**record, "meta": meta_json or None,
                              "human_annotation_tags": {name: tags.get(name)
                                                        for name in INSTRUCTION_FIELDS}})
                self.progress("benchmark", done, total)
        sink.close()
        self.files["benchmark.jsonl"] = self.files["benchmark.parquet"] = sink.rows

    def _judgments(self, removed: set[str]) -> _Scores:
        total = Judgment.objects.filter(protocol=Protocol.REQUIREMENTS,
                                        response__item__benchmark=self.benchmark).count()
        scores = _Scores()
        sink = _Parquet(self.directory / "judgments_gold.parquet", JUDGMENTS_SCHEMA)
        with self._open("judgments_gold.jsonl") as handle:
            for done, judged in enumerate(judged_items(
                    benchmark=self.benchmark, strategy=self.strategy, removed=removed), 1):
                scores.add(judged)
                row = {"item": judged.item, "model": judged.model, "judge": judged.judge,
                       "decisions": [{"requirement": d.requirement,
                                      "judge_decision": d.judge_decision,
                                      "gold_decision": d.gold_decision, "source": d.source}
                                     for d in judged.decisions]}
                handle.write(_dumps(row) + "\n")
                sink.add(row)
                if done % CHUNK == 0:
                    self.progress("judgments", done, total)
        self.progress("judgments", total, total)
        sink.close()
        self.files["judgments_gold.jsonl"] = self.files["judgments_gold.parquet"] = sink.rows
        return scores

    def _labels(self) -> None:
        labels = Label.objects.filter(benchmark=self.benchmark)
        total = labels.count()
        rows = labels.order_by("task", "unit", "annotator__username", "field").values_list(
            "task", "unit", "annotator__username", "field", "value", "note")
        sink = _Parquet(self.directory / "labels.parquet", LABELS_SCHEMA)
        done = 0
        with self._open("labels.csv") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(LABEL_COLUMNS)
            for chunk in _batched(rows.iterator(chunk_size=CHUNK), CHUNK):
                writer.writerows(chunk)
                sink.extend(chunk)
                done += len(chunk)
                self.progress("labels", done, total)
        self.progress("labels", total, total)
        sink.close()
        self.files["labels.csv"] = self.files["labels.parquet"] = sink.rows

    def _scores(self, scores: _Scores) -> None:
        sink = _Parquet(self.directory / "scores.parquet", SCORES_SCHEMA)
        with self._open("scores.csv") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(SCORE_COLUMNS)
            for row in scores.rows():
                writer.writerow(["" if row[c] is None else row[c] for c in SCORE_COLUMNS])
                sink.add(row)
        sink.close()
        self.files["scores.csv"] = self.files["scores.parquet"] = sink.rows


def export_gold(*, benchmark: Benchmark, out_dir: Path, strategy: str = "conservative",
                progress: Progress | None = None) -> ExportSummary:
    """Write the gold export of `benchmark` (spec section 6) into `out_dir`, which must not
    exist yet (or be empty). `progress(stage, done, total)` is called as each file fills.

    Everything is written into a temporary directory beside `out_dir` and renamed into place
    at the end: a failure leaves no `out_dir` and no temporary files."""
    _check_strategy(strategy)
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise GoldExportError(f"{out_dir} already exists and is not an empty directory; "
                              "choose a new one")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".partial",
                                 dir=out_dir.parent))
    try:
        export = _Export(benchmark, work, strategy, progress)
        removed = export.run()
        umask = os.umask(0)
        os.umask(umask)
        work.chmod(0o777 & ~umask)  # mkdtemp makes it private; the export is ordinary output
        if out_dir.exists():
            out_dir.rmdir()
        work.rename(out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return ExportSummary(out_dir=out_dir, files=dict(export.files), removed_groups=removed,
                         strategy=strategy)
