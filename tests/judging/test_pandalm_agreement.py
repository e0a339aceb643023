"""PandaLM's human-annotated test set (../shared/data/pandalm, see its SOURCE.md).

Published: pairwise Cohen's kappa of the three annotators 0.85 / 0.88 / 0.86 (README), and the
judges against the human majority, accuracy / macro P / R / F1 (the authors'
data/compute_metrics.py): gpt-3.5-turbo .7107/.5879/.5736/.5755, PandaLM-7B .6677/.5738/
.5750/.5743. SOURCE.md also records regression figures: Fleiss' kappa and Krippendorff's
alpha 0.8642, all-three-agree rate 0.8799.
"""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from django.core.management import call_command

from judging.agreement import classification_scores, counts_from_long, majority

ANNOTATORS = ("annotator1", "annotator2", "annotator3")


@pytest.fixture
def pandalm(shared_data):
    folder = shared_data / "pandalm"
    return {name: json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
            for name in ("testset-v1", "gpt-3.5-turbo-testset-v1", "pandalm-7b-testset-v1")}


def write_long_csv(path, items, annotators):
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["unit", "annotator", "value", "cmp_key"])
        for item in items:
            for annotator in annotators:
                writer.writerow([item["idx"], annotator, item[annotator], item["cmp_key"]])
    return path


def agreement_json(path) -> dict:
    out = io.StringIO()
    call_command("agreement", str(path), "--json", "--level", "nominal", stdout=out)
    return json.loads(out.getvalue())


def human_counts(items) -> np.ndarray:
    units = [item["idx"] for item in items for _ in ANNOTATORS]
    values = [item[a] for item in items for a in ANNOTATORS]
    counts, order, categories = counts_from_long(units, values, categories=[0, 1, 2])
    assert order == [item["idx"] for item in items]
    return counts


def test_three_annotators_through_the_command(pandalm, tmp_path):
    items = pandalm["testset-v1"]
    result = agreement_json(write_long_csv(tmp_path / "pandalm.csv", items, ANNOTATORS))

    assert (result["n_units"], result["n_annotators"], result["n_labels"]) == (999, 3, 2997)
    assert round(result["fleiss_kappa"], 4) == 0.8642
    assert round(result["krippendorff_alpha"], 4) == 0.8642
    assert result["cohen_kappa"] is None
    lo, hi = result["ci95"]["krippendorff_alpha"]
    assert lo < result["krippendorff_alpha"] < hi


def test_all_three_agree_rate(pandalm):
    counts = human_counts(pandalm["testset-v1"])
    assert round(float((counts.max(axis=1) == 3).mean()), 4) == 0.8799


@pytest.mark.parametrize(("pair", "published", "exact"), [
    (("annotator1", "annotator2"), 0.85, 0.8520),
    (("annotator1", "annotator3"), 0.88, 0.8789),
    (("annotator2", "annotator3"), 0.86, 0.8617),
])
def test_pairwise_cohen_kappa_through_the_command(pandalm, tmp_path, pair, published, exact):
    items = pandalm["testset-v1"]
    result = agreement_json(write_long_csv(tmp_path / "pair.csv", items, pair))

    assert result["n_annotators"] == 2
    assert round(result["cohen_kappa"], 2) == published
    assert round(result["cohen_kappa"], 4) == exact


def test_majority_label_distribution(pandalm):
    winners = majority(human_counts(pandalm["testset-v1"]))
    # README: 0 -> 105, 1 -> 422, 2 -> 472; no item has three different labels.
    assert np.bincount(winners, minlength=3).tolist() == [105, 422, 472]


GPT_LABELS = {"1": 1, "2": 2, "Tie": 0, "garbage": 0}


@pytest.mark.parametrize(("judge", "expected"), [
    ("gpt-3.5-turbo", (0.7107, 0.5879, 0.5736, 0.5755)),
    ("pandalm-7b", (0.6677, 0.5738, 0.5750, 0.5743)),
])
def test_judge_against_the_human_majority(pandalm, judge, expected):
    truth = majority(human_counts(pandalm["testset-v1"]))
    if judge == "gpt-3.5-turbo":
        predicted = [GPT_LABELS[row["gpt_result"]] for row in pandalm["gpt-3.5-turbo-testset-v1"]]
    else:
        predicted = [int(row["pandalm_result"]) for row in pandalm["pandalm-7b-testset-v1"]]
    scores = classification_scores(truth, np.array(predicted), 3)

    found = tuple(round(scores[key].value, 4)
                  for key in ("accuracy", "macro_precision", "macro_recall", "macro_f1"))
    assert found == expected
    assert scores["accuracy"].n_units == 999


def test_the_files_are_aligned_by_idx(pandalm):
    ids = [[row["idx"] for row in rows] for rows in pandalm.values()]
    assert ids[0] == ids[1] == ids[2] == list(range(999))
