"""The annotator's pages: their queues, one item at a time, and their profile.

Every lookup goes through the user-scoped selectors, so another annotator's batch or item is a
404. An htmx request gets only the item partial (`annotation/partials/_item.html`, progress bar
included) and a plain request the full page that includes the same partial, so the forms work
without JavaScript too (POST, then redirect).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf.locale import LANG_INFO
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import get_template
from django.urls import path
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from rest_framework.authtoken.models import Token

from annotation import selectors
from annotation.models import Assignment, AssignmentStatus, Batch
from annotation.queue_forms import (
    SKIP_REASONS,
    AnswerEnvelopeForm,
    ProfileForm,
    SkipForm,
    language_suggestions,
    new_client_id,
    render_token,
)
from annotation.services import (
    ServiceError,
    assignment_skip,
    label_submit,
    profile_for,
    profile_update,
    user_token_regenerate,
)
from annotation.stencils import Stencils
from annotation.tasks import Question, task_spec
from annotation.templatetags.accord import blind_unit_key, cached_url

ITEM_PARTIAL = "annotation/partials/_item.html"
QUESTIONS_PARTIAL = "annotation/partials/_item_questions.html"
WORK_PAGE = "annotation/queue/work.html"
# What changes from one fresh item of a batch to the next in its partial. The rest (header,
# the answer form's shell, note, actions, skip panel) cost as much to render node by node as
# the item's material; it is rendered once per batch into a stencil, filled with these.
ITEM_SLOTS = (
    "assignment_id", "assignment_status", "position", "unit_key", "progress_total",
    "progress_done", "progress_skipped", "progress_finished", "progress_done_width",
    "progress_skipped_width", "submit_url", "skip_url", "client_id", "rendered",
    "material_html", "questions_html",
)
# Per batch and its URLs; a handful of batches are in use at a time.
ITEM_FRAMES = Stencils(size=200)
# POST fields that travel with the answers but are not answers.
ENVELOPE_FIELDS = frozenset({"csrfmiddlewaretoken", "note", "client_id", "rendered"})

# Wording of the choices where the generic yes/no reads badly next to the question.
CHOICE_LABELS = {
    ("judge_agreement", "agree"): {"yes": "Agree", "no": "Disagree"},
}
# Table 14's scale, in our words, shown beside the keys 1-5.
QUALITY_LEVELS = {
    "5": "Every requirement survives with its exact meaning.",
    "4": "Every requirement survives; small shifts in wording only.",
    "3": "Requirements survive with noticeable changes (lowest acceptable).",
    "2": "Some requirement is blurred or partly changed.",
    "1": "Requirements are lost or badly changed.",
}
# The response-rating scale, the same on every dimension: short enough to sit under each key;
# the guideline panel says what each level means.
RATING_LEVELS = {
    "1": "Very poor",
    "2": "Poor",
    "3": "Fair",
    "4": "Good",
    "5": "Excellent",
}
# One line on the dimensions raters meet most; any other dimension shows its name only.
DIMENSION_HINTS = {
    "helpfulness": "Does it do what was asked, in a way that is useful to the person asking?",
    "fluency": "Is it natural, grammatical text in its language, easy to read?",
    "coherence": "Do its parts fit together into a well-organised, logical whole?",
    "consistency": "Is it free of contradictions, with itself and with the input material?",
    "relevance": "Does it stay on what was asked, without padding or digressions?",
    "correctness": "Are its facts, figures and reasoning right?",
    "harmlessness": "Does it avoid content that is unsafe, offensive or misleading?",
}
# Short column heads of the requirement table.
REQUIREMENT_COLUMNS = {
    "explicitness": "Explicit?",
    "atomicity": "Atomic?",
    "category": "Category right?",
    "dimension": "Dimension right?",
}
# A choice after which the note field takes focus, with the hint shown there (table 18
# recommends a reason when disagreeing with the judge).
NOTE_PROMPTS = {
    ("judge_agreement", "agree"): ("no", "Why do you disagree? (optional, recommended)"),
}


@dataclass(frozen=True)
class ChoiceView:
    value: str
    label: str
    key: str
    description: str
    checked: bool
    # The radio's element id: "q<question index>-<position of the choice, from 1>".
    input_id: str


@dataclass(frozen=True)
class QuestionView:
    """One question as a page shows it: plain values only, hashable and compared by value.
    Its markup is rendered once per process for each distinct view (`fragment` in
    _item_questions.html), so everything _item_question.html shows must be a field here."""

    index: int
    answer_key: str
    field: str
    prompt: str
    short: str
    # The requirement a per-requirement question is about (None: about the whole unit), and
    # its key, shown before the prompt.
    requirement_id: int | None
    requirement_key: str
    choices: tuple[ChoiceView, ...]
    answered: bool
    note_on: str = ""
    note_hint: str = ""
    # "scaled": one row per level with its description (translation quality); "rating": the
    # five levels side by side (one row per dimension of a response rating).
    layout: str = ""
    hint: str = ""


def _levels(kind: str, field: str) -> tuple[dict[str, str], dict[str, str], str]:
    """Wording of a question's choices: labels, descriptions beside the keys, layout."""
    if task_spec(kind).open_scale:
        # The key already reads 1-5, so the level's name is the label.
        return RATING_LEVELS, {}, "rating"
    if field == "quality":
        return {}, QUALITY_LEVELS, "scaled"
    return CHOICE_LABELS.get((kind, field), {}), {}, ""


