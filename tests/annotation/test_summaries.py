"""The maintained agreement summaries never disagree with the labels.

Whatever path wrote the labels (submissions, edits, the labels import, re-imports that change
a unit's language, category or judge decision, deleting a user), the histograms must equal
the ones computed from scratch, and the benchmark report read from them must equal the
report computed from the labels themselves."""

from __future__ import annotations

import random

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotation import importers, summaries
from annotation.models import (
    AnnotatorTally,
    Assignment,
    Label,
    PairTally,
    PatternTally,
    TaskKind,
    UnitTally,
)
from annotation.selectors import questions_for_assignment, with_unit_content
from annotation.services import label_submit
from annotation.signals import build_missing_summaries
from judging.reports import ReportFilters, agreement_report
from tests.conftest import DEMO, FIXTURES

KINDS = (TaskKind.JUDGE_AGREEMENT, TaskKind.INSTRUCTION_VALIDATION,
         TaskKind.REQUIREMENT_ASSESSMENT, TaskKind.PAIRWISE_PREFERENCE,
         TaskKind.TRANSLATION_VALIDATION)


def snapshot(benchmark) -> dict[str, set]:
    """Every non-empty histogram cell and every unit's stored votes."""
    return {
        "patterns": set(PatternTally.objects.filter(benchmark=benchmark, n__gt=0).values_list(
            "task", "field", *summaries.SLICE_FIELDS, "pattern", "n")),
        "annotators": set(AnnotatorTally.objects.filter(benchmark=benchmark, n__gt=0)
                          .values_list("task", "field", "annotator_id", "value", "pattern", "n")),
        "pairs": set(PairTally.objects.filter(benchmark=benchmark, n__gt=0).values_list(
            "task", "field", "annotator_a_id", "annotator_b_id", "value_a", "value_b", "n")),
        "units": set(UnitTally.objects.filter(benchmark=benchmark).exclude(votes="{}")
                     .values_list("task", "unit", "votes", *summaries.SLICE_FIELDS)),
    }


def assert_summaries_match_labels(benchmark) -> None:
    maintained = snapshot(benchmark)
    assert maintained["patterns"], "nothing was summarised"
    summaries.rebuild(benchmark)
    assert snapshot(benchmark) == maintained


def comparable(report: dict) -> dict:
    return {key: value for key, value in report.items() if key not in ("generated_at", "filters")}


def assert_report_matches_labels(benchmark) -> None:
    """The whole-benchmark report (read from the summaries) equals the same report computed
    from the labels (a filter that keeps every label takes that path)."""
    languages = tuple(sorted(set(
        benchmark.items.values_list("language", flat=True).distinct())))
    from_summaries = agreement_report(benchmark=benchmark, n_resamples=50)
    from_labels = agreement_report(benchmark=benchmark, n_resamples=50,
                                   filters=ReportFilters(languages=languages))
    assert from_summaries["fields"]
    assert comparable(from_summaries) == comparable(from_labels)


def answer_everything(batch, seed: int, edit_share: float = 0.0) -> int:
    rng = random.Random(seed)
    answered = 0
    for assignment in Assignment.objects.filter(batch=batch).select_related("annotator"):
        questions = questions_for_assignment(assignment)
        answers = {q.answer_key: rng.choice([c.value for c in q.field.choices])
                   for q in questions}
        label_submit(assignment=assignment, annotator=assignment.annotator, answers=answers,
                     client_id=f"s{seed}-{assignment.pk}")
        answered += 1
        if rng.random() < edit_share:
            edited = {key: rng.choice([c.value for c in q.field.choices])
                      for key, q in zip(answers, questions, strict=True)}
            label_submit(assignment=assignment, annotator=assignment.annotator, answers=edited,
                         client_id=f"e{seed}-{assignment.pk}")
    return answered


def import_fixture_labels() -> None:
    importers.import_labels(data=(FIXTURES / "labels.csv").read_bytes(), file_name="labels.csv",
                            benchmark_name=DEMO)


@pytest.mark.django_db
def test_submissions_edits_and_imports_keep_the_summaries_exact(demo_benchmark, make_batch):
    import_fixture_labels()
    assert_summaries_match_labels(demo_benchmark)
    answered = sum(answer_everything(make_batch(kind, seed=3, size=12, overlap=0.6), seed=n,
                                     edit_share=0.3)
                   for n, kind in enumerate(KINDS))
    assert answered > 60
    assert_summaries_match_labels(demo_benchmark)
    assert_report_matches_labels(demo_benchmark)
    # The same labels imported again change nothing.
    before = snapshot(demo_benchmark)
    import_fixture_labels()
    assert snapshot(demo_benchmark) == before


