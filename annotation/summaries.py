"""Maintained agreement summaries: label counts kept up to date as labels are written.

Every agreement coefficient of a field depends on its units only through their label-count
rows ("patterns"), every annotator-against-the-others figure only through (the annotator's
value, the unit's pattern), and every annotator-pair figure only through the pair's joint
values. So three histograms, keyed by those and by the unit's attributes (language, subset,
category, model, judge...), are all a benchmark-wide agreement report needs: a few thousand
rows instead of a million labels (judging/reports.py reads them).

`refresh_units` brings the histograms up to date for some units: it recomputes each unit's
votes from its labels, compares them with the votes the histograms were last updated from
(UnitTally), and applies the difference. Every write path calls it in the transaction that
wrote the labels (label_submit, the labels import, the other imports when they change unit
attributes, user deletion), so the summaries never disagree with the labels a reader can see.
Concurrent writers of one unit are serialised by locking its UnitTally row.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from django.db import connection, transaction
from django.db.models import Model, Q, QuerySet

from .bulksql import bulk_cursor, bulk_params, bulk_values
from .compiled import CompiledQuery
from .models import (
    SLICE_FIELDS,
    AnnotatorTally,
    Benchmark,
    Label,
    PairTally,
    PatternTally,
    TaskKind,
    UnitTally,
)
from .statements import Insert, Update
from .tasks import TASKS

UnitKey = tuple[str, str]                 # (task, unit)
Votes = dict[str, dict[Any, str]]         # field -> annotator -> value

# Refreshing more units than this reads the benchmark's labels in one pass and rewrites the
# histograms under a table lock (imports); fewer take row locks and increments (submissions).
BULK_THRESHOLD = 2000
_CHUNK = 500

LABEL_COLUMNS = (
    "task", "unit", "field", "value", "item__language", "pair__language",
    "item__resource_level", "item__group__subset", "requirement__category",
    "requirement__dimension", "model", "pair__model_a", "pair__model_b", "item_id",
    "requirement_id",
)


@dataclass
class UnitState:
    attributes: dict[str, str]
    votes: Votes


def categories(task: str, field: str) -> list[str]:
    """The field's values in scale order: the order of a pattern's counts."""
    field_def = TASKS[TaskKind(task)].field(field)
    return [] if field_def is None else [c.value for c in field_def.choices]


def pattern_of(task: str, field: str, values: Iterable[str]) -> str:
    order = categories(task, field)
    counts = [0] * len(order)
    for value in values:
        counts[order.index(value)] += 1
    return ",".join(map(str, counts))


def parse_pattern(pattern: str) -> list[int]:
    return [int(n) for n in pattern.split(",")]


def contributions(task: str, attributes: dict[str, str], votes: Votes) -> Counter:
    """What one unit adds to each histogram: keys tagged "pattern", "annotator", "pair"."""
    out: Counter = Counter()
    slice_key = tuple(attributes.get(name, "") for name in SLICE_FIELDS)
    for field, by_annotator in votes.items():
        if not by_annotator:
            continue
        pattern = pattern_of(task, field, by_annotator.values())
        out[("pattern", task, field, *slice_key, pattern)] += 1
        for annotator, value in by_annotator.items():
            out[("annotator", task, field, annotator, value, pattern)] += 1
        for (a, value_a), (b, value_b) in combinations(sorted(by_annotator.items()), 2):
            out[("pair", task, field, a, b, value_a, value_b)] += 1
    return out


# --- reading units from labels ------------------------------------------------------------------

def _judge_of(task: str, unit: str) -> str:
    return unit.rsplit("|", 1)[-1] if task == TaskKind.JUDGE_AGREEMENT else ""


def states_from_labels(labels: QuerySet[Label], *, annotator: str = "annotator_id",
                       benchmark: Benchmark,
                       judge_decisions: Mapping[UnitKey, bool] | None = None,
                       ) -> dict[UnitKey, UnitState]:
    """Each labelled unit's votes and attributes. `annotator` names the label column that
    identifies annotators (ids for the stored summaries, usernames for a report);
    `judge_decisions` gives judge-agreement units' decisions the caller already holds."""
    rows = labels.order_by().values_list(*LABEL_COLUMNS, annotator)
    return states_from_rows(rows.iterator(chunk_size=5000), benchmark=benchmark,
                            judge_decisions=judge_decisions)


