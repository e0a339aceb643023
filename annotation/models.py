"""Benchmark content, annotation work (batches, assignments) and human labels.

Labels are append-only events (`LabelEvent`, one per submitted field) plus a current value
(`Label`): an edit adds an event and moves the current value, it never rewrites history.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models


class TaskKind(models.TextChoices):
    INSTRUCTION_VALIDATION = "instruction_validation", "Instruction validation"
    REQUIREMENT_ASSESSMENT = "requirement_assessment", "Requirement assessment"
    JUDGE_AGREEMENT = "judge_agreement", "Judge agreement"
    TRANSLATION_VALIDATION = "translation_validation", "Translation validation"
    PAIRWISE_PREFERENCE = "pairwise_preference", "Pairwise preference"
    RESPONSE_RATING = "response_rating", "Response rating"


class Benchmark(models.Model):
    name = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Raised by every write to what its item pages show (imports, admin edits): the item
    # pages keep loaded units in memory under it (selectors.UnitCache).
    content_version = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def content_changed(cls, *pks: int) -> None:
        """Mark the content of these benchmarks (of every benchmark without pks) changed."""
        benchmarks = cls.objects.filter(pk__in=pks) if pks else cls.objects.all()
        benchmarks.update(content_version=models.F("content_version") + 1)


class Group(models.Model):
    """The parallel translations of one instruction; requirements belong here."""

    benchmark = models.ForeignKey(Benchmark, on_delete=models.CASCADE, related_name="groups")
    key = models.CharField(max_length=200)
    # The key of the group this one was derived from; kept as text because the seed may be
    # imported later or live in another file.
    seed_key = models.CharField(max_length=200, blank=True)
    subset = models.CharField(max_length=50, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["benchmark", "key"], name="group_unique_key"),
        ]

    def __str__(self) -> str:
        return self.key


class Requirement(models.Model):
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="requirements")
    key = models.CharField(max_length=100)
    text = models.TextField()
    category = models.CharField(max_length=100, blank=True)
    dimension = models.CharField(max_length=100, blank=True)
    position = models.PositiveIntegerField()

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["group", "key"], name="requirement_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.key}: {self.text}"


class Item(models.Model):
    """One instruction in one language (one line of the benchmark file)."""

    benchmark = models.ForeignKey(Benchmark, on_delete=models.CASCADE, related_name="items")
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="items")
    key = models.CharField(max_length=200)
    language = models.CharField(max_length=35)
    instruction = models.TextField()
    core_instruction = models.TextField(blank=True)
    input_material = models.TextField(blank=True)
    resource_level = models.CharField(max_length=10, blank=True)
    # The `meta` object as the file gave it: text, not JSON, because PostgreSQL's jsonb
    # re-sorts keys and the export must write `meta` back verbatim.
    meta_json = models.TextField(blank=True)
    line_number = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["line_number", "id"]
        constraints = [
            models.UniqueConstraint(fields=["benchmark", "key"], name="item_unique_key"),
            models.UniqueConstraint(fields=["group", "language"], name="item_one_per_language"),
        ]
        indexes = [models.Index(fields=["benchmark", "language"])]

    def __str__(self) -> str:
        return self.key

    @property
    def meta(self) -> dict | None:
        return json.loads(self.meta_json) if self.meta_json else None


class Pair(models.Model):
    """Two responses to one instruction, for pairwise preference."""

    benchmark = models.ForeignKey(Benchmark, on_delete=models.CASCADE, related_name="pairs")
    key = models.CharField(max_length=200)
    language = models.CharField(max_length=35)
    instruction = models.TextField()
    model_a = models.CharField(max_length=200)
    response_a = models.TextField()
    model_b = models.CharField(max_length=200)
    response_b = models.TextField()
    line_number = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["line_number", "id"]
        constraints = [
            models.UniqueConstraint(fields=["benchmark", "key"], name="pair_unique_key"),
        ]

    def __str__(self) -> str:
        return self.key


class Profile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="accord_profile"
    )
    # The language inline translation translates into.
    working_language = models.CharField(max_length=35, default="en")

    def __str__(self) -> str:
        return f"profile of {self.user}"


class LoginSession(AbstractBaseSession):
    """A browser's session (SESSION_ENGINE is config.sessions) with its signed-in user as a
    column, so that a request reads its session and its user in one join."""

    # No database constraint: a request that began before its user was deleted may still save
    # the session (the join then finds no user). Deleting a user deletes their sessions.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.CASCADE, db_constraint=False, related_name="+")

    @classmethod
    def get_session_store_class(cls) -> type:
        from config.sessions import SessionStore

        return SessionStore


class Batch(models.Model):
    benchmark = models.ForeignKey(Benchmark, on_delete=models.CASCADE, related_name="batches")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=40, choices=TaskKind.choices)
    # How the sample was drawn (filters, size, seed, overlap), so it can be drawn again.
    parameters = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["benchmark", "name"], name="batch_unique_name"),
        ]
        verbose_name_plural = "batches"

    def __str__(self) -> str:
        return self.name


class BatchUnit(models.Model):
    """One sampled unit of work; `annotators_required` is how many must label it."""

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="units")
    unit_key = models.CharField(max_length=500)
    language = models.CharField(max_length=35, blank=True)
    item = models.ForeignKey(Item, null=True, blank=True, on_delete=models.CASCADE)
    pair = models.ForeignKey(Pair, null=True, blank=True, on_delete=models.CASCADE)
    decision = models.ForeignKey(
        "judging.JudgeDecision", null=True, blank=True, on_delete=models.CASCADE
    )
    response = models.ForeignKey(
        "judging.Response", null=True, blank=True, on_delete=models.CASCADE
    )
    annotators_required = models.PositiveSmallIntegerField(default=1)
    is_overlap = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["batch", "unit_key"], name="batchunit_unique_key"),
        ]

    def __str__(self) -> str:
        return self.unit_key


class AssignmentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"
    SKIPPED = "skipped", "Skipped"


class Assignment(models.Model):
    unit = models.ForeignKey(BatchUnit, on_delete=models.CASCADE, related_name="assignments")
    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="assignments")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments"
    )
    position = models.PositiveIntegerField()
    status = models.CharField(
        max_length=10, choices=AssignmentStatus.choices, default=AssignmentStatus.PENDING
    )
    skip_reason = models.CharField(max_length=200, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Total time spent on this item over all visits, from the server's render timestamps.
    time_spent_ms = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(
                fields=["unit", "annotator"], name="assignment_one_per_annotator"
            ),
        ]
        indexes = [models.Index(fields=["batch", "annotator", "status", "position"])]

    def __str__(self) -> str:
        return f"{self.unit} for {self.annotator}"


class QueueProgress(models.Model):
    """An annotator's assignments in a batch, counted: all, done and skipped. The queue shows
    them with every item; counting the assignments there read every one of them on PostgreSQL.

    Kept by triggers on the assignment table (migration 0009), so every write counts, in its
    own transaction: submissions, the admin's edits, cascaded deletes. Nothing in Python
    writes here. tests/annotation/test_queue_progress.py checks that the triggers exist."""

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="+")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                  related_name="+")
    # Positive: a count going below zero fails the write instead of showing a wrong bar.
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["batch", "annotator"],
                                    name="queue_progress_one_per_annotator"),
        ]

    def __str__(self) -> str:
        return f"{self.annotator} in {self.batch}: {self.done + self.skipped}/{self.total}"


class Submission(models.Model):
    """One press of submit (or skip): the unit of idempotency and of time tracking."""

    class Source(models.TextChoices):
        WEB = "web", "Web"
        API = "api", "API"
        IMPORT = "import", "Import"

    # A client-chosen id: the same id submitted twice is stored once.
    client_id = models.CharField(max_length=64, unique=True)
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="submissions"
    )
    assignment = models.ForeignKey(
        Assignment, null=True, blank=True, on_delete=models.CASCADE, related_name="submissions"
    )
    source = models.CharField(max_length=10, choices=Source.choices)
    skipped = models.BooleanField(default=False)
    skip_reason = models.CharField(max_length=200, blank=True)
    time_spent_ms = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.client_id


class Label(models.Model):
    """The current value of one field of one unit by one annotator."""

    benchmark = models.ForeignKey(Benchmark, on_delete=models.CASCADE, related_name="labels")
    task = models.CharField(max_length=40, choices=TaskKind.choices)
    unit = models.CharField(max_length=500)
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="labels"
    )
    field = models.CharField(max_length=50)
    value = models.CharField(max_length=50)
    note = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # What the unit points to, derived from its key when the label is written, so reports
    # break agreement down by language, subset, category or model with joins. SET_NULL: a
    # requirement removed by a re-import must never take a human label with it.
    item = models.ForeignKey(Item, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    requirement = models.ForeignKey(Requirement, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    pair = models.ForeignKey(Pair, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    model = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["benchmark", "task", "unit", "annotator", "field"],
                name="label_one_current_value",
            ),
        ]
        indexes = [models.Index(fields=["benchmark", "task", "field"])]

    def __str__(self) -> str:
        return f"{self.task}:{self.unit}:{self.field}={self.value}"


class Adjudication(models.Model):
    """An admin's final value for one field of one unit, overriding every resolution
    strategy. Append-only like labels: a new decision adds a row, the latest one counts."""

    benchmark = models.ForeignKey(Benchmark, on_delete=models.CASCADE,
                                  related_name="adjudications")
    task = models.CharField(max_length=40, choices=TaskKind.choices)
    # The unit as labels name it; for instruction-level fields the group's key, since those
    # fields are resolved per group.
    unit = models.CharField(max_length=500)
    field = models.CharField(max_length=50)
    value = models.CharField(max_length=50)
    reason = models.TextField()
    adjudicator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    related_name="adjudications")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["benchmark", "task", "unit", "field"])]

    def __str__(self) -> str:
        return f"{self.task}:{self.unit}:{self.field}={self.value} (adjudicated)"


class LabelEvent(models.Model):
    """Every value ever given; never updated or deleted."""

    label = models.ForeignKey(Label, on_delete=models.CASCADE, related_name="events")
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="events")
    value = models.CharField(max_length=50)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.label_id}={self.value}"


class Translation(models.Model):
    """Cache of machine translations, keyed by provider, languages and a hash of the text."""

    provider = models.CharField(max_length=20)
    source_language = models.CharField(max_length=35)
    target_language = models.CharField(max_length=35)
    text_hash = models.CharField(max_length=64)
    translated = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "source_language", "target_language", "text_hash"],
                name="translation_unique_source",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source_language}->{self.target_language} {self.text_hash[:8]}"


class ImportJob(models.Model):
    """An import started from the web page; the page polls it for progress."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        VALIDATING = "validating", "Validating"
        WRITING = "writing", "Writing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=20)
    benchmark_name = models.CharField(max_length=200)
    file_name = models.CharField(max_length=255)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    lines_total = models.PositiveIntegerField(default=0)
    lines_done = models.PositiveIntegerField(default=0)
    summary = models.JSONField(default=dict)
    errors = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.file_name} ({self.status})"


