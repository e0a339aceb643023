"""Real public data through the real import commands, checked against published figures.

The data lives in ../shared/data (see its README.md and each folder's SOURCE.md); the
`shared_data` fixture skips these tests when it is absent. Converters: tests/realdata.py.
"""

from __future__ import annotations

import io
from collections import Counter, defaultdict

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Count, Q

from annotation.models import Benchmark, Item, Label, LabelEvent, Pair, Requirement
from judging.models import JudgeDecision, Judgment, PairJudgment, Response
from tests import realdata

# M-IFEval README leaderboard = instruction-level strict accuracy in % (m-ifeval/SOURCE.md).
MIFEVAL_LEADERBOARD = {
    ("es", "gpt-4o-2024-08-06"): 89.8,
    ("fr", "gpt-4o-2024-08-06"): 87.8,
    ("ja", "gpt-4o-2024-08-06"): 70.4,
    ("es", "claude-3-5-sonnet-20240620"): 87.6,
    ("fr", "claude-3-5-sonnet-20240620"): 88.1,
    ("ja", "claude-3-5-sonnet-20240620"): 77.0,
    ("es", "Qwen/Qwen2.5-7B-Instruct-GPTQ-Int4"): 78.1,
    ("fr", "Qwen/Qwen2.5-7B-Instruct-GPTQ-Int4"): 76.8,
    ("ja", "Qwen/Qwen2.5-7B-Instruct-GPTQ-Int4"): 50.9,
    ("es", "mistralai/Mistral-7B-Instruct-v0.3"): 62.8,
    ("fr", "mistralai/Mistral-7B-Instruct-v0.3"): 61.7,
    ("ja", "mistralai/Mistral-7B-Instruct-v0.3"): 29.2,
}
MIFEVAL_PROMPTS = {"es": 115, "fr": 235, "ja": 172}
MIFEVAL_REQUIREMENTS = {"es": 137, "fr": 345, "ja": 226}


@pytest.mark.django_db
def test_mifeval_import_reproduces_the_leaderboard(shared_data, tmp_path):
    benchmark_name = "m-ifeval"
    for language in realdata.MIFEVAL_LANGUAGES:
        path = realdata.write_jsonl(tmp_path / f"{language}_benchmark.jsonl",
                                    realdata.mifeval_benchmark(shared_data, language))
        call_command("import_benchmark", str(path), benchmark=benchmark_name,
                     stdout=_null(), stderr=_null())
    for language in realdata.MIFEVAL_LANGUAGES:
        records = [record for model_dir in realdata.MIFEVAL_MODEL_DIRS
                   for record in realdata.mifeval_responses(shared_data, language, model_dir)]
        path = realdata.write_jsonl(tmp_path / f"{language}_responses.jsonl", records)
        call_command("import_responses", str(path), benchmark=benchmark_name,
                     stdout=_null(), stderr=_null())

    benchmark = Benchmark.objects.get(name=benchmark_name)
    items = dict(Item.objects.filter(benchmark=benchmark).values("language")
                 .annotate(n=Count("id")).values_list("language", "n"))
    assert items == MIFEVAL_PROMPTS
    requirements = dict(Requirement.objects.filter(group__benchmark=benchmark)
                        .values("group__items__language").annotate(n=Count("id"))
                        .values_list("group__items__language", "n"))
    assert requirements == MIFEVAL_REQUIREMENTS
    # Every item is its own group; resource levels come from the settings table.
    assert set(Item.objects.filter(benchmark=benchmark)
               .values_list("resource_level", flat=True)) == {"high"}
    n_prompts = sum(MIFEVAL_PROMPTS.values())
    assert Response.objects.filter(item__benchmark=benchmark).count() == 4 * n_prompts
    assert Judgment.objects.filter(response__item__benchmark=benchmark).count() == 4 * n_prompts
    decisions = JudgeDecision.objects.filter(
        judgment__response__item__benchmark=benchmark,
        judgment__judge=realdata.MIFEVAL_JUDGE, judgment__protocol="requirements")
    assert decisions.count() == 4 * sum(MIFEVAL_REQUIREMENTS.values())

    # Instruction-level strict accuracy per language x model, recomputed in one aggregate query.
    rows = (decisions.values("judgment__response__item__language", "judgment__response__model")
            .annotate(n=Count("id"), followed=Count("id", filter=Q(decision=True))))
    accuracy = {
        (r["judgment__response__item__language"], r["judgment__response__model"]):
            100 * r["followed"] / r["n"]
        for r in rows
    }
    assert set(accuracy) == set(MIFEVAL_LEADERBOARD)
    mismatches = {cell: (round(accuracy[cell], 2), published)
                  for cell, published in MIFEVAL_LEADERBOARD.items()
                  if abs(accuracy[cell] - published) >= 0.05}
    assert not mismatches, f"recomputed vs published: {mismatches}"
    # Spot checks named in the brief.
    assert round(accuracy[("es", "gpt-4o-2024-08-06")], 1) == 89.8
    assert round(accuracy[("ja", "mistralai/Mistral-7B-Instruct-v0.3")], 1) == 29.2


