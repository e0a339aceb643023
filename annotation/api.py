"""The REST API: one APIView per operation, each a few lines of validate -> selector or
service -> output serializer. The web pages and the management commands call the same
selectors and services, so the three faces of Accord never disagree.

Every error body is `{"detail": "..."}` (ErrorSerializer): a service's refusal and a
malformed body are 400 (the latter with per-field `errors`), a refused import file is 400
with its `problems`, someone else's assignment or queue is 404, an annotator on an admin
endpoint is 403, and no credentials is 401.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import exceptions, serializers, status
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView, exception_handler

from .importers import (
    ImportRejected,
    import_benchmark,
    import_labels,
    import_pairs,
    import_responses,
)
from .models import (
    Assignment,
    Benchmark,
    Submission,
    TaskKind,
)
from .selectors import (
    assignment_for,
    batch_for_annotator,
    batch_progress,
    batch_with_counts,
    batches_with_progress,
    benchmarks_with_counts,
    current_answers,
    next_assignment,
    queue_progress,
    queues_for,
    unit_context,
)
from .serializers import (
    AssignmentDetailSerializer,
    AssignmentSerializer,
    AssignmentView,
    ErrorSerializer,
)
from .services import (
    SampleRequest,
    ServiceError,
    annotators_by_name,
    assignment_skip,
    batch_create,
    label_submit,
)
from .tasks import Filters

# A single visit longer than a day is a clock error, not work.
MAX_TIME_SPENT_MS = 24 * 60 * 60 * 1000


def component(name: str):
    """Name a nested serializer in the schema (every view's is called InputSerializer)."""
    return extend_schema_serializer(component_name=name)


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    meaning = {
        400: "refused: the request body is malformed or the service said no",
        401: "no or invalid credentials",
        403: "admins only",
        404: "no such object among yours",
    }
    return {code: OpenApiResponse(ErrorSerializer, description=meaning[code])
            for code in codes}


# --- errors ---------------------------------------------------------------------------------

def _first_message(detail: Any, where: str = "") -> str:
    if isinstance(detail, dict):
        for key, value in detail.items():
            inner = "" if key == api_settings.NON_FIELD_ERRORS_KEY else str(key)
            return _first_message(value, f"{where}.{inner}" if where and inner else where or inner)
    if isinstance(detail, list) and detail:
        return _first_message(detail[0], where)
    return f"{where}: {detail}" if where else str(detail)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Refusals of services and importers are 400 with a message, never 500; malformed
    bodies keep DRF's per-field errors under `errors`, with the first one as `detail`."""
    if isinstance(exc, ServiceError):
        return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, ImportRejected):
        return Response({"detail": "file was not imported", "problems": exc.problems,
                         "total": exc.total}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        per_field = detail if isinstance(detail, dict) else {
            api_settings.NON_FIELD_ERRORS_KEY: detail}
        return Response({"detail": _first_message(detail), "errors": per_field},
                        status=status.HTTP_400_BAD_REQUEST)
    return exception_handler(exc, context)


class ApiErrorsMixin:
    def get_exception_handler(self):
        return api_exception_handler


class ApiView(ApiErrorsMixin, APIView):
    pass


class AdminApiView(ApiView):
    permission_classes = [IsAdminUser]


# --- authentication -------------------------------------------------------------------------

# DRF's own token view, with our error bodies and a schema.
class TokenObtainApi(ApiErrorsMixin, ObtainAuthToken):
    # A script that logs in has no session; without this a browser session would demand CSRF.
    authentication_classes = ()

    @component("Token")
    class OutputSerializer(serializers.Serializer):
        token = serializers.CharField(help_text="send as `Authorization: Token <token>`")

    @extend_schema(
        summary="Exchange a username and password for an API token",
        description="The same user always gets the same token.",
        request=AuthTokenSerializer,
        responses={200: OutputSerializer, **errors(400)},
        auth=[],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().post(request, *args, **kwargs)


# --- annotators -----------------------------------------------------------------------------

class QueueListApi(ApiView):
    @component("Queue")
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField(source="batch.pk")
        name = serializers.CharField(source="batch.name")
        benchmark = serializers.CharField(source="batch.benchmark.name")
        kind = serializers.ChoiceField(source="batch.kind", choices=TaskKind.choices)
        total = serializers.IntegerField(source="progress.total")
        done = serializers.IntegerField(source="progress.done")
        skipped = serializers.IntegerField(source="progress.skipped")
        pending = serializers.IntegerField(source="progress.pending")

    @extend_schema(summary="Your queues (batches you have assignments in) with progress",
                   responses={200: OutputSerializer(many=True), **errors(401)})
    def get(self, request: Request) -> Response:
        queues = [{"batch": batch, "progress": progress}
                  for batch, progress in queues_for(request.user)]
        return Response(self.OutputSerializer(queues, many=True).data)


class QueueNextApi(ApiView):
    @extend_schema(
        summary="The next pending assignment of your queue",
        responses={200: AssignmentSerializer,
                   204: OpenApiResponse(description="the queue is finished"),
                   **errors(401, 404)},
    )
    def get(self, request: Request, batch_id: int) -> Response:
        batch = batch_for_annotator(request.user, batch_id)
        assignment = next_assignment(request.user, batch)
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        shown = AssignmentView(context=unit_context(assignment),
                               progress=queue_progress(request.user, batch, assignment))
        return Response(AssignmentSerializer(shown).data)


class AssignmentDetailApi(ApiView):
    @extend_schema(summary="One of your assignments, with your current answers when done",
                   responses={200: AssignmentDetailSerializer, **errors(401, 404)})
    def get(self, request: Request, assignment_id: int) -> Response:
        assignment = assignment_for(request.user, assignment_id)
        context = unit_context(assignment)
        answers, note = current_answers(assignment, context.questions)
        shown = AssignmentView(context=context, answers=answers, note=note,
                               progress=queue_progress(request.user, assignment.batch))
        return Response(AssignmentDetailSerializer(shown).data)


@component("SubmissionResult")
class SubmissionResultSerializer(serializers.Serializer):
    submission = serializers.IntegerField(source="submission.pk")
    client_id = serializers.CharField(source="submission.client_id")
    assignment = serializers.IntegerField(source="submission.assignment_id")
    skipped = serializers.BooleanField(source="submission.skipped")
    replayed = serializers.BooleanField(
        help_text="true when this client_id was already stored; nothing new was written")
    next_assignment = serializers.IntegerField(
        source="next.pk", allow_null=True,
        help_text="your next pending assignment in this queue, or null when it is finished")


def _already_stored(client_id: str) -> bool:
    # A retry is recognised by a look-up before the call: the services return the stored
    # submission either way. Two copies racing may both answer 201; one row is stored.
    return Submission.objects.filter(client_id=client_id).exists()


def _submission_response(request: Request, assignment: Assignment, submission: Submission,
                         replayed: bool) -> Response:
    result = {"submission": submission, "replayed": replayed,
              "next": next_assignment(request.user, assignment.batch)}
    return Response(SubmissionResultSerializer(result).data,
                    status=status.HTTP_200_OK if replayed else status.HTTP_201_CREATED)


def _client_id_field() -> serializers.CharField:
    return serializers.CharField(
        max_length=64, help_text="chosen by the client (a UUID, say); a retry with the same "
                                 "id stores nothing new and answers 200")


def _time_spent_field() -> serializers.IntegerField:
    return serializers.IntegerField(min_value=0, max_value=MAX_TIME_SPENT_MS, allow_null=True,
                                    default=None, help_text="time spent on this visit")


SUBMISSION_RESPONSES = {
    201: SubmissionResultSerializer,
    200: OpenApiResponse(SubmissionResultSerializer, description="a retry of a stored client_id"),
    **errors(400, 401, 404),
}


def _record(request: Request, assignment_id: int, input_serializer: type[serializers.Serializer],
            service: Callable[..., Submission]) -> Response:
    """Submit and skip alike: validate, call the service, answer 201 (or 200 for a retry)."""
    assignment = assignment_for(request.user, assignment_id)
    serializer = input_serializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    replayed = _already_stored(serializer.validated_data["client_id"])
    submission = service(assignment=assignment, annotator=request.user,
                         source=Submission.Source.API, **serializer.validated_data)
    return _submission_response(request, assignment, submission, replayed)


class AssignmentSubmitApi(ApiView):
    @component("SubmitInput")
    class InputSerializer(serializers.Serializer):
        answers = serializers.DictField(
            child=serializers.CharField(allow_blank=True, max_length=50),
            help_text="answer key (from `questions`) -> one of the question's choice values")
        note = serializers.CharField(allow_blank=True, default="", max_length=10_000)
        client_id = _client_id_field()
        time_spent_ms = _time_spent_field()

    @extend_schema(
        summary="Answer every question of one of your assignments (or edit your answers)",
        request=InputSerializer,
        responses=SUBMISSION_RESPONSES,
    )
    def post(self, request: Request, assignment_id: int) -> Response:
        return _record(request, assignment_id, self.InputSerializer, label_submit)


class AssignmentSkipApi(ApiView):
    @component("SkipInput")
    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(allow_blank=True, max_length=200)
        client_id = _client_id_field()
        time_spent_ms = _time_spent_field()

    @extend_schema(
        summary="Set one of your pending assignments aside, with a reason",
        request=InputSerializer,
        responses=SUBMISSION_RESPONSES,
    )
    def post(self, request: Request, assignment_id: int) -> Response:
        return _record(request, assignment_id, self.InputSerializer, assignment_skip)


# --- admins: benchmarks and imports ---------------------------------------------------------

@component("BenchmarkCounts")
class BenchmarkCountsSerializer(serializers.Serializer):
    groups = serializers.IntegerField(source="n_groups")
    items = serializers.IntegerField(source="n_items")
    requirements = serializers.IntegerField(source="n_requirements")
    responses = serializers.IntegerField(source="n_responses")
    judge_decisions = serializers.IntegerField(source="n_judge_decisions")
    pairs = serializers.IntegerField(source="n_pairs")
    batches = serializers.IntegerField(source="n_batches")
    labels = serializers.IntegerField(source="n_labels")


class BenchmarkListApi(AdminApiView):
    @component("Benchmark")
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        name = serializers.CharField()
        created_at = serializers.DateTimeField()
        counts = BenchmarkCountsSerializer(source="*")

    @extend_schema(summary="Every benchmark with how much it holds",
                   responses={200: OutputSerializer(many=True), **errors(401, 403)})
    def get(self, request: Request) -> Response:
        return Response(self.OutputSerializer(benchmarks_with_counts(), many=True).data)


IMPORTERS = {
    "benchmark": import_benchmark,
    "responses": import_responses,
    "pairs": import_pairs,
    "labels": import_labels,
}


# Kept inline in the schema (the wrapper hides it from drf-spectacular's enum extraction):
# a second choice set on a field named `kind` makes the TaskKind enum's name collide.
# With SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] naming TaskKind this could be a plain
# ChoiceField.
@extend_schema_field({"allOf": [{"type": "string", "enum": list(IMPORTERS)}]})
class ImportKindField(serializers.ChoiceField):
    pass


# A file part of a multipart body. Without this drf-spectacular documents a FileField by its
# response form (`format: uri`), and a client built from the schema would send a URL string.
@extend_schema_field({"type": "string", "format": "binary"})
class UploadField(serializers.FileField):
    pass


class ImportApi(AdminApiView):
    parser_classes = [MultiPartParser, FormParser]

    @component("ImportInput")
    class InputSerializer(serializers.Serializer):
        kind = ImportKindField(choices=list(IMPORTERS),
                               help_text="the file's format: spec sections 1-4")
        benchmark = serializers.CharField(max_length=200, help_text="the benchmark's name")
        # Empty files reach the importer, whose refusal names the file and line 1.
        file = UploadField(allow_empty_file=True)

    @component("ImportSummary")
    class OutputSerializer(serializers.Serializer):
        kind = serializers.CharField()
        benchmark = serializers.CharField()
        file = serializers.CharField()
        lines = serializers.IntegerField()
        created = serializers.DictField(child=serializers.IntegerField())
        updated = serializers.DictField(child=serializers.IntegerField())

    @extend_schema(
        summary="Import a file synchronously; a file with any bad line imports nothing",
        request={"multipart/form-data": InputSerializer},
        responses={201: OutputSerializer, **errors(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        kind, name, upload = (serializer.validated_data[k] for k in ("kind", "benchmark", "file"))
        summary = IMPORTERS[kind](data=upload.read(), file_name=upload.name, benchmark_name=name)
        return Response(self.OutputSerializer({"kind": kind, "benchmark": name,
                                               **summary.as_dict()}).data,
                        status=status.HTTP_201_CREATED)


# --- admins: batches ------------------------------------------------------------------------

@component("AnnotatorProgress")
class AnnotatorProgressSerializer(serializers.Serializer):
    annotator = serializers.CharField()
    total = serializers.IntegerField(source="progress.total")
    done = serializers.IntegerField(source="progress.done")
    skipped = serializers.IntegerField(source="progress.skipped")
    pending = serializers.IntegerField(source="progress.pending")
    time_spent_ms = serializers.IntegerField()


@component("BatchDetail")
class BatchDetailSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="batch.pk")
    name = serializers.CharField(source="batch.name")
    benchmark = serializers.CharField(source="batch.benchmark.name")
    kind = serializers.ChoiceField(source="batch.kind", choices=TaskKind.choices)
    parameters = serializers.DictField(source="batch.parameters",
                                       help_text="how the sample was drawn")
    created_at = serializers.DateTimeField(source="batch.created_at")
    created_by = serializers.CharField(source="batch.created_by.username", allow_null=True)
    units = serializers.IntegerField(source="batch.n_units")
    overlap_units = serializers.IntegerField(source="batch.n_overlap")
    assignments = serializers.IntegerField(source="batch.n_assignments")
    done = serializers.IntegerField(source="batch.n_done")
    annotators = AnnotatorProgressSerializer(many=True)


def _batch_detail_data(pk: int) -> dict[str, Any]:
    batch = batch_with_counts(pk)
    return BatchDetailSerializer({"batch": batch, "annotators": batch_progress(batch)}).data


# Two operations on one URL (GET lists, POST creates), so this one view holds both.
class BatchListCreateApi(AdminApiView):
    @component("BatchListFilter")
    class FilterSerializer(serializers.Serializer):
        benchmark = serializers.CharField(required=False, help_text="only this benchmark's")

    @component("Batch")
    class ListOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        name = serializers.CharField()
        benchmark = serializers.CharField(source="benchmark.name")
        kind = serializers.ChoiceField(choices=TaskKind.choices)
        created_at = serializers.DateTimeField()
        units = serializers.IntegerField(source="n_units")
        assignments = serializers.IntegerField(source="n_assignments")
        done = serializers.IntegerField(source="n_done")

    @component("BatchCreateInput")
    class CreateInputSerializer(serializers.Serializer):
        benchmark = serializers.CharField(help_text="the benchmark's name")
        kind = serializers.ChoiceField(choices=TaskKind.choices)
        name = serializers.CharField(max_length=200, help_text="unique within the benchmark")
        annotators = serializers.ListField(child=serializers.CharField(), allow_empty=False,
                                           help_text="usernames")
        languages = serializers.ListField(child=serializers.CharField(max_length=35),
                                          default=list, help_text="default: all")
        subset = serializers.CharField(allow_blank=True, default="", help_text="default: all")
        models = serializers.ListField(child=serializers.CharField(), default=list,
                                       help_text="response models; default: all")
        size = serializers.IntegerField(min_value=1, allow_null=True, default=None,
                                        help_text="number of units to draw")
        fraction = serializers.FloatField(allow_null=True, default=None,
                                          help_text="share of the matching units, e.g. 0.1")
        seed = serializers.IntegerField(default=0, help_text="the same seed draws the same "
                                                             "sample")
        overlap_fraction = serializers.FloatField(
            default=0.0, help_text="share of the sample labelled by several annotators")
        overlap_k = serializers.IntegerField(default=2, help_text="annotators per overlap unit")
        dimensions = serializers.ListField(
            child=serializers.CharField(max_length=50), default=list,
            help_text="response rating only: the dimensions to rate 1-5, e.g. "
                      "[\"helpfulness\", \"fluency\"]; default: those the judges scored")

        def validate_benchmark(self, value: str) -> Benchmark:
            benchmark = Benchmark.objects.filter(name=value).first()
            if benchmark is None:
                raise serializers.ValidationError(f"no benchmark named {value!r}")
            return benchmark

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            if attrs["size"] is not None and attrs["fraction"] is not None:
                raise serializers.ValidationError("give size or fraction, not both")
            return attrs

    @extend_schema(summary="Every batch with unit and assignment counts",
                   parameters=[FilterSerializer],
                   responses={200: ListOutputSerializer(many=True), **errors(401, 403)})
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        batches = batches_with_progress().order_by("-created_at", "-id")
        if "benchmark" in filters.validated_data:
            batches = batches.filter(benchmark__name=filters.validated_data["benchmark"])
        return Response(self.ListOutputSerializer(batches, many=True).data)

    @extend_schema(
        summary="Draw a sample (stratified by language) and assign it, like create_batch",
        request=CreateInputSerializer,
        responses={201: BatchDetailSerializer, **errors(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        serializer = self.CreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        batch = batch_create(
            benchmark=data["benchmark"], kind=data["kind"], name=data["name"],
            annotators=annotators_by_name(data["annotators"]),
            filters=Filters(languages=tuple(data["languages"]), subset=data["subset"],
                            models=tuple(data["models"])),
            sample=SampleRequest(size=data["size"], fraction=data["fraction"],
                                 seed=data["seed"], overlap_fraction=data["overlap_fraction"],
                                 overlap_k=data["overlap_k"]),
            created_by=request.user, dimensions=data["dimensions"],
        )
        return Response(_batch_detail_data(batch.pk), status=status.HTTP_201_CREATED)


class BatchDetailApi(AdminApiView):
    @extend_schema(summary="One batch with each annotator's progress",
                   responses={200: BatchDetailSerializer, **errors(401, 403, 404)})
    def get(self, request: Request, batch_id: int) -> Response:
        return Response(_batch_detail_data(batch_id))