@pytest.mark.django_db
def test_a_judge_agreement_answer_takes_its_judge_decision_from_the_unit(make_batch):
    batch = make_batch(TaskKind.JUDGE_AGREEMENT, seed=3, size=4)
    assignment = with_unit_content(Assignment.objects.select_related(
        "batch__benchmark", "unit").filter(batch=batch).first())  # shown: the unit is loaded
    answers = {q.answer_key: q.field.choices[0].value
               for q in questions_for_assignment(assignment)}
    with CaptureQueriesContext(connection) as queries:
        label_submit(assignment=assignment, annotator=assignment.annotator, answers=answers,
                     client_id="judged")
    assert not [q for q in queries.captured_queries if "judging_" in q["sql"]]
    assert_summaries_match_labels(batch.benchmark)


@pytest.mark.django_db
def test_re_imports_that_change_a_units_attributes_move_its_labels(demo_benchmark,
                                                                   make_batch):
    answer_everything(make_batch(TaskKind.JUDGE_AGREEMENT, seed=5, size=40, overlap=1.0), seed=1)
    before = snapshot(demo_benchmark)

    # Every judge decision flipped, every category renamed: the histograms follow.
    responses = (FIXTURES / "responses.jsonl").read_text(encoding="utf-8")
    flipped = responses.replace('"YES"', '"__NO__"').replace('"NO"', '"YES"').replace(
        '"__NO__"', '"NO"')
    assert flipped != responses
    importers.import_responses(data=flipped.encode(), file_name="responses.jsonl",
                               benchmark_name=DEMO)
    benchmark_text = (FIXTURES / "benchmark.jsonl").read_text(encoding="utf-8")
    renamed = benchmark_text.replace('"category": "', '"category": "renamed-')
    assert renamed != benchmark_text
    importers.import_benchmark(data=renamed.encode(), file_name="benchmark.jsonl",
                               benchmark_name=DEMO)

    after = snapshot(demo_benchmark)
    assert after != before
    categories = {row[5] for row in after["patterns"] if row[0] == TaskKind.JUDGE_AGREEMENT}
    assert categories and all(c.startswith("renamed-") for c in categories if c)
    # The JSON decisions flipped (raw judge texts did not): units moved between YES and NO.
    def judged(rows: set, decision: str) -> int:
        return sum(row[-1] for row in rows if row[-3] == decision)
    assert judged(before["patterns"], "yes") > 0 and judged(before["patterns"], "no") > 0
    assert judged(after["patterns"], "yes") != judged(before["patterns"], "yes")
    assert (judged(after["patterns"], "yes") + judged(after["patterns"], "no")
            == judged(before["patterns"], "yes") + judged(before["patterns"], "no"))
    assert_summaries_match_labels(demo_benchmark)
    assert_report_matches_labels(demo_benchmark)


@pytest.mark.django_db
def test_deleting_an_annotator_takes_their_labels_out_of_the_summaries(
        demo_benchmark, make_batch, annotator_b):
    batch = make_batch(TaskKind.INSTRUCTION_VALIDATION, seed=2, size=20, overlap=1.0)
    answer_everything(batch, seed=2)
    assert AnnotatorTally.objects.filter(annotator=annotator_b, n__gt=0).exists()
    annotator_b.delete()
    assert not Label.objects.filter(annotator_id=annotator_b.pk).exists()
    assert_summaries_match_labels(demo_benchmark)
    assert not PairTally.objects.filter(benchmark=demo_benchmark, n__gt=0).exists()
    assert_report_matches_labels(demo_benchmark)


@pytest.mark.django_db
def test_benchmarks_labelled_before_the_summaries_get_them_after_migrate(demo_benchmark):
    import_fixture_labels()
    maintained = snapshot(demo_benchmark)
    for model in (UnitTally, PatternTally, AnnotatorTally, PairTally):
        model.objects.all().delete()
    build_missing_summaries()
    assert snapshot(demo_benchmark) == maintained


