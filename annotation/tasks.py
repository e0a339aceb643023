"""The six task kinds: which units each draws from a benchmark and which fields it asks.

One strategy per kind (a `TaskSpec`), not a model subclass per kind: the batch service,
the queue pages, the API and the label importer all read the same definitions, so a field
name or a unit key is spelled in exactly one place.

Answer keys: a unit-level field is answered under its own name (`clarity`); a field about one
requirement of the item under `<requirement id>#<field>` (`r2#atomicity`), and is stored as a
label on the unit `<item id>#<requirement id>` (spec section 4).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from .models import Benchmark, Item, Pair, Requirement, TaskKind


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    key: str  # the keyboard key that picks it


YES_NO = (Choice("yes", "Yes", "y"), Choice("no", "No", "n"))
QUALITY = tuple(Choice(str(n), f"{n}", str(n)) for n in range(1, 6))
PREFERENCE = (Choice("a", "A is better", "a"), Choice("b", "B is better", "b"),
              Choice("tie", "Tie", "="))
LIKERT = tuple(Choice(str(n), f"{n}", str(n)) for n in range(1, 6))
# A rating dimension names a label field, so it must read as one.
DIMENSION_NAME = re.compile(r"^[a-z][a-z0-9_]{0,49}$")


@dataclass(frozen=True)
class FieldDef:
    name: str
    prompt: str
    choices: tuple[Choice, ...]
    per_requirement: bool = False
    # Only asked of seed instructions (those with no `seed` of their own), as in table 4.
    seed_only: bool = False

    @property
    def values(self) -> frozenset[str]:
        return frozenset(c.value for c in self.choices)


@dataclass(frozen=True)
class Question:
    """One field to answer on one concrete unit of work."""

    answer_key: str
    label_unit: str
    field: FieldDef
    requirement: Requirement | None = None


@dataclass(frozen=True)
class Candidate:
    unit_key: str
    language: str
    item_id: int | None = None
    pair_id: int | None = None
    decision_id: int | None = None
    response_id: int | None = None


@dataclass(frozen=True)
class Filters:
    languages: tuple[str, ...] = ()
    subset: str = ""
    models: tuple[str, ...] = ()


@dataclass(frozen=True)
class TaskSpec:
    kind: TaskKind
    unit_description: str
    fields: tuple[FieldDef, ...]
    candidates: Callable[[Benchmark, Filters], Iterable[Candidate]] = field(repr=False)
    # Response rating asks one question per dimension the batch names (coherence,
    # fluency, ...), so its fields are open: any dimension name, rated on this scale.
    open_scale: tuple[Choice, ...] = ()

    def field(self, name: str) -> FieldDef | None:
        if self.open_scale:
            if not DIMENSION_NAME.match(name):
                return None
            return FieldDef(name, f"How good is the response's {name.replace('_', ' ')}?",
                            self.open_scale)
        return next((f for f in self.fields if f.name == name), None)

    def field_names(self) -> str:
        """For messages: the fields this task accepts."""
        if self.open_scale:
            return "a dimension name in lower case, e.g. coherence"
        return ", ".join(f.name for f in self.fields)


def judge_unit_key(item_key: str, model: str, requirement_key: str, judge: str) -> str:
    return f"{item_key}|{model}|{requirement_key}|{judge}"


def requirement_unit_key(item_key: str, requirement_key: str) -> str:
    return f"{item_key}#{requirement_key}"


def _items(benchmark: Benchmark, filters: Filters) -> QuerySet[Item]:
    items = Item.objects.filter(benchmark=benchmark)
    if filters.languages:
        items = items.filter(language__in=filters.languages)
    if filters.subset:
        items = items.filter(group__subset=filters.subset)
    if filters.models:
        items = items.filter(responses__model__in=filters.models).distinct()
    return items.order_by("key")


def _item_candidates(benchmark: Benchmark, filters: Filters) -> Iterable[Candidate]:
    for key, language, pk in _items(benchmark, filters).values_list("key", "language", "id"):
        yield Candidate(unit_key=key, language=language, item_id=pk)


def _translated_item_candidates(benchmark: Benchmark, filters: Filters) -> Iterable[Candidate]:
    # A translation is judged against its group's English anchor, so both must exist.
    items = (
        _items(benchmark, filters)
        .exclude(language="en")
        .filter(group__items__language="en")
    )
    for key, language, pk in items.values_list("key", "language", "id"):
        yield Candidate(unit_key=key, language=language, item_id=pk)


def _decision_candidates(benchmark: Benchmark, filters: Filters) -> Iterable[Candidate]:
    from judging.models import JudgeDecision, Protocol

    decisions = JudgeDecision.objects.filter(
        judgment__protocol=Protocol.REQUIREMENTS,
        judgment__response__item__benchmark=benchmark,
    )
    if filters.languages:
        decisions = decisions.filter(judgment__response__item__language__in=filters.languages)
    if filters.subset:
        decisions = decisions.filter(judgment__response__item__group__subset=filters.subset)
    if filters.models:
        decisions = decisions.filter(judgment__response__model__in=filters.models)
    rows = decisions.values_list(
        "id",
        "judgment__response__item__key",
        "judgment__response__item__language",
        "judgment__response__model",
        "requirement__key",
        "judgment__judge",
        "judgment__response__item_id",
    ).order_by("judgment__response__item__key", "judgment__response__model",
               "requirement__position", "judgment__judge")
    for pk, item_key, language, model, req_key, judge, item_id in rows:
        yield Candidate(
            unit_key=judge_unit_key(item_key, model, req_key, judge),
            language=language,
            item_id=item_id,
            decision_id=pk,
        )


def response_unit_key(item_key: str, model: str) -> str:
    return f"{item_key}|{model}"


def _response_candidates(benchmark: Benchmark, filters: Filters) -> Iterable[Candidate]:
    from judging.models import Response

    responses = Response.objects.filter(item__benchmark=benchmark)
    if filters.languages:
        responses = responses.filter(item__language__in=filters.languages)
    if filters.subset:
        responses = responses.filter(item__group__subset=filters.subset)
    if filters.models:
        responses = responses.filter(model__in=filters.models)
    rows = responses.order_by("item__key", "model").values_list(
        "id", "item__key", "item__language", "model", "item_id")
    for pk, item_key, language, model, item_id in rows:
        yield Candidate(unit_key=response_unit_key(item_key, model), language=language,
                        item_id=item_id, response_id=pk)


def _pair_candidates(benchmark: Benchmark, filters: Filters) -> Iterable[Candidate]:
    pairs = Pair.objects.filter(benchmark=benchmark)
    if filters.languages:
        pairs = pairs.filter(language__in=filters.languages)
    if filters.models:
        pairs = pairs.filter(Q(model_a__in=filters.models) | Q(model_b__in=filters.models))
    for key, language, pk in pairs.order_by("key").values_list("key", "language", "id"):
        yield Candidate(unit_key=key, language=language, pair_id=pk)


TASKS: dict[str, TaskSpec] = {
    TaskKind.INSTRUCTION_VALIDATION: TaskSpec(
        kind=TaskKind.INSTRUCTION_VALIDATION,
        unit_description="one instruction",
        fields=(
            FieldDef("clarity", "Is the instruction clear to understand?", YES_NO),
            FieldDef("linguistic_independence",
                     "Does it avoid features of one particular language?", YES_NO),
            FieldDef("cultural_accessibility",
                     "Is it accessible without a particular cultural background?", YES_NO),
            FieldDef("max_constraints", "Does it have at most 5 explicit constraints?", YES_NO,
                     seed_only=True),
            FieldDef("max_content_constraints",
                     "Does it have at most 4 content constraints?", YES_NO, seed_only=True),
        ),
        candidates=_item_candidates,
    ),
    TaskKind.REQUIREMENT_ASSESSMENT: TaskSpec(
        kind=TaskKind.REQUIREMENT_ASSESSMENT,
        unit_description="one instruction with its requirement list",
        fields=(
            FieldDef("explicitness", "Is it explicitly stated in the instruction?", YES_NO,
                     per_requirement=True),
            FieldDef("atomicity", "Does it check one single aspect?", YES_NO,
                     per_requirement=True),
            FieldDef("category", "Is its category right?", YES_NO, per_requirement=True),
            FieldDef("dimension", "Is its dimension right?", YES_NO, per_requirement=True),
            FieldDef("completeness",
                     "Do the requirements cover everything the instruction asks?", YES_NO),
        ),
        candidates=_item_candidates,
    ),
    TaskKind.JUDGE_AGREEMENT: TaskSpec(
        kind=TaskKind.JUDGE_AGREEMENT,
        unit_description="one judge decision on one requirement of one response",
        fields=(FieldDef("agree", "Do you agree with the judge's decision?", YES_NO),),
        candidates=_decision_candidates,
    ),
    TaskKind.TRANSLATION_VALIDATION: TaskSpec(
        kind=TaskKind.TRANSLATION_VALIDATION,
        unit_description="one translated instruction",
        fields=(FieldDef("quality",
                         "How well does the translation preserve the requirements (1-5)?",
                         QUALITY),),
        candidates=_translated_item_candidates,
    ),
    TaskKind.PAIRWISE_PREFERENCE: TaskSpec(
        kind=TaskKind.PAIRWISE_PREFERENCE,
        unit_description="two responses to one instruction",
        fields=(FieldDef("preference", "Which response is better?", PREFERENCE),),
        candidates=_pair_candidates,
    ),
    TaskKind.RESPONSE_RATING: TaskSpec(
        kind=TaskKind.RESPONSE_RATING,
        unit_description="one response, rated 1-5 on each dimension of the batch",
        fields=(),
        candidates=_response_candidates,
        open_scale=LIKERT,
    ),
}


def task_spec(kind: str) -> TaskSpec:
    try:
        return TASKS[kind]
    except KeyError:
        raise ValueError(f"unknown task kind {kind!r}; one of {', '.join(TASKS)}") from None


def questions_for(
    kind: str, *, unit_key: str, item: Item | None, requirements: Iterable[Requirement] = (),
    dimensions: Iterable[str] = (),
) -> list[Question]:
    """The fields an annotator answers on one unit, in display order."""
    spec = task_spec(kind)
    if spec.open_scale:
        return [Question(answer_key=name, label_unit=unit_key, field=spec.field(name))
                for name in dimensions if spec.field(name) is not None]
    is_seed = item is not None and not item.group.seed_key
    questions: list[Question] = []
    requirement_fields = [f for f in spec.fields if f.per_requirement]
    for requirement in requirements if requirement_fields else ():
        for f in requirement_fields:
            questions.append(Question(
                answer_key=f"{requirement.key}#{f.name}",
                label_unit=requirement_unit_key(unit_key, requirement.key),
                field=f,
                requirement=requirement,
            ))
    for f in spec.fields:
        if f.per_requirement or (f.seed_only and not is_seed):
            continue
        questions.append(Question(answer_key=f.name, label_unit=unit_key, field=f))
    return questions