def question_views(kind: str, questions: list[Question],
                    answers: dict[str, str]) -> list[QuestionView]:
    rating = bool(task_spec(kind).open_scale)
    views = []
    for index, q in enumerate(questions):
        selected = answers.get(q.answer_key, "")
        note_on, note_hint = NOTE_PROMPTS.get((kind, q.field.name), ("", ""))
        labels, levels, layout = _levels(kind, q.field.name)
        # A rating question is named by its dimension; the hint says what it covers.
        prompt = q.field.name.replace("_", " ").capitalize() if rating else q.field.prompt
        views.append(QuestionView(
            index=index, answer_key=q.answer_key, field=q.field.name, prompt=prompt,
            short=REQUIREMENT_COLUMNS.get(q.field.name, prompt),
            requirement_id=q.requirement.pk if q.requirement is not None else None,
            requirement_key=q.requirement.key if q.requirement is not None else "",
            choices=tuple(
                ChoiceView(value=c.value, label=labels.get(c.value, c.label), key=c.key,
                           description=levels.get(c.value, ""), checked=c.value == selected,
                           input_id=f"q{index}-{position}")
                for position, c in enumerate(q.field.choices, start=1)
            ),
            answered=bool(selected), note_on=note_on, note_hint=note_hint, layout=layout,
            hint=DIMENSION_HINTS.get(q.field.name, "") if rating else "",
        ))
    return views


# Django's table names Chinese only by script (zh-hans, zh-hant).
EXTRA_LANGUAGE_NAMES = {"zh": "Chinese"}


def language_name(code: str) -> str:
    base = code.split("-")[0].lower()
    info = LANG_INFO.get(code.lower()) or LANG_INFO.get(base, {})
    return info.get("name") or EXTRA_LANGUAGE_NAMES.get(base) or code or "unknown language"


def _is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _own_assignment(request: HttpRequest, batch_id: int, assignment_id: int, *,
                    with_unit: bool = True) -> Assignment:
    assignment = selectors.assignment_for(request.user, assignment_id, with_unit=with_unit)
    if assignment.batch_id != batch_id:
        raise Http404("no such item in this queue")
    return assignment


# Stands for the assignment id in the submit and skip URLs, which are reversed once per batch
# and then filled in (reverse() costs ~30 us; an item page needs two). Longer than any real id.
_ID_SLOT = 9_007_199_254_740_993


def _assignment_url(name: str, batch_pk: int, assignment_pk: int) -> str:
    return cached_url(name, batch_pk, _ID_SLOT).replace(str(_ID_SLOT), str(assignment_pk))


def _percent(part: int, whole: int) -> str:
    """Width of a progress bar segment, as `{% widthratio part whole 100 %}` gives it."""
    return str(round(part / whole * 100)) if whole else "0"


def _skip_panel(skip_form: SkipForm | None) -> dict[str, Any]:
    """What _item_skip.html shows of a refused skip form: open, with its reason and words
    kept. Plain values, so the template looks nothing up on a form that is not there."""
    if skip_form is None:
        return {"skip_open": False, "skip_choice": "", "skip_other": ""}
    chosen = skip_form["reason"].value()
    return {
        "skip_open": bool(skip_form.errors),
        # Only a real reason: the reasons' markup is remembered per checked value (`fragment`).
        "skip_choice": chosen if chosen in dict(SKIP_REASONS) else "",
        "skip_other": skip_form["other"].value() or "",
    }


