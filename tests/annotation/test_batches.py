"""Drawing and assigning batches: allocate, draw_sample, batch_create, the create_batch and
demo_setup commands."""

from __future__ import annotations

import io
import json
import math
import random
from collections import Counter

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Q

from annotation import importers
from annotation.models import Assignment, Batch, BatchUnit, Benchmark, Item, Pair, TaskKind
from annotation.services import (
    SampleRequest,
    ServiceError,
    allocate,
    batch_create,
    draw_sample,
    user_ensure,
)
from annotation.tasks import TASKS, Candidate, Filters
from judging.models import JudgeDecision

# --- allocate -------------------------------------------------------------------------------


def test_allocate_uses_the_largest_remainder():
    # Exact quotas 4.7, 1.6, 1.5, 1.2, 0.6, 0.4: floors give 7, the 3 largest remainders
    # (.7 x, then .6 v and .6 y, tied and broken by key) get one more each.
    counts = {"x": 47, "y": 16, "z": 15, "w": 12, "v": 6, "u": 4}
    assert allocate(counts, 10) == {"x": 5, "y": 2, "z": 1, "w": 1, "v": 1, "u": 0}


def test_allocate_breaks_ties_by_key():
    assert allocate({"b": 1, "a": 1, "c": 1}, 2) == {"a": 1, "b": 1, "c": 0}
    assert allocate({"en": 5, "zh": 3, "sw": 2}, 5) == {"en": 3, "zh": 1, "sw": 1}


