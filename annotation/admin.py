"""Django admin for the annotation app.

Item tables can be large, so foreign keys use raw id or autocomplete widgets (never a select
with every row) and change lists select their related rows in the same query. Label history
(`LabelEvent`, `Submission`) is append-only: it can be read here, never added, changed or
deleted. Deleting a batch goes through `services.batch_delete`, like the manage page.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import (
    Adjudication,
    AnnotatorTally,
    Assignment,
    Batch,
    BatchUnit,
    Benchmark,
    Group,
    ImportJob,
    Item,
    Label,
    LabelEvent,
    LoginSession,
    Pair,
    PairTally,
    PatternTally,
    Profile,
    QueueProgress,
    Requirement,
    Submission,
    Translation,
    UnitTally,
)
from .services import batch_delete


class ReadOnlyAdmin(admin.ModelAdmin):
    """History is append-only: visible, never edited from the admin."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ViewAndDeleteAdmin(admin.ModelAdmin):
    """Rows written by Accord itself: visible and deletable (some go with what they belong to),
    never added or edited from the admin."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ContentAdmin(admin.ModelAdmin):
    """An edit of what item pages show (texts, requirements, decisions) marks every
    benchmark's content changed: item pages keep loaded units in memory under that version.
    Admin edits are rare, so all benchmarks rather than working out the edited row's own."""

    def save_model(self, request: HttpRequest, obj, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        Benchmark.content_changed()

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        Benchmark.content_changed()

    def delete_model(self, request: HttpRequest, obj) -> None:
        super().delete_model(request, obj)
        Benchmark.content_changed()

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        super().delete_queryset(request, queryset)
        Benchmark.content_changed()


@admin.register(Benchmark)
class BenchmarkAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]
    date_hierarchy = "created_at"


class RequirementInline(admin.TabularInline):
    model = Requirement
    extra = 0
    fields = ["position", "key", "text", "category", "dimension"]


@admin.register(Group)
class GroupAdmin(ContentAdmin):
    list_display = ["key", "benchmark", "subset", "seed_key"]
    list_filter = ["benchmark", "subset"]
    list_select_related = ["benchmark"]
    search_fields = ["key", "seed_key"]
    autocomplete_fields = ["benchmark"]
    inlines = [RequirementInline]


@admin.register(Requirement)
class RequirementAdmin(ContentAdmin):
    list_display = ["key", "group", "text", "category", "dimension", "position"]
    list_filter = ["group__benchmark", "category", "dimension"]
    list_select_related = ["group"]
    search_fields = ["key", "text", "group__key"]
    raw_id_fields = ["group"]


@admin.register(Item)
class ItemAdmin(ContentAdmin):
    list_display = ["key", "benchmark", "group", "language", "resource_level", "line_number"]
    list_filter = ["benchmark", "language", "resource_level", "group__subset"]
    list_select_related = ["benchmark", "group"]
    search_fields = ["key", "group__key", "instruction"]
    autocomplete_fields = ["benchmark"]
    raw_id_fields = ["group"]


@admin.register(Pair)
class PairAdmin(ContentAdmin):
    list_display = ["key", "benchmark", "language", "model_a", "model_b", "line_number"]
    list_filter = ["benchmark", "language"]
    list_select_related = ["benchmark"]
    search_fields = ["key", "instruction", "model_a", "model_b"]
    autocomplete_fields = ["benchmark"]


@admin.register(LoginSession)
class LoginSessionAdmin(ViewAndDeleteAdmin):
    """Who is signed in, until when. Deleting a session signs that browser out; its data is
    signed and never shown."""

    list_display = ["user", "expire_date"]
    list_select_related = ["user"]
    search_fields = ["user__username"]
    fields = ["user", "expire_date"]
    readonly_fields = ["user", "expire_date"]
    ordering = ["-expire_date"]


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "working_language"]
    list_filter = ["working_language"]
    list_select_related = ["user"]
    search_fields = ["user__username"]
    autocomplete_fields = ["user"]


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    list_display = ["name", "benchmark", "kind", "created_by", "created_at"]
    list_filter = ["benchmark", "kind"]
    list_select_related = ["benchmark", "created_by"]
    search_fields = ["name"]
    autocomplete_fields = ["benchmark", "created_by"]
    date_hierarchy = "created_at"

    # The service detaches the batch's submissions first, so deleting a batch never deletes
    # label history (which the cascade alone would).
    def delete_model(self, request: HttpRequest, obj: Batch) -> None:
        batch_delete(batch=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Batch]) -> None:
        for batch in queryset:
            batch_delete(batch=batch)

    def get_deleted_objects(self, objs, request: HttpRequest):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        history = {Submission._meta.verbose_name, LabelEvent._meta.verbose_name}
        return deleted, counts, perms_needed - history, protected


