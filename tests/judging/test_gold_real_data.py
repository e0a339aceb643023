"""M-IFEval through the gold export: with the checker's verdicts as the judge's decisions and
no human label, scores.csv reproduces the published leaderboard (m-ifeval/SOURCE.md: the
instruction-level strict accuracy, i.e. RFR over all requirements) through Accord's code."""

from __future__ import annotations

import csv
import io
import json

import pyarrow.parquet as pq
import pytest
from django.core.management import call_command

from annotation.models import Benchmark
from tests import realdata
from tests.test_real_data import MIFEVAL_LEADERBOARD, MIFEVAL_PROMPTS, MIFEVAL_REQUIREMENTS


@pytest.mark.django_db
def test_mifeval_scores_csv_reproduces_the_leaderboard(shared_data, tmp_path):
    for language in realdata.MIFEVAL_LANGUAGES:
        path = realdata.write_jsonl(tmp_path / f"{language}_benchmark.jsonl",
                                    realdata.mifeval_benchmark(shared_data, language))
        call_command("import_benchmark", str(path), benchmark="m-ifeval", stdout=io.StringIO())
        records = [record for model_dir in realdata.MIFEVAL_MODEL_DIRS
                   for record in realdata.mifeval_responses(shared_data, language, model_dir)]
        path = realdata.write_jsonl(tmp_path / f"{language}_responses.jsonl", records)
        call_command("import_responses", str(path), benchmark="m-ifeval", stdout=io.StringIO())

    out = tmp_path / "gold"
    call_command("export_gold", benchmark="m-ifeval", out=str(out), stdout=io.StringIO())

    with (out / "scores.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["judge"] for r in rows} == {realdata.MIFEVAL_JUDGE}
    got = {(r["language"], r["model"]): r for r in rows}
    assert set(got) == set(MIFEVAL_LEADERBOARD)
    mismatches = {cell: (100 * float(got[cell]["rfr_judge"]), published)
                  for cell, published in MIFEVAL_LEADERBOARD.items()
                  if round(100 * float(got[cell]["rfr_judge"]), 1) != published}
    assert not mismatches, f"scores.csv vs published: {mismatches}"
    for (language, _), row in got.items():
        assert int(row["n_instructions"]) == MIFEVAL_PROMPTS[language]
        assert int(row["n_requirements"]) == MIFEVAL_REQUIREMENTS[language]
        # No human label: gold is the judge.
        assert row["rfr_gold"] == row["rfr_judge"] and row["ifr_gold"] == row["ifr_judge"]
        assert 0 <= float(row["ifr_judge"]) <= float(row["rfr_judge"]) <= 1

    n_items = sum(MIFEVAL_PROMPTS.values())
    lines = (out / "benchmark.jsonl").read_text("utf-8").splitlines()
    assert len(lines) == n_items
    first = json.loads(lines[0])
    assert first["human_annotation_tags"] == {}
    assert first["meta"]["source"] == "lightblue-tech/M-IFEval"
    assert (out / "removed.jsonl").read_text("utf-8") == ""
    assert pq.read_table(out / "judgments_gold.parquet").num_rows == 4 * n_items
    assert pq.read_table(out / "benchmark.parquet").num_rows == n_items
    assert Benchmark.objects.filter(name="m-ifeval").exists()
