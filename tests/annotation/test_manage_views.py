"""The admins' pages: access, imports through the page, drawing batches, batch progress,
and the Django admin.

Imports run inline here (ACCORD_IMPORTS_IN_BACKGROUND=False); the thread path has its own
test in test_import_jobs.py.
"""

from __future__ import annotations

import re

import pytest
from django.apps import apps
from django.contrib import admin as django_admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db.models import Count
from django.test import Client
from django.urls import reverse

from annotation.models import (
    Assignment,
    Batch,
    BatchUnit,
    Benchmark,
    Group,
    ImportJob,
    Item,
    Label,
    LabelEvent,
    Pair,
    Requirement,
    Submission,
    TaskKind,
)
from annotation.services import label_submit
from judging.models import JudgeDecision, Judgment, PairJudgment, Response
from tests.conftest import DEMO, FIXTURES

FIXTURE_FILES = (
    ("benchmark", "benchmark.jsonl", "import_benchmark"),
    ("responses", "responses.jsonl", "import_responses"),
    ("pairs", "pairs.jsonl", "import_pairs"),
    ("labels", "labels.csv", "import_labels"),
)


@pytest.fixture(autouse=True)
def imports_inline(settings):
    settings.ACCORD_IMPORTS_IN_BACKGROUND = False


@pytest.fixture
def admin_client(client: Client, admin) -> Client:
    client.force_login(admin)
    return client


def upload(client: Client, kind: str, name: str, data: bytes, benchmark: str = DEMO,
           **headers):
    return client.post(reverse("manage:import"), {
        "kind": kind, "benchmark": benchmark, "file": SimpleUploadedFile(name, data),
    }, **headers)


def counts(benchmark_name: str) -> dict[str, int]:
    """Every table an import writes, restricted to one benchmark."""
    b = {"benchmark__name": benchmark_name}
    return {
        "items": Item.objects.filter(**b).count(),
        "groups": Group.objects.filter(**b).count(),
        "requirements": Requirement.objects.filter(group__benchmark__name=benchmark_name).count(),
        "responses": Response.objects.filter(item__benchmark__name=benchmark_name).count(),
        "judgments": Judgment.objects.filter(
            response__item__benchmark__name=benchmark_name).count(),
        "decisions": JudgeDecision.objects.filter(
            judgment__response__item__benchmark__name=benchmark_name).count(),
        "pairs": Pair.objects.filter(**b).count(),
        "pair_judgments": PairJudgment.objects.filter(pair__benchmark__name=benchmark_name
                                                      ).count(),
        "labels": Label.objects.filter(**b).count(),
    }


# --- access ---------------------------------------------------------------------------------

@pytest.fixture
def manage_urls(make_batch, admin) -> list[tuple[str, str]]:
    batch = make_batch()
    job = ImportJob.objects.create(kind="benchmark", benchmark_name=DEMO, file_name="b.jsonl",
                                   created_by=admin)
    return [
        ("get", reverse("manage:dashboard")),
        ("get", reverse("manage:import")),
        ("get", reverse("manage:import_job", args=[job.pk])),
        ("get", reverse("manage:batch_create")),
        ("post", reverse("manage:batch_preview")),
        ("get", reverse("manage:batch_detail", args=[batch.pk])),
        ("get", reverse("manage:batch_delete", args=[batch.pk])),
        ("post", reverse("manage:batch_delete", args=[batch.pk])),
    ]


def test_anonymous_visitors_are_sent_to_the_login_page(client, manage_urls):
    for method, url in manage_urls:
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


def test_annotators_get_403_on_every_manage_url(client, annotator_a, manage_urls):
    client.force_login(annotator_a)
    for method, url in manage_urls:
        assert getattr(client, method)(url).status_code == 403, url
    assert Batch.objects.count() == 1  # the delete was refused


def test_admins_reach_every_manage_url(admin_client, manage_urls):
    for method, url in manage_urls:
        response = getattr(admin_client, method)(url)
        expected = 302 if url.endswith("/delete/") and method == "post" else 200
        assert response.status_code == expected, url


# --- dashboard ------------------------------------------------------------------------------