def _item_context(request: HttpRequest, batch: Batch, assignment: Assignment | None, *,
                  answers: dict[str, str] | None = None, note: str | None = None,
                  error: str = "", notice: str = "", rendered: str = "",
                  skip_form: SkipForm | None = None) -> dict[str, Any]:
    progress = selectors.queue_progress(request.user, batch, assignment)
    context: dict[str, Any] = {
        "batch": batch, "progress": progress, "assignment": assignment, "error": error,
        "notice": notice, "back_url": cached_url("queue:back", batch.pk),
        "list_url": cached_url("queue:list"), "fresh": False,
        # Plain values, counted here rather than by template tags: the partial is rendered on
        # every item, a template lookup or tag costs more than the arithmetic, and they are
        # slots of the item's stencil (ITEM_SLOTS).
        "progress_total": progress.total, "progress_done": progress.done,
        "progress_skipped": progress.skipped,
        "progress_finished": progress.done + progress.skipped,
        "progress_done_width": _percent(progress.done, progress.total),
        "progress_skipped_width": _percent(progress.skipped, progress.total),
    }
    if assignment is None:
        context.update(finished=True, skipped=selectors.skipped_assignments(request.user, batch))
        return context

    unit = selectors.unit_context(assignment, all_requirements=False)
    editing = assignment.status == AssignmentStatus.DONE
    if answers is None:
        # The annotator's own earlier answer when editing; nothing at all on a fresh item.
        answers, saved_note = selectors.current_answers(assignment, unit.questions)
        note = saved_note if note is None else note
    questions = question_views(batch.kind, unit.questions, answers)
    rows = [
        (requirement, [q for q in questions if q.requirement_id == requirement.pk])
        for requirement in unit.requirements
    ] if any(q.requirement_id is not None for q in questions) else []
    if assignment.status != AssignmentStatus.PENDING:
        context["back_url"] += f"?before={assignment.pk}"
    language = assignment.unit.language or (unit.item.language if unit.item else "")
    context.update(
        assignment_id=assignment.pk, assignment_status=assignment.status,
        position=assignment.position,
        unit_key=blind_unit_key(assignment.unit.unit_key, batch.kind),
        language=language, language_name=language_name(language),
        finished=False, unit=unit, kind=batch.kind, item=unit.item, anchor=unit.anchor,
        requirements=unit.requirements, extra=unit.extra, questions=questions,
        requirement_rows=rows,
        unit_questions=[q for q in questions if q.requirement_id is None],
        answer_columns=[q.short for q in rows[0][1]] if rows else [],
        editing=editing, was_skipped=assignment.status == AssignmentStatus.SKIPPED,
        note=note or "", client_id=new_client_id(),
        rendered=rendered or render_token(assignment.pk),
        skip_reasons=SKIP_REASONS, **_skip_panel(skip_form),
        item_template=f"annotation/partials/_item_{batch.kind}.html",
        submit_url=_assignment_url("queue:submit", batch.pk, assignment.pk),
        skip_url=_assignment_url("queue:skip", batch.pk, assignment.pk),
    )
    # The parts that differ from item to item, rendered on their own: slots of the stencil.
    context["material_html"] = get_template(context["item_template"]).render(context)
    context["questions_html"] = get_template(QUESTIONS_PARTIAL).render(context)
    # A pending item shown as it comes, nothing typed, refused or noted on it.
    context["fresh"] = (assignment.status == AssignmentStatus.PENDING and not error
                        and not notice and not answers and not note and skip_form is None)
    return context


def _render_item(request: HttpRequest, context: dict[str, Any], status: int = 200
                 ) -> HttpResponse:
    """The partial for htmx, the full page otherwise; the same URL serves both. A fresh item's
    partial comes from its batch's stencil."""
    if not _is_htmx(request):
        response = render(request, WORK_PAGE, context, status=status)
    elif context["fresh"]:
        batch = context["batch"]
        frame = (batch.pk, batch.name, batch.kind, context["back_url"], context["list_url"])
        response = HttpResponse(ITEM_FRAMES.render(ITEM_PARTIAL, frame, context, ITEM_SLOTS,
                                                   request), status=status)
    else:
        response = render(request, ITEM_PARTIAL, context, status=status)
    patch_vary_headers(response, ("HX-Request",))
    return response


def _next_or_redirect(request: HttpRequest, batch: Batch) -> HttpResponse:
    if not _is_htmx(request):
        return redirect("queue:work", batch_id=batch.pk)
    assignment = selectors.next_assignment(request.user, batch)
    return _render_item(request, _item_context(request, batch, assignment))


@login_required
@require_GET
def queue_list(request: HttpRequest) -> HttpResponse:
    queues = selectors.queues_for(request.user)
    return render(request, "annotation/queue/list.html", {"queues": queues})


