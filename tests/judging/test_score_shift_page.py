"""The score-shift page: access, the judge → gold table per judge with its Δ in points, the
inline SVG chart (escaped labels, undefined rates) and the messages when there is nothing to
shift. `gold.score_rows` is stubbed (`fake_gold`); the last test runs the real one."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from annotation.models import TaskKind
from judging import views_gold
from tests.conftest import DEMO

from .test_export_page import SCORE_ROW, FakeGold, install_fake_gold
from .test_report_page import label_batch

URL = reverse("reports:score_shift")
PAGE = f"{URL}?benchmark={DEMO}"


def row(**changes) -> dict:
    return {**SCORE_ROW, **changes}


@pytest.fixture
def fake_gold(monkeypatch) -> FakeGold:
    return install_fake_gold(monkeypatch)


@pytest.fixture
def staff_client(client, admin):
    client.force_login(admin)
    return client


@pytest.fixture
def labelled(make_batch, annotator_a):
    """Human labels on the demo benchmark, so gold may differ from the judge."""
    batch = make_batch(TaskKind.JUDGE_AGREEMENT, size=2, overlap=0.0)
    label_batch(batch, annotator_a)
    return batch


def table_rows(page: str) -> list[list[str]]:
    body = page.split("<tbody>")[1].split("</tbody>")[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    return [[re.sub(r"<[^>]+>", "", c).strip()
             for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)] for r in rows]


# --- access ---------------------------------------------------------------------------------

@pytest.mark.parametrize("url", [URL, PAGE])
def test_anonymous_visitors_are_sent_to_the_login_page(client, demo_benchmark, fake_gold, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert fake_gold.calls == []


@pytest.mark.parametrize("url", [URL, PAGE])
def test_annotators_are_refused(client, annotator_a, demo_benchmark, fake_gold, url):
    client.force_login(annotator_a)
    assert client.get(url).status_code == 403
    assert fake_gold.calls == []


def test_admins_see_the_page(staff_client, demo_benchmark, fake_gold):
    assert staff_client.get(PAGE).status_code == 200


def test_without_a_benchmark_the_page_offers_a_picker(staff_client, demo_benchmark, fake_gold):
    page = staff_client.get(URL).content.decode()
    assert f'href="{URL}?benchmark={DEMO}"' in page
    assert fake_gold.calls == []


def test_unknown_benchmark_or_strategy_is_404(staff_client, demo_benchmark, fake_gold):
    assert staff_client.get(URL, {"benchmark": "nope"}).status_code == 404
    assert staff_client.get(URL, {"benchmark": DEMO, "strategy": "vote"}).status_code == 404
    assert fake_gold.calls == []


# --- the table --------------------------------------------------------------------------------

def test_the_strategy_reaches_score_rows_and_conservative_is_the_default(
        staff_client, demo_benchmark, fake_gold):
    staff_client.get(PAGE)
    staff_client.get(URL, {"benchmark": DEMO, "strategy": "majority"})
    assert [c["strategy"] for c in fake_gold.calls] == ["conservative", "majority"]
    assert fake_gold.calls[0]["benchmark"] == demo_benchmark
    page = staff_client.get(URL, {"benchmark": DEMO, "strategy": "majority"}).content.decode()
    assert re.search(r'strategy=majority"[^>]*aria-current="page"', page)


def test_the_table_shows_judge_gold_and_delta_in_points(staff_client, demo_benchmark,
                                                        fake_gold, labelled):
    fake_gold.rows = [
        row(),
        row(model="m2", rfr_judge=0.6, rfr_gold=0.6, ifr_judge=0.2, ifr_gold=0.3333333),
        row(language="zh", model="m1", n_instructions=3, n_requirements=7, rfr_judge=0.5,
            rfr_gold=0.5714286, ifr_judge=0.0, ifr_gold=0.0),
    ]
    page = staff_client.get(PAGE).content.decode()
    assert table_rows(page) == [
        ["en", "m1", "4", "10", "80.0", "70.0", "−10.0", "50.0", "25.0", "−25.0"],
        ["", "m2", "4", "10", "60.0", "60.0", "0.0", "20.0", "33.3", "+13.3"],
        ["zh", "m1", "3", "7", "50.0", "57.1", "+7.1", "0.0", "0.0", "0.0"],
    ]
    assert '<td class="num delta delta-down">−10.0</td>' in page
    assert '<td class="num delta delta-up">+13.3</td>' in page
    assert '<td class="num delta delta-zero">0.0</td>' in page
    assert "gold equals the judge" not in page


def test_one_table_per_judge(staff_client, demo_benchmark, fake_gold, labelled):
    fake_gold.rows = [row(judge="gpt-4o"), row(judge="qwen-judge"), row(judge="gpt-4o",
                                                                        model="m2")]
    page = staff_client.get(PAGE).content.decode()
    assert page.count('<table class="table stats-table shift-table">') == 2
    assert page.index("<code>gpt-4o</code>") < page.index("<code>qwen-judge</code>")


def test_languages_follow_the_papers_order(fake_gold):
    judges = views_gold.score_shift_view([row(language="sw"), row(language="en"),
                                          row(language="zh")])
    assert [r["language"] for r in judges[0]["rows"]] == ["en", "zh", "sw"]


def test_undefined_rates_show_a_dash(staff_client, demo_benchmark, fake_gold, labelled):
    fake_gold.rows = [row(n_instructions=0, n_requirements=0, rfr_judge=None, rfr_gold=None,
                          ifr_judge=None, ifr_gold=None)]
    page = staff_client.get(PAGE).content.decode()
    assert table_rows(page) == [["en", "m1", "0", "0", "—", "—", "—", "—", "—", "—"]]
    assert "<svg" not in page  # nothing to draw


# --- messages -------------------------------------------------------------------------------

def test_without_human_labels_gold_equals_the_judge(staff_client, demo_benchmark, fake_gold):
    fake_gold.rows = [row(rfr_gold=0.8, ifr_gold=0.5)]
    page = staff_client.get(PAGE).content.decode()
    assert "No human labels yet: gold equals the judge." in page


def test_without_judge_decisions_there_is_nothing_to_score(staff_client, demo_benchmark,
                                                           fake_gold):
    fake_gold.rows = []
    page = staff_client.get(PAGE).content.decode()
    assert "No judge decisions on this benchmark yet" in page
    assert "<table" not in page


def test_a_judge_humans_never_overruled_says_so(staff_client, demo_benchmark, fake_gold,
                                                labelled):
    fake_gold.rows = [row(rfr_gold=0.8, ifr_gold=0.5)]
    page = staff_client.get(PAGE).content.decode()
    assert "Humans overruled none of this judge's decisions here" in page


# --- the chart --------------------------------------------------------------------------------

def test_the_chart_draws_judge_and_gold_dots_with_axis_and_legend(staff_client, demo_benchmark,
                                                                  fake_gold, labelled):
    fake_gold.rows = [row(), row(language="zh", ifr_judge=0.4, ifr_gold=0.45)]
    page = staff_client.get(PAGE).content.decode()
    svgs = re.findall(r"<svg.*?</svg>", page, re.S)
    assert len(svgs) == 2  # IFR and RFR
    ifr = svgs[0]
    assert "IFR (%)" in ifr and "Δ (points)" in ifr
    assert ">judge</text>" in ifr and ">gold</text>" in ifr
    assert ifr.count('class="dot-judge"') == 3  # legend + two rows
    assert '<text class="lang-label" x="8"' in ifr
    assert ">en</text>" in ifr and ">zh</text>" in ifr
    assert 'class="delta delta-down"' in ifr and ">−25.0</text>" in ifr
    assert 'class="delta delta-up"' in ifr and ">+5.0</text>" in ifr
    assert "judge 50.0% → gold 25.0% (−25.0 points)" in ifr
    assert "The axis spans the rates shown (20–50), not 0–100." in page


def test_the_chart_escapes_model_names(staff_client, demo_benchmark, fake_gold, labelled):
    fake_gold.rows = [row(model="<script>alert(1)</script>", judge='j"&<b>')]
    page = staff_client.get(PAGE).content.decode()
    assert "<script>alert(1)" not in page
    assert "<b>" not in page
    svg = re.search(r"<svg.*?</svg>", page, re.S).group(0)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg
    assert "j&quot;&amp;&lt;b&gt;" in svg


def test_the_chart_axis_spans_whole_tens_around_the_rates():
    assert views_gold._domain([72.0, 70.3]) == (70, 90)
    assert views_gold._domain([0.0, 100.0]) == (0, 100)
    assert views_gold._domain([95.0, 99.0]) == (80, 100)
    assert views_gold._domain([12.0, 55.0]) == (10, 60)


def test_long_model_names_are_shortened_in_the_chart_but_whole_in_its_tooltip():
    name = "meta-llama/Llama-3.1-405B-Instruct-Turbo"
    rows = [views_gold._row_view(row(model=name))]
    chart = views_gold.dumbbell_chart(rows, "ifr")
    entry = chart["groups"][0]["rows"][0]
    assert entry["label"] == name[:23] + "…"
    assert entry["model"] == name
    assert chart["left"] < entry["x_gold"] < entry["x_judge"] <= chart["left"] + chart[
        "plot_width"]


def test_the_real_score_rows_fill_the_page(staff_client, make_batch, annotator_a):
    batch = make_batch(TaskKind.JUDGE_AGREEMENT, size=12, overlap=0.0)
    label_batch(batch, annotator_a)
    response = staff_client.get(URL, {"benchmark": DEMO, "strategy": "majority"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "<table class=\"table stats-table shift-table\">" in page
    assert "<svg" in page
    assert "No human labels yet" not in page
