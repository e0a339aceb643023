"""Reads of the adjudication queue: which units need an admin's final value, and what the
resolution rules of spec section 6 would make of their labels.

A case is one field of one unit (of one group for instruction-level fields, whose labels on
all of the group's items are pooled) where the annotators disagree, or where they overrule the
judge (a `judge_agreement` label "no"). The latest `Adjudication` of a case resolves it.
Everything is read with aggregate queries: a fixed number per call, whatever the size.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Case as SqlCase
from django.db.models import Count, F, QuerySet, Value, When
from django.db.models.functions import Coalesce

from .models import Adjudication, Benchmark, Group, Item, Label, TaskKind
from .services import GROUP_LEVEL_TASKS
from .tasks import TASKS, YES_NO, Choice, task_spec

NO_RESOLUTION = None
TASK_ORDER = {kind: index for index, kind in enumerate(TASKS)}


# --- the rules --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Resolutions:
    """What each rule-based strategy makes of a case's labels; None: the rule gives no value."""

    conservative: str | None
    majority: str | None


def is_yes_no(choices: Sequence[Choice]) -> bool:
    return {c.value for c in choices} == {c.value for c in YES_NO}


def resolve(values: Iterable[str], choices: Sequence[Choice]) -> Resolutions:
    """The rule-based resolutions of spec section 6 for one field's labels.

    Yes/no fields: conservative is "no" as soon as one annotator says "no" (for
    `judge_agreement` a "no" disagrees with the judge, so one disagreement reverses the
    decision); majority is the most common value and falls back to conservative on a tie.
    Other scales (1-5, a/b/tie) have no conservative side: majority only, and a tie leaves
    the field unresolved."""
    counts = Counter(values)
    if not counts:
        return Resolutions(NO_RESOLUTION, NO_RESOLUTION)
    top = max(counts.values())
    leaders = [value for value, n in counts.items() if n == top]
    if is_yes_no(choices):
        conservative = "no" if counts.get("no") else "yes"
        majority = leaders[0] if len(leaders) == 1 else conservative
        return Resolutions(conservative, majority)
    return Resolutions(NO_RESOLUTION, leaders[0] if len(leaders) == 1 else NO_RESOLUTION)


# --- cases ------------------------------------------------------------------------------------

def field_choices(task: str, field_name: str) -> tuple[Choice, ...]:
    field_def = task_spec(task).field(field_name)
    return field_def.choices if field_def is not None else ()


def _field_order(task: str, field_name: str) -> tuple[int, str]:
    names = [f.name for f in task_spec(task).fields]
    return (names.index(field_name), "") if field_name in names else (len(names), field_name)


@dataclass(frozen=True)
class Case:
    task: str
    # The unit as labels name it; for instruction-level tasks the group's key.
    unit: str
    field: str
    # (value, number of labels) in the order of the field's choices.
    counts: tuple[tuple[str, int], ...]
    disagreement: bool
    judge_overruled: bool
    adjudication: Adjudication | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.task, self.unit, self.field)

    @property
    def sort_key(self) -> tuple[Any, ...]:
        return (TASK_ORDER.get(self.task, len(TASK_ORDER)), self.task, self.unit,
                _field_order(self.task, self.field))

    @property
    def resolved(self) -> bool:
        return self.adjudication is not None

    @property
    def task_label(self) -> str:
        return TaskKind(self.task).label if self.task in TaskKind.values else self.task

    @property
    def n_labels(self) -> int:
        return sum(n for _, n in self.counts)

    @property
    def group_level(self) -> bool:
        return self.task in GROUP_LEVEL_TASKS

    @property
    def resolutions(self) -> Resolutions:
        values = [value for value, n in self.counts for _ in range(n)]
        return resolve(values, field_choices(self.task, self.field))

    @property
    def why(self) -> str:
        if self.disagreement and self.judge_overruled:
            return "annotators disagree; the judge is overruled"
        return "annotators disagree" if self.disagreement else "the judge is overruled"