def states_from_rows(rows: Iterable[tuple], *, benchmark: Benchmark,
                     judge_decisions: Mapping[UnitKey, bool] | None = None,
                     ) -> dict[UnitKey, UnitState]:
    """states_from_labels, from rows of LABEL_COLUMNS and the annotator already read."""
    states: dict[UnitKey, UnitState] = {}
    judged: dict[tuple[int, str, int, str], list[UnitKey]] = defaultdict(list)
    for (task, unit, field, value, item_language, pair_language, resource_level, subset,
         category, dimension, model, model_a, model_b, item_id, requirement_id,
         who) in rows:
        key = (task, unit)
        state = states.get(key)
        if state is None:
            judge = _judge_of(task, unit)
            state = states[key] = UnitState({
                "language": item_language or pair_language or "",
                "resource_level": resource_level or "",
                "subset": subset or "",
                "category": category or "",
                "dimension": dimension or "",
                "model": (model_a if task == TaskKind.PAIRWISE_PREFERENCE else model) or "",
                "model_b": model_b or "",
                "judge": judge,
                "judge_value": "",
            }, {})
            if judge and item_id is not None and requirement_id is not None:
                judged[(item_id, model, requirement_id, judge)].append(key)
        state.votes.setdefault(field, {})[who] = value
    for decision_key, keys in list(judged.items()):
        if judge_decisions is not None and all(key in judge_decisions for key in keys):
            for key in keys:
                states[key].attributes["judge_value"] = "yes" if judge_decisions[key] else "no"
            del judged[decision_key]
    if judged:
        for (item_id, model, requirement_id, judge), decision in _judge_decisions(
                benchmark, judged):
            for key in judged.get((item_id, model, requirement_id, judge), ()):
                states[key].attributes["judge_value"] = "yes" if decision else "no"
    return states


def _judge_decisions(benchmark: Benchmark,
                     wanted: dict[tuple[int, str, int, str], list]) -> Iterator[tuple]:
    """((item id, model, requirement id, judge), decision) for the judged decisions asked."""
    from judging.models import JudgeDecision, Protocol

    decisions = JudgeDecision.objects.filter(
        judgment__protocol=Protocol.REQUIREMENTS, judgment__response__item__benchmark=benchmark)
    item_ids = sorted({key[0] for key in wanted})
    # A few units: ask for their items only; many: read the benchmark's decisions once.
    chunks = ([item_ids[i:i + _CHUNK] for i in range(0, len(item_ids), _CHUNK)]
              if len(item_ids) <= BULK_THRESHOLD else [None])
    for chunk in chunks:
        subset = decisions if chunk is None else decisions.filter(
            judgment__response__item_id__in=chunk)
        for item_id, model, requirement_id, judge, decision in subset.order_by().values_list(
                "judgment__response__item_id", "judgment__response__model", "requirement_id",
                "judgment__judge", "decision").iterator(chunk_size=5000):
            key = (item_id, model, requirement_id, judge)
            if key in wanted:
                yield key, decision


def _label_filter(benchmark: Benchmark, keys: list[UnitKey]) -> QuerySet[Label]:
    by_task: dict[str, list[str]] = defaultdict(list)
    for task, unit in keys:
        by_task[task].append(unit)
    condition = Q()
    for task, units in by_task.items():
        condition |= Q(task=task, unit__in=units)
    return Label.objects.filter(condition, benchmark=benchmark)


# --- maintaining the histograms -----------------------------------------------------------------

def _stored_votes(text: str) -> Votes:
    return {field: {int(a): v for a, v in by.items()} for field, by in json.loads(text).items()}


def _votes_text(votes: Votes) -> str:
    return json.dumps({f: {str(a): v for a, v in sorted(by.items())}
                       for f, by in sorted(votes.items()) if by}, sort_keys=True)


def refresh_units(benchmark: Benchmark, units: Iterable[UnitKey], *,
                  judge_decisions: Mapping[UnitKey, bool] | None = None) -> None:
    """Bring the summaries of `units` up to date with their labels. Call it inside the
    transaction that changed the labels (or the units' attributes). A submission passes the
    judge decision of its judge-agreement unit, which it has loaded: not read again."""
    keys = sorted(set(units))
    if not keys:
        return
    # No savepoint: a failure here must undo the caller's label writes too.
    with transaction.atomic(savepoint=False):
        if len(keys) > BULK_THRESHOLD:
            _refresh_bulk(benchmark, set(keys))
        else:
            for start in range(0, len(keys), _CHUNK):
                _refresh_few(benchmark, keys[start:start + _CHUNK], judge_decisions)


def refresh_benchmark(benchmark: Benchmark) -> None:
    """Recompute every labelled unit of the benchmark (after an import changed attributes
    such as languages, categories or judge decisions)."""
    with transaction.atomic():
        _refresh_bulk(benchmark, None)