# --- maintained agreement summaries (annotation/summaries.py keeps them up to date) -------------
# Written in the same transaction as the labels they summarise, so a report over a million
# labels reads a few thousand rows. `manage.py rebuild_summaries` recomputes them from labels.

SLICE_FIELDS = ("language", "resource_level", "subset", "category", "dimension", "model",
                "model_b", "judge", "judge_value")


class UnitSlice(models.Model):
    """The attributes a unit's labels are broken down by (SLICE_FIELDS); "" when not set."""

    language = models.CharField(max_length=35, blank=True)
    resource_level = models.CharField(max_length=10, blank=True)
    subset = models.CharField(max_length=100, blank=True)
    category = models.CharField(max_length=100, blank=True)
    dimension = models.CharField(max_length=100, blank=True)
    model = models.CharField(max_length=200, blank=True)
    model_b = models.CharField(max_length=200, blank=True)   # a pair's second model
    judge = models.CharField(max_length=200, blank=True)
    judge_value = models.CharField(max_length=10, blank=True)  # the judged decision, yes/no

    class Meta:
        abstract = True


class UnitTally(UnitSlice):
    """Who said what on one unit (every field), and the unit's attributes: the state the
    histograms below were last updated from."""

    benchmark = models.ForeignKey(Benchmark, on_delete=models.CASCADE, related_name="+")
    task = models.CharField(max_length=40, choices=TaskKind.choices)
    unit = models.CharField(max_length=500)
    # JSON {field: {annotator id: value}}; "{}" until the first refresh.
    votes = models.TextField(default="{}")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["benchmark", "task", "unit"],
                                               name="unit_tally_one_per_unit")]

    def __str__(self) -> str:
        return f"{self.task}:{self.unit} {self.votes}"


