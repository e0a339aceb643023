"""The agreement statistics against published values, and on degenerate data."""

from __future__ import annotations

import functools
import time

import krippendorff
import numpy as np
import pytest
from scipy import stats as scipy_stats

from judging import agreement
from judging.agreement import (
    Stat,
    bootstrap_ci,
    brennan_prediger,
    classification_scores,
    cohen_kappa,
    correlation,
    counts_from_long,
    fleiss_kappa,
    gwet_ac1,
    krippendorff_alpha,
    majority,
    percent_agreement,
    summary,
    weights,
)

NAN = np.nan

# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", section C: 4 observers,
# 12 units, values 1-5, with missing values. Published: nominal 0.743, ordinal 0.815,
# interval 0.849, ratio 0.797. Gwet's irrCAC ships the same data as `cac.raw4raters`; its
# README prints percent agreement 0.8181818, AC1 0.77544 (pe 0.1903212) and Brennan-Prediger
# 0.77273 (pe 0.2).
KRIPPENDORFF_2011 = np.array([
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
])

# Fleiss (1971), table 1: 30 patients, 6 psychiatrists each, 5 diagnoses (R irr's
# `diagnoses`, as reproduced in statsmodels' tests); irr::kappam.fleiss gives 0.4302445.
FLEISS_1971 = np.array([
    [4, 4, 4, 4, 4, 4], [2, 2, 2, 5, 5, 5], [2, 3, 3, 3, 3, 5], [5, 5, 5, 5, 5, 5],
    [2, 2, 2, 4, 4, 4], [1, 1, 3, 3, 3, 3], [3, 3, 3, 3, 5, 5], [1, 1, 3, 3, 3, 4],
    [1, 1, 4, 4, 4, 4], [5, 5, 5, 5, 5, 5], [1, 4, 4, 4, 4, 4], [1, 2, 4, 4, 4, 4],
    [2, 2, 2, 3, 3, 3], [1, 4, 4, 4, 4, 4], [2, 2, 4, 4, 4, 5], [3, 3, 3, 3, 3, 5],
    [1, 1, 1, 4, 5, 5], [1, 1, 1, 1, 1, 2], [2, 2, 4, 4, 4, 4], [1, 3, 3, 5, 5, 5],
    [5, 5, 5, 5, 5, 5], [2, 4, 4, 4, 4, 4], [2, 2, 4, 5, 5, 5], [1, 1, 4, 4, 4, 4],
    [1, 4, 4, 4, 4, 5], [2, 2, 2, 2, 2, 4], [1, 1, 1, 1, 5, 5], [2, 2, 4, 4, 4, 4],
    [1, 3, 3, 3, 3, 3], [5, 5, 5, 5, 5, 5],
])

# Wikipedia's "Fleiss' kappa" worked example: 10 subjects, 14 raters, 5 categories,
# P-bar 0.378, P_e 0.213, kappa 0.210.
WIKIPEDIA_FLEISS = np.array([
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
])


def reliability_to_counts(data: np.ndarray, categories=None) -> np.ndarray:
    """Coders x units (NaN = missing) -> the units x categories counts matrix."""
    units = np.tile(np.arange(data.shape[1]), data.shape[0])
    counts, _, _ = counts_from_long(units.tolist(), data.ravel().tolist(), categories)
    return counts


def table_to_pairs(table) -> tuple[np.ndarray, np.ndarray]:
    """A k x k agreement table -> two aligned label vectors."""
    table = np.asarray(table)
    rows, cols = np.indices(table.shape)
    return (np.repeat(rows.ravel(), table.ravel()), np.repeat(cols.ravel(), table.ravel()))


# --- published values -----------------------------------------------------------------------


