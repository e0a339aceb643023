"""Output shapes the REST API shares between views: an assignment as an annotator sees it,
progress counts, and the one error body every endpoint answers with.

Serializers that belong to one operation live inside its APIView (annotation/api.py); the
ones here are reused by several. They only describe and format: reads come from selectors,
writes go through services.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rest_framework import serializers

from .selectors import Progress, UnitContext


@dataclass(frozen=True)
class AssignmentView:
    """What the API shows of one assignment: its unit, the queue's progress and, when the
    assignment is done, the annotator's own current answers."""

    context: UnitContext
    progress: Progress
    answers: dict[str, str] = field(default_factory=dict)
    note: str = ""


class ErrorSerializer(serializers.Serializer):
    """Every 4xx body: `detail` says what went wrong in one sentence."""

    detail = serializers.CharField()
    errors = serializers.DictField(
        required=False, help_text="per-field messages when the request body was malformed")
    problems = serializers.ListField(
        child=serializers.CharField(), required=False,
        help_text="`file:line: field: message` for every problem of a refused import file "
                  "(at most 50)")
    total = serializers.IntegerField(
        required=False, help_text="how many problems the file has in all")


class ProgressSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    done = serializers.IntegerField()
    skipped = serializers.IntegerField()
    pending = serializers.IntegerField()


class ChoiceSerializer(serializers.Serializer):
    value = serializers.CharField()
    label = serializers.CharField()


class QuestionSerializer(serializers.Serializer):
    answer_key = serializers.CharField(
        help_text="the key of this answer in a submission's `answers`")
    field = serializers.CharField(source="field.name")
    prompt = serializers.CharField(source="field.prompt")
    choices = ChoiceSerializer(source="field.choices", many=True)
    requirement = serializers.CharField(
        source="requirement.key", allow_null=True,
        help_text="the requirement this question is about, or null for the whole unit")


class ItemSerializer(serializers.Serializer):
    key = serializers.CharField()
    language = serializers.CharField()
    instruction = serializers.CharField()
    core_instruction = serializers.CharField()
    input_material = serializers.CharField()
    resource_level = serializers.CharField()


class AnchorSerializer(serializers.Serializer):
    key = serializers.CharField()
    instruction = serializers.CharField()
    core_instruction = serializers.CharField()


class RequirementSerializer(serializers.Serializer):
    key = serializers.CharField()
    text = serializers.CharField()
    category = serializers.CharField()
    dimension = serializers.CharField()


class ResponseSerializer(serializers.Serializer):
    model = serializers.CharField()
    text = serializers.CharField(help_text="the model's response, verbatim (not escaped)")


class JudgeDecisionSerializer(serializers.Serializer):
    name = serializers.CharField(source="judgment.judge")
    requirement = serializers.CharField(source="requirement.key")
    decision = serializers.BooleanField(help_text="true: the judge said YES")
    observation = serializers.CharField()


class PairSerializer(serializers.Serializer):
    key = serializers.CharField()
    language = serializers.CharField()
    instruction = serializers.CharField()
    model_a = serializers.CharField()
    response_a = serializers.CharField()
    model_b = serializers.CharField()
    response_b = serializers.CharField()


# Serialises an AssignmentView.
class AssignmentSerializer(serializers.Serializer):
    """One unit of work with everything needed to judge it."""

    id = serializers.IntegerField(source="context.assignment.pk")
    batch = serializers.IntegerField(source="context.assignment.batch_id")
    benchmark = serializers.CharField(source="context.assignment.batch.benchmark.name")
    kind = serializers.CharField(source="context.kind")
    unit_key = serializers.CharField(source="context.assignment.unit.unit_key")
    language = serializers.CharField(source="context.assignment.unit.language")
    status = serializers.CharField(source="context.assignment.status")
    skip_reason = serializers.CharField(source="context.assignment.skip_reason")
    progress = ProgressSerializer(help_text="the annotator's progress in this queue")
    item = ItemSerializer(source="context.item", allow_null=True,
                          help_text="the instruction; null for pairwise preference")
    anchor = AnchorSerializer(
        source="context.anchor", allow_null=True,
        help_text="the English line of the item's group; null when the item is English")
    requirements = RequirementSerializer(source="context.requirements", many=True)
    response = ResponseSerializer(
        source="context.extra.response", allow_null=True,
        help_text="the model response to judge or rate (judge agreement and response rating "
                  "only)")
    judge = JudgeDecisionSerializer(
        source="context.extra.decision", allow_null=True,
        help_text="the judge's decision to agree or disagree with (judge agreement only)")
    pair = PairSerializer(source="context.extra.pair", allow_null=True,
                          help_text="the two responses (pairwise preference only)")
    questions = QuestionSerializer(
        source="context.questions", many=True,
        help_text="what to answer, in display order; for response rating one question per "
                  "dimension of the batch, its `field` the dimension's name")


class AssignmentDetailSerializer(AssignmentSerializer):
    answers = serializers.DictField(
        child=serializers.CharField(),
        help_text="the annotator's current answers by answer key; empty unless done")
    note = serializers.CharField()