@pytest.mark.django_db
def test_pandalm_import_reproduces_the_majority_labels(shared_data, tmp_path):
    benchmark_name = "pandalm"
    pairs_path = realdata.write_jsonl(tmp_path / "pandalm_pairs.jsonl",
                                      realdata.pandalm_pairs(shared_data))
    labels_path = tmp_path / "pandalm_labels.csv"
    labels_path.write_text(realdata.pandalm_labels_csv(shared_data), encoding="utf-8")
    call_command("import_pairs", str(pairs_path), benchmark=benchmark_name,
                 stdout=_null(), stderr=_null())
    call_command("import_labels", str(labels_path), benchmark=benchmark_name,
                 stdout=_null(), stderr=_null())

    benchmark = Benchmark.objects.get(name=benchmark_name)
    assert Pair.objects.filter(benchmark=benchmark).count() == 999
    labels = Label.objects.filter(benchmark=benchmark, task="pairwise_preference",
                                  field="preference")
    assert labels.count() == 2997
    assert LabelEvent.objects.filter(label__benchmark=benchmark).count() == 2997
    annotators = get_user_model().objects.filter(username__startswith="pandalm-annotator-")
    assert sorted(annotators.values_list("username", flat=True)) == [
        "pandalm-annotator-1", "pandalm-annotator-2", "pandalm-annotator-3"]
    assert not any(user.has_usable_password() for user in annotators)

    # The judges' preferences (counts from pandalm/SOURCE.md; "Tie" and "garbage" -> tie).
    judged = Counter(PairJudgment.objects.filter(pair__benchmark=benchmark)
                     .values_list("judge", "preference"))
    assert judged == {("gpt-3.5-turbo", "a"): 460, ("gpt-3.5-turbo", "b"): 476,
                      ("gpt-3.5-turbo", "tie"): 38 + 25,
                      ("pandalm-7b", "a"): 433, ("pandalm-7b", "b"): 459,
                      ("pandalm-7b", "tie"): 107}

    # Majority of the three humans per pair: 0 -> 105 tie, 1 -> 422 a, 2 -> 472 b.
    by_unit: dict[str, list[str]] = defaultdict(list)
    for unit, value in labels.values_list("unit", "value"):
        by_unit[unit].append(value)
    assert len(by_unit) == 999 and all(len(v) == 3 for v in by_unit.values())
    majority = Counter()
    for values in by_unit.values():
        (value, count), = Counter(values).most_common(1)
        assert count >= 2, "SOURCE.md: no item has three different labels"
        majority[value] += 1
    assert majority == {"tie": 105, "a": 422, "b": 472}


def _null() -> io.StringIO:
    return io.StringIO()