@pytest.mark.parametrize("seed", range(30))
def test_allocate_sums_to_total_and_stays_within_one_of_the_exact_share(seed):
    rng = random.Random(seed)
    counts = {f"s{i}": rng.randint(0, 40) for i in range(rng.randint(1, 8))}
    population = sum(counts.values())
    for total in {0, 1, population // 3, population // 2, population}:
        shares = allocate(counts, total)
        assert set(shares) == set(counts)
        assert sum(shares.values()) == (total if population else 0)
        for key, n in counts.items():
            assert 0 <= shares[key] <= n, "a stratum gives at most what it has"
            if population:
                exact = total * n / population
                assert math.floor(exact) <= shares[key] <= math.ceil(exact)


def test_allocate_never_exceeds_a_stratum():
    assert allocate({"a": 2, "b": 30}, 40) == {"a": 2, "b": 30}
    assert allocate({"a": 0, "b": 3}, 2) == {"a": 0, "b": 2}
    assert allocate({"a": 1, "b": 1}, 0) == {"a": 0, "b": 0}
    assert allocate({}, 5) == {}


# --- draw_sample (no database) ---------------------------------------------------------------

LANGUAGE_SIZES = {"en": 50, "zh": 30, "sw": 15, "hi": 5}


def candidates(sizes=LANGUAGE_SIZES) -> list[Candidate]:
    return [Candidate(unit_key=f"{lang}-{n:03d}", language=lang)
            for lang, size in sizes.items() for n in range(size)]


@pytest.mark.parametrize("size", [1, 7, 10, 20, 33, 99, 100])
@pytest.mark.parametrize("seed", [0, 1, 2025])
def test_draw_sample_is_stratified_by_language(size, seed):
    drawn = draw_sample(candidates(), SampleRequest(size=size, seed=seed))
    assert len(drawn) == size
    assert len({c.unit_key for c, _ in drawn}) == size
    per_language = Counter(c.language for c, _ in drawn)
    population = sum(LANGUAGE_SIZES.values())
    for lang, n in LANGUAGE_SIZES.items():
        assert abs(per_language[lang] - size * n / population) < 1, (lang, per_language)


def test_draw_sample_by_fraction_takes_that_share_of_the_matching_units():
    drawn = draw_sample(candidates(), SampleRequest(fraction=0.1, seed=3))
    # Exact shares 5, 3, 1.5, 0.5: sw and hi tie on the remainder, the key breaks the tie.
    assert Counter(c.language for c, _ in drawn) == {"en": 5, "zh": 3, "hi": 1, "sw": 1}
    assert len(draw_sample(candidates(), SampleRequest(seed=3))) == 100


def test_same_seed_draws_the_same_sample_and_overlap_set():
    request = SampleRequest(size=30, seed=11, overlap_fraction=0.2)
    first = draw_sample(candidates(), request)
    again = draw_sample(list(reversed(candidates())), request)  # input order does not matter
    assert [(c.unit_key, o) for c, o in first] == [(c.unit_key, o) for c, o in again]
    assert sum(o for _, o in first) == 6


def test_different_seeds_draw_different_samples():
    samples = {
        frozenset(c.unit_key for c, _ in draw_sample(candidates(), SampleRequest(size=30,
                                                                                seed=seed)))
        for seed in range(5)
    }
    assert len(samples) == 5
    overlaps = {
        frozenset(c.unit_key for c, o in draw_sample(
            candidates(), SampleRequest(size=100, seed=seed, overlap_fraction=0.2)) if o)
        for seed in range(5)
    }
    assert len(overlaps) == 5


@pytest.mark.parametrize(("size", "fraction", "expected"), [(40, 0.25, 10), (40, 0.1, 4),
                                                            (20, 1.0, 20), (20, 0.0, 0)])
def test_overlap_fraction_gives_that_many_overlap_units(size, fraction, expected):
    drawn = draw_sample(candidates(), SampleRequest(size=size, seed=5,
                                                    overlap_fraction=fraction))
    overlap = [c for c, o in drawn if o]
    assert len(overlap) == expected
    # The overlap subset is itself spread over the sampled languages.
    sampled = Counter(c.language for c, _ in drawn)
    for lang, n in sampled.items():
        share = sum(1 for c in overlap if c.language == lang)
        assert abs(share - expected * n / size) < 1


@pytest.mark.parametrize(("request_", "message"), [
    (SampleRequest(size=101), "sample size 101 is larger than the 100 units that match"),
    (SampleRequest(size=0), "sample size must be at least 1"),
    (SampleRequest(fraction=1.5), "sample fraction must be in (0, 1]"),
    (SampleRequest(fraction=0.0), "sample fraction must be in (0, 1]"),
    (SampleRequest(fraction=0.001), "the sample would be empty"),
    (SampleRequest(size=5, overlap_fraction=1.5), "overlap fraction must be in [0, 1]"),
])
def test_draw_sample_refuses_impossible_requests(request_, message):
    with pytest.raises(ServiceError) as excinfo:
        draw_sample(candidates(), request_)
    assert message in str(excinfo.value)


def test_draw_sample_with_nothing_to_draw():
    with pytest.raises(ServiceError, match="no unit matches the filters"):
        draw_sample([], SampleRequest())


# --- batch_create ----------------------------------------------------------------------------

def people(*names):
    return [user_ensure(username=name, password=None) for name in names]


@pytest.fixture
def uneven(db) -> Benchmark:
    """Instructions in four languages of unequal size (en 20, zh 12, ar 6, sw 2)."""
    lines = [{"id": f"{lang}-{n:02d}", "language": lang, "instruction": f"Do {n}.",
              "requirements": [{"id": "r1", "text": "Done?"}],
              "subset": "hard" if n % 2 else "easy"}
             for lang, size in (("en", 20), ("zh", 12), ("ar", 6), ("sw", 2))
             for n in range(size)]
    importers.import_benchmark(data="\n".join(json.dumps(x) for x in lines).encode(),
                               file_name="uneven.jsonl", benchmark_name="uneven")
    return Benchmark.objects.get(name="uneven")


def create(benchmark, annotators, *, kind=TaskKind.INSTRUCTION_VALIDATION, name="b",
           filters: Filters | None = None, **sample):
    return batch_create(benchmark=benchmark, kind=kind, name=name, annotators=annotators,
                        filters=filters or Filters(), sample=SampleRequest(**sample))


def check_assignments(batch: Batch, annotators, k: int) -> None:
    """Overlap units: k required, k assignments; others: 1 and 1; loads within 1."""
    units = list(batch.units.all())
    per_unit = Counter(Assignment.objects.filter(batch=batch).values_list("unit_id", flat=True))
    for unit in units:
        if unit.is_overlap:
            assert unit.annotators_required == k
            assert per_unit[unit.pk] == k
        else:
            assert unit.annotators_required == 1
            assert per_unit[unit.pk] == 1
    load = Counter(Assignment.objects.filter(batch=batch)
                   .values_list("annotator__username", flat=True))
    loads = [load[a.username] for a in annotators]
    assert max(loads) - min(loads) <= 1, loads
    assert sum(loads) == sum(u.annotators_required for u in units)
    for annotator in annotators:
        positions = list(Assignment.objects.filter(batch=batch, annotator=annotator)
                         .order_by("position").values_list("position", flat=True))
        assert positions == list(range(1, len(positions) + 1))


@pytest.mark.parametrize(("n_annotators", "k"), [(2, 2), (3, 2), (3, 3)])
@pytest.mark.parametrize(("size", "overlap"), [(40, 0.25), (17, 0.5), (33, 0.1), (40, 1.0),
                                               (9, 0.0)])
@pytest.mark.django_db
def test_batch_assignments_are_balanced(uneven, n_annotators, k, size, overlap):
    annotators = people(*[f"ann{i}" for i in range(n_annotators)])
    batch = create(uneven, annotators, size=size, seed=size, overlap_fraction=overlap,
                   overlap_k=k)
    assert batch.units.count() == size
    assert batch.units.filter(is_overlap=True).count() == round(overlap * size)
    check_assignments(batch, annotators, k)


@pytest.mark.django_db
def test_batch_is_stratified_by_language(uneven):
    batch = create(uneven, people("a", "b"), size=20, seed=4)
    per_language = Counter(batch.units.values_list("language", flat=True))
    assert per_language == {"en": 10, "zh": 6, "ar": 3, "sw": 1}
    assert all(u.item.language == u.language and u.item.key == u.unit_key
               for u in batch.units.select_related("item"))


@pytest.mark.django_db
def test_same_seed_same_batch_different_seed_different_batch(uneven):
    annotators = people("a", "b", "c")

    def drawn(name, seed):
        batch = create(uneven, annotators, name=name, size=15, seed=seed,
                       overlap_fraction=0.4, overlap_k=2)
        units = set(batch.units.values_list("unit_key", flat=True))
        overlap = set(batch.units.filter(is_overlap=True).values_list("unit_key", flat=True))
        who = sorted(Assignment.objects.filter(batch=batch)
                     .values_list("unit__unit_key", "annotator__username", "position"))
        return units, overlap, who

    first, again, other = drawn("one", 9), drawn("two", 9), drawn("three", 10)
    assert first == again
    assert first[0] != other[0]


@pytest.mark.django_db
def test_batch_records_how_it_was_drawn(uneven):
    batch = create(uneven, people("a", "b"), name="  Hard 10%  ",
                   filters=Filters(languages=("en", "zh"), subset="hard"),
                   fraction=0.5, seed=3, overlap_fraction=0.2, overlap_k=2)
    assert batch.name == "Hard 10%"
    assert batch.parameters == {
        "languages": ["en", "zh"], "subset": "hard", "models": [], "size": None,
        "fraction": 0.5, "seed": 3, "overlap_fraction": 0.2, "overlap_k": 2,
        "annotators": ["a", "b"]}


@pytest.mark.django_db
def test_language_and_subset_filters_restrict_units(uneven):
    batch = create(uneven, people("a", "b"), filters=Filters(languages=("zh", "sw")))
    assert set(batch.units.values_list("language", flat=True)) == {"zh", "sw"}
    assert batch.units.count() == 14
    batch = create(uneven, people("a", "b"), name="hard",
                   filters=Filters(subset="hard", languages=("en",)))
    assert batch.units.count() == 10
    assert set(Item.objects.filter(batchunit__batch=batch)
               .values_list("group__subset", flat=True)) == {"hard"}


@pytest.mark.django_db
def test_filters_on_the_demo_benchmark(make_batch, demo_benchmark):
    batch = make_batch(TaskKind.INSTRUCTION_VALIDATION, name="easy",
                       filters=Filters(subset="easy"))
    assert batch.units.count() == Item.objects.filter(benchmark=demo_benchmark,
                                                      group__subset="easy").count() == 18

    small = "demo-model-small"
    batch = make_batch(TaskKind.JUDGE_AGREEMENT, name="small", filters=Filters(models=(small,)))
    expected = JudgeDecision.objects.filter(judgment__response__item__benchmark=demo_benchmark,
                                            judgment__protocol="requirements",
                                            judgment__response__model=small)
    assert batch.units.count() == expected.count() > 0
    assert set(batch.units.values_list("decision__judgment__response__model", flat=True)) == {
        small}
    assert all(u.unit_key.split("|")[1] == small for u in batch.units.all())

    batch = make_batch(TaskKind.JUDGE_AGREEMENT, name="ar small",
                       filters=Filters(models=(small,), languages=("ar",), subset="hard"))
    assert batch.units.count() == expected.filter(
        judgment__response__item__language="ar",
        judgment__response__item__group__subset="hard").count() > 0

    batch = make_batch(TaskKind.INSTRUCTION_VALIDATION, name="answered by small",
                       filters=Filters(models=(small,)))
    assert batch.units.count() == Item.objects.filter(
        benchmark=demo_benchmark, responses__model=small).distinct().count()

    batch = make_batch(TaskKind.TRANSLATION_VALIDATION, name="translations")
    assert "en" not in set(batch.units.values_list("language", flat=True))
    assert batch.units.count() == 40

    batch = make_batch(TaskKind.PAIRWISE_PREFERENCE, name="pairs",
                       filters=Filters(models=("demo-model-large",)))
    assert batch.units.count() == Pair.objects.filter(
        Q(model_a="demo-model-large") | Q(model_b="demo-model-large"),
        benchmark=demo_benchmark).count()


@pytest.mark.parametrize("kind", list(TASKS))
@pytest.mark.django_db
def test_every_kind_of_batch_can_be_drawn_and_balanced(make_batch, annotator_a, annotator_b,
                                                       kind):
    batch = make_batch(kind, seed=1, overlap=0.5)
    assert batch.units.count() > 0
    check_assignments(batch, [annotator_a, annotator_b], 2)
    target = {TaskKind.JUDGE_AGREEMENT: "decision_id", TaskKind.PAIRWISE_PREFERENCE: "pair_id"
              }.get(kind, "item_id")
    assert not batch.units.filter(**{f"{target}__isnull": True}).exists()


@pytest.mark.django_db
def test_size_larger_than_available_is_refused(uneven):
    with pytest.raises(ServiceError, match="sample size 41 is larger than the 40 units"):
        create(uneven, people("a", "b"), size=41)
    with pytest.raises(ServiceError, match="larger than the 2 units"):
        create(uneven, people("a", "b"), size=3, filters=Filters(languages=("sw",)))
    with pytest.raises(ServiceError, match="no unit matches the filters"):
        create(uneven, people("a", "b"), filters=Filters(languages=("fr",)))
    assert not Batch.objects.exists()


@pytest.mark.django_db
def test_overlap_k_larger_than_the_annotators_is_refused(uneven):
    with pytest.raises(ServiceError, match="overlap needs between 2 and 2 annotators per unit"):
        create(uneven, people("a", "b"), size=10, overlap_fraction=0.2, overlap_k=3)
    with pytest.raises(ServiceError, match="between 2 and 1 annotators"):
        create(uneven, people("a"), size=10, overlap_fraction=0.2, overlap_k=2)
    with pytest.raises(ServiceError, match="asked for 1"):
        create(uneven, people("a", "b"), size=10, overlap_fraction=0.2, overlap_k=1)
    with pytest.raises(ServiceError, match="choose at least one annotator"):
        create(uneven, [], size=10)
    assert not Batch.objects.exists()
    # Without overlap, one annotator is enough.
    check_assignments(create(uneven, people("a"), size=10), people("a"), 2)


@pytest.mark.django_db
def test_duplicate_batch_name_is_refused(uneven):
    create(uneven, people("a", "b"), name="Round 1", size=5)
    for name in ("Round 1", " Round 1 "):
        with pytest.raises(ServiceError, match="already has a batch named 'Round 1'"):
            create(uneven, people("a", "b"), name=name, size=5)
    with pytest.raises(ServiceError, match="a batch needs a name"):
        create(uneven, people("a", "b"), name="  ", size=5)
    assert Batch.objects.count() == 1


@pytest.mark.django_db
def test_duplicate_annotators_count_once(uneven):
    a, b = people("a", "b")
    batch = create(uneven, [a, b, a], size=10, overlap_fraction=0.5, overlap_k=2)
    check_assignments(batch, [a, b], 2)


# --- create_batch command ------------------------------------------------------------------

@pytest.mark.django_db
def test_create_batch_prints_counts_and_matches_batch_create(uneven):
    annotators = people("ana", "ben", "cy")
    # The command line as a user types it, and the service with the same parameters.
    out = io.StringIO()
    call_command("create_batch", "--benchmark", "uneven", "--kind", "instruction_validation",
                 "--name", "cli 2", "--annotators", "ana, ben,cy", "--size", "12",
                 "--languages", "en,zh", "--subset", "hard", "--seed", "42", "--overlap", "0.25",
                 "--overlap-annotators", "3", stdout=out)
    cli = Batch.objects.get(name="cli 2")
    service = create(uneven, annotators, name="service 2",
                     filters=Filters(languages=("en", "zh"), subset="hard"),
                     size=12, seed=42, overlap_fraction=0.25, overlap_k=3)

    def shape(batch):
        return (sorted(batch.units.values_list("unit_key", "is_overlap",
                                               "annotators_required")),
                sorted(Assignment.objects.filter(batch=batch).values_list(
                    "unit__unit_key", "annotator__username", "position")))

    assert shape(cli) == shape(service)
    lines = out.getvalue().splitlines()
    assert lines[0] == f"batch 'cli 2' (id {cli.pk}): 12 units, 3 in overlap"
    loads = Counter(Assignment.objects.filter(batch=cli)
                    .values_list("annotator__username", flat=True))
    assert lines[1:] == [f"  {name}: {loads[name]} assignments" for name in ("ana", "ben", "cy")]
    assert sum(loads.values()) == 9 + 3 * 3
    check_assignments(cli, annotators, 3)


@pytest.mark.django_db
def test_create_batch_prints_the_counts_of_the_batch_it_made(uneven):
    people("ana", "ben")
    out = io.StringIO()
    call_command("create_batch", "--benchmark", "uneven", "--kind", "instruction_validation",
                 "--name", "all", "--annotators", "ana,ben", "--fraction", "0.5",
                 "--overlap", "0.1", stdout=out)
    batch = Batch.objects.get(name="all")
    assert batch.units.count() == 20
    assert out.getvalue().splitlines() == [
        f"batch 'all' (id {batch.pk}): 20 units, 2 in overlap",
        "  ana: 11 assignments", "  ben: 11 assignments"]


@pytest.mark.parametrize(("args", "message"), [
    (["--benchmark", "nope"], "no benchmark named 'nope'"),
    (["--annotators", "ana,ghost"], "no such user(s): ghost"),
    (["--size", "99"], "sample size 99 is larger than the 40 units"),
    (["--overlap", "0.5", "--overlap-annotators", "3"], "overlap needs between 2 and 2"),
    (["--name", "first"], "already has a batch named 'first'"),
    (["--kind", "essay_grading"], "invalid choice: 'essay_grading'"),
])
@pytest.mark.django_db
def test_create_batch_errors_are_command_errors(uneven, args, message):
    people("ana", "ben")
    base = {"--benchmark": "uneven", "--kind": "instruction_validation", "--name": "first",
            "--annotators": "ana,ben", "--size": "4"}
    call_command("create_batch", *[x for kv in base.items() for x in kv], stdout=io.StringIO())
    options = {**base, "--name": "second"}
    options.update(dict(zip(args[::2], args[1::2], strict=True)))
    with pytest.raises(CommandError) as excinfo:
        call_command("create_batch", *[x for kv in options.items() for x in kv],
                     stdout=io.StringIO(), stderr=io.StringIO())
    assert message in str(excinfo.value)
    assert Batch.objects.count() == 1


# --- demo_setup ------------------------------------------------------------------------------

def row_counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


@pytest.mark.django_db
def test_demo_setup_twice_creates_no_duplicates():
    call_command("demo_setup", quiet_logins=True, stdout=io.StringIO())
    first = row_counts()
    assert first["annotation.Batch"] == len(TASKS)
    assert first["annotation.Item"] == 48
    assert first["annotation.Label"] == 32
    assert first["annotation.Assignment"] > first["annotation.BatchUnit"] > 0
    out = io.StringIO()
    call_command("demo_setup", stdout=out)
    assert row_counts() == first
    assert "created batch" not in out.getvalue()
    assert "admin      admin / accord-admin" in out.getvalue()
    ana_ben = list(get_user_model().objects.filter(username__in=["ana", "ben"]))
    for batch in Batch.objects.all():
        check_assignments(batch, ana_ben, 2)


@pytest.mark.django_db
def test_batch_units_point_at_what_they_name(make_batch):
    batch = make_batch(TaskKind.JUDGE_AGREEMENT, seed=3)
    for unit in BatchUnit.objects.filter(batch=batch).select_related(
            "decision__judgment__response__item", "decision__requirement"):
        d = unit.decision
        assert unit.unit_key == (f"{d.judgment.response.item.key}|{d.judgment.response.model}|"
                                 f"{d.requirement.key}|{d.judgment.judge}")
        assert unit.language == d.judgment.response.item.language