def rebuild(benchmark: Benchmark) -> None:
    """Throw the summaries away and compute them again from the labels."""
    with transaction.atomic():
        for model in (UnitTally, PatternTally, AnnotatorTally, PairTally):
            model.objects.filter(benchmark=benchmark).delete()
        _refresh_bulk(benchmark, None)


# Each unit's tally locked in one statement, its row created when the unit is new: concurrent
# writers of a unit queue here, and the second one reads the first one's committed labels.
# In key order, so two writers lock shared units in the same order.
_LOCKED_TALLIES = Insert(
    UnitTally, ("benchmark", "task", "unit", "votes", *SLICE_FIELDS),
    tail="ON CONFLICT (benchmark_id, task, unit) DO UPDATE SET votes = {table}.votes",
    returning=("id", "task", "unit", "votes", *SLICE_FIELDS))
_NEW_TALLY = ("{}", *[""] * len(SLICE_FIELDS))
_TALLY_CHANGED = Update(UnitTally, ("votes", *SLICE_FIELDS))
# Most submissions answer one unit: its labels through a compiled read (annotation/compiled.py),
# which costs a fifth of building the same query each time.
_UNIT_LABEL_ROWS = CompiledQuery(
    lambda benchmark, task, unit: Label.objects.filter(benchmark_id=benchmark, task=task,
                                                       unit=unit)
    .order_by().values_list(*LABEL_COLUMNS, "annotator_id"), int, str, str)


def _refresh_few(benchmark: Benchmark, keys: list[UnitKey],
                 judge_decisions: Mapping[UnitKey, bool] | None) -> None:
    tallies = {}
    for pk, task, unit, votes, *attributes in _LOCKED_TALLIES.run(
            [(benchmark.pk, task, unit, *_NEW_TALLY) for task, unit in keys]):
        tallies[(task, unit)] = UnitTally(pk=pk, benchmark=benchmark, task=task, unit=unit,
                                          votes=votes, **dict(zip(SLICE_FIELDS, attributes,
                                                                  strict=True)))
    if len(keys) == 1:
        [(task, unit)] = keys
        rows = _UNIT_LABEL_ROWS.all(benchmark.pk, task, unit)
        states = states_from_rows(rows, benchmark=benchmark, judge_decisions=judge_decisions)
    else:
        states = states_from_labels(_label_filter(benchmark, keys), benchmark=benchmark,
                                    judge_decisions=judge_decisions)
    delta, changed = _difference(tallies, states)
    for tally in changed:  # a submission changes one unit or a few: no CASE per row
        _TALLY_CHANGED.run(tally.pk, (tally.votes, *(getattr(tally, name)
                                                     for name in SLICE_FIELDS)))
    _add(benchmark, delta)


def _refresh_bulk(benchmark: Benchmark, keys: set[UnitKey] | None) -> None:
    """Refresh `keys` (None: every unit with labels or a tally) under a table lock, a step of
    units at a time: only one step's labels and tallies are in memory (reading every unit of
    a million labels at once took gigabytes), and the histogram changes they add up to are a
    few thousand cells, written at the end."""
    _lock_tables()
    delta: Counter = Counter()
    for step in _steps(sorted(_all_units(benchmark) if keys is None else keys)):
        delta.update(_refresh_step(benchmark, step))
    _add(benchmark, delta, bulk=True)


# Units per step of a bulk refresh: each step reads its units' labels and tallies with one
# query each, which PostgreSQL answers by scanning the table (a step of a few thousand
# units took 100 ms), so steps are large.
_BULK_STEP = 20_000


def _steps(keys: list[UnitKey]) -> Iterator[list[UnitKey]]:
    """`keys` (sorted) in steps of at most _BULK_STEP units, whose judge decisions lie on at
    most BULK_THRESHOLD items: _judge_decisions then looks those items up instead of reading
    every decision of the benchmark. (A judge_agreement unit starts with its item's key.)"""
    step: list[UnitKey] = []
    items: set[str] = set()
    for task, unit in keys:
        item = unit.partition("|")[0] if task == TaskKind.JUDGE_AGREEMENT else None
        if step and (len(step) == _BULK_STEP or (
                item is not None and item not in items and len(items) == BULK_THRESHOLD)):
            yield step
            step, items = [], set()
        step.append((task, unit))
        if item is not None:
            items.add(item)
    if step:
        yield step


def _all_units(benchmark: Benchmark) -> set[UnitKey]:
    units = set(Label.objects.filter(benchmark=benchmark).order_by()
                .values_list("task", "unit").distinct().iterator(chunk_size=5000))
    units.update(UnitTally.objects.filter(benchmark=benchmark).order_by()
                 .values_list("task", "unit").iterator(chunk_size=5000))
    return units


