"""Reads for the agreement report beside the maintained summaries (annotation/summaries.py):
which labels a batch or filtered report covers, and the judge outputs it compares them with.

Every function here is a fixed number of queries, reading plain tuples (never model
instances). Nothing here writes and nothing computes a statistic (judging/reports.py does).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from annotation.models import Batch, BatchUnit, Benchmark, Label, Requirement, TaskKind

from .models import JudgeDecision, Judgment, PairJudgment, Protocol


@dataclass(frozen=True)
class ReportFilters:
    """What the report is restricted to. An empty tuple means no restriction.

    A filter restricts only the tasks it applies to: `models` the judge-agreement,
    response-rating and pairwise labels (a pair matches when either of its models does),
    `categories` the labels about one requirement; `subsets` the item-based tasks. Fields it
    does not apply to are reported whole.
    """

    languages: tuple[str, ...] = ()
    subsets: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, list[str]]:
        return {"languages": list(self.languages), "subsets": list(self.subsets),
                "models": list(self.models), "categories": list(self.categories)}


def _batch_scope(labels: QuerySet[Label], batch: Batch) -> QuerySet[Label]:
    """Only the labels of the batch's task on the batch's units. Requirement-assessment
    labels sit on `<item>#<requirement>` units while the batch unit is `<item>`, so they
    match on the item."""
    labels = labels.filter(task=batch.kind)
    units = BatchUnit.objects.filter(batch=batch)
    if batch.kind == TaskKind.REQUIREMENT_ASSESSMENT:
        return labels.filter(item_id__in=units.values("item_id"))
    return labels.filter(unit__in=units.values("unit_key"))


def report_labels(*, benchmark: Benchmark, batch: Batch | None, filters: ReportFilters,
                  apply_categories: bool = True) -> QuerySet[Label]:
    """The labels a report is computed from (a lazy queryset: no query yet)."""
    labels = Label.objects.filter(benchmark=benchmark)
    if batch is not None:
        labels = _batch_scope(labels, batch)
    if filters.languages:
        labels = labels.filter(Q(item__language__in=filters.languages)
                               | Q(pair__language__in=filters.languages))
    if filters.subsets:
        labels = labels.filter(Q(item__group__subset__in=filters.subsets)
                               | Q(task=TaskKind.PAIRWISE_PREFERENCE))
    if filters.models:
        labels = labels.filter(
            Q(task=TaskKind.JUDGE_AGREEMENT, model__in=filters.models)
            | Q(task=TaskKind.RESPONSE_RATING, model__in=filters.models)
            | Q(task=TaskKind.PAIRWISE_PREFERENCE, pair__model_a__in=filters.models)
            | Q(task=TaskKind.PAIRWISE_PREFERENCE, pair__model_b__in=filters.models)
            | ~Q(task__in=[TaskKind.JUDGE_AGREEMENT, TaskKind.RESPONSE_RATING,
                           TaskKind.PAIRWISE_PREFERENCE]))
    if filters.categories and apply_categories:
        labels = labels.filter(Q(requirement__category__in=filters.categories)
                               | Q(requirement__isnull=True))
    return labels


def verdict_counts(labels: QuerySet[Label]) -> list[tuple[str, int, int]]:
    """(unit, yes, no) per judge-agreement unit: how many annotators agreed and disagreed."""
    rows = (labels.filter(task=TaskKind.JUDGE_AGREEMENT, field="agree").order_by()
            .values("unit")
            .annotate(yes=Count("id", filter=Q(value="yes")), no=Count("id", filter=Q(value="no")))
            .values_list("unit", "yes", "no"))
    return list(rows)


def requirement_decisions(*, benchmark: Benchmark,
                          filters: ReportFilters | None = None) -> list[tuple]:
    """Every requirement-protocol decision as (item key, model, requirement key, judge,
    decision, item id, requirement id, language, requirement category)."""
    decisions = JudgeDecision.objects.filter(
        judgment__protocol=Protocol.REQUIREMENTS, judgment__response__item__benchmark=benchmark)
    if filters is not None:
        if filters.languages:
            decisions = decisions.filter(
                judgment__response__item__language__in=filters.languages)
        if filters.subsets:
            decisions = decisions.filter(
                judgment__response__item__group__subset__in=filters.subsets)
        if filters.models:
            decisions = decisions.filter(judgment__response__model__in=filters.models)
        if filters.categories:
            decisions = decisions.filter(requirement__category__in=filters.categories)
    return list(decisions.order_by().values_list(
        "judgment__response__item__key", "judgment__response__model", "requirement__key",
        "judgment__judge", "decision", "judgment__response__item_id", "requirement_id",
        "judgment__response__item__language", "requirement__category"))


def _scores(*, benchmark: Benchmark, filters: ReportFilters) -> QuerySet[Judgment]:
    judgments = Judgment.objects.filter(protocol=Protocol.DIRECT_SCORE,
                                        response__item__benchmark=benchmark,
                                        score__isnull=False)
    if filters.languages:
        judgments = judgments.filter(response__item__language__in=filters.languages)
    if filters.subsets:
        judgments = judgments.filter(response__item__group__subset__in=filters.subsets)
    if filters.models:
        judgments = judgments.filter(response__model__in=filters.models)
    return judgments.order_by()


def direct_scores(*, benchmark: Benchmark, filters: ReportFilters) -> list[tuple]:
    """Every holistic direct-score judgment as (judge, item id, model, group id, language,
    score). A score on one dimension says nothing about all requirements, so those stay out."""
    return list(_scores(benchmark=benchmark, filters=filters).filter(dimension="").values_list(
        "judge", "response__item_id", "response__model", "response__item__group_id",
        "response__item__language", "score"))


def dimension_scores(*, benchmark: Benchmark, filters: ReportFilters) -> list[tuple]:
    """Every direct-score judgment on one dimension as (judge, dimension, item key, model,
    language, score): what the judge_scores section correlates with the human ratings."""
    return list(_scores(benchmark=benchmark, filters=filters).exclude(dimension="").values_list(
        "judge", "dimension", "response__item__key", "response__model",
        "response__item__language", "score"))


def has_direct_scores(*, benchmark: Benchmark) -> bool:
    return Judgment.objects.filter(protocol=Protocol.DIRECT_SCORE, score__isnull=False,
                                   response__item__benchmark=benchmark).exists()


def requirements_per_group(*, benchmark: Benchmark) -> dict[int, int]:
    rows = (Requirement.objects.filter(group__benchmark=benchmark).order_by()
            .values("group_id").annotate(n=Count("id")).values_list("group_id", "n"))
    return dict(rows)


def pair_judgments(*, benchmark: Benchmark) -> list[tuple[str, str, bool, str, str]]:
    """Every pairwise judge verdict as (judge, pair key, swapped, preference, language)."""
    return list(PairJudgment.objects.filter(pair__benchmark=benchmark).order_by()
                .values_list("judge", "pair__key", "swapped", "preference", "pair__language"))