def _case_unit() -> Coalesce:
    """A label's case unit: its item's group for instruction-level tasks, else its own unit
    (also for a label whose item a re-import removed)."""
    return Coalesce(
        SqlCase(*(When(task=task, then=F("item__group__key")) for task in GROUP_LEVEL_TASKS),
                default=Value(None)),
        F("unit"),
    )


def _value_rows(labels: QuerySet[Label]) -> QuerySet:
    return (labels.annotate(case_unit=_case_unit())
            .values("benchmark_id", "task", "case_unit", "field", "value")
            .annotate(n=Count("id")).order_by())


def _ordered_counts(task: str, field_name: str, counts: dict[str, int]
                    ) -> tuple[tuple[str, int], ...]:
    order = [c.value for c in field_choices(task, field_name)]
    return tuple(sorted(counts.items(),
                        key=lambda kv: (order.index(kv[0]) if kv[0] in order else len(order),
                                        kv[0])))


def _needs_adjudication(task: str, counts: dict[str, int]) -> tuple[bool, bool]:
    disagreement = len(counts) > 1
    overruled = task == TaskKind.JUDGE_AGREEMENT and counts.get("no", 0) > 0
    return disagreement, overruled


def _latest_adjudications(adjudications: QuerySet[Adjudication]
                          ) -> dict[tuple[int, str, str, str], Adjudication]:
    latest: dict[tuple[int, str, str, str], Adjudication] = {}
    for a in adjudications.select_related("adjudicator").order_by("created_at", "id"):
        latest[(a.benchmark_id, a.task, a.unit, a.field)] = a
    return latest


def _cases(labels: QuerySet[Label], adjudications: QuerySet[Adjudication]
           ) -> dict[int, list[Case]]:
    """All cases (resolved or not) per benchmark id, in queue order. Two queries."""
    counts: dict[tuple[int, str, str, str], dict[str, int]] = defaultdict(dict)
    for row in _value_rows(labels):
        key = (row["benchmark_id"], row["task"], row["case_unit"], row["field"])
        counts[key][row["value"]] = row["n"]
    latest = _latest_adjudications(adjudications)
    cases: dict[int, list[Case]] = defaultdict(list)
    for (benchmark_id, task, unit, field_name), values in counts.items():
        disagreement, overruled = _needs_adjudication(task, values)
        if not (disagreement or overruled):
            continue
        cases[benchmark_id].append(Case(
            task=task, unit=unit, field=field_name,
            counts=_ordered_counts(task, field_name, values),
            disagreement=disagreement, judge_overruled=overruled,
            adjudication=latest.get((benchmark_id, task, unit, field_name)),
        ))
    for found in cases.values():
        found.sort(key=lambda c: c.sort_key)
    return cases


def disagreements(*, benchmark: Benchmark, task: str | None = None,
                  include_resolved: bool = False) -> list[Case]:
    """The benchmark's cases for adjudication, by task, then unit (then field); cases with
    an adjudication are resolved and left out unless `include_resolved`. Two queries."""
    labels = Label.objects.filter(benchmark=benchmark)
    adjudications = Adjudication.objects.filter(benchmark=benchmark)
    if task:
        labels = labels.filter(task=task)
        adjudications = adjudications.filter(task=task)
    cases = _cases(labels, adjudications).get(benchmark.pk, [])
    return [c for c in cases if include_resolved or not c.resolved]


def open_case_counts() -> dict[int, int]:
    """Open cases per benchmark id, for every benchmark at once (two queries)."""
    return {benchmark_id: sum(not c.resolved for c in cases)
            for benchmark_id, cases in _cases(Label.objects.all(),
                                              Adjudication.objects.all()).items()}