_TALLY_COLUMNS = ("votes", *SLICE_FIELDS)


class _Tally:
    """A UnitTally row as _difference reads and updates it: a model instance per unit cost
    more than the rest of a bulk refresh. `pk` is None for a unit that has no row yet."""

    __slots__ = ("pk", "task", "unit", *_TALLY_COLUMNS)

    def __init__(self, pk: int | None, task: str, unit: str, votes: str = "{}",
                 *attributes: str) -> None:
        """A stored row's values in the order of ("pk", "task", "unit", *_TALLY_COLUMNS),
        or only pk None, task and unit for a new one (no votes, no attributes)."""
        self.pk, self.task, self.unit, self.votes = pk, task, unit, votes
        for name, value in zip(SLICE_FIELDS, attributes or [""] * len(SLICE_FIELDS),
                               strict=True):
            setattr(self, name, value)


def _refresh_step(benchmark: Benchmark, keys: list[UnitKey]) -> Counter:
    """Bring the tallies of `keys` up to date with their labels; the histogram changes."""
    by_task: dict[str, list[str]] = defaultdict(list)
    for task, unit in keys:
        by_task[task].append(unit)
    tallies: dict[UnitKey, _Tally] = {}
    for task, units in by_task.items():
        for row in UnitTally.objects.filter(benchmark=benchmark, task=task, unit__in=units
                                            ).values_list("pk", "task", "unit", *_TALLY_COLUMNS):
            tallies[(row[1], row[2])] = _Tally(*row)
    for task, unit in keys:
        if (task, unit) not in tallies:
            tallies[(task, unit)] = _Tally(None, task, unit)
    states = states_from_labels(_label_filter(benchmark, keys), benchmark=benchmark)
    delta, changed = _difference(tallies, states)
    _write_tallies(benchmark, changed)
    return delta


def _write_tallies(benchmark: Benchmark, tallies: list[_Tally]) -> None:
    """INSERT the new tallies and UPDATE the stored ones (a large import creates one per
    unit, hundreds of thousands)."""
    quote = connection.ops.quote_name
    table = quote(UnitTally._meta.db_table)
    new = [(benchmark.pk, t.task, t.unit, *(getattr(t, c) for c in _TALLY_COLUMNS))
           for t in tallies if t.pk is None]
    stored = [(*(getattr(t, c) for c in _TALLY_COLUMNS), t.pk)
              for t in tallies if t.pk is not None]
    columns = ", ".join(quote(c) for c in ("benchmark_id", "task", "unit", *_TALLY_COLUMNS))
    params = bulk_params(len(_TALLY_COLUMNS) + 1)
    assignments = ", ".join(f"{quote(c)} = {p}" for c, p in zip(_TALLY_COLUMNS, params,
                                                                strict=False))
    with bulk_cursor() as cursor:
        for start in range(0, len(new), _CHUNK):
            chunk = new[start:start + _CHUNK]
            # Identifiers come from the model, every value is a parameter.
            cursor.execute(f"INSERT INTO {table} ({columns}) "  # noqa: S608
                           f"VALUES {bulk_values(len(chunk), len(chunk[0]))}",
                           [value for values in chunk for value in values])
        if stored:
            cursor.executemany(f"UPDATE {table} SET {assignments} "  # noqa: S608
                               f"WHERE id = {params[-1]}", stored)


def _lock_tables() -> None:
    """Bulk refreshes read-modify-write the histograms: keep concurrent submissions out until
    the transaction ends. (SQLite already has a single writer.)"""
    if connection.vendor == "postgresql":
        names = ", ".join(m._meta.db_table for m in
                          (UnitTally, PatternTally, AnnotatorTally, PairTally))
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {names} IN SHARE ROW EXCLUSIVE MODE")


def _difference(tallies: dict[UnitKey, UnitTally],
                states: dict[UnitKey, UnitState]) -> tuple[Counter, list[UnitTally]]:
    """The histogram changes from each tally's stored state to its new one, and the tallies
    whose stored state changed (updated in place)."""
    delta: Counter = Counter()
    changed = []
    for key, tally in tallies.items():
        state = states.get(key) or UnitState(dict.fromkeys(SLICE_FIELDS, ""), {})
        old_attributes = {name: getattr(tally, name) for name in SLICE_FIELDS}
        old_votes = _stored_votes(tally.votes)
        votes_text = _votes_text(state.votes)
        if votes_text == _votes_text(old_votes) and old_attributes == state.attributes:
            continue
        delta.update(contributions(key[0], state.attributes, state.votes))
        delta.subtract(contributions(key[0], old_attributes, old_votes))
        tally.votes = votes_text
        for name in SLICE_FIELDS:
            setattr(tally, name, state.attributes[name])
        changed.append(tally)
    return delta, changed