def test_dashboard_shows_benchmark_counts_batches_and_import_jobs(admin_client, make_batch,
                                                                   admin):
    call_command("import_labels", str(FIXTURES / "labels.csv"), "--benchmark", DEMO)
    batch = make_batch(name="Judge <b>batch</b>")
    ImportJob.objects.create(kind="pairs", benchmark_name=DEMO, file_name="pairs.jsonl",
                             created_by=admin, status=ImportJob.Status.DONE)
    response = admin_client.get(reverse("manage:dashboard"))
    html = response.content.decode()
    row = re.search(r"<tr>\s*<th scope=\"row\"><a [^>]*>xifbench-demo</a></th>(.*?)</tr>",
                    html, re.S)
    cells = [int(n) for n in re.findall(r"<td>(\d+)</td>", row.group(1))]
    expected = counts(DEMO)
    languages = Item.objects.filter(benchmark__name=DEMO).values("language").distinct().count()
    assert cells == [expected["items"], expected["groups"], languages, expected["responses"],
                     expected["pairs"], expected["labels"]]
    assert reverse("manage:batch_detail", args=[batch.pk]) in html
    assert "Judge &lt;b&gt;batch&lt;/b&gt;" in html
    assert "pairs.jsonl" in html
    assert reverse("manage:import") in html and reverse("manage:batch_create") in html
    assert f'{reverse("reports:agreement")}?benchmark={DEMO}' in html


def test_dashboard_query_count_does_not_grow_with_benchmarks_and_batches(
        admin_client, make_batch, django_assert_max_num_queries):
    for seed in range(4):
        make_batch(seed=seed)
    for n in range(3):
        Benchmark.objects.create(name=f"empty-{n}")
    for n in range(5):
        ImportJob.objects.create(kind="benchmark", benchmark_name="x", file_name=f"{n}.jsonl")
    # session with its user, benchmarks (one query with count subqueries), batches, jobs
    with django_assert_max_num_queries(4):
        response = admin_client.get(reverse("manage:dashboard"))
    assert response.status_code == 200
    assert response.content.decode().count(">empty-") == 3


# --- imports --------------------------------------------------------------------------------

def test_the_import_page_offers_existing_benchmarks_in_a_datalist(admin_client, demo_benchmark):
    html = admin_client.get(reverse("manage:import")).content.decode()
    assert 'list="benchmark-names"' in html
    assert f'<option value="{DEMO}">' in html


@pytest.mark.parametrize(("kind", "file_name", "command"), FIXTURE_FILES)
def test_uploading_each_fixture_writes_what_its_command_writes(admin_client, kind, file_name,
                                                               command):
    # Everything the file depends on, loaded under two names: one for the page, one for the CLI.
    for earlier_kind, earlier_file, earlier_command in FIXTURE_FILES:
        if earlier_kind == kind:
            break
        for name in ("web", "cli"):
            call_command(earlier_command, str(FIXTURES / earlier_file), "--benchmark", name)

    response = upload(admin_client, kind, file_name, (FIXTURES / file_name).read_bytes(),
                      benchmark="web")
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("manage:import_job", args=[job.pk])
    call_command(command, str(FIXTURES / file_name), "--benchmark", "cli")

    assert job.status == ImportJob.Status.DONE, job.errors
    assert job.kind == kind and job.file_name == file_name and job.benchmark_name == "web"
    assert job.lines_total == job.lines_done > 0
    assert job.finished_at is not None
    web, cli = counts("web"), counts("cli")
    assert web == cli
    assert sum(web.values()) > 0
    assert sum(job.summary["created"].values()) > 0
    page = admin_client.get(response["Location"]).content.decode()
    assert "Done" in page and "hx-trigger" not in page


