"""Properties of the agreement statistics over generated reliability data (hypothesis)."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from judging.agreement import (
    LEVELS,
    brennan_prediger,
    cohen_kappa,
    counts_from_long,
    fleiss_kappa,
    gwet_ac1,
    krippendorff_alpha,
    percent_agreement,
    summary,
)

MISSING = -1


@st.composite
def reliability(draw, min_coders=1, max_coders=5, max_units=12, max_categories=4,
                missing=True):
    """Coders x units matrix of category indices, MISSING where a coder skipped a unit."""
    coders = draw(st.integers(min_coders, max_coders))
    units = draw(st.integers(1, max_units))
    categories = draw(st.integers(1, max_categories))
    low = MISSING if missing else 0
    data = draw(arrays(np.int64, (coders, units), elements=st.integers(low, categories - 1)))
    return data, categories


def to_counts(data: np.ndarray, categories: int) -> np.ndarray:
    counts = np.zeros((data.shape[1], categories), dtype=np.int64)
    for coder in data:
        labelled = coder >= 0
        np.add.at(counts, (np.flatnonzero(labelled), coder[labelled]), 1)
    return counts


def values_of(counts: np.ndarray) -> dict:
    return {key: stat.value for key, stat in summary(counts, n_resamples=0).items()}


def same(left: dict, right: dict) -> bool:
    return all((left[k] is None and right[k] is None)
               or (left[k] is not None and right[k] is not None
                   and np.isclose(left[k], right[k])) for k in left)


@settings(max_examples=150, deadline=None)
@given(reliability(), st.randoms(use_true_random=False))
def test_permuting_units_or_annotators_changes_nothing(generated, random):
    data, categories = generated
    units = list(range(data.shape[1]))
    coders = list(range(data.shape[0]))
    random.shuffle(units)
    random.shuffle(coders)
    original = values_of(to_counts(data, categories))

    assert same(original, values_of(to_counts(data[:, units], categories)))
    assert same(original, values_of(to_counts(data[coders], categories)))


@settings(max_examples=150, deadline=None)
@given(reliability(min_coders=2), st.sampled_from(LEVELS))
def test_alpha_equals_the_krippendorff_package(generated, level):
    data, categories = generated
    counts = to_counts(data, categories)
    stat = krippendorff_alpha(counts, level, values=np.arange(1, categories + 1))
    reliability_data = np.where(data >= 0, data + 1.0, np.nan)
    pairable = (counts.sum(axis=1) >= 2).any()

    if not pairable:
        assert stat.value is None
        return
    if stat.value is None:
        # Only when the package's expected disagreement is 0 (one value among pairable ones).
        assert len(np.unique(np.nonzero(counts[counts.sum(axis=1) >= 2])[1])) <= 1
        return
    expected = krippendorff.alpha(reliability_data=reliability_data,
                                  value_domain=np.arange(1, categories + 1),
                                  level_of_measurement=level)
    assert stat.value == pytest.approx(expected)


@settings(max_examples=200, deadline=None)
@given(reliability())
def test_ranges(generated):
    data, categories = generated
    counts = to_counts(data, categories)
    pa = percent_agreement(counts).value
    if pa is not None:
        assert 0 <= pa <= 1
    for statistic in (fleiss_kappa, krippendorff_alpha, gwet_ac1, brennan_prediger):
        value = statistic(counts).value
        assert value is None or value <= 1 + 1e-12
    if data.shape[0] >= 2:
        kappa = cohen_kappa(data[0], data[1], categories).value
        assert kappa is None or -1 - 1e-12 <= kappa <= 1 + 1e-12


@settings(max_examples=100, deadline=None)
@given(reliability(missing=False, min_coders=2))
def test_complete_data_gives_fleiss_a_value_or_a_reason(generated):
    data, categories = generated
    stat = fleiss_kappa(to_counts(data, categories))
    assert stat.defined or "same category" in stat.reason
    assert stat.n_labels == data.size


@settings(max_examples=100, deadline=None)
@given(reliability())
def test_counts_from_long_agrees_with_the_reliability_matrix(generated):
    data, categories = generated
    units = np.tile(np.arange(data.shape[1]), data.shape[0])
    values = [None if v < 0 else int(v) for v in data.ravel()]
    counts, order, found = counts_from_long(units.tolist(), values,
                                            categories=list(range(categories)))
    expected = to_counts(data, categories)[order]
    assert np.array_equal(counts, expected)
    assert found == list(range(categories))
