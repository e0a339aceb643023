"""The four importers of the interchange contract (/work/shared/spec/formats.md, sections 1-4).

Every test runs twice, through the public function (`annotation.importers.import_*`) and
through the management command (`call_command("import_*", FILE, benchmark=...)`), via the
`run` fixture. Every rejection also checks atomicity: the row count of every model is the
same before and after (`rejected`).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from annotation import importers
from annotation.models import (
    BatchUnit,
    Benchmark,
    Group,
    Item,
    Label,
    LabelEvent,
    Pair,
    Requirement,
    TaskKind,
)
from annotation.services import SampleRequest, batch_create, user_ensure
from annotation.tasks import TASKS, Filters
from judging.models import JudgeDecision, Judgment, PairJudgment, Response

BENCH = "bench"
REQS = (("r1", "Is the response polite?"), ("r2", "Is the response under 100 words?"))
DEFAULT_FILE = {"benchmark": "benchmark.jsonl", "responses": "responses.jsonl",
                "pairs": "pairs.jsonl", "labels": "labels.csv"}

# --- helpers --------------------------------------------------------------------------------

class Rejected(Exception):
    """An import was refused; `problems` are its `file:line: field: message` lines."""

    def __init__(self, problems: list[str], text: str) -> None:
        super().__init__(text)
        self.problems = problems
        self.text = text


Runner = Callable[..., Any]


@pytest.fixture(params=["function", "command"])
def run(request, tmp_path) -> Runner:
    """run(kind, data, file_name=..., benchmark=BENCH): import through the function or the
    management command; raises Rejected with the problem lines when the file is refused."""

    def via_function(kind: str, data: bytes, file_name: str, benchmark: str):
        importer = getattr(importers, f"import_{kind}")
        try:
            return importer(data=data, file_name=file_name, benchmark_name=benchmark)
        except importers.ImportRejected as exc:
            assert exc.problems, "a rejection must name at least one problem"
            raise Rejected(list(exc.problems), str(exc)) from exc

    def via_command(kind: str, data: bytes, file_name: str, benchmark: str):
        path = tmp_path / file_name
        path.write_bytes(data)
        out = io.StringIO()
        try:
            call_command(f"import_{kind}", str(path), benchmark=benchmark, stdout=out,
                         stderr=io.StringIO())
        except CommandError as exc:
            text = str(exc)
            problems = [line for line in text.splitlines()
                        if line.startswith(f"{file_name}:")]
            assert problems, f"the command's error names no file:line: {text}"
            raise Rejected(problems, text) from exc
        return out.getvalue()

    way = via_function if request.param == "function" else via_command

    def runner(kind: str, data: bytes, file_name: str | None = None,
               benchmark: str = BENCH):
        return way(kind, data, file_name or DEFAULT_FILE[kind], benchmark)

    runner.way = request.param
    return runner


def row_counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


def rejected(run: Runner, kind: str, data: bytes, **kwargs) -> list[str]:
    """Import `data`, expect a refusal, check that no table changed, return the problems."""
    before = row_counts()
    with pytest.raises(Rejected) as excinfo:
        run(kind, data, **kwargs)
    assert row_counts() == before, "a refused file must write nothing"
    return excinfo.value.problems


def jsonl(*records: Any) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()


def item(key: str, language: str = "en", *, reqs=REQS, **extra) -> dict[str, Any]:
    record = {"id": key, "language": language, "instruction": f"Instruction of {key}.",
              "requirements": [{"id": rid, "text": text} for rid, text in reqs]}
    record.update(extra)
    return record


def group_lines(group: str, languages=("en", "zh", "ru"), **extra) -> list[dict[str, Any]]:
    return [item(f"{group}-{lang}", lang, group=group, **extra) for lang in languages]


def decisions(judge: str = "judge-1", **values) -> dict[str, Any]:
    return {"judge": judge, "protocol": "requirements",
            "decisions": [{"requirement": k, "decision": v} for k, v in values.items()]}


def response(item_key: str, model: str = "model-1", *judgments, text: str = "An answer."):
    return {"item": item_key, "model": model, "response": text, "judgments": list(judgments)}


def raw_section(number: int, decision: str, observation: str = "") -> str:
    return (f"## Requirement {number}: Question {number}?\n### Observation\n"
            f"{observation or f'Observation {number}.'}\n### Decision\n{decision}\n")


def pair(key: str, *judgments, **extra) -> dict[str, Any]:
    record = {"id": key, "language": "en", "instruction": f"Instruction of {key}.",
              "model_a": "model-a", "response_a": "Answer A.",
              "model_b": "model-b", "response_b": "Answer B.",
              "judgments": list(judgments)}
    record.update(extra)
    return record


def labels_csv(*rows: tuple[str, ...], header=("task", "unit", "annotator", "field", "value",
                                               "note")) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def load(kind: str, *records, benchmark: str = BENCH):
    """Set-up through the public importer (not under test here)."""
    data = records[0] if len(records) == 1 and isinstance(records[0], bytes) else jsonl(*records)
    return getattr(importers, f"import_{kind}")(
        data=data, file_name=DEFAULT_FILE[kind], benchmark_name=benchmark)


# === 1. benchmark ===========================================================================

@pytest.mark.django_db
def test_benchmark_import_creates_groups_items_and_requirements(run):
    run("benchmark", jsonl(*group_lines("g1"), item("solo", "sw", subset="easy")))
    benchmark = Benchmark.objects.get(name=BENCH)
    assert Group.objects.filter(benchmark=benchmark).count() == 2
    assert Item.objects.filter(benchmark=benchmark).count() == 4
    g1 = Group.objects.get(benchmark=benchmark, key="g1")
    assert list(g1.requirements.values_list("key", "text", "position")) == [
        ("r1", REQS[0][1], 1), ("r2", REQS[1][1], 2)]
    assert sorted(g1.items.values_list("language", flat=True)) == ["en", "ru", "zh"]
    solo = Item.objects.get(benchmark=benchmark, key="solo")
    assert (solo.group.key, solo.group.subset, solo.language) == ("solo", "easy", "sw")


@pytest.mark.django_db
def test_benchmark_summary_counts_created_and_updated_rows():
    summary = load("benchmark", *group_lines("g1"))
    assert summary.created == {"groups": 1, "requirements": 2, "items": 3}
    assert summary.lines == 3
    changed = group_lines("g1")
    changed[1]["instruction"] = "New text."
    summary = load("benchmark", *changed)
    assert summary.created == {"groups": 0, "requirements": 0, "items": 0}
    assert summary.updated == {"groups": 0, "requirements": 0, "items": 1}


@pytest.mark.django_db
def test_optional_fields_are_stored():
    load("benchmark", item("g1-en", group="g1", subset="hard", seed="g0",
                           core_instruction="Write a poem.", input_material="roses",
                           reqs=[("r1", "Is it a poem?")]))
    stored = Item.objects.get(key="g1-en")
    assert (stored.core_instruction, stored.input_material) == ("Write a poem.", "roses")
    assert (stored.group.seed_key, stored.group.subset) == ("g0", "hard")
    requirement = Requirement.objects.get(group=stored.group)
    assert (requirement.category, requirement.dimension) == ("", "")
    load("benchmark", item("g2-en", reqs=[], requirements=[
        {"id": "r1", "text": "Q?", "category": "format", "dimension": "length"}]))
    assert Requirement.objects.filter(group__key="g2-en").values_list(
        "category", "dimension").get() == ("format", "length")


@pytest.mark.django_db
def test_error_names_file_line_and_field_exactly(run):
    good = [item(f"i{n}") for n in range(1, 17)]
    bad = item("i17", reqs=[])
    bad["requirements"] = [{"id": "r1", "text": "A?"}, {"id": "r2", "text": "B?"},
                           {"text": "C?"}]
    problems = rejected(run, "benchmark", jsonl(*good, bad))
    assert problems == ["benchmark.jsonl:17: requirements[2].id: missing"]


@pytest.mark.django_db
def test_file_name_in_errors_is_the_name_given(run):
    problems = rejected(run, "benchmark", jsonl(item("a"), {"id": "b"}),
                        file_name="hard-set.jsonl")
    assert problems == ["hard-set.jsonl:2: language: missing",
                        "hard-set.jsonl:2: instruction: missing",
                        "hard-set.jsonl:2: requirements: missing"]


@pytest.mark.django_db
def test_one_bad_line_among_good_ones_writes_nothing(run):
    lines = [*group_lines("g1"), *group_lines("g2")]
    lines[4]["requirements"][1]["id"] = 7
    problems = rejected(run, "benchmark", jsonl(*lines))
    assert problems == ["benchmark.jsonl:5: requirements[1].id: expected a string, got a number"]
    assert not Benchmark.objects.filter(name=BENCH).exists()


@pytest.mark.django_db
def test_bad_reimport_leaves_the_previous_import_untouched(run):
    load("benchmark", *group_lines("g1"), *group_lines("g2"))
    lines = [*group_lines("g1"), *group_lines("g2"), item("g3-en")]
    lines[0]["instruction"] = "Changed."
    lines[0]["requirements"] = lines[1]["requirements"] = lines[2]["requirements"] = [
        {"id": "r1", "text": "Changed?"}]
    lines[-1]["language"] = ""
    assert rejected(run, "benchmark", jsonl(*lines)) == ["benchmark.jsonl:7: language: empty"]
    assert Item.objects.get(key="g1-en").instruction == "Instruction of g1-en."
    assert Requirement.objects.filter(group__key="g1").count() == 2


@pytest.mark.django_db
def test_problems_are_collected_from_every_line(run):
    problems = rejected(run, "benchmark", jsonl(
        item("a"), {"id": "b", "language": "en", "instruction": "x"}, item("c"),
        item("d", instruction=""), item("e")))
    assert problems == ["benchmark.jsonl:2: requirements: missing",
                        "benchmark.jsonl:4: instruction: empty"]


@pytest.mark.django_db
def test_many_problems_are_capped_with_a_count():
    records = [{"id": f"x{n}", "language": "en", "instruction": "x"} for n in range(60)]
    with pytest.raises(importers.ImportRejected) as excinfo:
        load("benchmark", *records)
    assert len(excinfo.value.problems) == importers.MAX_REPORTED_PROBLEMS
    assert excinfo.value.total == 60
    assert "... and 10 more problems" in str(excinfo.value)


# --- re-import -----------------------------------------------------------------------------

@pytest.mark.django_db
def test_reimport_with_the_same_ids_updates_in_place(run):
    load("benchmark", *group_lines("g1"), item("solo"))
    pks = {
        "items": dict(Item.objects.values_list("key", "pk")),
        "groups": dict(Group.objects.values_list("key", "pk")),
        "requirements": dict(Requirement.objects.filter(group__key="g1")
                             .values_list("key", "pk")),
    }
    before = row_counts()
    lines = group_lines("g1", reqs=[("r1", "Is the response very polite?")])
    lines[1]["instruction"] = "新的指令。"
    run("benchmark", jsonl(*lines, item("solo")))

    g1 = Group.objects.get(key="g1")
    # changed instruction text, same row
    assert Item.objects.get(key="g1-zh").instruction == "新的指令。"
    assert dict(Item.objects.values_list("key", "pk")) == pks["items"]
    assert dict(Group.objects.values_list("key", "pk")) == pks["groups"]
    # changed requirement text, same row; removed requirement gone
    assert list(g1.requirements.values_list("key", "text", "pk")) == [
        ("r1", "Is the response very polite?", pks["requirements"]["r1"])]
    after = row_counts()
    assert after["annotation.Requirement"] == before["annotation.Requirement"] - 1
    # nothing else was created or removed: no duplicates
    assert {k: v for k, v in after.items() if k != "annotation.Requirement"} == {
        k: v for k, v in before.items() if k != "annotation.Requirement"}


@pytest.mark.django_db
def test_reimport_of_an_identical_file_changes_nothing():
    data = jsonl(*group_lines("g1"), item("solo", meta={"a": 1}))
    load("benchmark", data)
    before = row_counts()
    summary = load("benchmark", data)
    assert row_counts() == before
    assert not any(summary.created.values()) and not any(summary.updated.values())


@pytest.mark.django_db
def test_reimport_can_add_requirements_and_reorder_them():
    load("benchmark", *group_lines("g1"))
    r1 = Requirement.objects.get(group__key="g1", key="r1").pk
    load("benchmark", *group_lines("g1", reqs=[("r3", "New?"), ("r2", REQS[1][1]),
                                               ("r1", REQS[0][1])]))
    rows = list(Requirement.objects.filter(group__key="g1").values_list("key", "position"))
    assert rows == [("r3", 1), ("r2", 2), ("r1", 3)]
    assert Requirement.objects.get(group__key="g1", key="r1").pk == r1


@pytest.mark.django_db
def test_reimport_can_swap_the_languages_of_two_items():
    load("benchmark", item("x", "en", group="g"), item("y", "zh", group="g"))
    load("benchmark", item("x", "zh", group="g"), item("y", "en", group="g"))
    assert dict(Item.objects.values_list("key", "language")) == {"x": "zh", "y": "en"}


@pytest.mark.django_db
def test_reimport_keeps_the_ids_that_batches_point_to(run):
    load("benchmark", *group_lines("g1"))
    load("responses", *[response(f"g1-{lang}", "m", decisions(r1="YES", r2="NO"))
                        for lang in ("en", "zh", "ru")])
    annotators = [user_ensure(username=n, password=None) for n in ("u1", "u2")]
    batch = batch_create(benchmark=Benchmark.objects.get(name=BENCH),
                         kind=TaskKind.JUDGE_AGREEMENT, name="b", annotators=annotators,
                         filters=Filters(), sample=SampleRequest(seed=1))
    units = dict(BatchUnit.objects.filter(batch=batch).values_list("unit_key", "decision_id"))
    assert len(units) == 6
    decision_pks = set(JudgeDecision.objects.values_list("pk", flat=True))

    # Responses re-imported with a changed text, decision and observation.
    run("responses", jsonl(*[
        response(f"g1-{lang}", "m", {"judge": "judge-1", "protocol": "requirements",
                                     "decisions": [
                                         {"requirement": "r1", "decision": "NO",
                                          "observation": "Rude."},
                                         {"requirement": "r2", "decision": "NO"}]},
                 text="A new answer.")
        for lang in ("en", "zh", "ru")]))
    assert set(JudgeDecision.objects.values_list("pk", flat=True)) == decision_pks
    assert dict(BatchUnit.objects.filter(batch=batch)
                .values_list("unit_key", "decision_id")) == units
    unit = BatchUnit.objects.get(batch=batch, unit_key="g1-zh|m|r1|judge-1")
    assert (unit.decision.decision, unit.decision.observation) == (False, "Rude.")
    assert unit.decision.judgment.response.text == "A new answer."

    # The benchmark re-imported with changed texts keeps them too.
    lines = group_lines("g1", reqs=[("r1", "Polite?"), ("r2", "Short?")])
    lines[0]["instruction"] = "Changed."
    run("benchmark", jsonl(*lines))
    assert dict(BatchUnit.objects.filter(batch=batch)
                .values_list("unit_key", "decision_id")) == units
    assert set(JudgeDecision.objects.values_list("pk", flat=True)) == decision_pks


# --- group rules ---------------------------------------------------------------------------

@pytest.mark.django_db
def test_group_lines_with_different_requirement_ids_name_both_lines(run):
    lines = group_lines("g1")
    lines[2]["requirements"][1]["id"] = "r3"
    problems = rejected(run, "benchmark", jsonl(item("other"), *lines))
    assert len(problems) == 1
    assert problems[0].startswith("benchmark.jsonl:4: requirements: differ from line 2 ")
    assert "'g1'" in problems[0]


@pytest.mark.django_db
def test_group_lines_with_different_requirement_texts_name_both_lines(run):
    lines = group_lines("g1")
    lines[1]["requirements"][0]["text"] = "Is the response impolite?"
    problems = rejected(run, "benchmark", jsonl(*lines))
    assert [p.split(" (")[0] for p in problems] == [
        "benchmark.jsonl:2: requirements: differ from line 1 of the same group 'g1'"]


@pytest.mark.django_db
def test_group_lines_with_a_missing_requirement_are_refused(run):
    lines = group_lines("g1")
    lines[1]["requirements"] = lines[1]["requirements"][:1]
    problems = rejected(run, "benchmark", jsonl(*lines))
    assert problems[0].startswith("benchmark.jsonl:2: requirements: differ from line 1")


@pytest.mark.django_db
def test_a_file_with_part_of_a_group_cannot_change_the_groups_requirements(run):
    load("benchmark", *group_lines("g1"))
    changed = item("g1-zh", "zh", group="g1", reqs=(("r1", "Is the response rude?"),))
    problems = rejected(run, "benchmark", jsonl(changed))
    assert problems == [
        "benchmark.jsonl:1: requirements: differ from those of group 'g1' already in "
        "benchmark 'bench' (its item 'g1-en' is not in this file); import every line of "
        "the group together to change its requirements"]
    # The same lines with the stored requirements update in place ...
    run("benchmark", jsonl(item("g1-zh", "zh", group="g1", instruction="新的指令。")))
    assert Item.objects.get(key="g1-zh").instruction == "新的指令。"
    # ... and a file with every line of the group may change them.
    lines = [dict(line, requirements=[{"id": "r1", "text": "Is the response rude?"}])
             for line in group_lines("g1")]
    run("benchmark", jsonl(*lines))
    assert list(Requirement.objects.filter(group__key="g1").values_list("key", "text")) == [
        ("r1", "Is the response rude?")]


@pytest.mark.django_db
def test_a_group_has_at_most_one_line_per_language(run):
    lines = [*group_lines("g1"), item("g1-zh-2", "zh", group="g1")]
    problems = rejected(run, "benchmark", jsonl(*lines))
    assert problems == ["benchmark.jsonl:4: language: group 'g1' already has a 'zh' line "
                        "(line 2)"]


@pytest.mark.django_db
def test_one_line_per_language_also_against_the_database(run):
    load("benchmark", *group_lines("g1"))
    problems = rejected(run, "benchmark", jsonl(item("g1-zh-bis", "zh", group="g1")))
    assert problems == ["benchmark.jsonl:1: language: group 'g1' already has a 'zh' item "
                        "('g1-zh') in benchmark 'bench'"]
    # Another benchmark is another namespace.
    run("benchmark", jsonl(item("g1-zh-bis", "zh", group="g1")), benchmark="other")
    # The same item moving language frees its slot for another line of the same file.
    run("benchmark", jsonl(item("g1-zh", "ar", group="g1"), item("g1-zh-bis", "zh", group="g1")))
    assert dict(Item.objects.filter(benchmark__name=BENCH, group__key="g1")
                .values_list("key", "language")) == {
        "g1-en": "en", "g1-ru": "ru", "g1-zh": "ar", "g1-zh-bis": "zh"}


@pytest.mark.django_db
def test_group_defaults_to_the_id(run):
    run("benchmark", jsonl(item("a-en", "en"), item("a-zh", "zh")))
    assert dict(Item.objects.values_list("key", "group__key")) == {"a-en": "a-en",
                                                                   "a-zh": "a-zh"}


@pytest.mark.parametrize("attr", ["seed", "subset"])
@pytest.mark.django_db
def test_seed_and_subset_are_consistent_in_a_group(run, attr):
    lines = group_lines("g1", **{attr: "one"})
    lines[2][attr] = "two"
    problems = rejected(run, "benchmark", jsonl(*lines))
    assert problems == [f"benchmark.jsonl:3: {attr}: 'two' differs from 'one' on line 1 "
                        "of the same group 'g1'"]
    lines[2].pop(attr)
    problems = rejected(run, "benchmark", jsonl(*lines))
    assert problems == [f"benchmark.jsonl:3: {attr}: '' differs from 'one' on line 1 "
                        "of the same group 'g1'"]


@pytest.mark.django_db
def test_duplicate_ids_in_a_file_are_refused(run):
    problems = rejected(run, "benchmark", jsonl(item("a"), item("b"), item("a", "zh")))
    assert problems == ["benchmark.jsonl:3: id: duplicate id 'a' (first on line 1)"]


@pytest.mark.django_db
def test_duplicate_requirement_ids_on_a_line_are_refused(run):
    problems = rejected(run, "benchmark", jsonl(item("a", reqs=[("r1", "A?"), ("r1", "B?")])))
    assert problems == ["benchmark.jsonl:1: requirements[1].id: duplicate requirement id 'r1'"]


@pytest.mark.parametrize(("record", "problem"), [
    (item("a#1"), "id: must not contain '#' or '|' (they separate unit ids)"),
    (item("a|1"), "id: must not contain '#' or '|' (they separate unit ids)"),
    (item("a", reqs=[("r#1", "A?")]),
     "requirements[0].id: must not contain '#' or '|' (they separate unit ids)"),
])
@pytest.mark.django_db
def test_ids_must_not_contain_unit_separators(run, record, problem):
    assert rejected(run, "benchmark", jsonl(record)) == [f"benchmark.jsonl:1: {problem}"]


@pytest.mark.django_db
def test_empty_requirements_list_is_allowed(run):
    run("benchmark", jsonl(item("a", reqs=[])))
    assert Item.objects.get(key="a").group.requirements.count() == 0


# --- resource level ------------------------------------------------------------------------

@pytest.mark.django_db
def test_resource_level_comes_from_the_settings_table_when_absent(run, settings):
    run("benchmark", jsonl(item("en", "en"), item("ru", "ru"), item("sw", "sw"),
                           item("pt", "pt-BR"), item("tlh", "tlh")))
    assert dict(Item.objects.values_list("key", "resource_level")) == {
        "en": "high", "ru": "medium", "sw": "low", "pt": "high", "tlh": ""}
    assert settings.ACCORD_RESOURCE_LEVELS["sw"] == "low"


@pytest.mark.django_db
def test_resource_level_follows_the_configured_table(run, settings):
    settings.ACCORD_RESOURCE_LEVELS = {**settings.ACCORD_RESOURCE_LEVELS, "tlh": "low"}
    run("benchmark", jsonl(item("tlh", "tlh")))
    assert Item.objects.get(key="tlh").resource_level == "low"


@pytest.mark.django_db
def test_explicit_resource_level_is_kept(run):
    run("benchmark", jsonl(item("sw", "sw", resource_level="medium"),
                           item("en", "en", resource_level="low")))
    assert dict(Item.objects.values_list("key", "resource_level")) == {"sw": "medium",
                                                                       "en": "low"}


@pytest.mark.parametrize(("level", "problem"), [
    ("very-low", "'very-low' is not one of high, medium, low"),
    ("High", "'High' is not one of high, medium, low"),
    (3, "expected a string, got a number"),
])
@pytest.mark.django_db
def test_invalid_resource_level_is_refused(run, level, problem):
    problems = rejected(run, "benchmark", jsonl(item("a"), item("b", resource_level=level)))
    assert problems == [f"benchmark.jsonl:2: resource_level: {problem}"]


@pytest.mark.django_db
def test_empty_or_null_resource_level_counts_as_absent(run):
    run("benchmark", jsonl(item("a", "sw", resource_level=""),
                           item("b", "ru", resource_level=None)))
    assert dict(Item.objects.values_list("key", "resource_level")) == {"a": "low",
                                                                       "b": "medium"}


# --- fields and types ----------------------------------------------------------------------

@pytest.mark.django_db
def test_unknown_fields_are_refused(run):
    record = item("a", colour="blue")
    record["requirements"][1]["weight"] = 2
    problems = rejected(run, "benchmark", jsonl(record))
    assert problems == ["benchmark.jsonl:1: colour: unknown field",
                        "benchmark.jsonl:1: requirements[1].weight: unknown field"]


@pytest.mark.parametrize(("change", "problem"), [
    ({"id": 42}, "id: expected a string, got a number"),
    ({"language": ["en"]}, "language: expected a string, got a list"),
    ({"language": "en_US"}, "language: 'en_US' is not a BCP-47 language tag"),
    ({"language": "zh Hans"}, "language: 'zh Hans' is not a BCP-47 language tag"),
    ({"instruction": {"text": "x"}}, "instruction: expected a string, got an object"),
    ({"instruction": "   "}, "instruction: empty"),
    ({"requirements": {"id": "r1"}}, "requirements: expected a list, got an object"),
    ({"requirements": "r1"}, "requirements: expected a list, got a string"),
    ({"requirements": ["Is it polite?"]}, "requirements[0]: expected an object, got a string"),
    ({"requirements": [{"id": "r1", "text": True}]},
     "requirements[0].text: expected a string, got a boolean"),
    ({"requirements": [{"id": "r1", "text": "A?", "category": 1}]},
     "requirements[0].category: expected a string, got a number"),
    ({"group": 7}, "group: expected a string, got a number"),
    ({"subset": ["hard"]}, "subset: expected a string, got a list"),
    ({"seed": 1}, "seed: expected a string, got a number"),
    ({"core_instruction": 1}, "core_instruction: expected a string, got a number"),
    ({"meta": ["a"]}, "meta: expected an object, got a list"),
    ({"meta": "a"}, "meta: expected an object, got a string"),
])
@pytest.mark.django_db
def test_wrong_types_are_refused(run, change, problem):
    problems = rejected(run, "benchmark", jsonl(item("ok"), item("a", **change)))
    assert problems == [f"benchmark.jsonl:2: {problem}"]


@pytest.mark.parametrize("missing", ["id", "language", "instruction", "requirements"])
@pytest.mark.django_db
def test_required_fields_are_required(run, missing):
    record = item("a")
    record.pop(missing)
    assert rejected(run, "benchmark", jsonl(record)) == [f"benchmark.jsonl:1: {missing}: missing"]


@pytest.mark.django_db
def test_invalid_json_and_non_objects_are_refused_with_the_line(run):
    data = jsonl(item("a")) + b'{"id": "b", \n' + b'["not", "an", "object"]\n'
    problems = rejected(run, "benchmark", data)
    assert problems[0].startswith("benchmark.jsonl:2: invalid JSON (")
    assert problems[1] == "benchmark.jsonl:3: expected a JSON object, got list"


@pytest.mark.django_db
def test_blank_lines_are_ignored_and_lines_keep_their_numbers(run):
    data = b"\n" + jsonl(item("a")) + b"   \n\t\n" + jsonl(item("b")) + b"\n\n"
    run("benchmark", data)
    assert dict(Item.objects.values_list("key", "line_number")) == {"a": 2, "b": 5}
    data = b"\n\n" + jsonl(item("c", language=""))
    assert rejected(run, "benchmark", data) == ["benchmark.jsonl:3: language: empty"]


@pytest.mark.django_db
def test_crlf_line_endings_are_accepted(run):
    run("benchmark", jsonl(item("a"), item("b")).replace(b"\n", b"\r\n"))
    assert Item.objects.count() == 2


@pytest.mark.django_db
def test_byte_order_mark_is_accepted(run):
    run("benchmark", b"\xef\xbb\xbf" + jsonl(item("a"), item("b", "zh")))
    assert sorted(Item.objects.values_list("key", flat=True)) == ["a", "b"]


@pytest.mark.django_db
def test_invalid_utf8_is_refused_with_the_line(run):
    data = jsonl(item("a")) + jsonl(item("b")).replace(b"Instruction", b"Instr\xff\xfection")
    problems = rejected(run, "benchmark", data)
    assert len(problems) == 1
    assert problems[0].startswith("benchmark.jsonl:2: not valid UTF-8")


@pytest.mark.parametrize("data", [b"", b"\n\n  \n", b"\xef\xbb\xbf"])
@pytest.mark.django_db
def test_empty_file_is_refused(run, data):
    assert rejected(run, "benchmark", data) == ["benchmark.jsonl:1: the file has no records"]


@pytest.mark.django_db
def test_meta_is_kept_verbatim(run):
    meta = {"source": "XIFBench", "nested": {"list": [1, 2.5, None, True, "三"],
                                             "empty": {}}, "count": 12345678901234,
            "text": "line\nbreak \"quoted\" \u200f"}
    run("benchmark", jsonl(item("a", meta=meta), item("b")))
    assert Item.objects.get(key="a").meta == meta
    assert Item.objects.get(key="b").meta is None


@pytest.mark.django_db
def test_meta_key_order_is_kept():
    """"kept and written back verbatim": the export should give the keys back in file order."""
    meta = {"zeta": 1, "alpha": {"b": 2, "a": 1}, "mid": [3, 2, 1]}
    load("benchmark", item("a", meta=meta))
    stored = Item.objects.get(key="a").meta
    assert json.dumps(stored) == json.dumps(meta)


@pytest.mark.django_db
def test_human_annotation_tags_of_a_gold_export_are_ignored(run):
    run("benchmark", jsonl(item("a", human_annotation_tags={"clarity": True})))
    assert Item.objects.get(key="a").meta is None


@pytest.mark.django_db
def test_unicode_text_is_stored_exactly(run):
    texts = {"ar": "اكتب قصيدة قصيرة عن البحر.", "hi": "समुद्र के बारे में एक छोटी कविता लिखिए।",
             "zh": "写一首关于大海的短诗。", "sw": "Andika shairi fupi kuhusu bahari."}
    run("benchmark", jsonl(*[item(f"g-{lang}", lang, group="g", instruction=text)
                             for lang, text in texts.items()]))
    assert {i.language: i.instruction for i in Item.objects.all()} == texts


# === 2. responses and judge decisions ========================================================

@pytest.fixture
def bench(db):
    """A benchmark with one parallel group (en, zh, ru; r1, r2) and one solo item (r1..r3)."""
    load("benchmark", *group_lines("g1"),
         item("solo", reqs=[("r1", "A?"), ("r2", "B?"), ("r3", "C?")]))
    return Benchmark.objects.get(name=BENCH)


def stored_decisions(judge: str = "judge-1") -> dict[tuple[str, str, str], bool]:
    return {(i, m, r): d for i, m, r, d in JudgeDecision.objects.filter(
        judgment__judge=judge).values_list("judgment__response__item__key",
                                           "judgment__response__model", "requirement__key",
                                           "decision")}


@pytest.mark.django_db
def test_responses_import_stores_responses_judgments_and_decisions(run, bench):
    run("responses", jsonl(
        response("g1-en", "m1", decisions(r1="YES", r2="NO"),
                 {"judge": "judge-1", "protocol": "direct_score", "score": 7}),
        response("g1-zh", "m1", decisions(r1=True, r2=False)),
        response("g1-en", "m2"),
    ))
    assert Response.objects.count() == 3
    assert Judgment.objects.count() == 3
    assert stored_decisions() == {("g1-en", "m1", "r1"): True, ("g1-en", "m1", "r2"): False,
                                  ("g1-zh", "m1", "r1"): True, ("g1-zh", "m1", "r2"): False}
    assert Judgment.objects.get(protocol="direct_score").score == 7.0


@pytest.mark.parametrize(("spelling", "value"), [
    ("YES", True), ("yes", True), ("Yes", True), (" yes ", True), ("NO", False),
    ("no", False), ("No", False), (True, True), (False, False),
])
@pytest.mark.django_db
def test_decision_spellings(run, bench, spelling, value):
    run("responses", jsonl(response("g1-en", "m", decisions(r1=spelling, r2="no"))))
    assert stored_decisions()[("g1-en", "m", "r1")] is value


@pytest.mark.parametrize("spelling", ["Y", "true", "1", 1, 0, None, "maybe", ""])
@pytest.mark.django_db
def test_other_decision_spellings_are_refused(run, bench, spelling):
    problems = rejected(run, "responses",
                        jsonl(response("g1-en", "m", decisions(r1=spelling, r2="no"))))
    assert problems == [f"responses.jsonl:1: judgments[0].decisions[0].decision: {spelling!r} "
                        "is not YES, NO, true or false"]


@pytest.mark.django_db
def test_unknown_item_is_refused(run, bench):
    problems = rejected(run, "responses", jsonl(response("g1-en", "m"),
                                                response("g9-en", "m")))
    assert problems == ["responses.jsonl:2: item: no item 'g9-en' in this benchmark"]


@pytest.mark.django_db
def test_unknown_benchmark_is_refused(run, bench):
    with pytest.raises(Rejected) as excinfo:
        run("responses", jsonl(response("g1-en", "m")), benchmark="nope")
    assert "benchmark 'nope' does not exist" in excinfo.value.text


@pytest.mark.django_db
def test_unknown_requirement_is_refused(run, bench):
    problems = rejected(run, "responses", jsonl(
        response("g1-en", "m", decisions(r1="YES", r2="NO", r3="YES"))))
    assert problems == ["responses.jsonl:1: judgments[0].decisions[2].requirement: "
                        "the item's group has no requirement 'r3'"]


@pytest.mark.django_db
def test_missing_decision_is_refused(run, bench):
    judgment = decisions(r1="YES", r2="NO")
    del judgment["decisions"][1]["decision"]
    problems = rejected(run, "responses", jsonl(response("g1-en", "m", judgment)))
    assert problems == ["responses.jsonl:1: judgments[0].decisions[1].decision: missing"]


@pytest.mark.django_db
def test_a_requirement_without_decision_is_refused(run, bench):
    problems = rejected(run, "responses", jsonl(
        response("g1-en", "m", decisions(r1="YES", r2="NO")),
        response("solo", "m", decisions(r2="YES"))))
    assert problems == ["responses.jsonl:2: judgments[0].decisions: "
                        "no decision on requirement(s) r1, r3"]


@pytest.mark.django_db
def test_two_decisions_on_one_requirement_are_refused(run, bench):
    judgment = decisions(r1="YES", r2="NO")
    judgment["decisions"].append({"requirement": "r1", "decision": "NO"})
    problems = rejected(run, "responses", jsonl(response("g1-en", "m", judgment)))
    assert problems == ["responses.jsonl:1: judgments[0].decisions[2].requirement: "
                        "second decision on 'r1'"]


@pytest.mark.django_db
def test_duplicate_item_and_model_is_refused(run, bench):
    problems = rejected(run, "responses", jsonl(
        response("g1-en", "m1"), response("g1-en", "m2"), response("g1-en", "m1")))
    assert problems == ["responses.jsonl:3: model: a response of 'm1' to 'g1-en' is already "
                        "on line 1"]


@pytest.mark.django_db
def test_same_judge_and_protocol_twice_on_a_response_is_refused(run, bench):
    problems = rejected(run, "responses", jsonl(response(
        "g1-en", "m", decisions(r1="YES", r2="NO"), decisions(r1="NO", r2="NO"))))
    assert problems == ["responses.jsonl:1: judgments[1].judge: 'judge-1' has two "
                        "'requirements' judgments of this response"]


@pytest.mark.django_db
def test_raw_judge_output_is_parsed(run, bench):
    text = raw_section(1, "**YES**", "Polite throughout.") + raw_section(2, "No.", "Too long.")
    run("responses", jsonl(response("g1-ru", "m", {"judge": "judge-1",
                                                   "protocol": "requirements", "raw": text})))
    judgment = Judgment.objects.get()
    assert judgment.raw == text
    assert list(judgment.decisions.order_by("requirement__position")
                .values_list("requirement__key", "decision", "observation")) == [
        ("r1", True, "Polite throughout."), ("r2", False, "Too long.")]


@pytest.mark.django_db
def test_raw_with_more_sections_than_the_group_names_line_and_requirement(run, bench):
    text = "".join(raw_section(n, "YES") for n in (1, 2, 3))
    problems = rejected(run, "responses", jsonl(
        response("g1-en", "m", decisions(r1="YES", r2="NO")),
        response("g1-zh", "m", {"judge": "j", "protocol": "requirements", "raw": text})))
    assert problems == ["responses.jsonl:2: judgments[0].raw requirement 3: has 3 requirement "
                        "sections but the group has 2 requirements"]


@pytest.mark.django_db
def test_raw_with_fewer_sections_than_the_group_names_line_and_requirement(run, bench):
    text = "".join(raw_section(n, "YES") for n in (1,))
    problems = rejected(run, "responses", jsonl(
        response("solo", "m", {"judge": "j", "protocol": "requirements",
                               "raw": text + raw_section(2, "NO")}),
        response("g1-zh", "m", {"judge": "j", "protocol": "requirements", "raw": text})))
    assert problems == [
        "responses.jsonl:1: judgments[0].raw requirement 3: has 2 requirement sections but "
        "the group has 3 requirements",
        "responses.jsonl:2: judgments[0].raw requirement 2: has 1 requirement sections but "
        "the group has 2 requirements"]


@pytest.mark.django_db
def test_raw_missing_a_decision_names_line_and_requirement(run, bench):
    text = (raw_section(1, "YES")
            + "## Requirement 2: Question 2?\n### Observation\nNo verdict follows.\n")
    problems = rejected(run, "responses", jsonl(
        response("g1-zh", "m", {"judge": "j", "protocol": "requirements", "raw": text})))
    assert problems == ["responses.jsonl:1: judgments[0].raw requirement 2: requirement 2: "
                        "no '### Decision' section"]


@pytest.mark.django_db
def test_raw_with_an_unreadable_decision_names_line_and_requirement(run, bench):
    text = raw_section(1, "Partially") + raw_section(2, "YES")
    problems = rejected(run, "responses", jsonl(
        response("g1-zh", "m", {"judge": "j", "protocol": "requirements", "raw": text})))
    assert len(problems) == 1
    assert problems[0].startswith("responses.jsonl:1: judgments[0].raw requirement 1: ")


@pytest.mark.django_db
def test_raw_without_any_section_names_requirement_1(run, bench):
    problems = rejected(run, "responses", jsonl(response(
        "g1-zh", "m", {"judge": "j", "protocol": "requirements", "raw": "All good. YES"})))
    assert problems == ["responses.jsonl:1: judgments[0].raw requirement 1: "
                        "no '## Requirement N:' section found"]


@pytest.mark.parametrize("score", [1, 10, 5.5, 1.0])
@pytest.mark.django_db
def test_direct_score_within_1_to_10_is_accepted(run, bench, score):
    run("responses", jsonl(response("g1-en", "m", {"judge": "j", "protocol": "direct_score",
                                                   "score": score})))
    assert Judgment.objects.get().score == float(score)
    assert not JudgeDecision.objects.exists()


@pytest.mark.parametrize(("score", "problem"), [
    (0, "0 is outside 1..10"), (11, "11 is outside 1..10"), (0.99, "0.99 is outside 1..10"),
    (10.5, "10.5 is outside 1..10"), (-3, "-3 is outside 1..10"),
    ("7", "expected a number, got a string"), (True, "expected a number, got a boolean"),
    (None, "expected a number, got null"),
])
@pytest.mark.django_db
def test_direct_score_outside_1_to_10_or_not_a_number_is_refused(run, bench, score, problem):
    problems = rejected(run, "responses", jsonl(response(
        "g1-en", "m", {"judge": "j", "protocol": "direct_score", "score": score})))
    assert problems == [f"responses.jsonl:1: judgments[0].score: {problem}"]


@pytest.mark.django_db
def test_direct_score_without_score_or_with_decisions_is_refused(run, bench):
    problems = rejected(run, "responses", jsonl(
        response("g1-en", "m", {"judge": "j", "protocol": "direct_score"}),
        response("g1-zh", "m", {"judge": "j", "protocol": "direct_score", "score": 5,
                                "decisions": []})))
    assert problems == ["responses.jsonl:1: judgments[0].score: missing",
                        "responses.jsonl:2: judgments[0].decisions: not allowed with protocol "
                        "direct_score"]


@pytest.mark.django_db
def test_both_or_neither_decisions_and_raw_are_refused(run, bench):
    both = decisions(r1="YES", r2="NO")
    both["raw"] = raw_section(1, "YES") + raw_section(2, "NO")
    neither = {"judge": "j", "protocol": "requirements"}
    problems = rejected(run, "responses", jsonl(response("g1-en", "m", both),
                                                response("g1-zh", "m", neither)))
    message = "give exactly one of 'decisions' and 'raw' for protocol requirements"
    assert problems == [f"responses.jsonl:1: judgments[0].decisions: {message}",
                        f"responses.jsonl:2: judgments[0].decisions: {message}"]


@pytest.mark.django_db
def test_unknown_protocol_and_unknown_fields_in_responses_are_refused(run, bench):
    judgment = decisions(r1="YES", r2="NO")
    judgment["confidence"] = 0.9
    judgment["decisions"][0]["why"] = "because"
    problems = rejected(run, "responses", jsonl(
        {**response("g1-en", "m", judgment), "latency": 3},
        response("g1-zh", "m", {"judge": "j", "protocol": "pairwise", "score": 1})))
    assert problems == [
        "responses.jsonl:1: latency: unknown field",
        "responses.jsonl:1: judgments[0].confidence: unknown field",
        "responses.jsonl:1: judgments[0].decisions[0].why: unknown field",
        "responses.jsonl:2: judgments[0].protocol: 'pairwise' is not one of requirements, "
        "direct_score"]


@pytest.mark.parametrize(("record", "problem"), [
    ({"item": "g1-en", "response": "x"}, "model: missing"),
    ({"item": "g1-en", "model": "m"}, "response: missing"),
    ({"model": "m", "response": "x"}, "item: missing"),
    ({"item": "g1-en", "model": "m", "response": 3}, "response: expected a string, got a number"),
    ({"item": "g1-en", "model": "m", "response": "x", "judgments": {}},
     "judgments: expected a list, got an object"),
    ({"item": "g1-en", "model": "m", "response": "x", "judgments": ["YES"]},
     "judgments[0]: expected an object, got a string"),
    ({"item": "g1-en", "model": "m", "response": "x",
      "judgments": [{"judge": "j", "protocol": "requirements", "decisions": "YES"}]},
     "judgments[0].decisions: expected a list, got a string"),
    ({"item": "g1-en", "model": "m", "response": "x",
      "judgments": [{"protocol": "direct_score", "score": 3}]}, "judgments[0].judge: missing"),
])
@pytest.mark.django_db
def test_response_fields_and_types(run, bench, record, problem):
    assert rejected(run, "responses", jsonl(record)) == [f"responses.jsonl:1: {problem}"]


@pytest.mark.django_db
def test_empty_response_text_is_allowed(run, bench):
    run("responses", jsonl(response("g1-en", "m", text="")))
    assert Response.objects.get().text == ""


@pytest.mark.django_db
def test_one_bad_response_among_good_ones_writes_nothing(run, bench):
    good = [response(f"g1-{lang}", "m", decisions(r1="YES", r2="NO"))
            for lang in ("en", "zh", "ru")]
    bad = response("solo", "m", decisions(r1="YES", r2="NO", r3="PERHAPS"))
    problems = rejected(run, "responses", jsonl(*good, bad))
    assert problems == ["responses.jsonl:4: judgments[0].decisions[2].decision: 'PERHAPS' "
                        "is not YES, NO, true or false"]


@pytest.mark.django_db
def test_responses_reimport_updates_in_place_without_duplicates(run, bench):
    load("responses", response("g1-en", "m", decisions(r1="YES", r2="NO"),
                               {"judge": "j", "protocol": "direct_score", "score": 3}))
    pks = (set(Response.objects.values_list("pk", flat=True)),
           set(Judgment.objects.values_list("pk", flat=True)),
           set(JudgeDecision.objects.values_list("pk", flat=True)))
    run("responses", jsonl(response("g1-en", "m", decisions(r1="NO", r2="NO"),
                                     {"judge": "j", "protocol": "direct_score", "score": 9},
                                     text="Better.")))
    assert (set(Response.objects.values_list("pk", flat=True)),
            set(Judgment.objects.values_list("pk", flat=True)),
            set(JudgeDecision.objects.values_list("pk", flat=True))) == pks
    assert Response.objects.get().text == "Better."
    assert Judgment.objects.get(protocol="direct_score").score == 9
    assert stored_decisions()[("g1-en", "m", "r1")] is False


@pytest.mark.django_db
def test_responses_file_errors_blank_lines_bom_and_empty(run, bench):
    run("responses", b"\xef\xbb\xbf\n" + jsonl(response("g1-en", "m")) + b"\n")
    assert Response.objects.get().line_number == 2
    assert rejected(run, "responses", b"") == ["responses.jsonl:1: the file has no records"]
    problems = rejected(run, "responses", jsonl(response("g1-zh", "m")) + b"\xc3(\n")
    assert problems[0].startswith("responses.jsonl:2: not valid UTF-8")


# === 3. pairs ===============================================================================

@pytest.mark.django_db
def test_pairs_import_with_preferences(run):
    run("pairs", jsonl(
        pair("p1", {"judge": "gpt-4", "preference": "a"}, {"judge": "panda", "preference": "b"}),
        pair("p2", {"judge": "gpt-4", "preference": "tie"}),
        pair("p3", {"judge": "gpt-4", "preference": "TIE"}, language="zh"),
        pair("p4"),
    ))
    assert Pair.objects.filter(benchmark__name=BENCH).count() == 4
    assert sorted(PairJudgment.objects.values_list("pair__key", "judge", "preference")) == [
        ("p1", "gpt-4", "a"), ("p1", "panda", "b"), ("p2", "gpt-4", "tie"),
        ("p3", "gpt-4", "tie")]
    p1 = Pair.objects.get(key="p1")
    assert (p1.model_a, p1.response_a, p1.model_b, p1.response_b) == (
        "model-a", "Answer A.", "model-b", "Answer B.")


@pytest.mark.parametrize("preference", ["c", "A>B", "1", "", "draw"])
@pytest.mark.django_db
def test_invalid_preference_is_refused(run, preference):
    problems = rejected(run, "pairs", jsonl(
        pair("p1", {"judge": "j", "preference": "a"}),
        pair("p2", {"judge": "j", "preference": preference})))
    expected = ("empty" if preference == "" else f"{preference!r} is not a, b or tie")
    assert problems == [f"pairs.jsonl:2: judgments[0].preference: {expected}"]


@pytest.mark.django_db
def test_duplicate_pair_id_is_refused(run):
    problems = rejected(run, "pairs", jsonl(pair("p1"), pair("p2"), pair("p1")))
    assert problems == ["pairs.jsonl:3: id: duplicate id 'p1' (first on line 1)"]


@pytest.mark.parametrize(("change", "problem"), [
    ({"model_b": None}, "model_b: missing"),
    ({"instruction": ""}, "instruction: empty"),
    ({"language": "english (us)"}, "language: 'english (us)' is not a BCP-47 language tag"),
    ({"response_a": 1}, "response_a: expected a string, got a number"),
    ({"judgments": "a"}, "judgments: expected a list, got a string"),
    ({"winner": "a"}, "winner: unknown field"),
    ({"id": "p#1"}, "id: must not contain '#' or '|' (they separate unit ids)"),
])
@pytest.mark.django_db
def test_pair_fields_and_types(run, change, problem):
    record = pair("p1", **change)
    record = {k: v for k, v in record.items() if v is not None}
    assert rejected(run, "pairs", jsonl(pair("p0"), record)) == [f"pairs.jsonl:2: {problem}"]


@pytest.mark.django_db
def test_pair_judged_twice_by_one_judge_is_refused(run):
    problems = rejected(run, "pairs", jsonl(pair("p1", {"judge": "j", "preference": "a"},
                                                 {"judge": "j", "preference": "b"})))
    assert problems == ["pairs.jsonl:1: judgments[1].judge: 'j' judged this pair twice"]


@pytest.mark.django_db
def test_empty_responses_in_a_pair_are_allowed(run):
    run("pairs", jsonl(pair("p1", response_a="", response_b="")))
    assert Pair.objects.get().response_a == ""


@pytest.mark.django_db
def test_pairs_reimport_updates_in_place(run):
    load("pairs", pair("p1", {"judge": "j", "preference": "a"}), pair("p2"))
    pks = dict(Pair.objects.values_list("key", "pk"))
    judgment_pk = PairJudgment.objects.get().pk
    run("pairs", jsonl(pair("p1", {"judge": "j", "preference": "b"}, response_a="Changed."),
                       pair("p2")))
    assert dict(Pair.objects.values_list("key", "pk")) == pks
    assert Pair.objects.get(key="p1").response_a == "Changed."
    assert PairJudgment.objects.values_list("pk", "preference").get() == (judgment_pk, "b")


@pytest.mark.django_db
def test_one_bad_pair_among_good_ones_writes_nothing(run):
    load("pairs", pair("p0"))
    problems = rejected(run, "pairs", jsonl(pair("p1"), pair("p2", language=""), pair("p3")))
    assert problems == ["pairs.jsonl:2: language: empty"]


# === 4. labels ==============================================================================

# Spec section 4, written out independently of annotation.tasks.
YES_NO = ("yes", "no")
SPEC_LABELS = {
    "instruction_validation": dict.fromkeys(
        ("clarity", "linguistic_independence", "cultural_accessibility", "max_constraints",
         "max_content_constraints"), ("item", YES_NO)),
    "requirement_assessment": {
        "explicitness": ("requirement", YES_NO), "completeness": ("item", YES_NO),
        "atomicity": ("requirement", YES_NO), "category": ("requirement", YES_NO),
        "dimension": ("requirement", YES_NO)},
    "judge_agreement": {"agree": ("decision", YES_NO)},
    "translation_validation": {"quality": ("translation", ("1", "2", "3", "4", "5"))},
    "pairwise_preference": {"preference": ("pair", ("a", "b", "tie"))},
}
DEMO_UNITS = {
    "item": "easy-001-en",
    "requirement": "easy-001-en#r2",
    "decision": "easy-001-en|demo-model-large|r1|gpt-4o-2024-08-06",
    "translation": "easy-001-zh",
    "pair": "pair-001",
}


def test_the_task_definitions_follow_the_spec_table():
    # response_rating is Accord's documented extension (open dimension fields, 1-5).
    assert set(TASKS) == set(SPEC_LABELS) | {"response_rating"}
    for task, fields in SPEC_LABELS.items():
        spec = TASKS[task]
        assert {f.name for f in spec.fields} == set(fields)
        for field in spec.fields:
            kind, values = fields[field.name]
            assert field.values == frozenset(values)
            assert field.per_requirement == (kind == "requirement")


def all_valid_label_rows() -> list[tuple[str, ...]]:
    return [(task, DEMO_UNITS[kind], f"annotator-{value}", field, value, "")
            for task, fields in SPEC_LABELS.items()
            for field, (kind, values) in fields.items() for value in values]


@pytest.mark.django_db
def test_every_task_field_and_value_of_the_spec_imports(run, demo_benchmark):
    rows = all_valid_label_rows()
    run("labels", labels_csv(*rows), benchmark=demo_benchmark.name)
    stored = set(Label.objects.filter(benchmark=demo_benchmark).values_list(
        "task", "unit", "annotator__username", "field", "value", "note"))
    assert stored == set(rows)
    assert LabelEvent.objects.count() == len(rows) == 10 + 10 + 2 + 5 + 3


@pytest.mark.parametrize(("row", "problem"), [
    (("requirement_assessment", "easy-001-en", "explicitness", "yes"),
     "unit: 'easy-001-en' names no requirement (expected <item id>#<requirement id>)"),
    (("requirement_assessment", "easy-001-en#r9", "atomicity", "no"),
     "unit: item 'easy-001-en' has no requirement 'r9'"),
    (("requirement_assessment", "nope#r1", "category", "no"),
     "unit: no item 'nope' in this benchmark"),
    (("requirement_assessment", "easy-001-en#r1", "completeness", "yes"),
     "unit: no item 'easy-001-en#r1' in this benchmark"),
    (("instruction_validation", "easy-001-en#r1", "clarity", "yes"),
     "unit: no item 'easy-001-en#r1' in this benchmark"),
    (("instruction_validation", "missing-en", "clarity", "yes"),
     "unit: no item 'missing-en' in this benchmark"),
    (("instruction_validation", "easy-001-en", "clarity", "maybe"),
     "value: 'maybe' is not one of yes, no for clarity"),
    (("instruction_validation", "easy-001-en", "quality", "3"),
     "field: 'quality' is not a field of instruction_validation"),
    (("judge_agreement", "easy-001-en|demo-model-large|r1|someone-else", "agree", "yes"),
     "unit: no judge decision 'easy-001-en|demo-model-large|r1|someone-else'"),
    (("judge_agreement", "easy-001-en", "agree", "no"), "unit: no judge decision 'easy-001-en'"),
    (("judge_agreement", DEMO_UNITS["decision"], "agree", "disagree"),
     "value: 'disagree' is not one of yes, no for agree"),
    (("translation_validation", "easy-001-en", "quality", "4"),
     "unit: 'easy-001-en' is an English item; translation validation needs a translation"),
    (("translation_validation", "easy-001-zh", "quality", "0"),
     "value: '0' is not one of 1, 2, 3, 4, 5 for quality"),
    (("translation_validation", "easy-001-zh", "quality", "6"),
     "value: '6' is not one of 1, 2, 3, 4, 5 for quality"),
    (("translation_validation", "easy-001-zh", "quality", "yes"),
     "value: 'yes' is not one of 1, 2, 3, 4, 5 for quality"),
    (("pairwise_preference", "easy-001-en", "preference", "a"),
     "unit: no pair 'easy-001-en' in this benchmark"),
    (("pairwise_preference", "pair-001", "preference", "c"),
     "value: 'c' is not one of a, b, tie for preference"),
    (("pairwise_preference", "pair-001", "agree", "yes"),
     "field: 'agree' is not a field of pairwise_preference"),
    (("grading", "pair-001", "preference", "a"), "task: 'grading' is not one of"),
])
@pytest.mark.django_db
def test_wrong_label_combinations_are_refused(run, demo_benchmark, row, problem):
    task, unit, field, value = row
    data = labels_csv(("pairwise_preference", "pair-002", "ann", "preference", "a", ""),
                      (task, unit, "ann", field, value, ""))
    problems = rejected(run, "labels", data, benchmark=demo_benchmark.name)
    assert len(problems) == 1
    assert problems[0].startswith(f"labels.csv:3: {problem}")


@pytest.mark.django_db
def test_values_are_case_insensitive_and_trimmed(run, demo_benchmark):
    run("labels", labels_csv(("pairwise_preference", " pair-001 ", " ann ", "preference",
                              " TIE ", ""),
                             ("instruction_validation", "easy-001-en", "ann", "clarity",
                              "Yes", "")), benchmark=demo_benchmark.name)
    assert sorted(Label.objects.values_list("unit", "annotator__username", "value")) == [
        ("easy-001-en", "ann", "yes"), ("pair-001", "ann", "tie")]


@pytest.mark.django_db
def test_unknown_annotators_get_an_account_that_cannot_log_in(run, demo_benchmark,
                                                              annotator_a):
    from tests.conftest import PASSWORD

    run("labels", labels_csv(
        ("pairwise_preference", "pair-001", "newcomer", "preference", "a", ""),
        ("pairwise_preference", "pair-001", annotator_a.username, "preference", "b", "")),
        benchmark=demo_benchmark.name)
    newcomer = get_user_model().objects.get(username="newcomer")
    assert not newcomer.has_usable_password()
    assert not newcomer.is_staff
    annotator_a.refresh_from_db()
    assert annotator_a.check_password(PASSWORD), "an existing account keeps its password"
    assert get_user_model().objects.filter(username="newcomer").count() == 1


@pytest.mark.django_db
def test_reimporting_a_labels_file_creates_no_new_events(run, demo_benchmark):
    data = labels_csv(*all_valid_label_rows())
    run("labels", data, benchmark=demo_benchmark.name)
    before = row_counts()
    run("labels", data, benchmark=demo_benchmark.name)
    assert row_counts() == before
    summary = load("labels", data, benchmark=demo_benchmark.name)
    assert summary.created.get("labels", 0) == 0 and summary.updated.get("labels", 0) == 0


@pytest.mark.django_db
def test_a_changed_label_keeps_its_history(run, demo_benchmark):
    run("labels", labels_csv(("pairwise_preference", "pair-001", "ann", "preference", "a", ""),
                             ("pairwise_preference", "pair-002", "ann", "preference", "a", "")),
        benchmark=demo_benchmark.name)
    label_pks = dict(Label.objects.values_list("unit", "pk"))
    run("labels", labels_csv(("pairwise_preference", "pair-001", "ann", "preference", "b",
                              "second look"),
                             ("pairwise_preference", "pair-002", "ann", "preference", "a", "")),
        benchmark=demo_benchmark.name)
    assert dict(Label.objects.values_list("unit", "pk")) == label_pks
    assert Label.objects.get(unit="pair-001").value == "b"
    assert list(LabelEvent.objects.filter(label__unit="pair-001")
                .values_list("value", "note")) == [("a", ""), ("b", "second look")]
    assert LabelEvent.objects.filter(label__unit="pair-002").count() == 1


@pytest.mark.django_db
def test_notes_with_quoted_commas_and_newlines(run, demo_benchmark):
    note = 'Line one, with a comma\nline two with "quotes", and more'
    data = labels_csv(
        ("instruction_validation", "easy-001-en", "ann", "clarity", "no", note),
        ("instruction_validation", "easy-001-en", "ann", "linguistic_independence", "yes",
         "a, b\r\nc"),
        ("pairwise_preference", "pair-001", "ann", "preference", "a", ""))
    run("labels", data, benchmark=demo_benchmark.name)
    assert Label.objects.get(field="clarity").note == note
    assert Label.objects.get(field="linguistic_independence").note == "a, b\r\nc"
    assert LabelEvent.objects.get(label__field="clarity").note == note


@pytest.mark.django_db
def test_errors_after_multiline_notes_name_the_line_a_record_starts_on(run, demo_benchmark):
    data = (b"task,unit,annotator,field,value,note\n"
            b'instruction_validation,easy-001-en,ann,clarity,no,"one\ntwo\nthree"\n'
            b'instruction_validation,easy-001-en,ann,cultural_accessibility,maybe,"x\ny"\n'
            b"pairwise_preference,pair-001,ann,preference,z,\n")
    problems = rejected(run, "labels", data, benchmark=demo_benchmark.name)
    assert problems == [
        "labels.csv:5: value: 'maybe' is not one of yes, no for cultural_accessibility",
        "labels.csv:7: value: 'z' is not one of a, b, tie for preference"]


@pytest.mark.django_db
def test_missing_column_is_refused(run, demo_benchmark):
    data = labels_csv(("pairwise_preference", "pair-001", "ann", "a"),
                      header=("task", "unit", "annotator", "value"))
    problems = rejected(run, "labels", data, benchmark=demo_benchmark.name)
    assert problems == ["labels.csv:1: header: missing column(s) field; expected "
                        "task,unit,annotator,field,value,note"]


@pytest.mark.django_db
def test_note_column_is_optional_and_columns_may_be_reordered(run, demo_benchmark):
    data = labels_csv(("a", "pair-001", "preference", "ann", "pairwise_preference"),
                      header=("value", "unit", "field", "annotator", "task"))
    run("labels", data, benchmark=demo_benchmark.name)
    assert Label.objects.values_list("unit", "value", "note").get() == ("pair-001", "a", "")


@pytest.mark.django_db
def test_unknown_column_and_wrong_column_count_are_refused(run, demo_benchmark):
    data = labels_csv(("pairwise_preference", "pair-001", "ann", "preference", "a", "", "x"),
                      header=("task", "unit", "annotator", "field", "value", "note", "extra"))
    assert rejected(run, "labels", data, benchmark=demo_benchmark.name) == [
        "labels.csv:1: header: unknown column(s) extra"]
    data = (b"task,unit,annotator,field,value,note\n"
            b"pairwise_preference,pair-001,ann,preference,a,\n"
            b"pairwise_preference,pair-002,ann,preference\n")
    assert rejected(run, "labels", data, benchmark=demo_benchmark.name) == [
        "labels.csv:3: 4 columns where the header has 6"]


@pytest.mark.django_db
def test_wrong_value_is_refused_with_its_line_and_nothing_is_written(run, demo_benchmark):
    rows = [("pairwise_preference", f"pair-00{n}", "ann", "preference", "a", "")
            for n in range(1, 6)]
    rows[3] = ("pairwise_preference", "pair-004", "ann", "preference", "A>B", "")
    problems = rejected(run, "labels", labels_csv(*rows), benchmark=demo_benchmark.name)
    assert problems == ["labels.csv:5: value: 'a>b' is not one of a, b, tie for preference"]
    assert not get_user_model().objects.filter(username="ann").exists()


@pytest.mark.django_db
def test_duplicate_label_in_a_file_is_refused(run, demo_benchmark):
    row = ("pairwise_preference", "pair-001", "ann", "preference", "a", "")
    problems = rejected(run, "labels", labels_csv(row, row[:4] + ("b", "")),
                        benchmark=demo_benchmark.name)
    assert problems == ["labels.csv:3: field: a second 'preference' label by 'ann' on "
                        "'pair-001' (first on line 2)"]


@pytest.mark.django_db
def test_empty_annotator_is_refused(run, demo_benchmark):
    problems = rejected(run, "labels", labels_csv(
        ("pairwise_preference", "pair-001", " ", "preference", "a", "")),
        benchmark=demo_benchmark.name)
    assert problems == ["labels.csv:2: annotator: empty"]


@pytest.mark.parametrize(("data", "problem"), [
    (b"", "labels.csv:1: the file is empty; expected the header "
          "task,unit,annotator,field,value,note"),
    (b"task,unit,annotator,field,value,note\n",
     "labels.csv:2: the file has a header but no labels"),
    (b"task,unit,annotator,field,value,note\npairwise_preference,pair-001,ann,preference,a,"
     b"caf\xe9\n", "labels.csv:2: not valid UTF-8"),
], ids=["empty", "header-only", "latin-1"])
@pytest.mark.django_db
def test_empty_and_undecodable_labels_files_are_refused(run, demo_benchmark, data, problem):
    assert rejected(run, "labels", data, benchmark=demo_benchmark.name) == [problem]


@pytest.mark.django_db
def test_labels_with_bom_crlf_and_blank_lines(run, demo_benchmark):
    data = ("\ufefftask,unit,annotator,field,value,note\r\n"
            "pairwise_preference,pair-001,ann,preference,b,\r\n\r\n"
            "pairwise_preference,pair-002,ann,preference,tie,\r\n").encode()
    run("labels", data, benchmark=demo_benchmark.name)
    assert sorted(Label.objects.values_list("unit", "value")) == [("pair-001", "b"),
                                                                  ("pair-002", "tie")]


@pytest.mark.django_db
def test_labels_for_an_unknown_benchmark_are_refused(run, db):
    with pytest.raises(Rejected) as excinfo:
        run("labels", labels_csv(("pairwise_preference", "p", "ann", "preference", "a", "")),
            benchmark="nope")
    assert "benchmark 'nope' does not exist" in excinfo.value.text


@pytest.mark.django_db
def test_the_demo_labels_fixture_imports(run, demo_benchmark):
    data = (Path(__file__).resolve().parents[2] / "fixtures" / "labels.csv").read_bytes()
    run("labels", data, benchmark=demo_benchmark.name)
    assert Label.objects.filter(benchmark=demo_benchmark).count() == 32
    assert "Thanksgiving, and pumpkin pie" in Label.objects.get(
        unit="hard-007-en", annotator__username="legacy_annotator_1",
        field="cultural_accessibility").note


@pytest.mark.django_db
def test_a_judge_may_judge_a_pair_in_both_orders(run):
    """Extension of format 3: `swapped: true` marks the verdict given with B shown first."""
    run("pairs", jsonl(pair("p1", {"judge": "j", "preference": "a"},
                            {"judge": "j", "preference": "b", "swapped": True})))
    assert sorted(PairJudgment.objects.values_list("judge", "swapped", "preference")) == [
        ("j", False, "a"), ("j", True, "b")]
    problems = rejected(run, "pairs", jsonl(pair("p2", {"judge": "j", "preference": "a",
                                                        "swapped": True},
                                                 {"judge": "j", "preference": "a",
                                                  "swapped": True})))
    assert problems == ["pairs.jsonl:1: judgments[1].judge: 'j' judged this pair twice in "
                        "swapped order"]
    problems = rejected(run, "pairs", jsonl(pair("p3", {"judge": "j", "preference": "a",
                                                        "swapped": "yes"})))
    assert problems == ["pairs.jsonl:1: judgments[0].swapped: expected true or false, got "
                        "a string"]


@pytest.mark.django_db
def test_response_ratings_import_on_dimensions_of_a_response(run, demo_benchmark):
    """Extension of format 4: task response_rating, unit <item id>|<model>, the field is a
    dimension name, the value 1-5."""
    run("labels", labels_csv(
        ("response_rating", "easy-001-en|demo-model-large", "rater", "coherence", "4", ""),
        ("response_rating", "easy-001-en|demo-model-large", "rater", "fluency", "5", "")),
        benchmark=demo_benchmark.name)
    label = Label.objects.get(field="coherence")
    assert (label.item.key, label.model, label.value) == ("easy-001-en", "demo-model-large", "4")
    problems = rejected(run, "labels", labels_csv(
        ("response_rating", "easy-001-en|no-such-model", "rater", "coherence", "4", ""),
        ("response_rating", "easy-001-en|demo-model-large", "rater", "Coherence", "4", ""),
        ("response_rating", "easy-001-en|demo-model-large", "rater", "clarity", "6", "")),
        benchmark=demo_benchmark.name)
    assert problems == [
        "labels.csv:2: unit: no response 'easy-001-en|no-such-model' in this benchmark "
        "(expected <item id>|<model>)",
        "labels.csv:3: field: 'Coherence' is not a field of response_rating (a dimension "
        "name in lower case, e.g. coherence)",
        "labels.csv:4: value: '6' is not one of 1, 2, 3, 4, 5 for clarity"]


@pytest.mark.django_db
def test_direct_scores_may_rate_one_dimension_each(run):
    load("benchmark", item("a"))
    run("responses", jsonl({"item": "a", "model": "m", "response": "x", "judgments": [
        {"judge": "j", "protocol": "direct_score", "score": 7},
        {"judge": "j", "protocol": "direct_score", "score": 4, "dimension": "fluency"},
        {"judge": "j", "protocol": "direct_score", "score": 2, "dimension": "coherence"}]}))
    assert sorted(Judgment.objects.values_list("dimension", "score")) == [
        ("", 7.0), ("coherence", 2.0), ("fluency", 4.0)]
    problems = rejected(run, "responses", jsonl({"item": "a", "model": "m2", "response": "x",
                                                 "judgments": [
        {"judge": "j", "protocol": "direct_score", "score": 4, "dimension": "fluency"},
        {"judge": "j", "protocol": "direct_score", "score": 5, "dimension": "fluency"},
        {"judge": "j", "protocol": "direct_score", "score": 5, "dimension": "Bad Name"}]}))
    assert problems == [
        "responses.jsonl:1: judgments[1].judge: 'j' has two 'direct_score' judgments on "
        "'fluency' of this response",
        "responses.jsonl:1: judgments[2].dimension: 'Bad Name' is not a lower-case name of "
        "letters, digits and underscores"]