@pytest.mark.parametrize(("level", "published"), [
    ("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)])
def test_alpha_reproduces_krippendorff_2011_at_every_level(level, published):
    counts = reliability_to_counts(KRIPPENDORFF_2011)
    stat = krippendorff_alpha(counts, level, values=[1, 2, 3, 4, 5])

    assert round(stat.value, 3) == published
    assert stat.value == pytest.approx(
        krippendorff.alpha(reliability_data=KRIPPENDORFF_2011, level_of_measurement=level))
    # Unit 12 has a single value: 11 pairable units, 40 pairable values.
    assert (stat.n_units, stat.n_labels) == (11, 40)


def test_own_coincidence_alpha_equals_the_package_on_krippendorff_2011():
    counts = reliability_to_counts(KRIPPENDORFF_2011)
    patterns, frequency = agreement._patterns(counts)
    for level in agreement.LEVELS:
        ours = agreement._vec_alpha(patterns, frequency[None, :].astype(float), level,
                                    np.arange(1.0, 6.0))[0]
        assert ours == pytest.approx(krippendorff_alpha(counts, level, [1, 2, 3, 4, 5]).value)


def test_percent_agreement_ac1_and_brennan_prediger_reproduce_irrcac():
    counts = reliability_to_counts(KRIPPENDORFF_2011)

    assert percent_agreement(counts).value == pytest.approx(0.8181818, abs=1e-7)
    assert round(gwet_ac1(counts).value, 5) == 0.77544
    assert round(brennan_prediger(counts).value, 5) == 0.77273


def test_fleiss_kappa_reproduces_fleiss_1971():
    counts = reliability_to_counts(FLEISS_1971.T.astype(float))
    stat = fleiss_kappa(counts)

    assert stat.value == pytest.approx(0.4302445, abs=1e-7)
    assert (stat.n_units, stat.n_labels) == (30, 180)


def test_fleiss_kappa_reproduces_the_wikipedia_example():
    assert round(fleiss_kappa(WIKIPEDIA_FLEISS).value, 3) == 0.210


def test_cohen_kappa_of_a_textbook_two_by_two_table():
    # po = 35/50 = 0.7, pe = (25*30 + 25*20)/50^2 = 0.5, kappa = (0.7 - 0.5)/0.5 = 0.4.
    a, b = table_to_pairs([[20, 5], [10, 15]])
    stat = cohen_kappa(a, b, 2)

    assert stat.value == pytest.approx(0.4)
    assert (stat.n_units, stat.n_labels) == (50, 100)


def test_cohen_kappa_reproduces_the_sas_example_unweighted_and_linear():
    # SAS PROC FREQ example printed in statsmodels' tests: kappa 0.4842, and weighted kappa
    # 0.4701 with Cicchetti-Allison (linear) weights over scores 0, 1, 2.
    a, b = table_to_pairs([[0, 4, 1], [0, 8, 0], [0, 1, 5]])

    assert round(cohen_kappa(a, b, 3).value, 4) == 0.4842
    assert round(cohen_kappa(a, b, 3, weights="linear").value, 4) == 0.4701


ANXIETY = np.array([
    3, 3, 3, 4, 5, 5, 2, 3, 5, 2, 2, 6, 1, 5, 2, 2, 1, 2, 4, 3, 3, 6, 4,
    6, 2, 4, 2, 4, 3, 3, 2, 3, 3, 3, 2, 2, 1, 3, 3, 4, 2, 1, 4, 4, 3, 2,
    1, 6, 1, 1, 1, 2, 3, 3, 1, 1, 3, 3, 2, 2,
]).reshape(20, 3, order="F")


@pytest.mark.parametrize(("kind", "published"), [
    (None, -0.006289308), ("linear", 0.1459075), ("quadratic", 0.2520325)])
def test_cohen_kappa_reproduces_r_irr_kappa2_on_the_anxiety_data(kind, published):
    # R irr: kappa2(anxiety[, 2:3], weight) with weight unweighted / "equal" / "squared".
    # irr's weights run over the levels present (1, 2, 3, 4, 6: 5 categories by rank).
    levels = np.unique(ANXIETY[:, 1:])
    a = np.searchsorted(levels, ANXIETY[:, 1])
    b = np.searchsorted(levels, ANXIETY[:, 2])

    assert cohen_kappa(a, b, len(levels), weights=kind).value == pytest.approx(published,
                                                                                 abs=1e-7)


def test_quadratic_weighted_kappa_is_the_concordance_identity():
    # Quadratic-weighted kappa = 2 cov / (var_a + var_b + (mean_a - mean_b)^2), moments over n.
    rng = np.random.default_rng(3)
    a = rng.integers(0, 5, 200)
    b = np.clip(a + rng.integers(-1, 2, 200), 0, 4)
    expected = 2 * np.cov(a, b, bias=True)[0, 1] / (a.var() + b.var() + (a.mean() - b.mean()) ** 2)

    assert cohen_kappa(a, b, 5, weights="quadratic").value == pytest.approx(expected)


def test_gwet_ac1_by_hand_on_a_two_rater_table():
    # Two raters, yes/no, table [[40, 5], [10, 45]] (Gwet 2008's setting, numbers ours):
    # pa = 85/100; pi_yes = (45 + 50)/200 = 0.475; pe = 2 * 0.475 * 0.525 / (2 - 1) = 0.49875;
    # AC1 = (0.85 - 0.49875)/(1 - 0.49875).
    a, b = table_to_pairs([[40, 5], [10, 45]])
    counts = np.stack([np.bincount([x, y], minlength=2) for x, y in zip(a, b, strict=True)])

    assert gwet_ac1(counts).value == pytest.approx((0.85 - 0.49875) / (1 - 0.49875))


def test_gwet_ac2_and_weighted_brennan_prediger_by_hand():
    # Three units, 3 ordered categories, linear weights [[1, .5, 0], [.5, 1, .5], [0, .5, 1]].
    counts = np.array([[2, 0, 0], [1, 1, 0], [0, 1, 1]])
    w = weights(3, "linear")
    # weighted pa per unit: sum_k r_k (r*_k - 1) / (r (r - 1)), r* = w r
    # unit 1: 2 * (2 - 1) / 2 = 1; unit 2: (1 * 0.5 + 1 * 0.5) / 2 = 0.5; unit 3 the same.
    pa = (1 + 0.5 + 0.5) / 3
    pi = np.array([2 + 1, 1 + 1, 1]) / 6  # mean of r_k / r over units
    pe_ac2 = w.sum() / (3 * 2) * (pi * (1 - pi)).sum()
    pe_bp = w.sum() / 9

    assert gwet_ac1(counts, weights=w).value == pytest.approx((pa - pe_ac2) / (1 - pe_ac2))
    assert gwet_ac1(counts, weights=w).name == "gwet_ac2"
    assert brennan_prediger(counts, weights=w).value == pytest.approx((pa - pe_bp) / (1 - pe_bp))


def test_brennan_prediger_is_free_marginal_kappa():
    counts = WIKIPEDIA_FLEISS
    pa = percent_agreement(counts).value

    assert brennan_prediger(counts).value == pytest.approx((pa - 1 / 5) / (1 - 1 / 5))


def test_percent_agreement_is_the_mean_share_of_agreeing_pairs():
    # Unit 1: 3 of 3 pairs agree; unit 2: 1 of 3; unit 3 (one label) doesn't count.
    counts = np.array([[3, 0], [2, 1], [0, 1]])
    stat = percent_agreement(counts)

    assert stat.value == pytest.approx((1 + 1 / 3) / 2)
    assert (stat.n_units, stat.n_labels) == (2, 6)


# --- weights, counts, majority, correlations, classification ---------------------------------


def test_weights_kinds():
    assert np.array_equal(weights(3, "identity"), np.eye(3))
    assert np.allclose(weights(3, "linear"), [[1, .5, 0], [.5, 1, .5], [0, .5, 1]])
    assert np.allclose(weights(3, "quadratic"), [[1, .75, 0], [.75, 1, .75], [0, .75, 1]])
    assert np.allclose(weights(3, "linear", values=[1, 2, 5]),
                       [[1, .75, 0], [.75, 1, .25], [0, .25, 1]])
    # Gwet's ordinal weights for q = 3: 1 - C(d + 1, 2) / C(3, 2).
    assert np.allclose(weights(3, "ordinal"), [[1, 2 / 3, 0], [2 / 3, 1, 2 / 3], [0, 2 / 3, 1]])
    assert np.allclose(np.diag(weights(4, "ratio", values=[1, 2, 3, 4])), 1)
    with pytest.raises(ValueError, match="kind"):
        weights(3, "cubic")


def test_counts_from_long_orders_units_by_appearance_and_categories_numerically():
    counts, units, categories = counts_from_long(
        ["u2", "u2", "u1", "u1", "u3"], ["10", "9", "9", "", None])

    assert units == ["u2", "u1", "u3"]
    assert categories == ["9", "10"]
    assert counts.tolist() == [[1, 1], [1, 0], [0, 0]]


def test_counts_from_long_with_given_categories_and_unknown_value():
    counts, _, categories = counts_from_long([1, 1, 2], ["no", "yes", "yes"],
                                             categories=["yes", "no", "maybe"])
    assert counts.tolist() == [[1, 1, 0], [1, 0, 0]]
    assert categories == ["yes", "no", "maybe"]
    with pytest.raises(ValueError, match="not one of the categories"):
        counts_from_long([1], ["perhaps"], categories=["yes", "no"])


def test_counts_from_long_sorts_strings_when_not_all_numeric():
    _, _, categories = counts_from_long([1, 2, 3], ["b", "a", "1"])
    assert categories == ["1", "a", "b"]


def test_majority_is_minus_one_on_ties_and_unlabelled_units():
    counts = np.array([[2, 1, 0], [1, 1, 0], [0, 0, 0], [0, 0, 3]])
    assert majority(counts).tolist() == [0, -1, -1, 2]


@pytest.mark.parametrize("method", ["pearson", "spearman", "kendall"])
def test_correlation_matches_scipy_and_drops_nan_pairs(method):
    x = [1, 2, 3, 4, 5, NAN, 2]
    y = [2, 1, 4, 3, 5, 3, NAN]
    expected = {"pearson": scipy_stats.pearsonr, "spearman": scipy_stats.spearmanr,
                "kendall": scipy_stats.kendalltau}[method]([1, 2, 3, 4, 5], [2, 1, 4, 3, 5])
    stat = correlation(x, y, method)

    assert stat.value == pytest.approx(expected.statistic)
    assert (stat.name, stat.n_units) == (method, 5)


def test_correlation_is_undefined_with_few_pairs_or_a_constant_side():
    assert "fewer than 3" in correlation([1, 2, NAN], [1, 2, 3], "pearson").reason
    assert "constant" in correlation([1, 1, 1, 1], [1, 2, 3, 4], "spearman").reason
    assert correlation([], [], "kendall").value is None


def test_classification_scores_follow_sklearn_macro_with_zero_division_zero():
    truth = np.array([0, 0, 1, 1, 2, 2, -1])
    predicted = np.array([0, 1, 1, 1, 1, 1, 0])
    scores = classification_scores(truth, predicted, 4)

    # The -1 pair is dropped. Class 2 is never predicted: precision 0; class 3 is absent.
    assert scores["accuracy"].value == pytest.approx(3 / 6)
    assert scores["precision[0]"].value == 1.0
    assert scores["precision[1]"].value == pytest.approx(2 / 5)
    assert scores["precision[2]"].value == 0.0
    assert scores["recall[1]"].value == 1.0
    assert scores["f1[0]"].value == pytest.approx(2 * 1 * 0.5 / 1.5)
    assert scores["precision[3]"].value is None
    assert scores["macro_precision"].value == pytest.approx((1 + 0.4 + 0) / 3)
    assert scores["macro_recall"].value == pytest.approx((0.5 + 1 + 0) / 3)
    f1 = [2 / 3, 2 * 0.4 / 1.4, 0]
    assert scores["macro_f1"].value == pytest.approx(sum(f1) / 3)
    assert scores["accuracy"].n_units == 6


def test_classification_scores_without_pairs_are_undefined():
    scores = classification_scores([-1, -1], [0, 1], 2)
    assert all(scores[key].value is None for key in ("accuracy", "macro_f1"))


# --- degenerate data ---------------------------------------------------------------------------

ALL_STATS = (percent_agreement, fleiss_kappa, krippendorff_alpha, gwet_ac1, brennan_prediger)


def test_one_category_only():
    # Every label "yes": one category column.
    counts, _, categories = counts_from_long([1, 1, 2, 2, 3, 3], ["yes"] * 6)
    assert categories == ["yes"]

    assert percent_agreement(counts).value == 1.0
    assert gwet_ac1(counts).value == 1.0
    kappa = fleiss_kappa(counts)
    assert kappa.value is None
    assert "same category" in kappa.reason
    alpha = krippendorff_alpha(counts)
    assert alpha.value is None
    assert "expected disagreement is 0" in alpha.reason
    assert brennan_prediger(counts).value is None
    assert (kappa.n_units, kappa.n_labels) == (3, 6)


def test_one_category_used_on_a_two_category_scale():
    counts = np.array([[3, 0], [3, 0], [2, 0]])

    assert gwet_ac1(counts).value == 1.0
    assert brennan_prediger(counts).value == 1.0
    assert krippendorff_alpha(counts).value is None
    assert "different numbers of labels" in fleiss_kappa(counts).reason
    assert fleiss_kappa(counts[:2]).value is None


def test_single_annotator():
    counts = np.array([[1, 0], [0, 1], [1, 0]])
    for statistic in ALL_STATS:
        stat = statistic(counts)
        assert stat.value is None, statistic
        assert stat.reason
    assert "fewer than 2 annotators" in fleiss_kappa(counts).reason
    assert percent_agreement(counts).reason == "no unit has 2 or more labels"


def test_all_missing_and_empty_inputs():
    empty = np.zeros((0, 3), dtype=int)
    nothing = np.zeros((4, 2), dtype=int)
    for counts in (empty, nothing):
        for statistic in ALL_STATS:
            stat = statistic(counts)
            assert stat.value is None
            assert stat.n_units == 0
    assert bootstrap_ci(nothing, percent_agreement) is None
    assert majority(empty).tolist() == []
    assert cohen_kappa([-1, 0], [1, -1], 2).reason == "no unit labelled by both annotators"


def test_two_units():
    counts = np.array([[2, 0], [1, 1]])
    assert percent_agreement(counts).value == 0.5
    assert fleiss_kappa(counts).value == pytest.approx((0.5 - 0.625) / (1 - 0.625))
    assert krippendorff_alpha(counts).value == pytest.approx(
        krippendorff.alpha(value_counts=counts, level_of_measurement="nominal"))


def test_cohen_kappa_when_both_annotators_always_say_the_same_category():
    stat = cohen_kappa([1, 1, 1], [1, 1, 1], 2)
    assert stat.value is None
    assert "same category" in stat.reason


def test_no_statistic_ever_returns_nan():
    rng = np.random.default_rng(0)
    for _ in range(50):
        counts = rng.integers(0, 3, size=(rng.integers(0, 5), rng.integers(1, 4)))
        for stat in summary(counts, n_resamples=20).values():
            assert stat.value is None or np.isfinite(stat.value)
            assert (stat.value is None) == (stat.reason is not None)


# --- bootstrap and summary -----------------------------------------------------------------


def test_bootstrap_is_seeded_and_brackets_the_estimate():
    counts = WIKIPEDIA_FLEISS
    first = bootstrap_ci(counts, fleiss_kappa, seed=4)

    assert first == bootstrap_ci(counts, fleiss_kappa, seed=4)
    assert first != bootstrap_ci(counts, fleiss_kappa, seed=5)
    assert first[0] < fleiss_kappa(counts).value < first[1]


@pytest.mark.parametrize("statistic", [
    percent_agreement, fleiss_kappa, gwet_ac1, brennan_prediger,
    functools.partial(krippendorff_alpha, level="ordinal"),
    functools.partial(gwet_ac1, weights=weights(5, "quadratic")),
])
def test_vectorised_bootstrap_equals_calling_the_statistic_per_resample(statistic):
    counts = reliability_to_counts(KRIPPENDORFF_2011)
    counts = np.vstack([counts] * 3)  # more units, so few resamples are undefined

    def plain(c: np.ndarray) -> Stat:  # not recognised: called once per resample
        return statistic(c)

    fast = bootstrap_ci(counts, statistic, n_resamples=200, seed=1)
    slow = bootstrap_ci(counts, plain, n_resamples=200, seed=1)
    assert fast == pytest.approx(slow)


def test_bootstrap_refuses_when_too_many_resamples_are_undefined():
    # One disagreeing unit among agreeing ones on one category: most resamples of 3 units
    # miss the disagreement, so alpha's expected disagreement is often 0.
    counts = np.array([[2, 0], [2, 0], [1, 1]])
    assert krippendorff_alpha(counts).defined
    assert bootstrap_ci(counts, krippendorff_alpha) is None
    assert bootstrap_ci(np.array([[2, 0]]), fleiss_kappa) is None  # undefined on the data


def test_summary_keys_names_and_intervals():
    result = summary(WIKIPEDIA_FLEISS, n_resamples=100)
    assert list(result) == ["percent_agreement", "fleiss_kappa", "krippendorff_alpha",
                            "gwet_ac1", "brennan_prediger"]
    assert all(stat.ci95 is not None for stat in result.values())
    assert result["krippendorff_alpha"].ci95 == bootstrap_ci(
        WIKIPEDIA_FLEISS, krippendorff_alpha, n_resamples=100)

    ordinal = summary(WIKIPEDIA_FLEISS, level="ordinal", n_resamples=0)
    assert ordinal["gwet_ac2"].name == "gwet_ac2"
    assert ordinal["gwet_ac2"].value == gwet_ac1(WIKIPEDIA_FLEISS,
                                                 weights=weights(5, "ordinal")).value
    assert ordinal["krippendorff_alpha"].ci95 is None


def test_summary_over_100k_units_with_1000_resamples_is_fast():
    rng = np.random.default_rng(2)
    counts = rng.multinomial(3, [0.9, 0.07, 0.03], size=100_000)
    started = time.perf_counter()
    result = summary(counts, level="ordinal", n_resamples=1000)
    elapsed = time.perf_counter() - started

    assert all(stat.ci95 is not None for stat in result.values())
    assert result["krippendorff_alpha"].value == pytest.approx(
        krippendorff.alpha(value_counts=counts, level_of_measurement="ordinal"))
    assert elapsed < 5, f"summary took {elapsed:.1f} s"


def test_invalid_arguments_raise():
    with pytest.raises(ValueError, match="level"):
        krippendorff_alpha(WIKIPEDIA_FLEISS, level="cardinal")
    with pytest.raises(ValueError, match="one number per category"):
        krippendorff_alpha(WIKIPEDIA_FLEISS, level="interval", values=[1, 2])
    with pytest.raises(ValueError, match="method"):
        correlation([1, 2, 3], [1, 2, 3], "distance")
    with pytest.raises(ValueError, match="n_categories"):
        cohen_kappa([0, 3], [0, 1], 2)


def test_bootstrap_with_many_distinct_rows_draws_units_and_stays_consistent():
    # Over 4096 distinct count rows the resamples are drawn unit by unit, not as multinomial
    # weights over rows; the vectorised and the per-resample paths still agree.
    rng = np.random.default_rng(5)
    counts = rng.integers(0, 3, size=(8000, 9))
    assert agreement._patterns(counts)[0].shape[0] > 4096

    fast = bootstrap_ci(counts, percent_agreement, n_resamples=20)
    slow = bootstrap_ci(counts, lambda c: percent_agreement(c), n_resamples=20)
    assert fast == pytest.approx(slow)
    assert fast[0] < percent_agreement(counts).value < fast[1]


# --- tallies: the maintained summaries' shape gives the same figures --------------------------

@pytest.mark.parametrize(("n_categories", "level"), [
    (2, "nominal"), (3, "nominal"), (5, "ordinal"), (5, "interval"), (4, "ratio")])
def test_a_tally_gives_what_its_counts_matrix_gives(n_categories, level):
    rng = np.random.default_rng(n_categories)
    counts = rng.integers(0, 3, size=(2000, n_categories))
    counts[:40] = 0  # unlabelled units
    counts[40:60] = np.eye(n_categories, dtype=int)[0]  # single labels
    values = None if level == "nominal" else list(range(1, n_categories + 1))
    dense = agreement.summary(counts, level=level, values=values, n_resamples=200, seed=5)
    tally = agreement.Tally.from_counts(counts)
    assert tally.shape == counts.shape
    tallied = agreement.summary(tally, level=level, values=values, n_resamples=200, seed=5)
    assert dense.keys() == tallied.keys()
    for key, expected in dense.items():
        got = tallied[key]
        assert (got.n_units, got.n_labels, got.reason) == (
            expected.n_units, expected.n_labels, expected.reason), key
        assert got.value == pytest.approx(expected.value, abs=1e-12), key
        assert got.ci95 == pytest.approx(expected.ci95, abs=1e-12), key


def test_a_tally_merges_repeated_patterns_in_any_order():
    counts = np.array([[2, 0], [1, 1], [2, 0], [0, 2], [1, 1], [2, 0]])
    tally = agreement.Tally.from_counts(counts)
    shuffled = agreement.Tally.of([[1, 1], [2, 0], [0, 2], [2, 0], [1, 1]], [2, 1, 1, 2, 0])
    assert shuffled.patterns.tolist() == tally.patterns.tolist()
    assert shuffled.frequency.tolist() == tally.frequency.tolist()
    assert dict(zip(map(tuple, tally.patterns.tolist()), tally.frequency.tolist(),
                    strict=True)) == {(2, 0): 3, (1, 1): 2, (0, 2): 1}
    with pytest.raises(ValueError, match="one frequency per pattern"):
        agreement.Tally.of([[1, 1]], [1, 2])


def test_two_rater_tables_give_percent_agreement_and_cohens_kappa_of_each_pair():
    rng = np.random.default_rng(3)
    tables, expected = [], []
    for n in (0, 1, 30, 200):
        a = rng.integers(0, 3, size=n)
        b = np.where(rng.random(n) < 0.7, a, rng.integers(0, 3, size=n))
        table = np.zeros((3, 3), dtype=int)
        np.add.at(table, (a, b), 1)
        tables.append(table)
        pairs = np.zeros((n, 3), dtype=int)
        np.add.at(pairs, (np.arange(n), a), 1)
        np.add.at(pairs, (np.arange(n), b), 1)
        expected.append((agreement.percent_agreement(pairs), agreement.cohen_kappa(a, b, 3)))
    tables.append(np.diag([5, 0, 0]))  # one category only: kappa undefined
    expected.append((agreement.percent_agreement(np.tile([2, 0, 0], (5, 1))),
                     agreement.cohen_kappa(np.zeros(5, int), np.zeros(5, int), 3)))
    for (percent, kappa), (want_percent, want_kappa) in zip(
            agreement.two_rater_tables(np.stack(tables)), expected, strict=True):
        assert percent.value == pytest.approx(want_percent.value)
        assert (percent.n_units, percent.n_labels) == (want_percent.n_units,
                                                       want_percent.n_labels)
        if want_kappa.value is None:
            assert kappa.value is None
        else:
            assert kappa.value == pytest.approx(want_kappa.value)
        assert (kappa.n_units, kappa.reason) == (want_kappa.n_units, want_kappa.reason)


def test_two_rater_figures_are_the_numbers_of_two_rater_tables():
    tables = np.stack([np.zeros((2, 2), int), np.diag([5, 0]), np.array([[4, 1], [2, 3]])])
    n, percent, kappa = agreement.two_rater_figures(tables)
    stats = agreement.two_rater_tables(tables)
    assert n == [s.n_units for s, _ in stats] == [0, 5, 10]
    assert percent == [s.value for s, _ in stats] == [None, 1.0, 0.7]
    assert kappa == [k.value for _, k in stats]
    assert kappa[:2] == [None, None] and kappa[2] == pytest.approx(0.4)


@pytest.mark.parametrize(("level", "values"), [
    ("nominal", None), ("ordinal", [1, 2, 3, 4, 5]), ("interval", [1, 2, 3, 4, 5])])
def test_grouped_coefficients_give_what_each_groups_tally_gives(level, values):
    rng = np.random.default_rng(7)
    patterns = agreement.Tally.from_counts(rng.integers(0, 3, size=(300, 5))).patterns
    weights = rng.integers(0, 4, size=(6, len(patterns))) * (rng.random((6, len(patterns))) < 0.3)
    weights[4] = 0  # an empty group
    weights[5] = 0
    weights[5, [i for i, row in enumerate(patterns) if row.sum() < 2][:3]] = 2  # unpairable
    weights[3] = 0
    weights[3, next(i for i, row in enumerate(patterns) if row[0] == row.sum() >= 2)] = 3
    grouped = agreement.grouped_coefficients(patterns, weights, level=level, values=values)
    for row, got in zip(weights, grouped, strict=True):
        tally = agreement.Tally.of(patterns, row)
        expected = {
            "percent_agreement": agreement.percent_agreement(tally),
            "krippendorff_alpha": agreement.krippendorff_alpha(tally, level=level,
                                                               values=values),
            "gwet_ac1": agreement.gwet_ac1(tally),
        }
        assert got.keys() == expected.keys()
        for name, want in expected.items():
            stat = got[name]
            assert (stat.n_units, stat.n_labels, stat.reason) == (
                want.n_units, want.n_labels, want.reason), name
            if want.value is None:
                assert stat.value is None, name
            else:
                assert stat.value == pytest.approx(want.value, abs=1e-12), name
    assert grouped[3]["krippendorff_alpha"].value is None  # every label the same value
    assert grouped[4]["percent_agreement"].reason == agreement.REASON_NO_PAIRABLE
    assert grouped[5]["gwet_ac1"].reason == agreement.REASON_NO_PAIRABLE


def test_summary_draws_its_resamples_once_for_every_statistic():
    counts = reliability_to_counts(KRIPPENDORFF_2011)
    result = summary(counts, level="ordinal", values=[1, 2, 3, 4, 5], n_resamples=300,
                     seed=9)
    alpha = functools.partial(krippendorff_alpha, level="ordinal", values=[1, 2, 3, 4, 5])
    for name, statistic in (("percent_agreement", percent_agreement), ("gwet_ac1", gwet_ac1),
                            ("krippendorff_alpha", alpha)):
        assert result[name].ci95 == bootstrap_ci(counts, statistic, n_resamples=300, seed=9)