class PatternTally(UnitSlice):
    """How many units of one slice (task, field and unit attributes) have one pattern of
    label counts ("2,1" = two labels in the first category, one in the second)."""

    benchmark = models.ForeignKey(Benchmark, on_delete=models.CASCADE, related_name="+")
    task = models.CharField(max_length=40, choices=TaskKind.choices)
    field = models.CharField(max_length=50)
    pattern = models.CharField(max_length=100)
    n = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["benchmark", "task", "field", *SLICE_FIELDS, "pattern"],
            name="pattern_tally_one_per_key")]

    def __str__(self) -> str:
        return f"{self.task}:{self.field} [{self.pattern}] x{self.n}"


class AnnotatorTally(models.Model):
    """How many units of one field an annotator gave `value` on, by the unit's whole pattern:
    enough for each annotator against the majority of the others."""

    benchmark = models.ForeignKey(Benchmark, on_delete=models.CASCADE, related_name="+")
    task = models.CharField(max_length=40, choices=TaskKind.choices)
    field = models.CharField(max_length=50)
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                  related_name="+")
    value = models.CharField(max_length=50)
    pattern = models.CharField(max_length=100)
    n = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["benchmark", "task", "field", "annotator", "value", "pattern"],
            name="annotator_tally_one_per_key")]

    def __str__(self) -> str:
        return (f"{self.task}:{self.field} {self.annotator_id}={self.value} "
                f"[{self.pattern}] x{self.n}")


class PairTally(models.Model):
    """How many units two annotators (a has the lower id) both labelled with these values."""

    benchmark = models.ForeignKey(Benchmark, on_delete=models.CASCADE, related_name="+")
    task = models.CharField(max_length=40, choices=TaskKind.choices)
    field = models.CharField(max_length=50)
    annotator_a = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                    related_name="+")
    annotator_b = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                    related_name="+")
    value_a = models.CharField(max_length=50)
    value_b = models.CharField(max_length=50)
    n = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["benchmark", "task", "field", "annotator_a", "annotator_b", "value_a",
                    "value_b"],
            name="pair_tally_one_per_key")]

    def __str__(self) -> str:
        return (f"{self.task}:{self.field} {self.annotator_a_id}={self.value_a} "
                f"{self.annotator_b_id}={self.value_b} x{self.n}")
