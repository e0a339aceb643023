"""The adjudication queue: the selector of cases, the rule resolutions, and the staff pages
where an admin sets the final value with a reason."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from annotation import importers
from annotation.adjudication import (
    Resolutions,
    case_after,
    disagreements,
    open_case_counts,
    resolve,
)
from annotation.models import Adjudication, Benchmark
from annotation.services import adjudication_set, user_ensure
from annotation.tasks import PREFERENCE, QUALITY, YES_NO
from tests.conftest import DEMO, PASSWORD

JUDGE_UNIT = "easy-001-en|demo-model-large|r1|gpt-4o-2024-08-06"
LABELS = """task,unit,annotator,field,value,note
instruction_validation,hard-004-en,ana,clarity,yes,
instruction_validation,hard-004-zh,ben,clarity,no,"the <b>zh</b> wording is ambiguous"
instruction_validation,hard-004-en,ana,cultural_accessibility,yes,
instruction_validation,hard-004-zh,ben,cultural_accessibility,yes,
requirement_assessment,easy-001-en#r1,ana,atomicity,yes,
requirement_assessment,easy-001-en#r1,ben,atomicity,no,two checks in one
requirement_assessment,easy-001-en#r1,ana,explicitness,yes,
requirement_assessment,easy-001-en#r1,ben,explicitness,yes,
judge_agreement,{judge},ana,agree,no,the sky part is missing
judge_agreement,{judge},ben,agree,no,
judge_agreement,easy-001-en|demo-model-large|r2|gpt-4o-2024-08-06,ana,agree,yes,
translation_validation,easy-001-zh,ana,quality,5,
translation_validation,easy-001-zh,ben,quality,3,
pairwise_preference,pair-001,ana,preference,a,
pairwise_preference,pair-001,ben,preference,tie,
""".replace("{judge}", JUDGE_UNIT)


def import_labels(text: str, benchmark: str = DEMO) -> None:
    importers.import_labels(data=text.encode(), file_name="labels.csv",
                            benchmark_name=benchmark)


@pytest.fixture
def labelled(demo_benchmark, annotator_a, annotator_b) -> Benchmark:
    import_labels(LABELS)
    return demo_benchmark


@pytest.fixture
def admin_client(client: Client, admin) -> Client:
    client.force_login(admin)
    return client


def case_params(task: str, unit: str, field: str, **extra: str) -> dict[str, str]:
    return {"benchmark": DEMO, "task": task, "unit": unit, "field": field, **extra}


def keys(cases) -> list[tuple[str, str, str]]:
    return [c.key for c in cases]


# --- the rules ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("values", "choices", "expected"), [
    (["yes", "yes", "no"], YES_NO, Resolutions("no", "yes")),
    (["yes", "no"], YES_NO, Resolutions("no", "no")),          # tie -> conservative
    (["yes", "yes"], YES_NO, Resolutions("yes", "yes")),
    (["no", "no", "yes"], YES_NO, Resolutions("no", "no")),
    (["5", "3", "3"], QUALITY, Resolutions(None, "3")),
    (["5", "3"], QUALITY, Resolutions(None, None)),            # tie -> no resolution
    (["a", "tie"], PREFERENCE, Resolutions(None, None)),
    (["a", "a", "b"], PREFERENCE, Resolutions(None, "a")),
    ([], YES_NO, Resolutions(None, None)),
])
def test_rule_resolutions(values, choices, expected):
    assert resolve(values, choices) == expected


# --- the selector -------------------------------------------------------------------------------

def test_the_selector_finds_disagreements_per_field_and_judge_overrulings(labelled):
    cases = disagreements(benchmark=labelled)
    assert keys(cases) == [
        ("instruction_validation", "hard-004", "clarity"),
        ("requirement_assessment", "easy-001-en#r1", "atomicity"),
        ("judge_agreement", JUDGE_UNIT, "agree"),
        ("translation_validation", "easy-001-zh", "quality"),
        ("pairwise_preference", "pair-001", "preference"),
    ]
    by_key = {c.key: c for c in cases}
    judged = by_key[("judge_agreement", JUDGE_UNIT, "agree")]
    # Both annotators say "no": no disagreement among them, but the judge is overruled.
    assert (judged.disagreement, judged.judge_overruled, judged.counts) == (
        False, True, (("no", 2),))
    quality = by_key[("translation_validation", "easy-001-zh", "quality")]
    assert quality.counts == (("3", 1), ("5", 1)) and quality.disagreement
    assert disagreements(benchmark=labelled, task="pairwise_preference")[0].unit == "pair-001"


def test_instruction_validation_pools_the_labels_of_the_whole_group(labelled):
    case = disagreements(benchmark=labelled, task="instruction_validation")
    assert len(case) == 1
    assert (case[0].unit, case[0].counts, case[0].group_level) == (
        "hard-004", (("yes", 1), ("no", 1)), True)


def test_adjudicated_cases_are_resolved_and_hidden_unless_asked(labelled, admin):
    adjudication_set(benchmark=labelled, task="pairwise_preference", unit="pair-001",
                     field="preference", value="a", reason="A follows the format",
                     adjudicator=admin)
    assert ("pairwise_preference", "pair-001", "preference") not in keys(
        disagreements(benchmark=labelled))
    every = {c.key: c for c in disagreements(benchmark=labelled, include_resolved=True)}
    resolved = every[("pairwise_preference", "pair-001", "preference")]
    assert resolved.resolved and resolved.adjudication.value == "a"
    assert open_case_counts() == {labelled.pk: 4}


def test_the_latest_adjudication_counts(labelled, admin):
    for value in ("a", "tie"):
        adjudication_set(benchmark=labelled, task="pairwise_preference", unit="pair-001",
                         field="preference", value=value, reason=f"now {value}",
                         adjudicator=admin)
    case = disagreements(benchmark=labelled, task="pairwise_preference",
                         include_resolved=True)[0]
    assert case.adjudication.value == "tie"


def test_agreeing_labels_and_single_yes_labels_are_no_case(demo_benchmark, annotator_a):
    import_labels("task,unit,annotator,field,value,note\n"
                  "instruction_validation,hard-004-en,ana,clarity,yes,\n"
                  f"judge_agreement,{JUDGE_UNIT},ana,agree,yes,\n")
    assert disagreements(benchmark=demo_benchmark) == []


def test_the_selector_runs_two_queries(labelled, django_assert_num_queries):
    with django_assert_num_queries(2):
        disagreements(benchmark=labelled, include_resolved=True)


def test_case_after_walks_in_order_and_wraps(labelled):
    cases = disagreements(benchmark=labelled)
    assert case_after(cases, None) == cases[0]
    assert case_after(cases, cases[1].key) == cases[2]
    assert case_after(cases, cases[-1].key) == cases[0]
    assert case_after(cases[:1], cases[0].key) is None


# --- access -------------------------------------------------------------------------------------

@pytest.fixture
def adjudicate_urls(labelled) -> list[tuple[str, str, dict]]:
    params = case_params("pairwise_preference", "pair-001", "preference")
    return [
        ("get", reverse("adjudicate:queue"), {}),
        ("get", reverse("adjudicate:queue"), {"benchmark": DEMO}),
        ("get", reverse("adjudicate:case"), params),
        ("post", reverse("adjudicate:submit"), {**params, "value": "a", "reason": "why"}),
    ]


def test_anonymous_visitors_are_sent_to_the_login_page(client, adjudicate_urls):
    for method, url, data in adjudicate_urls:
        response = getattr(client, method)(url, data)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


def test_annotators_get_403_and_never_see_the_names(client, annotator_a, adjudicate_urls):
    client.force_login(annotator_a)
    for method, url, data in adjudicate_urls:
        response = getattr(client, method)(url, data)
        assert response.status_code == 403, url
        assert b"ben" not in response.content
    assert not Adjudication.objects.exists()


def test_admins_reach_every_page(admin_client, adjudicate_urls):
    for method, url, data in adjudicate_urls:
        response = getattr(admin_client, method)(url, data)
        assert response.status_code == (302 if method == "post" else 200), url


def test_an_unknown_case_is_404(admin_client, labelled):
    url = reverse("adjudicate:case")
    assert admin_client.get(url, case_params("pairwise_preference", "pair-404",
                                             "preference")).status_code == 404
    assert admin_client.get(url, case_params("nonsense", "pair-001",
                                             "preference")).status_code == 404
    assert admin_client.get(reverse("adjudicate:queue"),
                            {"benchmark": "nope"}).status_code == 404


# --- the pages ----------------------------------------------------------------------------------

def test_the_queue_lists_open_cases_with_counts_per_task(admin_client, labelled, admin):
    adjudication_set(benchmark=labelled, task="pairwise_preference", unit="pair-001",
                     field="preference", value="a", reason="A is complete",
                     adjudicator=admin)
    html = admin_client.get(reverse("adjudicate:queue"), {"benchmark": DEMO}).content.decode()
    assert "4 open cases" in html
    assert html.count("data-case>") == 4
    assert "hard-004" in html and "A is complete" in html  # the adjudicated list
    only = admin_client.get(reverse("adjudicate:queue"),
                            {"benchmark": DEMO, "task": "judge_agreement"}).content.decode()
    assert only.count("data-case>") == 1


def test_the_benchmark_chooser_shows_open_counts(admin_client, labelled):
    html = admin_client.get(reverse("adjudicate:queue")).content.decode()
    assert f"?benchmark={DEMO}" in html and "<td>5</td>" in html


def test_the_case_page_shows_labels_with_names_notes_rules_and_material(admin_client,
                                                                        labelled):
    response = admin_client.get(reverse("adjudicate:case"), case_params(
        "instruction_validation", "hard-004", "clarity"))
    html = response.content.decode()
    assert response.status_code == 200
    assert ">ana" in html and ">ben" in html
    assert "the &lt;b&gt;zh&lt;/b&gt; wording is ambiguous" in html  # notes are escaped
    assert 'data-rule="conservative"' in html
    assert "English original (anchor)" in html and "Instruction (zh)" in html
    for key in ("y", "n"):
        assert f'data-key="{key}"' in html
    assert 'id="reason"' in html and 'data-hotkey="s"' in html


def test_the_judge_case_shows_the_response_decision_and_observation(admin_client, labelled):
    html = admin_client.get(reverse("adjudicate:case"), case_params(
        "judge_agreement", JUDGE_UNIT, "agree")).content.decode()
    assert 'data-decision="yes"' in html and "The response explains that air scatters" in html
    assert "Sunlight is made of many colours" in html
    assert "Judge overruled" in html and "Disagree" in html


@pytest.mark.parametrize(("task", "unit", "field", "expected"), [
    ("requirement_assessment", "easy-001-en#r1", "atomicity", "Does the response explain"),
    ("translation_validation", "easy-001-zh", "quality", "Translation (Chinese)"),
    ("pairwise_preference", "pair-001", "preference", "Response B"),
])
def test_each_task_shows_its_material(admin_client, labelled, task, unit, field, expected):
    html = admin_client.get(reverse("adjudicate:case"),
                            case_params(task, unit, field)).content.decode()
    assert expected in html


def test_response_rating_case_shows_the_response(admin_client, demo_benchmark, annotator_a,
                                                 annotator_b):
    import_labels("task,unit,annotator,field,value,note\n"
                  "response_rating,easy-001-en|demo-model-small,ana,fluency,2,\n"
                  "response_rating,easy-001-en|demo-model-small,ben,fluency,4,\n")
    assert keys(disagreements(benchmark=demo_benchmark)) == [
        ("response_rating", "easy-001-en|demo-model-small", "fluency")]
    html = admin_client.get(reverse("adjudicate:case"), case_params(
        "response_rating", "easy-001-en|demo-model-small", "fluency")).content.decode()
    assert "Response of <strong>demo-model-small</strong>" in html
    assert 'data-key="5"' in html


def test_adjudicating_records_the_admin_and_reason_and_htmx_swaps_in_the_next_case(
        admin_client, labelled, admin):
    params = case_params("requirement_assessment", "easy-001-en#r1", "atomicity")
    response = admin_client.post(reverse("adjudicate:submit"),
                                 {**params, "value": "no", "reason": "r1 checks two things"},
                                 HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    decision = Adjudication.objects.get()
    assert (decision.unit, decision.field, decision.value, decision.reason,
            decision.adjudicator) == ("easy-001-en#r1", "atomicity", "no",
                                      "r1 checks two things", admin)
    html = response.content.decode()
    assert "<html" not in html  # the partial only
    assert f'data-case-key="judge_agreement|{JUDGE_UNIT}|agree"' in html
    assert JUDGE_UNIT in response["HX-Push-Url"].replace("%7C", "|")
    assert response["Vary"].count("HX-Request") == 1


def test_without_a_reason_nothing_is_saved_and_the_error_shows(admin_client, labelled):
    params = case_params("pairwise_preference", "pair-001", "preference")
    response = admin_client.post(reverse("adjudicate:submit"),
                                 {**params, "value": "b", "reason": "  "})
    assert response.status_code == 422
    html = response.content.decode()
    assert "give the reason for the final value" in html
    assert 'value="b" data-key="b"' in html and "checked" in html  # the choice is kept
    assert not Adjudication.objects.exists()
    htmx = admin_client.post(reverse("adjudicate:submit"), {**params, "reason": "x"},
                             HTTP_HX_REQUEST="true")
    assert htmx.status_code == 200 and "choose the final value first" in htmx.content.decode()
    assert not Adjudication.objects.exists()


def test_a_plain_post_redirects_to_the_next_case_then_to_the_queue(admin_client, labelled):
    params = case_params("pairwise_preference", "pair-001", "preference",
                         only="pairwise_preference")
    response = admin_client.post(reverse("adjudicate:submit"),
                                 {**params, "value": "a", "reason": "complete"})
    assert response.status_code == 302
    assert response["Location"] == (f"{reverse('adjudicate:queue')}?benchmark={DEMO}"
                                    "&task=pairwise_preference")


def test_the_last_case_swaps_in_the_done_panel(admin_client, labelled):
    params = case_params("pairwise_preference", "pair-001", "preference",
                         only="pairwise_preference")
    response = admin_client.post(reverse("adjudicate:submit"),
                                 {**params, "value": "tie", "reason": "both fine"},
                                 HTTP_HX_REQUEST="true")
    assert "data-done-panel" in response.content.decode()


def test_a_resolved_case_shows_its_provenance_and_history(admin_client, labelled, admin):
    second = user_ensure(username="zoe_admin", password=PASSWORD, is_staff=True)
    for value, who, reason in (("a", admin, "first look"), ("b", second, "B cites sources")):
        adjudication_set(benchmark=labelled, task="pairwise_preference", unit="pair-001",
                         field="preference", value=value, reason=reason, adjudicator=who)
    html = admin_client.get(reverse("adjudicate:case"), case_params(
        "pairwise_preference", "pair-001", "preference")).content.decode()
    assert "Adjudicated by <strong>zoe_admin</strong>" in html
    assert "B cites sources" in html
    assert "Earlier adjudications" in html and "first look" in html


def test_the_case_page_runs_a_fixed_number_of_queries(admin_client, labelled,
                                                      django_assert_num_queries, admin):
    url = reverse("adjudicate:case")
    params = case_params("instruction_validation", "hard-004", "clarity")
    admin_client.get(url, params)  # warm caches (content types, sessions)
    # session with its user, benchmark, labels (with history counts), adjudications, the
    # group's items, its requirements, and the open cases (value counts, adjudications).
    with django_assert_num_queries(8) as first:
        admin_client.get(url, params)
    # More labels, versions and adjudications: the same count.
    for name in ("cara", "dan", "eve"):
        user_ensure(username=name, password=None)
    import_labels("task,unit,annotator,field,value,note\n" + "".join(
        f"instruction_validation,hard-004-{lang},{name},clarity,no,\n"
        for name, lang in (("cara", "ru"), ("dan", "ar"), ("eve", "hi"))))
    import_labels("task,unit,annotator,field,value,note\n"
                  "instruction_validation,hard-004-en,ana,clarity,no,changed\n")
    for n in range(3):
        adjudication_set(benchmark=labelled, task="instruction_validation", unit="hard-004",
                         field="clarity", value="no", reason=f"round {n}", adjudicator=admin)
    with django_assert_num_queries(len(first.captured_queries)):
        response = admin_client.get(url, params)
    assert response.content.decode().count("data-label>") == 5


def test_staff_nav_and_dashboard_link_to_the_queue(admin_client, labelled, client,
                                                   annotator_a):
    html = admin_client.get(reverse("manage:dashboard")).content.decode()
    assert f'{reverse("adjudicate:queue")}?benchmark={DEMO}' in html
    client.force_login(annotator_a)
    assert reverse("adjudicate:queue") not in client.get(reverse("queue:list")).content.decode()