_TABLES: dict[str, tuple[type[Model], tuple[str, ...]]] = {
    "pattern": (PatternTally, ("task", "field", *SLICE_FIELDS, "pattern")),
    "annotator": (AnnotatorTally, ("task", "field", "annotator_id", "value", "pattern")),
    "pair": (PairTally, ("task", "field", "annotator_a_id", "annotator_b_id", "value_a",
                         "value_b")),
}


def _add(benchmark: Benchmark, delta: Counter, *, bulk: bool = False) -> None:
    """Add the non-zero changes to the histogram cells, creating the cells that are new: one
    INSERT ... ON CONFLICT DO UPDATE per table and chunk (SQLite and PostgreSQL share the
    syntax), in key order so two writers lock shared cells in the same order. `bulk`: through
    bulk_cursor, for a bulk refresh's tens of thousands of cells."""
    for tag, (model, names) in _TABLES.items():
        rows = sorted((key[1:], n) for key, n in delta.items() if key[0] == tag and n)
        if not rows:
            continue
        table = connection.ops.quote_name(model._meta.db_table)
        quoted = [connection.ops.quote_name(c) for c in ("benchmark_id", *names)]
        n_column = connection.ops.quote_name("n")
        with bulk_cursor() if bulk else connection.cursor() as cursor:
            for start in range(0, len(rows), _CHUNK):
                chunk = rows[start:start + _CHUNK]
                values = (bulk_values(len(chunk), len(quoted) + 1) if bulk else ", ".join(
                    ["(" + ", ".join(["%s"] * (len(quoted) + 1)) + ")"] * len(chunk)))
                # Identifiers come from the models, every value is a parameter.
                sql = (f"INSERT INTO {table} ({', '.join(quoted)}, {n_column}) "  # noqa: S608
                       f"VALUES {values} ON CONFLICT ({', '.join(quoted)}) "
                       f"DO UPDATE SET {n_column} = {table}.{n_column} + excluded.{n_column}")
                cursor.execute(sql, [value for key, n in chunk
                                     for value in (benchmark.pk, *key, n)])


# --- reading the histograms (judging/reports.py) ------------------------------------------------

def pattern_rows(benchmark: Benchmark) -> list[tuple]:
    """(task, field, *SLICE_FIELDS, pattern, n) for every non-empty histogram cell."""
    return list(PatternTally.objects.filter(benchmark=benchmark, n__gt=0).order_by()
                .values_list("task", "field", *SLICE_FIELDS, "pattern", "n"))


def annotator_rows(benchmark: Benchmark) -> list[tuple]:
    """(task, field, annotator username, value, pattern, n, annotator id)."""
    return list(AnnotatorTally.objects.filter(benchmark=benchmark, n__gt=0).order_by()
                .values_list("task", "field", "annotator__username", "value", "pattern", "n",
                             "annotator_id"))


def pair_rows(benchmark: Benchmark) -> list[tuple]:
    """(task, field, annotator id a, annotator id b, value a, value b, n). Ids, not names:
    two joins to the users would cost a fifth of reading the tens of thousands of rows, and
    every annotator of a pair has annotator rows in the same field, which carry the name."""
    return list(PairTally.objects.filter(benchmark=benchmark, n__gt=0).order_by()
                .values_list("task", "field", "annotator_a_id", "annotator_b_id", "value_a",
                             "value_b", "n"))


def unit_votes(benchmark: Benchmark, tasks: Iterable[str]) -> list[tuple[str, str, Votes]]:
    """(task, unit, votes by annotator id) of the units of some (small) tasks."""
    rows = UnitTally.objects.filter(benchmark=benchmark, task__in=list(tasks)).exclude(
        votes="{}").order_by().values_list("task", "unit", "votes")
    return [(task, unit, _stored_votes(votes)) for task, unit, votes in rows]


# --- deleting a user deletes their labels (cascade): their units must be recounted --------------

def units_labelled_by(user_id: int) -> dict[int, set[UnitKey]]:
    """Benchmark id -> the units the user has labels on."""
    out: dict[int, set[UnitKey]] = defaultdict(set)
    for benchmark_id, task, unit in Label.objects.filter(annotator_id=user_id).values_list(
            "benchmark_id", "task", "unit").iterator(chunk_size=5000):
        out[benchmark_id].add((task, unit))
    return out