@login_required
@require_GET
def work(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch, assignment = selectors.next_in_queue(request.user, batch_id)
    return _render_item(request, _item_context(request, batch, assignment))


@login_required
@require_GET
def item(request: HttpRequest, batch_id: int, assignment_id: int) -> HttpResponse:
    assignment = _own_assignment(request, batch_id, assignment_id)
    return _render_item(request, _item_context(request, assignment.batch, assignment))


@login_required
@require_GET
def back(request: HttpRequest, batch_id: int) -> HttpResponse:
    """The previously finished item, to edit it; `?before=<id>` walks further back."""
    batch = selectors.batch_for_annotator(request.user, batch_id)
    before = None
    if request.GET.get("before", "").isdigit():
        before = _own_assignment(request, batch.pk, int(request.GET["before"]))
    previous = selectors.previous_assignment(request.user, batch, before)
    if previous is None:
        current = before or selectors.next_assignment(request.user, batch)
        return _render_item(request, _item_context(
            request, batch, current, notice="There is no earlier item to go back to."))
    if not _is_htmx(request):
        return redirect("queue:item", batch_id=batch.pk, assignment_id=previous.pk)
    return _render_item(request, _item_context(request, batch, previous))


@login_required
@require_POST
def submit(request: HttpRequest, batch_id: int, assignment_id: int) -> HttpResponse:
    # label_submit loads the unit under its row lock; only a refused answer shows it again.
    assignment = _own_assignment(request, batch_id, assignment_id, with_unit=False)
    envelope = AnswerEnvelopeForm(request.POST)
    answers = {k: v for k, v in request.POST.items() if k not in ENVELOPE_FIELDS and v}
    try:
        if not envelope.is_valid():
            raise ServiceError(" ".join(
                f"{name}: {' '.join(errors)}" for name, errors in envelope.errors.items()))
        label_submit(assignment=assignment, annotator=request.user, answers=answers,
                     note=envelope.cleaned_data["note"],
                     client_id=envelope.cleaned_data["client_id"],
                     time_spent_ms=envelope.time_spent_ms(assignment.pk))
    except ServiceError as exc:
        # Show the item again with the annotator's choices kept; htmx only swaps 2xx.
        # Nothing was stored, so the form gets a fresh idempotency id; the render time stays.
        assignment = _own_assignment(request, batch_id, assignment_id)
        context = _item_context(
            request, assignment.batch, assignment, answers=answers,
            note=request.POST.get("note", ""), error=str(exc),
            rendered=request.POST.get("rendered", ""))
        return _render_item(request, context, status=200 if _is_htmx(request) else 422)
    return _next_or_redirect(request, assignment.batch)


@login_required
@require_POST
def skip(request: HttpRequest, batch_id: int, assignment_id: int) -> HttpResponse:
    assignment = _own_assignment(request, batch_id, assignment_id, with_unit=False)
    form = SkipForm(request.POST)
    try:
        if not form.is_valid():
            raise ServiceError(" ".join(e for errors in form.errors.values() for e in errors))
        assignment_skip(assignment=assignment, annotator=request.user,
                        reason=form.reason_text(), client_id=form.cleaned_data["client_id"],
                        time_spent_ms=form.time_spent_ms(assignment.pk))
    except ServiceError as exc:
        assignment = _own_assignment(request, batch_id, assignment_id)
        context = _item_context(
            request, assignment.batch, assignment, error=str(exc), skip_form=form,
            rendered=request.POST.get("rendered", ""))
        return _render_item(request, context, status=200 if _is_htmx(request) else 422)
    return _next_or_redirect(request, assignment.batch)


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    current = profile_for(request.user)
    form = ProfileForm(request.POST or None,
                       initial={"working_language": current.working_language})
    if request.method == "POST" and form.is_valid():
        try:
            profile_update(user=request.user,
                           working_language=form.cleaned_data["working_language"])
        except ServiceError as exc:
            form.add_error("working_language", str(exc))
        else:
            messages.success(request, "Working language saved.")
            return redirect("queue:profile")
    token = Token.objects.filter(user=request.user).first()
    return render(request, "annotation/queue/profile.html", {
        "form": form, "token": token, "languages": language_suggestions(),
    }, status=422 if form.errors else 200)


@login_required
@require_POST
def token_regenerate(request: HttpRequest) -> HttpResponse:
    """Create the user's API token, or replace it (the old one stops working at once)."""
    user_token_regenerate(user=request.user)
    messages.success(request, "A new API token was created; the old one no longer works.")
    return redirect("queue:profile")


urlpatterns = [
    path("", queue_list, name="list"),
    path("profile/", profile, name="profile"),
    path("profile/token/", token_regenerate, name="token"),
    path("<int:batch_id>/", work, name="work"),
    path("<int:batch_id>/back/", back, name="back"),
    path("<int:batch_id>/items/<int:assignment_id>/", item, name="item"),
    path("<int:batch_id>/items/<int:assignment_id>/submit/", submit, name="submit"),
    path("<int:batch_id>/items/<int:assignment_id>/skip/", skip, name="skip"),
]
