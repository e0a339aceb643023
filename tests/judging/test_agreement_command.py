"""`manage.py agreement FILE.csv`: the standalone command of spec section 5.

Most tests here have no `db` fixture: pytest-django then refuses any database access, so a
passing test shows the command never touches the database.
"""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

SPEC_KEYS = {"n_units", "n_annotators", "n_labels", "percent_agreement", "cohen_kappa",
             "fleiss_kappa", "krippendorff_alpha", "gwet_ac1", "ci95"}


def write(tmp_path, text: str, name: str = "labels.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run(path, *args: str) -> str:
    out = io.StringIO()
    call_command("agreement", str(path), *args, stdout=out)
    return out.getvalue()


def run_json(path, *args: str) -> dict:
    return json.loads(run(path, "--json", *args))


TWO_ANNOTATORS = """unit,annotator,value,note
u1,ana,yes,
u1,ben,yes,fine
u2,ana,no,
u2,ben,yes,
u3,ana,no,
u3,ben,no,
u4,ana,yes,
u4,ben,,
"""


def test_json_has_exactly_the_spec_keys_plus_reasons(tmp_path):
    result = run_json(write(tmp_path, TWO_ANNOTATORS))

    assert set(result) == SPEC_KEYS | {"reasons"}
    assert set(result["ci95"]) == {"krippendorff_alpha", "percent_agreement"}
    # u4's second label is empty (missing): 4 units, 7 labels, u4 not pairable.
    assert (result["n_units"], result["n_annotators"], result["n_labels"]) == (4, 2, 7)
    assert result["percent_agreement"] == pytest.approx(2 / 3)
    # Over u1-u3: table yes/yes 1, no/yes 1, no/no 1 -> po 2/3, pe (1/3*2/3 + 2/3*1/3) = 4/9.
    assert result["cohen_kappa"] == pytest.approx((2 / 3 - 4 / 9) / (1 - 4 / 9))
    assert result["fleiss_kappa"] is None
    assert "different numbers of labels" in result["reasons"]["fleiss_kappa"]


def test_the_bootstrap_is_seeded(tmp_path):
    path = write(tmp_path, TWO_ANNOTATORS)
    assert run_json(path)["ci95"] == run_json(path)["ci95"]


def test_cohen_kappa_is_null_unless_exactly_two_annotators(tmp_path):
    path = write(tmp_path, "unit,annotator,value\n1,a,x\n1,b,x\n1,c,y\n2,a,y\n2,b,y\n2,c,y\n")
    result = run_json(path)

    assert result["cohen_kappa"] is None
    assert result["reasons"]["cohen_kappa"] == "3 annotators: Cohen's kappa needs exactly 2"
    assert result["fleiss_kappa"] is not None


def test_every_label_the_same_gives_nulls_with_reasons_and_no_crash(tmp_path):
    rows = "".join(f"{u},{a},yes\n" for u in range(20) for a in ("ana", "ben"))
    path = write(tmp_path, "unit,annotator,value\n" + rows)
    result = run_json(path)

    assert result["percent_agreement"] == 1.0
    assert result["gwet_ac1"] == 1.0
    for key in ("cohen_kappa", "fleiss_kappa", "krippendorff_alpha"):
        assert result[key] is None
        assert result["reasons"][key]
    assert result["ci95"]["krippendorff_alpha"] is None

    table = run(path)
    assert "krippendorff_alpha is null: every pairable label is the same value" in table
    assert "Prevalence paradox" in table


def test_the_table_explains_a_low_kappa_under_high_prevalence(tmp_path):
    # 40 units, both annotators say yes on 37, they split on 3: percent agreement 0.925,
    # kappa close to 0.
    rows = [f"{u},ana,yes\n{u},ben,yes\n" for u in range(37)]
    rows += [f"{u},ana,yes\n{u},ben,no\n" for u in range(37, 40)]
    table = run(write(tmp_path, "unit,annotator,value\n" + "".join(rows)))

    assert "Prevalence paradox: 'yes' holds 96% of the labels" in table
    lines = table.splitlines()
    header = next(line for line in lines if line.startswith("statistic"))
    assert header.split() == ["statistic", "value", "units", "labels", "95%", "CI"]
    assert any(line.startswith("percent_agreement") and "0.9250" in line for line in lines)


def test_no_prevalence_note_on_balanced_data(tmp_path):
    assert "Prevalence" not in run(write(tmp_path, TWO_ANNOTATORS))


def test_interval_level_uses_numbers(tmp_path):
    text = "unit,annotator,value\n" + "".join(
        f"{u},{a},{v}\n" for u, pair in enumerate([(1, 2), (3, 3), (5, 4), (2, 2)])
        for a, v in zip(("a", "b"), pair, strict=True))
    path = write(tmp_path, text)
    interval = run_json(path, "--level", "interval")
    nominal = run_json(path, "--level", "nominal")
    ratio = run_json(path, "--level", "ratio")

    assert interval["krippendorff_alpha"] > nominal["krippendorff_alpha"]
    assert interval["percent_agreement"] == nominal["percent_agreement"] == 0.5
    assert ratio["krippendorff_alpha"] is not None


def test_same_label_twice_counts_once(tmp_path):
    result = run_json(write(tmp_path, "unit,annotator,value\n1,a,x\n1,a,x\n1,b,x\n"))
    assert result["n_labels"] == 2


@pytest.mark.parametrize(("text", "message"), [
    ("unit,annotator\n1,a\n", "labels.csv:1: column value: missing"),
    ("unit,annotator,value\n1,a,1\n1,b,2\n1,a,2\n",
     "labels.csv:4: column value: annotator 'a' labelled unit '1' twice"),
    ("unit,annotator,value\n1,a,1\n1,b,high\n",
     "labels.csv:3: column value: 'high' is not a number"),
    ("unit,annotator,value\n1,,1\n", "labels.csv:2: column annotator: empty"),
])
def test_bad_input_names_file_line_and_column(tmp_path, text, message):
    level = ("--level", "interval")
    with pytest.raises(CommandError, match=message.replace("(", r"\(")):
        run(write(tmp_path, text), *level)


def test_unreadable_files(tmp_path):
    with pytest.raises(CommandError, match="missing.csv: no such file"):
        run(tmp_path / "missing.csv")
    path = tmp_path / "latin1.csv"
    path.write_bytes("unit,annotator,value\n1,a,caf\xe9\n".encode("latin-1"))
    with pytest.raises(CommandError, match="latin1.csv: not UTF-8"):
        run(path)


def test_an_empty_file_has_no_columns(tmp_path):
    with pytest.raises(CommandError, match="column unit: missing"):
        run(write(tmp_path, ""))


def test_only_a_header_gives_nulls(tmp_path):
    result = run_json(write(tmp_path, "unit,annotator,value\n"))
    assert result["n_units"] == 0
    assert result["percent_agreement"] is None
    assert result["reasons"]["percent_agreement"] == "no unit has 2 or more labels"


def test_the_command_makes_no_query(db, tmp_path, django_assert_num_queries):
    with django_assert_num_queries(0):
        run_json(write(tmp_path, TWO_ANNOTATORS))


def test_help_documents_the_reasons_extension():
    from judging.management.commands.agreement import Command

    assert '"reasons"' in Command.help
