"""Django admin for model responses and the judge's decisions (large tables: raw id widgets,
related rows selected with the change list)."""

from __future__ import annotations

from django.contrib import admin

from annotation.admin import ContentAdmin

from .models import JudgeDecision, Judgment, PairJudgment, Response


class JudgmentInline(admin.TabularInline):
    model = Judgment
    extra = 0
    fields = ["judge", "protocol", "score"]
    show_change_link = True


@admin.register(Response)
class ResponseAdmin(ContentAdmin):
    list_display = ["item", "model", "line_number"]
    list_filter = ["model", "item__benchmark", "item__language"]
    list_select_related = ["item"]
    search_fields = ["item__key", "model", "text"]
    raw_id_fields = ["item"]
    inlines = [JudgmentInline]


class JudgeDecisionInline(admin.TabularInline):
    model = JudgeDecision
    extra = 0
    fields = ["requirement", "decision", "observation"]
    raw_id_fields = ["requirement"]


@admin.register(Judgment)
class JudgmentAdmin(ContentAdmin):
    list_display = ["response", "judge", "protocol", "score"]
    list_filter = ["protocol", "judge", "response__model"]
    list_select_related = ["response"]
    search_fields = ["response__item__key", "response__model", "judge"]
    raw_id_fields = ["response"]
    inlines = [JudgeDecisionInline]


@admin.register(JudgeDecision)
class JudgeDecisionAdmin(ContentAdmin):
    list_display = ["judgment", "requirement", "decision"]
    list_filter = ["decision", "judgment__judge", "judgment__protocol"]
    list_select_related = ["judgment", "requirement"]
    search_fields = ["judgment__response__item__key", "requirement__key", "observation"]
    raw_id_fields = ["judgment", "requirement"]


@admin.register(PairJudgment)
class PairJudgmentAdmin(ContentAdmin):
    list_display = ["pair", "judge", "preference"]
    list_filter = ["preference", "judge", "pair__benchmark"]
    list_select_related = ["pair"]
    search_fields = ["pair__key", "judge"]
    raw_id_fields = ["pair"]