@admin.register(BatchUnit)
class BatchUnitAdmin(admin.ModelAdmin):
    list_display = ["unit_key", "batch", "language", "annotators_required", "is_overlap"]
    list_filter = ["batch__benchmark", "batch", "language", "is_overlap"]
    list_select_related = ["batch"]
    search_fields = ["unit_key"]
    raw_id_fields = ["batch", "item", "pair", "decision"]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["unit", "batch", "annotator", "position", "status", "completed_at",
                    "time_spent_ms"]
    list_filter = ["status", "batch__benchmark", "batch", "annotator"]
    list_select_related = ["unit", "batch", "annotator"]
    search_fields = ["unit__unit_key", "annotator__username"]
    raw_id_fields = ["unit", "batch"]
    autocomplete_fields = ["annotator"]


@admin.register(Submission)
class SubmissionAdmin(ReadOnlyAdmin):
    list_display = ["client_id", "annotator", "source", "skipped", "time_spent_ms",
                    "created_at"]
    list_filter = ["source", "skipped", "annotator"]
    list_select_related = ["annotator"]
    search_fields = ["client_id", "annotator__username"]
    date_hierarchy = "created_at"


class LabelEventInline(admin.TabularInline):
    model = LabelEvent
    extra = 0
    fields = ["created_at", "value", "note", "submission"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    list_display = ["unit", "task", "field", "value", "annotator", "benchmark", "updated_at"]
    list_filter = ["benchmark", "task", "field", "value", "annotator"]
    list_select_related = ["benchmark", "annotator"]
    search_fields = ["unit", "annotator__username", "note"]
    autocomplete_fields = ["benchmark", "annotator"]
    # The current value moves only with a new event (services.label_submit or an import),
    # so the admin shows it and its history but does not edit it in place.
    readonly_fields = ["benchmark", "task", "unit", "annotator", "field", "value", "note",
                       "updated_at"]
    inlines = [LabelEventInline]

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # A submitted label is never lost (deleting its annotator is the one way out, and
        # recounts the agreement summaries; see annotation/signals.py).
        return False


@admin.register(LabelEvent)
class LabelEventAdmin(ReadOnlyAdmin):
    list_display = ["label", "value", "submission", "created_at"]
    list_filter = ["label__task", "label__field", "label__benchmark"]
    list_select_related = ["label", "submission"]
    search_fields = ["label__unit", "submission__client_id"]
    date_hierarchy = "created_at"


@admin.register(Adjudication)
class AdjudicationAdmin(ReadOnlyAdmin):
    """Append-only: an admin adjudicates from the adjudication queue, which records who,
    when and why; a new decision adds a row."""

    list_display = ("task", "unit", "field", "value", "adjudicator", "created_at", "benchmark")
    list_filter = ("benchmark", "task", "field")
    search_fields = ("unit", "reason", "adjudicator__username")
    list_select_related = ("benchmark", "adjudicator")


@admin.register(Translation)
class TranslationAdmin(admin.ModelAdmin):
    list_display = ["text_hash", "provider", "source_language", "target_language",
                    "created_at"]
    list_filter = ["provider", "source_language", "target_language"]
    search_fields = ["text_hash", "translated"]


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ["file_name", "kind", "benchmark_name", "status", "lines_total",
                    "created_by", "created_at", "finished_at"]
    list_filter = ["status", "kind"]
    list_select_related = ["created_by"]
    search_fields = ["file_name", "benchmark_name"]
    readonly_fields = ["kind", "benchmark_name", "file_name", "status", "lines_total",
                       "lines_done", "summary", "errors", "created_by", "created_at",
                       "finished_at"]

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # jobs are started from the import page


# Derived data (annotation/summaries.py keeps it equal to the labels; `manage.py
# rebuild_summaries` recomputes it): visible for inspection, never edited.

@admin.register(PatternTally)
class PatternTallyAdmin(ReadOnlyAdmin):
    list_display = ["task", "field", "language", "judge", "judge_value", "pattern", "n",
                    "benchmark"]
    list_filter = ["benchmark", "task", "field", "language"]


@admin.register(UnitTally)
class UnitTallyAdmin(ReadOnlyAdmin):
    list_display = ["task", "unit", "votes", "benchmark"]
    list_filter = ["benchmark", "task"]
    search_fields = ["unit"]


@admin.register(AnnotatorTally)
class AnnotatorTallyAdmin(ReadOnlyAdmin):
    list_display = ["task", "field", "annotator", "value", "pattern", "n", "benchmark"]
    list_filter = ["benchmark", "task", "field"]
    list_select_related = ["annotator", "benchmark"]


@admin.register(PairTally)
class PairTallyAdmin(ReadOnlyAdmin):
    list_display = ["task", "field", "annotator_a", "annotator_b", "value_a", "value_b", "n",
                    "benchmark"]
    list_filter = ["benchmark", "task", "field"]
    list_select_related = ["annotator_a", "annotator_b", "benchmark"]


@admin.register(QueueProgress)
class QueueProgressAdmin(ViewAndDeleteAdmin):
    """Counted by the database's triggers: shown, never written here. Deletable, since deleting
    a batch or a user takes its counts with it."""

    list_display = ["batch", "annotator", "total", "done", "skipped"]
    list_filter = ["batch__benchmark", "batch"]
    list_select_related = ["batch", "annotator"]
    search_fields = ["annotator__username"]