def test_an_htmx_upload_answers_with_the_panel_and_the_job(admin_client):
    response = upload(admin_client, "benchmark", "benchmark.jsonl",
                      (FIXTURES / "benchmark.jsonl").read_bytes(), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'id="import-panel"' in html and 'id="import-job"' in html
    assert "Done" in html
    items = Item.objects.filter(benchmark__name=DEMO).count()
    assert (f'<th scope="row">items</th><td class="num">{items}</td><td class="num">0</td>'
            in html)


def test_a_bad_file_shows_its_errors_and_writes_nothing(admin_client):
    lines = (FIXTURES / "benchmark.jsonl").read_bytes().split(b"\n")
    lines[1] = b'{"id": "broken", '
    response = upload(admin_client, "benchmark", "bad.jsonl", b"\n".join(lines),
                      HTTP_HX_REQUEST="true")
    html = response.content.decode()
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.FAILED
    assert job.errors[0].startswith("bad.jsonl:2: invalid JSON")
    assert "bad.jsonl:2: invalid JSON" in html
    assert "Nothing was written" in html
    assert "hx-trigger" not in html
    assert not Benchmark.objects.filter(name=DEMO).exists()
    assert Item.objects.count() == 0


def test_error_messages_and_file_names_are_escaped(admin_client):
    response = upload(admin_client, "benchmark", "<i>x</i>.jsonl",
                      b'{"id": "a", "<script>alert(1)</script>": 1}\n', HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "<script>alert" not in html and "<i>x</i>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;: unknown field" in html


def test_reuploading_a_file_updates_in_place(admin_client):
    data = (FIXTURES / "benchmark.jsonl").read_bytes()
    upload(admin_client, "benchmark", "benchmark.jsonl", data)
    before = counts(DEMO)
    ids = set(Item.objects.values_list("pk", flat=True))
    upload(admin_client, "benchmark", "benchmark.jsonl", data.replace(
        b"Explain in simple terms why the sky looks blue",
        b"Explain in plain words why the sky looks blue", 1))
    first, second = ImportJob.objects.order_by("pk")
    assert second.status == ImportJob.Status.DONE
    assert counts(DEMO) == before
    assert set(Item.objects.values_list("pk", flat=True)) == ids
    assert not any(second.summary["created"].values())
    assert second.summary["updated"]["items"] == 1
    assert Item.objects.get(key="easy-001-en").instruction.startswith("Explain in plain words")


def test_responses_for_an_unknown_benchmark_are_refused_by_the_form(admin_client):
    response = upload(admin_client, "responses", "responses.jsonl",
                      (FIXTURES / "responses.jsonl").read_bytes(), benchmark="nope")
    assert response.status_code == 200
    assert "No benchmark is named" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_the_polling_partial_polls_until_the_job_is_finished(admin_client):
    job = ImportJob.objects.create(kind="benchmark", benchmark_name=DEMO, file_name="b.jsonl",
                                   status=ImportJob.Status.VALIDATING, lines_done=200,
                                   lines_total=800)
    url = reverse("manage:import_job", args=[job.pk])
    partial = admin_client.get(url, HTTP_HX_REQUEST="true")
    html = partial.content.decode()
    assert "<html" not in html
    assert 'hx-trigger="every 500ms"' in html and f'hx-get="{url}"' in html
    assert 'value="200" max="800"' in html
    assert "HX-Request" in partial["Vary"]

    job.status, job.summary = ImportJob.Status.DONE, {"lines": 800, "created": {"items": 800},
                                                      "updated": {}}
    job.save()
    html = admin_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in html and "hx-get" not in html
    assert "Imported 800 lines" in html


def test_the_full_job_page_works_without_javascript(admin_client):
    job = ImportJob.objects.create(kind="benchmark", benchmark_name=DEMO, file_name="b.jsonl")
    html = admin_client.get(reverse("manage:import_job", args=[job.pk])).content.decode()
    assert "<html" in html and 'id="import-job"' in html
    assert '<noscript><meta http-equiv="refresh"' in html


# --- batches --------------------------------------------------------------------------------

def batch_form_data(benchmark: Benchmark, annotators, **overrides) -> dict:
    data = {
        "benchmark": benchmark.pk, "kind": TaskKind.JUDGE_AGREEMENT, "languages": ["en", "zh"],
        "subset": "", "size": "", "fraction": "0.5", "seed": "3", "overlap_fraction": "0.2",
        "overlap_k": "2", "annotators": [a.pk for a in annotators], "name": "web batch",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_the_batch_form_draws_the_same_units_as_the_command(admin_client, demo_benchmark,
                                                            annotator_a, annotator_b):
    response = admin_client.post(reverse("manage:batch_create"),
                                 batch_form_data(demo_benchmark, [annotator_a, annotator_b]))
    web = Batch.objects.get(name="web batch")
    assert response.status_code == 302
    assert response["Location"] == reverse("manage:batch_detail", args=[web.pk])
    call_command("create_batch", "--benchmark", DEMO, "--kind", "judge_agreement",
                 "--name", "cli batch", "--annotators", "ana,ben", "--fraction", "0.5",
                 "--languages", "en,zh", "--seed", "3", "--overlap", "0.2",
                 "--overlap-annotators", "2")
    cli = Batch.objects.get(name="cli batch")

    def units(batch: Batch, **filters) -> set[str]:
        return set(BatchUnit.objects.filter(batch=batch, **filters)
                   .values_list("unit_key", flat=True))

    assert units(web) == units(cli) and units(web)
    assert units(web, is_overlap=True) == units(cli, is_overlap=True)
    assert {u.split("|")[0].rsplit("-", 1)[1] for u in units(web)} == {"en", "zh"}
    assert web.parameters == {**cli.parameters}
    assert web.created_by is not None
    per_annotator = {
        a.username: Assignment.objects.filter(batch=web, annotator=a).count()
        for a in (annotator_a, annotator_b)
    }
    assert abs(per_annotator["ana"] - per_annotator["ben"]) <= 1


def test_the_batch_form_lists_languages_subsets_models_and_only_annotators(
        admin_client, demo_benchmark, annotator_a, admin):
    html = admin_client.get(reverse("manage:batch_create")).content.decode()
    for language in Item.objects.values_list("language", flat=True).distinct():
        assert f'name="languages" value="{language}"' in html
    assert '<option value="hard">hard</option>' in html
    for model in Response.objects.values_list("model", flat=True).distinct():
        assert f'name="models" value="{model}"' in html
    assert f'name="annotators" value="{annotator_a.pk}"' in html
    assert f'name="annotators" value="{admin.pk}"' not in html  # staff label nothing
    assert 'name="seed" value="0"' in html
    assert 'name="overlap_fraction" value="0.1"' in html
    assert 'name="overlap_k" value="2"' in html


def test_the_preview_shows_matching_and_drawn_units_per_language(admin_client, demo_benchmark,
                                                                  annotator_a, annotator_b):
    data = batch_form_data(demo_benchmark, [annotator_a, annotator_b],
                           kind=TaskKind.INSTRUCTION_VALIDATION, languages=[], name="")
    response = admin_client.post(reverse("manage:batch_preview"), data)
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    per_language = dict(Item.objects.filter(benchmark=demo_benchmark)
                        .values_list("language").annotate(n=Count("id")).order_by())
    for language, n in per_language.items():
        row = re.search(rf'<tr data-language="{language}">(.*?)</tr>', html, re.S).group(1)
        matching, drawn, _overlap = (int(x) for x in re.findall(r">(\d+)</td>", row))
        assert matching == n
        assert drawn in (n // 2, n // 2 + 1)
    total = sum(per_language.values())
    assert f"<strong>{total}</strong> units match" in html


def test_the_batch_form_and_preview_run_a_fixed_number_of_queries(
        admin_client, make_batch, annotator_a, annotator_b, django_assert_max_num_queries):
    batch = make_batch()
    # session with its user, six DISTINCT queries for the choices, the annotators, the first
    # benchmark and the dimensions its judges scored (for the placeholder of "Dimensions to
    # rate"); for the preview the benchmark and the candidates -- whatever the size of the
    # benchmark.
    with django_assert_max_num_queries(12):
        assert admin_client.get(reverse("manage:batch_create")).status_code == 200
    data = batch_form_data(batch.benchmark, [annotator_a, annotator_b], name="")
    with django_assert_max_num_queries(11):
        assert admin_client.post(reverse("manage:batch_preview"), data).status_code == 200


def test_the_preview_shows_service_errors_inline(admin_client, demo_benchmark):
    data = batch_form_data(demo_benchmark, [], fraction=None, size="100000", name="")
    html = admin_client.post(reverse("manage:batch_preview"), data).content.decode()
    assert "sample size 100000 is larger than the" in html


def test_size_and_fraction_together_are_a_form_error(admin_client, demo_benchmark, annotator_a,
                                                     annotator_b):
    data = batch_form_data(demo_benchmark, [annotator_a, annotator_b], size="5")
    response = admin_client.post(reverse("manage:batch_create"), data)
    assert response.status_code == 200
    assert "Give a sample size or a sample fraction, not both." in response.content.decode()
    assert not Batch.objects.exists()


def test_a_service_refusal_is_shown_on_the_form(admin_client, demo_benchmark, annotator_a):
    data = batch_form_data(demo_benchmark, [annotator_a], overlap_k="2")
    response = admin_client.post(reverse("manage:batch_create"), data)
    html = response.content.decode()
    assert response.status_code == 200
    assert "overlap needs between 2 and 1 annotators per unit" in html
    assert 'data-language="en"' in html  # the preview is still shown
    assert not Batch.objects.exists()


def test_the_batch_form_needs_an_annotator_and_a_name(admin_client, demo_benchmark):
    data = batch_form_data(demo_benchmark, [], name="")
    html = admin_client.post(reverse("manage:batch_create"), data).content.decode()
    assert html.count("This field is required.") == 2
    assert not Batch.objects.exists()


def test_the_batch_form_draws_a_rating_batch_on_the_dimensions_given(
        admin_client, demo_benchmark, annotator_a, annotator_b):
    page = admin_client.get(reverse("manage:batch_create")).content.decode()
    field = re.search(r'<input[^>]*name="dimensions"[^>]*>', page).group(0)
    assert 'placeholder="fluency, helpfulness"' in field  # what the judges scored
    data = batch_form_data(demo_benchmark, [annotator_a, annotator_b],
                           kind=TaskKind.RESPONSE_RATING, name="rated",
                           dimensions="coherence, relevance,coherence")
    preview = admin_client.post(reverse("manage:batch_preview"), data).content.decode()
    assert "rated 1-5 on coherence, relevance" in preview

    response = admin_client.post(reverse("manage:batch_create"), data)

    assert response.status_code == 302
    batch = Batch.objects.get(name="rated")
    assert batch.parameters["dimensions"] == ["coherence", "relevance"]
    units = batch.units.select_related("item", "response")
    assert units and all(u.unit_key == f"{u.item.key}|{u.response.model}" for u in units)
    detail = admin_client.get(response["Location"]).content.decode()
    assert "<dt>Dimensions</dt><dd data-dimensions>coherence, relevance (each 1-5)</dd>" in detail


def test_a_rating_batch_without_dimensions_rates_what_the_judges_scored(
        admin_client, demo_benchmark, annotator_a, annotator_b):
    data = batch_form_data(demo_benchmark, [annotator_a, annotator_b],
                           kind=TaskKind.RESPONSE_RATING, dimensions="")
    preview = admin_client.post(reverse("manage:batch_preview"), data).content.decode()
    assert "rated 1-5 on fluency, helpfulness" in preview
    assert admin_client.post(reverse("manage:batch_create"), data).status_code == 302
    assert Batch.objects.get().parameters["dimensions"] == ["fluency", "helpfulness"]


def test_a_wrong_dimension_name_is_a_form_error(admin_client, demo_benchmark, annotator_a,
                                                annotator_b):
    data = batch_form_data(demo_benchmark, [annotator_a, annotator_b],
                           kind=TaskKind.RESPONSE_RATING, dimensions="fluency, Over All")
    response = admin_client.post(reverse("manage:batch_create"), data)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Over All: a dimension is a lower-case name" in html
    assert "field-dimensions" in re.search(r'<div class="field has-error[^"]*"', html).group(0)
    assert "Over All: a dimension is a lower-case name" in admin_client.post(
        reverse("manage:batch_preview"), data).content.decode()
    assert not Batch.objects.exists()


def test_dimensions_left_in_the_form_are_ignored_by_other_tasks(
        admin_client, demo_benchmark, annotator_a, annotator_b):
    data = batch_form_data(demo_benchmark, [annotator_a, annotator_b],
                           dimensions="Not Used")
    assert admin_client.post(reverse("manage:batch_create"), data).status_code == 302
    assert "dimensions" not in Batch.objects.get().parameters


def label_some(batch: Batch, annotator, n: int, ms: int = 30_000) -> None:
    for assignment in Assignment.objects.filter(batch=batch, annotator=annotator)[:n]:
        label_submit(assignment=assignment, annotator=annotator, answers={"agree": "yes"},
                     client_id=f"t-{assignment.pk}", time_spent_ms=ms)


def test_the_batch_page_shows_parameters_counts_and_progress_per_annotator(
        admin_client, make_batch, annotator_a, annotator_b, django_assert_max_num_queries):
    batch = make_batch(fraction=0.5, overlap=0.2, name="<Judge> batch")
    label_some(batch, annotator_a, 4)
    label_some(batch, annotator_b, 1)
    url = reverse("manage:batch_detail", args=[batch.pk])
    # session with user, batch, units by language, progress and overlap per annotator
    with django_assert_max_num_queries(5):
        response = admin_client.get(url)
    html = response.content.decode()
    assert "&lt;Judge&gt; batch" in html and "<Judge>" not in html
    n_units = batch.units.count()
    n_overlap = batch.units.filter(is_overlap=True).count()
    assert f"<strong>{n_units}</strong> units" in html
    assert f"<strong>{n_overlap}</strong> in the overlap" in html
    for annotator, done in ((annotator_a, 4), (annotator_b, 1)):
        total = Assignment.objects.filter(batch=batch, annotator=annotator).count()
        row = re.search(rf'<tr data-annotator="{annotator.username}">(.*?)</tr>', html,
                        re.S).group(1)
        assert f'<progress value="{done}" max="{total}"' in row
        assert f'<td class="num">{total - done}</td>' in row  # pending
        assert f"{done * 30 // 60} min" in row or f"{done * 30} s" in row
    assert "0.5 of the matching units" in html and "Seed</dt><dd>7" in html


def test_the_batch_page_query_count_does_not_grow_with_annotators(
        admin_client, make_batch, annotator_a, annotator_b, outsider,
        django_assert_max_num_queries):
    batch = make_batch(annotators=[annotator_a, annotator_b, outsider], overlap=0.5)
    with django_assert_max_num_queries(6):
        assert admin_client.get(reverse("manage:batch_detail", args=[batch.pk])
                                ).status_code == 200


def test_deleting_a_batch_keeps_the_labels(admin_client, make_batch, annotator_a):
    batch = make_batch()
    label_some(batch, annotator_a, 2)
    labels, events = Label.objects.count(), LabelEvent.objects.count()
    confirm = admin_client.get(reverse("manage:batch_delete", args=[batch.pk]))
    assert "Delete the batch" in confirm.content.decode()
    response = admin_client.post(reverse("manage:batch_delete", args=[batch.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("manage:dashboard")
    assert not Batch.objects.filter(pk=batch.pk).exists()
    assert not Assignment.objects.filter(batch_id=batch.pk).exists()
    assert (Label.objects.count(), LabelEvent.objects.count()) == (labels, events)
    assert Submission.objects.filter(assignment__isnull=True).count() == 2


def test_deleting_a_batch_through_htmx_redirects_the_client(admin_client, make_batch):
    batch = make_batch()
    response = admin_client.post(reverse("manage:batch_delete", args=[batch.pk]),
                                 HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("manage:dashboard")
    assert not Batch.objects.exists()


def test_the_batch_page_offers_a_confirmed_delete(admin_client, make_batch):
    batch = make_batch()
    html = admin_client.get(reverse("manage:batch_detail", args=[batch.pk])).content.decode()
    assert f'hx-post="{reverse("manage:batch_delete", args=[batch.pk])}"' in html
    assert "hx-confirm=" in html


# --- Django admin ---------------------------------------------------------------------------

@pytest.fixture
def everything(make_batch, annotator_a, admin):
    """At least one row in every table the admin lists."""
    call_command("import_labels", str(FIXTURES / "labels.csv"), "--benchmark", DEMO)
    batch = make_batch()
    label_some(batch, annotator_a, 2)
    ImportJob.objects.create(kind="benchmark", benchmark_name=DEMO, file_name="b.jsonl",
                             created_by=admin)
    return batch


def registered() -> list[tuple[type, object]]:
    return list(django_admin.site._registry.items())


def test_every_admin_changelist_opens_for_a_superuser(admin_client, everything,
                                                      django_assert_max_num_queries):
    assert len(registered()) >= 18
    for model, model_admin in registered():
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        # No query per row: list_select_related covers what list_display shows.
        with django_assert_max_num_queries(20):
            response = admin_client.get(url)
        assert response.status_code == 200, url
        first = model_admin.get_queryset(response.wsgi_request).first()
        if first is not None:
            change = admin_client.get(
                reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[first.pk]))
            assert change.status_code == 200, (url, first.pk)


@pytest.mark.parametrize("model", [LabelEvent, Submission])
def test_label_history_is_read_only_in_the_admin(admin_client, everything, model):
    model_admin = django_admin.site._registry[model]
    request = admin_client.get("/").wsgi_request
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    opts = model._meta
    assert admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
                            ).status_code == 403


def test_deleting_a_batch_in_the_admin_keeps_label_history(admin_client, everything):
    events = LabelEvent.objects.count()
    url = reverse("admin:annotation_batch_delete", args=[everything.pk])
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not Batch.objects.filter(pk=everything.pk).exists()
    assert LabelEvent.objects.count() == events


def test_admin_item_list_searches_and_filters(admin_client, demo_benchmark):
    url = reverse("admin:annotation_item_changelist")
    html = admin_client.get(url, {"q": "hard-005", "language": "zh"}).content.decode()
    assert "hard-005-zh" in html and "hard-004" not in html


def test_every_model_of_both_apps_is_registered():
    for app in ("annotation", "judging"):
        models = set(apps.get_app_config(app).get_models())
        assert models <= set(django_admin.site._registry), app