@pytest.mark.django_db
def test_rebuild_summaries_command(demo_benchmark, capsys):
    import_fixture_labels()
    maintained = snapshot(demo_benchmark)
    PatternTally.objects.all().update(n=0)
    call_command("rebuild_summaries", benchmark=DEMO)
    assert snapshot(demo_benchmark) == maintained
    assert f"{DEMO}: summaries rebuilt" in capsys.readouterr().out
    with pytest.raises(CommandError, match="no benchmark named 'nope'"):
        call_command("rebuild_summaries", benchmark="nope")


def test_a_units_contributions_are_its_pattern_votes_and_pairs():
    votes = {"clarity": {3: "yes", 1: "no", 2: "yes"}}
    attributes = dict.fromkeys(summaries.SLICE_FIELDS, "")
    attributes["language"] = "zh"
    got = summaries.contributions(str(TaskKind.INSTRUCTION_VALIDATION), attributes, votes)
    task = str(TaskKind.INSTRUCTION_VALIDATION)
    slice_key = ("zh", "", "", "", "", "", "", "", "")
    assert got == {
        ("pattern", task, "clarity", *slice_key, "2,1"): 1,
        ("annotator", task, "clarity", 1, "no", "2,1"): 1,
        ("annotator", task, "clarity", 2, "yes", "2,1"): 1,
        ("annotator", task, "clarity", 3, "yes", "2,1"): 1,
        ("pair", task, "clarity", 1, 2, "no", "yes"): 1,
        ("pair", task, "clarity", 1, 3, "no", "yes"): 1,
        ("pair", task, "clarity", 2, 3, "yes", "yes"): 1,
    }


@pytest.mark.django_db
def test_bulk_refreshes_a_few_units_at_a_time_keep_the_summaries_exact(demo_benchmark,
                                                                       make_batch, monkeypatch):
    """Imports refresh many units in steps (bounded memory): with tiny steps, a labels file
    imported in two halves (the second adding votes to stored tallies) and a re-import that
    moves units between judge decisions still leave the summaries equal to a rebuild."""
    monkeypatch.setattr(summaries, "BULK_THRESHOLD", 2)   # judge units of 2 items a step
    monkeypatch.setattr(summaries, "_BULK_STEP", 5)
    for n, kind in enumerate((TaskKind.JUDGE_AGREEMENT, TaskKind.INSTRUCTION_VALIDATION,
                              TaskKind.REQUIREMENT_ASSESSMENT)):
        answer_everything(make_batch(kind, seed=7, size=10, overlap=1.0), seed=n)
    rows = sorted(Label.objects.filter(benchmark=demo_benchmark).values_list(
        "task", "unit", "annotator__username", "field", "value", "note"))
    assert len({(task, unit) for task, unit, *_ in rows}) > 5 * 3
    lines = [",".join(("task", "unit", "annotator", "field", "value", "note"))]
    lines += [",".join((task, unit, f"copy-{who}", field, value, note))
              for task, unit, who, field, value, note in rows]
    half = len(lines) // 2
    for part in (lines[:half], [lines[0], *lines[half:]]):
        importers.import_labels(data="\n".join(part).encode(), file_name="labels.csv",
                                benchmark_name=DEMO)
        assert_summaries_match_labels(demo_benchmark)

    responses = (FIXTURES / "responses.jsonl").read_text(encoding="utf-8")
    flipped = responses.replace('"YES"', '"__NO__"').replace('"NO"', '"YES"').replace(
        '"__NO__"', '"NO"')
    before = snapshot(demo_benchmark)
    importers.import_responses(data=flipped.encode(), file_name="responses.jsonl",
                               benchmark_name=DEMO)
    assert snapshot(demo_benchmark) != before
    assert_summaries_match_labels(demo_benchmark)
    assert_report_matches_labels(demo_benchmark)


def test_bulk_steps_bound_units_and_judged_items(monkeypatch):
    monkeypatch.setattr(summaries, "BULK_THRESHOLD", 2)
    monkeypatch.setattr(summaries, "_BULK_STEP", 4)
    judge, other = str(TaskKind.JUDGE_AGREEMENT), str(TaskKind.INSTRUCTION_VALIDATION)
    keys = sorted([(judge, f"i{i}|m|r{r}|j") for i in range(5) for r in range(3)]
                  + [(other, f"i{i}") for i in range(6)])
    steps = list(summaries._steps(keys))
    assert [key for step in steps for key in step] == keys
    assert all(len(step) <= 4 for step in steps)
    assert all(len({unit.partition("|")[0] for task, unit in step if task == judge}) <= 2
               for step in steps)