def case_after(cases: Sequence[Case], current: tuple[str, str, str] | None) -> Case | None:
    """The case to show after `current`: the next one in queue order, else the first one
    that is not `current` (the queue wraps round), else None."""
    if current is None:
        return cases[0] if cases else None
    task, unit, field_name = current
    here = (TASK_ORDER.get(task, len(TASK_ORDER)), task, unit, _field_order(task, field_name))
    later = [c for c in cases if c.sort_key > here]
    if later:
        return later[0]
    return next((c for c in cases if c.key != current), None)


# --- one case with everything the admin needs -------------------------------------------------

@dataclass
class CaseDetail:
    benchmark: Benchmark
    task: str
    unit: str
    field: str
    labels: list[Label]
    adjudications: list[Adjudication]
    item: Item | None = None
    anchor: Item | None = None
    group: Group | None = None
    # Instruction-level cases: the group's items that carry labels, besides the anchor.
    group_items: list[Item] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def counts(self) -> tuple[tuple[str, int], ...]:
        return _ordered_counts(self.task, self.field, Counter(lb.value for lb in self.labels))

    @property
    def resolutions(self) -> Resolutions:
        return resolve([lb.value for lb in self.labels], field_choices(self.task, self.field))

    @property
    def adjudication(self) -> Adjudication | None:
        return self.adjudications[-1] if self.adjudications else None

    @property
    def earlier_adjudications(self) -> list[Adjudication]:
        return list(reversed(self.adjudications[:-1]))

    @property
    def disagreement(self) -> bool:
        return _needs_adjudication(self.task, dict(self.counts))[0]

    @property
    def judge_overruled(self) -> bool:
        return _needs_adjudication(self.task, dict(self.counts))[1]


def case_detail(*, benchmark: Benchmark, task: str, unit: str, field_name: str
                ) -> CaseDetail | None:
    """One case's labels (annotators, notes, history sizes), adjudications and the material
    the labels were about; None when no label names it. A fixed number of queries."""
    from judging.models import JudgeDecision, Protocol, Response

    labels = Label.objects.filter(benchmark=benchmark, task=task, field=field_name)
    if task in GROUP_LEVEL_TASKS:
        labels = labels.filter(item__group__key=unit)
    else:
        labels = labels.filter(unit=unit)
    labels = list(labels.select_related("annotator", "item__group", "requirement", "pair")
                  .annotate(n_events=Count("events"))
                  .order_by("annotator__username", "unit", "id"))
    if not labels:
        return None
    detail = CaseDetail(
        benchmark=benchmark, task=task, unit=unit, field=field_name, labels=labels,
        adjudications=list(Adjudication.objects.filter(
            benchmark=benchmark, task=task, unit=unit, field=field_name,
        ).select_related("adjudicator").order_by("created_at", "id")),
    )
    first = labels[0]
    detail.item = first.item
    if first.item is not None:
        detail.group = first.item.group
        group_items = list(Item.objects.filter(group_id=first.item.group_id)
                           .order_by("line_number", "id"))
        detail.anchor = next((i for i in group_items if i.language == "en"), None)
        labelled = {lb.item_id for lb in labels}
        detail.group_items = [i for i in group_items
                              if i.pk in labelled and i.language != "en"]
        detail.extra["requirements"] = list(first.item.group.requirements.all())
    if first.requirement is not None:
        detail.extra["requirement"] = first.requirement
    if first.pair is not None:
        detail.extra["pair"] = first.pair
    if task == TaskKind.JUDGE_AGREEMENT and first.item is not None:
        judge = unit.split("|")[-1]
        decision = (JudgeDecision.objects
                    .filter(judgment__protocol=Protocol.REQUIREMENTS,
                            judgment__response__item=first.item,
                            judgment__response__model=first.model,
                            judgment__judge=judge, requirement=first.requirement)
                    .select_related("judgment__response", "requirement").first())
        if decision is not None:
            detail.extra.update(decision=decision, response=decision.judgment.response,
                                judge=judge, model=first.model)
    if task == TaskKind.RESPONSE_RATING and first.item is not None:
        detail.extra["response"] = Response.objects.filter(
            item=first.item, model=first.model).first()
        detail.extra["model"] = first.model
    return detail
