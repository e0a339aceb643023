"""The agreement report on real public data, through Accord's own import commands.

PandaLM (pandalm/SOURCE.md): three annotators per pair and two LLM judges, with published
pairwise Cohen's kappa and judge-versus-majority figures. LLMBar (llmbar/SOURCE.md): one gold
label per pair and 2 judges x 2 prompting strategies in both presentation orders, with the
published Acc. (mean accuracy of both orders) and Agr. (positional agreement) of every run.
Converters: tests/realdata.py. Skipped without ../shared/data.
"""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from annotation.models import Benchmark
from judging.reports import agreement_report
from tests import realdata


def _quiet() -> dict:
    return {"stdout": io.StringIO(), "stderr": io.StringIO()}


def _import(tmp_path, name: str, pairs: list[dict], labels_csv: str) -> Benchmark:
    pairs_path = realdata.write_jsonl(tmp_path / f"{name}_pairs.jsonl", pairs)
    labels_path = tmp_path / f"{name}_labels.csv"
    labels_path.write_text(labels_csv, encoding="utf-8")
    call_command("import_pairs", str(pairs_path), benchmark=name, **_quiet())
    call_command("import_labels", str(labels_path), benchmark=name, **_quiet())
    return Benchmark.objects.get(name=name)


def r4(stat: dict) -> float:
    assert stat["value"] is not None, stat["reason"]
    return round(stat["value"], 4)


@pytest.mark.django_db
def test_pandalm_human_and_judge_agreement_match_the_published_figures(shared_data, tmp_path):
    benchmark = _import(tmp_path, "pandalm", realdata.pandalm_pairs(shared_data),
                        realdata.pandalm_labels_csv(shared_data))
    report = agreement_report(benchmark=benchmark, n_resamples=100)
    [preference] = report["fields"]
    assert (preference["task"], preference["field"]) == ("pairwise_preference", "preference")
    assert (preference["n_units"], preference["n_annotators"], preference["n_labels"]) == (
        999, 3, 2997)
    # README: pairwise Cohen's kappa 0.85 / 0.88 / 0.86 (0.8520 / 0.8789 / 0.8617 recomputed).
    kappas = {(p["a"][-1], p["b"][-1]): r4(p["cohen_kappa"]) for p in preference["pairs"]}
    assert kappas == {("1", "2"): 0.8520, ("1", "3"): 0.8789, ("2", "3"): 0.8617}
    assert {k: round(v, 2) for k, v in kappas.items()} == {
        ("1", "2"): 0.85, ("1", "3"): 0.88, ("2", "3"): 0.86}
    assert all(p["n_units"] == 999 for p in preference["pairs"])
    # SOURCE.md regression figures: Fleiss 0.8642, alpha 0.8642, all three agree 0.8799.
    assert r4(preference["stats"]["fleiss_kappa"]) == 0.8642
    assert r4(preference["stats"]["krippendorff_alpha"]) == 0.8642
    assert preference["stats"]["cohen_kappa"]["value"] is None  # 3 annotators
    # data/compute_metrics.py: judge vs the majority of the three, macro over 3 classes.
    judges = {j["judge"]: j for j in report["judge_pairwise"]}
    published = {"gpt-3.5-turbo": (0.7107, 0.5879, 0.5736, 0.5755, 0.4958),
                 "pandalm-7b": (0.6677, 0.5738, 0.5750, 0.5743, 0.4354)}
    for judge, (accuracy, precision, recall, f1, kappa) in published.items():
        j = judges[judge]
        assert j["n_pairs"] == 999  # no majority ties among the humans
        assert (r4(j["accuracy"]), r4(j["macro_precision"]), r4(j["macro_recall"]),
                r4(j["macro_f1"])) == (accuracy, precision, recall, f1), judge
        assert r4(j["kappa"]) == kappa, judge
        assert j["position_consistency"] is None  # PandaLM judged one order only


# llmbar/SOURCE.md: the proper Cohen's kappa of the original order against the gold label (the
# repo's own kappa fields are wrong); subsets without unparsed (null) verdicts.
LLMBAR_KAPPA = {
    ("LLMBar/Natural", "GPT-4/Vanilla_NoRules"): 0.837,
    ("LLMBar/Natural", "ChatGPT/Vanilla_NoRules"): 0.587,
    ("LLMBar/Adversarial/Neighbor", "GPT-4/Vanilla_NoRules"): 0.295,
    ("LLMBar/Adversarial/Neighbor", "ChatGPT/Vanilla_NoRules"): -0.659,
    ("LLMBar/Adversarial/GPTInst", "GPT-4/Metrics_Reference"): 0.740,
    ("Processed/MT-Bench", "GPT-4/Vanilla_NoRules"): 0.590,
    ("Processed/FairEval", "GPT-4/Vanilla_NoRules"): 0.513,
}


@pytest.mark.django_db
def test_llmbar_accuracy_and_positional_agreement_of_all_32_runs(shared_data, tmp_path):
    checked = 0
    for subset in realdata.LLMBAR_SUBSETS:
        benchmark = _import(tmp_path, realdata.llmbar_slug(subset),
                            realdata.llmbar_pairs(shared_data, subset),
                            realdata.llmbar_labels_csv(shared_data, subset))
        report = agreement_report(benchmark=benchmark, n_resamples=0)
        judges = {j["judge"]: j for j in report["judge_pairwise"]}
        for judge in realdata.LLMBAR_JUDGES:
            for strategy in realdata.LLMBAR_STRATEGIES:
                name = realdata.llmbar_judge_name(judge, strategy)
                published = realdata.llmbar_statistics(shared_data, subset, judge, strategy)
                run = judges[name]
                where = f"{subset} {name}"
                assert run["n_pairs"] == report["fields"][0]["n_units"], where
                assert r4(run["accuracy_both_orders"]) == round(published["acc"], 4), where
                assert r4(run["accuracy_both_orders"]) == round(published["acc_printed"], 4), where
                assert r4(run["position_consistency"]) == round(published["agr"], 4), where
                if (subset, name) in LLMBAR_KAPPA:
                    assert round(run["kappa"]["value"], 3) == LLMBAR_KAPPA[(subset, name)], where
                checked += 1
    assert checked == 32
