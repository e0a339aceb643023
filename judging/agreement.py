"""Agreement statistics: pure functions on arrays, no ORM.

Two shapes of input cover every coefficient:
- `counts`: an (n_units, n_categories) integer matrix, the number of labels each unit got in
  each category (missing labels are simply not counted). Percent agreement, Fleiss' kappa,
  Krippendorff's alpha, Gwet's AC1/AC2 and Brennan-Prediger need nothing else, so reports
  can build it from one aggregate query (value counts per unit) without loading labels.
- two aligned label vectors (`a`, `b`, category indices) for the pairwise coefficients:
  Cohen's kappa and the judge-versus-human measures.

Every function returns a `Stat`: the value, how many units and labels it rests on, and when
the value is undefined for the data, `value=None` with the reason. Nothing here raises on
degenerate data, and nothing makes a number up. (Invalid arguments, such as an unknown level
or a category index outside the scale, are programming errors and raise `ValueError`.)

How the counts-matrix coefficients are computed. Every one of them depends on the units only
through the multiset of their count rows, so the units are first grouped into distinct rows
("patterns", few in practice: 3 annotators and 3 categories give at most 20) and each
coefficient is written as a function of (patterns, weight of each pattern). The full data is
weight = how many units have the pattern; a bootstrap resample is a multinomial draw of those
weights, so 1000 resamples cost 1000 small matrix products, not 1000 passes over the units.
The same code computes the point estimate and the resamples.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from numbers import Real

import krippendorff
import numpy as np


@dataclass(frozen=True)
class Stat:
    name: str
    value: float | None
    n_units: int
    n_labels: int
    reason: str | None = None
    ci95: tuple[float, float] | None = None

    @property
    def defined(self) -> bool:
        return self.value is not None


LEVELS = ("nominal", "ordinal", "interval", "ratio")
WEIGHT_KINDS = ("identity", "linear", "quadratic", "ordinal", "ratio")
# A bootstrap interval is refused when more resamples than this leave the statistic undefined:
# the interval of the remaining ones would describe a different population.
MAX_UNDEFINED_RESAMPLES = 0.05
# How many (resample x pattern) weights to hold in memory at once.
_CHUNK_CELLS = 2_000_000

REASON_NO_PAIRABLE = "no unit has 2 or more labels"
REASON_NO_UNITS = "no labelled unit"
REASON_ALPHA_UNDEFINED = ("every pairable label is the same value: expected disagreement is 0, "
                          "so alpha is undefined")
REASON_CHANCE_IS_ONE = "chance agreement is 1, so the coefficient is undefined"
REASON_NO_UNIT_IN_COMMON = "no unit labelled by both annotators"
REASON_KAPPA_CHANCE_IS_ONE = ("every label is the same category: chance agreement is 1, so kappa "
                              "is undefined")


def _undefined(name: str, reason: str, n_units: int = 0, n_labels: int = 0) -> Stat:
    return Stat(name, None, int(n_units), int(n_labels), reason)


@dataclass(frozen=True)
class Tally:
    """Units given as their distinct count rows ("patterns") and how many units have each:
    what the maintained agreement summaries store. Every counts-matrix coefficient here
    accepts a Tally wherever it accepts a counts matrix and gives the same result as on the
    matrix the tally stands for, at a cost that depends on the patterns, not on the units."""

    patterns: np.ndarray   # (n_patterns, n_categories) int64, distinct, canonical order
    frequency: np.ndarray  # (n_patterns,) int64 > 0

    @classmethod
    def of(cls, patterns, frequency) -> Tally:
        """Merge repeated rows and drop rows of frequency 0."""
        patterns = np.asarray(patterns, dtype=np.int64)
        frequency = np.asarray(frequency, dtype=np.int64).ravel()
        if patterns.ndim != 2 or patterns.shape[0] != frequency.shape[0]:
            raise ValueError("a tally needs one frequency per pattern row")
        if (patterns < 0).any() or (frequency < 0).any():
            raise ValueError("counts and frequencies must not be negative")
        keep = frequency > 0
        return cls(*_canonical(patterns[keep], frequency[keep]))

    @classmethod
    def from_counts(cls, counts) -> Tally:
        return cls(*_patterns(_as_counts(counts)))

    @property
    def shape(self) -> tuple[int, int]:
        """(units, categories), as the counts matrix it stands for."""
        return int(self.frequency.sum()), int(self.patterns.shape[1])


def _as_counts(counts) -> np.ndarray | Tally:
    if isinstance(counts, Tally):
        return counts
    array = np.asarray(counts)
    if array.size == 0:
        return np.zeros((array.shape[0] if array.ndim == 2 else 0,
                         array.shape[1] if array.ndim == 2 else 0), dtype=np.int64)
    if array.ndim != 2:
        raise ValueError(f"counts must be a 2-d (units x categories) matrix, got {array.ndim}-d")
    if (array < 0).any():
        raise ValueError("counts must not be negative")
    return array.astype(np.int64, copy=False)


# --- building the counts matrix -----------------------------------------------------------


def _is_missing(value) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    if isinstance(value, float):
        return math.isnan(value)
    return False


def _numeric_key(value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, Real):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _sorted_categories(found: list) -> list:
    keys = [_numeric_key(v) for v in found]
    if found and all(k is not None for k in keys):
        return [v for _, v in sorted(zip(keys, found, strict=True), key=lambda kv: kv[0])]
    return sorted(found, key=str)


def _factorize(items: Sequence) -> tuple[np.ndarray, list]:
    """Codes in order of first appearance, and the distinct items in that order."""
    array = np.asarray(items)
    if array.dtype.kind in "iufUS" and array.ndim == 1:
        distinct, first, inverse = np.unique(array, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        return rank[inverse.ravel()], distinct[order].tolist()
    index: dict = {}
    codes = np.fromiter((index.setdefault(item, len(index)) for item in items),
                        dtype=np.int64, count=len(items))
    return codes, list(index)


def counts_from_long(units: Sequence, values: Sequence,
                     categories: Sequence | None = None) -> tuple[np.ndarray, list, list]:
    """Long format (one label per row) -> (counts, unit order, category order).

    Units keep the order of their first appearance. A missing value (None, NaN or an empty
    string) counts nothing but its unit still gets a row. Categories, when not given, are the
    distinct values sorted, numerically when every one of them is a number (or a string that
    reads as one: "10" sorts after "9"). A value outside the given categories is a
    `ValueError`.
    """
    if len(units) != len(values):
        raise ValueError(f"units and values differ in length ({len(units)} != {len(values)})")
    unit_codes, unit_order = _factorize(units)
    present = np.fromiter((not _is_missing(v) for v in values), dtype=bool, count=len(values))
    kept = [v for v, keep in zip(values, present, strict=True) if keep]
    if categories is None:
        categories = _sorted_categories(list(dict.fromkeys(kept)))
    categories = list(categories)
    position = {category: i for i, category in enumerate(categories)}
    try:
        value_codes = np.fromiter((position[v] for v in kept), dtype=np.int64, count=len(kept))
    except KeyError as error:
        raise ValueError(f"value {error.args[0]!r} is not one of the categories") from None
    n_units, n_categories = len(unit_order), len(categories)
    flat = unit_codes[present] * n_categories + value_codes
    counts = np.bincount(flat, minlength=n_units * n_categories).reshape(n_units, n_categories)
    return counts.astype(np.int64), unit_order, categories


# --- patterns: the vectorised core ---------------------------------------------------------


def distinct_patterns(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a counts matrix in the fixed order every Tally keeps, and the
    index of each input row among them."""
    rows = np.asarray(rows, dtype=np.int64)
    if rows.shape[0] == 0:
        return rows, np.zeros(0, dtype=np.intp)
    base = int(rows.max()) + 1
    if rows.shape[1] * math.log2(base) < 62:
        # One integer per row (the row read as digits in base `base`): sorting integers is far
        # faster than np.unique(axis=0) on rows.
        radix = base ** np.arange(rows.shape[1], dtype=np.int64)
        _, first, inverse = np.unique(rows @ radix, return_index=True, return_inverse=True)
    else:
        _, first, inverse = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    return rows[first], inverse.ravel()


def _canonical(rows: np.ndarray, frequency: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows in a fixed order and the summed frequency of each (1 per row if None).
    The order depends only on the rows, so a tally and its counts matrix resample alike."""
    weights = np.ones(rows.shape[0], dtype=np.int64) if frequency is None else frequency
    distinct, inverse = distinct_patterns(rows)
    summed = np.bincount(inverse, weights=weights, minlength=distinct.shape[0])
    return distinct, summed.astype(np.int64)


def _patterns(counts: np.ndarray | Tally) -> tuple[np.ndarray, np.ndarray]:
    """Distinct count rows and how many units have each."""
    if isinstance(counts, Tally):
        return counts.patterns, counts.frequency
    return _canonical(counts, None)


def _per_pattern_agreement(patterns: np.ndarray, agreement: np.ndarray | None = None):
    """Per pattern: labels m, and the (weighted) share of agreeing ordered pairs (0 if m < 2)."""
    m = patterns.sum(axis=1).astype(float)
    if agreement is None:
        agreeing = (patterns * (patterns - 1)).sum(axis=1).astype(float)
    else:
        # Gwet's r*_ik = sum_l w_kl r_il; agreeing pairs = sum_k r_ik (r*_ik - 1).
        starred = patterns @ agreement.T
        agreeing = (patterns * (starred - 1)).sum(axis=1)
    pairs = m * (m - 1)
    share = np.divide(agreeing, pairs, out=np.zeros_like(m), where=pairs > 0)
    return m, share


def _weighted_pa(patterns, weights, agreement=None):
    """(pa per resample, pairable units per resample)."""
    m, share = _per_pattern_agreement(patterns, agreement)
    pairable = (m >= 2).astype(float)
    n_pairable = weights @ pairable
    with np.errstate(invalid="ignore", divide="ignore"):
        pa = (weights @ (share * pairable)) / n_pairable
    return pa, n_pairable


def _is_one(x):
    """np.isclose(x, 1.0), without its overhead (it is called on every statistic)."""
    return np.abs(x - 1.0) <= 1e-08 + 1e-05


def _vec_percent_agreement(patterns, weights):
    pa, _ = _weighted_pa(patterns, weights)
    return pa


def _vec_fleiss(patterns, weights):
    m, share = _per_pattern_agreement(patterns)
    labelled = m > 0
    n_units = weights @ labelled.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p_bar = (weights @ share) / n_units
        totals = weights @ patterns.astype(float)
        p_j = totals / totals.sum(axis=1, keepdims=True)
        p_e = (p_j ** 2).sum(axis=1)
        kappa = (p_bar - p_e) / (1 - p_e)
    kappa[_is_one(p_e)] = np.nan
    return kappa


def _unit_coincidences(patterns: np.ndarray) -> np.ndarray:
    """Per pattern, its contribution to Krippendorff's coincidence matrix, flattened (P, K*K)."""
    p, k = patterns.shape
    m = patterns.sum(axis=1).astype(float)
    outer = patterns[:, :, None] * patterns[:, None, :] - patterns[:, :, None] * np.eye(k)
    scale = np.divide(1.0, m - 1, out=np.zeros_like(m), where=m >= 2)
    return (outer * scale[:, None, None]).reshape(p, k * k)


def _distance_matrix(level: str, domain: np.ndarray, n_v: np.ndarray) -> np.ndarray:
    """Krippendorff's squared distances; for ordinal they depend on the marginals n_v (B, K)."""
    k = domain.size
    if level == "nominal":
        return np.broadcast_to(1.0 - np.eye(k), (n_v.shape[0], k, k))
    if level == "interval":
        d = (domain[:, None] - domain[None, :]) ** 2
        return np.broadcast_to(d, (n_v.shape[0], k, k))
    if level == "ratio":
        total = domain[:, None] + domain[None, :]
        diff = domain[:, None] - domain[None, :]
        d = np.divide(diff, total, out=np.zeros((k, k)), where=total != 0) ** 2
        return np.broadcast_to(d, (n_v.shape[0], k, k))
    # ordinal: (sum of n_g for g from i to j, minus (n_i + n_j) / 2) squared
    cumulative = np.cumsum(n_v, axis=1)
    i = np.arange(k)
    low, high = np.minimum.outer(i, i), np.maximum.outer(i, i)
    between = cumulative[:, high] - cumulative[:, low] + n_v[:, low]
    return (between - (n_v[:, i][:, :, None] + n_v[:, i][:, None, :]) / 2) ** 2


def _vec_alpha(patterns, weights, level="nominal", domain=None):
    k = patterns.shape[1]
    domain = np.arange(k, dtype=float) if domain is None else np.asarray(domain, float)
    coincidences = (weights @ _unit_coincidences(patterns)).reshape(-1, k, k)
    n_v = coincidences.sum(axis=1)
    n = n_v.sum(axis=1)
    d = _distance_matrix(level, domain, n_v)
    observed = (coincidences * d).sum(axis=(1, 2))
    expected = np.einsum("bi,bij,bj->b", n_v, d, n_v)
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha = 1 - (n - 1) * observed / expected
    alpha[~(expected > 1e-12 * np.maximum(n, 1) ** 2)] = np.nan
    return alpha


def _gwet_pe_factor(agreement: np.ndarray) -> float:
    q = agreement.shape[0]
    # A classification scale has at least two categories; with every label in one category
    # sum pi_k (1 - pi_k) is 0 and so is pe, whatever q >= 2 is (see gwet_ac1).
    q_eff = max(q, 2)
    total = agreement.sum() if q >= 2 else q_eff
    return total / (q_eff * (q_eff - 1))


def _vec_gwet(patterns, weights, agreement=None):
    q = patterns.shape[1]
    agreement = np.eye(q) if agreement is None else agreement
    pa, _ = _weighted_pa(patterns, weights, agreement)
    m = patterns.sum(axis=1).astype(float)
    rated = m >= 1
    shares = np.divide(patterns, m[:, None], out=np.zeros(patterns.shape), where=rated[:, None])
    with np.errstate(invalid="ignore", divide="ignore"):
        pi = (weights @ shares) / (weights @ rated.astype(float))[:, None]
        pe = _gwet_pe_factor(agreement) * (pi * (1 - pi)).sum(axis=1)
        ac = (pa - pe) / (1 - pe)
    ac[_is_one(pe)] = np.nan
    return ac


def _bp_pe(agreement: np.ndarray) -> float:
    q = agreement.shape[0]
    return agreement.sum() / q ** 2


def _vec_bp(patterns, weights, agreement=None):
    q = patterns.shape[1]
    agreement = np.eye(q) if agreement is None else agreement
    pa, _ = _weighted_pa(patterns, weights, agreement)
    pe = _bp_pe(agreement)
    if _is_one(pe):
        return np.full(pa.shape, np.nan)
    return (pa - pe) / (1 - pe)


def _full(counts: np.ndarray):
    patterns, frequency = _patterns(counts)
    return patterns, frequency[None, :].astype(float)


def _label_totals(counts: np.ndarray | Tally) -> tuple[np.ndarray, int, int, int]:
    """(labels per unit or pattern, labelled units, pairable units, labels on those)."""
    rows, frequency = _patterns(counts)
    m = rows.sum(axis=1)
    pairable = m >= 2
    return (m, int(frequency[m > 0].sum()), int(frequency[pairable].sum()),
            int((m * frequency)[pairable].sum()))


# --- the counts-matrix coefficients ---------------------------------------------------------


def percent_agreement(counts) -> Stat:
    """Mean over units with >= 2 labels of agreeing pairs / all pairs (the paper's Agreement %).

    A unit's share is sum_k n_k (n_k - 1) / (m (m - 1)) with m its labels: the fraction of
    ordered pairs of its labels that agree. Returned as a fraction in [0, 1].
    """
    name = "percent_agreement"
    counts = _as_counts(counts)
    _, _, n_pairable, n_pairable_labels = _label_totals(counts)
    if n_pairable == 0:
        return _undefined(name, REASON_NO_PAIRABLE)
    value = _vec_percent_agreement(*_full(counts))[0]
    return Stat(name, float(value), n_pairable, n_pairable_labels)


def fleiss_kappa(counts) -> Stat:
    """Fleiss' kappa (1971). Units without any label are ignored; every other unit must have
    the same number (>= 2) of labels, as Fleiss' formula assumes."""
    name = "fleiss_kappa"
    counts = _as_counts(counts)
    m, n_units, _, _ = _label_totals(counts)
    labelled = m[m > 0]
    n_labels = int(counts.sum()) if not isinstance(counts, Tally) else int(
        counts.frequency @ m)
    if n_units == 0:
        return _undefined(name, REASON_NO_UNITS)
    if labelled.min() != labelled.max():
        return _undefined(name, f"units have different numbers of labels ({labelled.min()} to "
                                f"{labelled.max()}): Fleiss' kappa needs the same number on "
                                f"every unit", n_units, n_labels)
    if labelled[0] < 2:
        return _undefined(name, "every unit has a single label: fewer than 2 annotators",
                          n_units, n_labels)
    value = _vec_fleiss(*_full(counts))[0]
    if np.isnan(value):
        return _undefined(name, "every label is the same category: chance agreement is 1, so "
                                "kappa is undefined", n_units, n_labels)
    return Stat(name, float(value), n_units, n_labels)


def _domain(n_categories: int, values: Sequence[float] | None) -> np.ndarray:
    if values is None:
        return np.arange(n_categories, dtype=float)
    domain = np.asarray(values, dtype=float)
    if domain.shape != (n_categories,):
        raise ValueError(f"values must give one number per category ({n_categories}), "
                         f"got {domain.shape}")
    return domain


def krippendorff_alpha(counts, level: str = "nominal",
                       values: Sequence[float] | None = None) -> Stat:
    """Krippendorff's alpha at the nominal, ordinal, interval or ratio level.

    The value comes from the `krippendorff` package (Castro's implementation, which
    reproduces Krippendorff 2011); `values` is the number of each category column for the
    interval and ratio metrics (default 0..k-1) and must be increasing for ordinal. Only
    pairable values count: units with fewer than 2 labels contribute nothing.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    name = "krippendorff_alpha"
    counts = _as_counts(counts)
    domain = _domain(counts.shape[1], values)
    _, _, n_pairable, n_pairable_labels = _label_totals(counts)
    if n_pairable == 0:
        return _undefined(name, REASON_NO_PAIRABLE)
    weighted = _vec_alpha(*_full(counts), level, domain)[0] if counts.shape[1] >= 2 else np.nan
    if np.isnan(weighted):
        return _undefined(name, REASON_ALPHA_UNDEFINED, n_pairable, n_pairable_labels)
    if level == "ordinal" and (np.diff(domain) <= 0).any():
        raise ValueError("ordinal values must be increasing")
    if isinstance(counts, Tally):
        # The package takes one row per unit; a tally's units differ only by their pattern,
        # and the same coincidence formula weighted by frequency gives the same value.
        value = weighted
    else:
        value = krippendorff.alpha(value_counts=counts, value_domain=domain,
                                   level_of_measurement=level)
    return Stat(name, float(value), n_pairable, n_pairable_labels)


def weights(n_categories: int, kind: str, values: Sequence[float] | None = None) -> np.ndarray:
    """Agreement weights (1 on the diagonal, 0 for the farthest pair in the linear and
    quadratic kinds), over category values (default 0..k-1).

    identity; linear 1 - |v_k - v_l| / (max - min); quadratic 1 - (v_k - v_l)^2 / (max - min)^2;
    and, after Gwet (Handbook, 4th ed., ch. 3), ordinal 1 - C(|k - l| + 1, 2) / C(q, 2) on
    ranks, and ratio 1 - ((v_k - v_l)/(v_k + v_l))^2 / ((max - min)/(max + min))^2.
    """
    if kind not in WEIGHT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(WEIGHT_KINDS)}, got {kind!r}")
    k = n_categories
    domain = _domain(k, values)
    if kind == "identity" or k < 2:
        return np.eye(k)
    spread = domain.max() - domain.min()
    diff = domain[:, None] - domain[None, :]
    if kind == "linear":
        return 1 - np.abs(diff) / spread
    if kind == "quadratic":
        return 1 - diff ** 2 / spread ** 2
    if kind == "ordinal":
        gap = np.abs(np.subtract.outer(np.arange(k), np.arange(k)))
        return 1 - (gap + 1) * gap / 2 / (k * (k - 1) / 2)
    total = domain[:, None] + domain[None, :]
    ratio = np.divide(diff, total, out=np.zeros((k, k)), where=total != 0) ** 2
    top = ((domain.max() - domain.min()) / (domain.max() + domain.min())) ** 2
    return 1 - ratio / top


_agreement_weights = weights  # for the functions whose `weights` argument hides it


def _check_agreement(agreement, k: int) -> np.ndarray | None:
    if agreement is None:
        return None
    agreement = np.asarray(agreement, dtype=float)
    if agreement.shape != (k, k):
        raise ValueError(f"weights must be a {k}x{k} matrix, got {agreement.shape}")
    return agreement


def gwet_ac1(counts, weights: np.ndarray | None = None) -> Stat:
    """Gwet's AC1 (AC2 with agreement weights), missing labels allowed.

    Gwet, Handbook of Inter-Rater Reliability, 4th ed. (2014), ch. 4 (multiple raters, missing
    ratings), as implemented by his irrCAC `gwet.ac1.raw`:
      pa = mean over units with r_i >= 2 of sum_k r_ik (r*_ik - 1) / (r_i (r_i - 1)),
           r*_ik = sum_l w_kl r_il;
      pi_k = mean over units with r_i >= 1 of r_ik / r_i;
      pe = T_w / (q (q - 1)) * sum_k pi_k (1 - pi_k), T_w = sum of the weights;
      AC = (pa - pe) / (1 - pe).
    q is the number of category columns. When the counts have a single column (every label in
    the one category seen), pe is 0 for any scale of q >= 2 categories, so AC1 = pa = 1.
    """
    counts = _as_counts(counts)
    name = "gwet_ac1" if weights is None else "gwet_ac2"
    agreement = _check_agreement(weights, counts.shape[1])
    _, _, n_pairable, n_pairable_labels = _label_totals(counts)
    if n_pairable == 0:
        return _undefined(name, REASON_NO_PAIRABLE)
    value = _vec_gwet(*_full(counts), agreement)[0]
    if np.isnan(value):
        return _undefined(name, REASON_CHANCE_IS_ONE, n_pairable, n_pairable_labels)
    return Stat(name, float(value), n_pairable, n_pairable_labels)


def brennan_prediger(counts, weights: np.ndarray | None = None) -> Stat:
    """Brennan-Prediger (1981) / Randolph's (2005) free-marginal kappa: (pa - pe) / (1 - pe)
    with pe = 1/q, q the number of category columns (T_w / q^2 with agreement weights, as
    Gwet's weighted version); pa as in `gwet_ac1`, missing labels allowed."""
    counts = _as_counts(counts)
    name = "brennan_prediger"
    agreement = _check_agreement(weights, counts.shape[1])
    _, _, n_pairable, n_pairable_labels = _label_totals(counts)
    if n_pairable == 0:
        return _undefined(name, REASON_NO_PAIRABLE)
    value = _vec_bp(*_full(counts), agreement)[0]
    if np.isnan(value):
        return _undefined(name, "a scale of one category: chance agreement 1/q is 1, so the "
                                "coefficient is undefined", n_pairable, n_pairable_labels)
    return Stat(name, float(value), n_pairable, n_pairable_labels)


def grouped_coefficients(patterns, weights, *, level: str = "nominal",
                         values: Sequence[float] | None = None) -> list[dict[str, Stat]]:
    """Percent agreement, Krippendorff's alpha (at `level`) and Gwet's AC1 of many groups of
    units at once (a report's breakdown cells): row g of `weights` (groups x patterns) is how
    many units of group g have each row of `patterns`. Each group gets what
    `percent_agreement`, `krippendorff_alpha` and `gwet_ac1` give on the Tally of its units,
    keyed by those names."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    patterns = np.asarray(patterns, dtype=np.int64)
    weights = np.asarray(weights, dtype=np.int64)
    domain = _domain(patterns.shape[1], values)
    if level == "ordinal" and (np.diff(domain) <= 0).any():
        raise ValueError("ordinal values must be increasing")
    m = patterns.sum(axis=1)
    pairable = m >= 2
    n_pairable = (weights @ pairable).tolist()
    n_pairable_labels = (weights @ (m * pairable)).tolist()
    shares = weights.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        percent = _vec_percent_agreement(patterns, shares).tolist()
        alpha = (_vec_alpha(patterns, shares, level, domain) if patterns.shape[1] >= 2
                 else np.full(len(weights), np.nan)).tolist()
        ac1 = _vec_gwet(patterns, shares).tolist()
    out = []
    for units, labels, pa, a, ac in zip(n_pairable, n_pairable_labels, percent, alpha, ac1,
                                        strict=True):
        if units == 0:
            out.append({name: _undefined(name, REASON_NO_PAIRABLE)
                        for name in ("percent_agreement", "krippendorff_alpha", "gwet_ac1")})
            continue
        out.append({
            "percent_agreement": Stat("percent_agreement", pa, units, labels),
            "krippendorff_alpha": (
                _undefined("krippendorff_alpha", REASON_ALPHA_UNDEFINED, units, labels)
                if math.isnan(a) else Stat("krippendorff_alpha", a, units, labels)),
            "gwet_ac1": (_undefined("gwet_ac1", REASON_CHANCE_IS_ONE, units, labels)
                         if math.isnan(ac) else Stat("gwet_ac1", ac, units, labels)),
        })
    return out


# --- pairwise coefficients ------------------------------------------------------------------


def _pair_arrays(a, b) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=np.int64).ravel()
    b = np.asarray(b, dtype=np.int64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"a and b must be aligned by unit ({a.size} != {b.size})")
    both = (a >= 0) & (b >= 0)
    return a[both], b[both]


def _confusion(a: np.ndarray, b: np.ndarray, k: int) -> np.ndarray:
    if a.size and max(a.max(), b.max()) >= k:
        raise ValueError(f"a category index is >= n_categories ({k})")
    return np.bincount(a * k + b, minlength=k * k).reshape(k, k)


def cohen_kappa(a, b, n_categories: int, weights: str | None = None) -> Stat:
    """Cohen's kappa between two aligned label vectors (category indices, -1 = missing).

    Pairs with a missing side are dropped. `weights` None is Cohen (1960); "linear" or
    "quadratic" is Cohen's (1968) weighted kappa with the agreement weights of `weights()`.
    """
    kind = weights
    if kind not in (None, "linear", "quadratic"):
        raise ValueError(f"weights must be None, 'linear' or 'quadratic', got {kind!r}")
    name = "cohen_kappa" if kind is None else f"cohen_kappa_{kind}"
    a, b = _pair_arrays(a, b)
    table = _confusion(a, b, n_categories)
    agreement = _agreement_weights(n_categories, kind or "identity")
    return _kappa_stats(table[None], agreement, name)[0]


def _kappa_values(tables: np.ndarray, agreement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per (k x k) contingency table of `tables`: its units, and Cohen's kappa (NaN where
    undefined: no unit, or chance agreement 1)."""
    n = tables.sum(axis=(1, 2))
    shares = tables / np.maximum(n, 1)[:, None, None]
    observed = (agreement * shares).sum(axis=(1, 2))
    expected = np.einsum("pi,ij,pj->p", shares.sum(axis=2), agreement, shares.sum(axis=1))
    chance_is_one = _is_one(expected)
    with np.errstate(invalid="ignore", divide="ignore"):
        kappa = (observed - expected) / (1 - expected)
    kappa[(n == 0) | chance_is_one] = np.nan
    return n, kappa


def _kappa_stats(tables: np.ndarray, agreement: np.ndarray, name: str) -> list[Stat]:
    """Cohen's kappa of each (k x k) contingency table of `tables`, at once."""
    n, kappa = _kappa_values(tables, agreement)
    return [_kappa_stat(name, count, None if math.isnan(value) else value)
            for count, value in zip(n.tolist(), kappa.tolist(), strict=True)]


def _kappa_stat(name: str, n_units: int, value: float | None) -> Stat:
    if n_units == 0:
        return _undefined(name, REASON_NO_UNIT_IN_COMMON)
    if value is None:
        return _undefined(name, REASON_KAPPA_CHANCE_IS_ONE, n_units, 2 * n_units)
    return Stat(name, value, n_units, 2 * n_units)


def two_rater_figures(tables) -> tuple[list[int], list[float | None], list[float | None]]:
    """Per contingency table of two raters (pairs x k x k, units both raters labelled): the
    units, percent agreement and Cohen's kappa as plain numbers, None where undefined (no unit
    in common; for kappa also REASON_KAPPA_CHANCE_IS_ONE). What `two_rater_tables` gives as
    Stats, for callers that handle many thousand pairs."""
    tables = np.asarray(tables, dtype=np.int64)
    n, kappa = _kappa_values(tables, np.eye(tables.shape[1]))
    with np.errstate(invalid="ignore", divide="ignore"):
        percent = np.trace(tables, axis1=1, axis2=2) / n
    defined = n > 0
    return (n.tolist(), np.where(defined, percent, None).tolist(),
            np.where(np.isnan(kappa), None, kappa).tolist())


def two_rater_tables(tables) -> list[tuple[Stat, Stat]]:
    """Percent agreement and Cohen's kappa of many pairs of raters from their contingency
    tables (pairs x k x k, units both raters labelled): what `percent_agreement` and
    `cohen_kappa` give on each pair's labels, without going back to the labels."""
    out = []
    for count, percent, kappa in zip(*two_rater_figures(tables), strict=True):
        out.append((_undefined("percent_agreement", REASON_NO_PAIRABLE) if count == 0 else
                    Stat("percent_agreement", percent, count, 2 * count),
                    _kappa_stat("cohen_kappa", count, kappa)))
    return out


_CORRELATIONS = {"pearson": "pearsonr", "spearman": "spearmanr", "kendall": "kendalltau"}


def correlation(x, y, method: str) -> Stat:
    """Pearson's r, Spearman's rho or Kendall's tau-b (scipy.stats) over the pairs where
    neither side is NaN. Undefined with fewer than 3 pairs or a constant side."""
    if method not in _CORRELATIONS:
        raise ValueError(f"method must be one of {', '.join(_CORRELATIONS)}, got {method!r}")
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and y must be aligned ({x.size} != {y.size})")
    both = ~(np.isnan(x) | np.isnan(y))
    x, y = x[both], y[both]
    n = int(x.size)
    if n < 3:
        return _undefined(method, f"fewer than 3 pairs ({n})", n, 2 * n)
    for side, label in ((x, "x"), (y, "y")):
        if np.all(side == side[0]):
            return _undefined(method, f"{label} is constant: the correlation is undefined",
                              n, 2 * n)
    # scipy costs ~45 MB and a second of start-up: only the score-judge sections need it.
    from scipy import stats

    result = getattr(stats, _CORRELATIONS[method])(x, y)
    value = float(result.statistic)
    if math.isnan(value):
        return _undefined(method, "the correlation is undefined for these data", n, 2 * n)
    return Stat(method, value, n, 2 * n)


def classification_scores(truth, predicted, n_categories: int) -> dict[str, Stat]:
    """Accuracy and macro precision / recall / F1 of `predicted` against `truth`.

    Pairs where either side is -1 (no majority, no prediction) are dropped. As scikit-learn's
    `precision_recall_fscore_support(average="macro", zero_division=0)`: the macro mean runs
    over the classes present in truth or predictions; a class never predicted has precision 0,
    a class never true has recall 0, and F1 is 0 when precision + recall is 0; macro F1 is the
    mean of the per-class F1 (not the F1 of the macro means). Per-class values are under
    "precision[k]", "recall[k]", "f1[k]"; a class in neither vector is None.
    """
    truth, predicted = _pair_arrays(truth, predicted)
    n = int(truth.size)
    names = ("accuracy", "macro_precision", "macro_recall", "macro_f1")
    if n == 0:
        return {key: _undefined(key, "no unit with both a reference label and a prediction")
                for key in names}
    table = _confusion(truth, predicted, n_categories)
    true_positive = np.diag(table).astype(float)
    predicted_count = table.sum(axis=0).astype(float)
    true_count = table.sum(axis=1).astype(float)
    precision = np.divide(true_positive, predicted_count, out=np.zeros(n_categories),
                          where=predicted_count > 0)
    recall = np.divide(true_positive, true_count, out=np.zeros(n_categories),
                       where=true_count > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros(n_categories),
                   where=denominator > 0)
    present = (predicted_count > 0) | (true_count > 0)
    result = {"accuracy": Stat("accuracy", float(true_positive.sum() / n), n, 2 * n)}
    for key, per_class in (("precision", precision), ("recall", recall), ("f1", f1)):
        result[f"macro_{key}"] = Stat(f"macro_{key}", float(per_class[present].mean()), n, 2 * n)
        for k in range(n_categories):
            label = f"{key}[{k}]"
            result[label] = (Stat(label, float(per_class[k]), n, 2 * n) if present[k] else
                             _undefined(label, f"class {k} is in neither the reference nor "
                                               f"the predictions", n, 2 * n))
    return result


def majority(counts) -> np.ndarray:
    """Per unit, the index of its most frequent category; -1 on a tie or with no label."""
    counts = _as_counts(counts)
    if counts.shape[0] == 0 or counts.shape[1] == 0:
        return np.full(counts.shape[0], -1, dtype=np.int64)
    top = counts.max(axis=1)
    winner = counts.argmax(axis=1)
    tied = (counts == top[:, None]).sum(axis=1) > 1
    winner[tied | (top == 0)] = -1
    return winner.astype(np.int64)


# --- bootstrap -----------------------------------------------------------------------------


def _vectorised(statistic: Callable) -> Callable | None:
    """The pattern-weighted form of one of this module's statistics, if it is one."""
    keywords: dict = {}
    func = statistic
    if isinstance(statistic, functools.partial):
        if statistic.args:
            return None
        func, keywords = statistic.func, dict(statistic.keywords)
    if func is percent_agreement and not keywords:
        return _vec_percent_agreement
    if func is fleiss_kappa and not keywords:
        return _vec_fleiss
    if func is krippendorff_alpha and set(keywords) <= {"level", "values"}:
        level = keywords.get("level", "nominal")
        domain = keywords.get("values")
        return lambda patterns, w: _vec_alpha(
            patterns, w, level, _domain(patterns.shape[1], domain))
    if func is gwet_ac1 and set(keywords) <= {"weights"}:
        return lambda patterns, w: _vec_gwet(patterns, w, keywords.get("weights"))
    if func is brennan_prediger and set(keywords) <= {"weights"}:
        return lambda patterns, w: _vec_bp(patterns, w, keywords.get("weights"))
    return None


def _resampled_values(counts: np.ndarray | Tally, statistics: Sequence[Callable],
                      n_resamples: int, seed: int) -> list[np.ndarray]:
    """Each statistic on the same `n_resamples` bootstrap resamples of the units (NaN where
    undefined): drawing once for all of them gives each what a draw of its own with `seed`
    would give.

    A resample draws n units with replacement; as every statistic here depends on the units
    only through their count rows, it is drawn as multinomial weights over the distinct rows.
    """
    patterns, frequency = _patterns(counts)
    n_units = int(frequency.sum())
    rng = np.random.default_rng(seed)
    n_patterns = patterns.shape[0]
    probabilities = frequency / n_units
    # Multinomial weights cost O(patterns) per resample, drawing units O(units): take the
    # cheaper, and hold about _CHUNK_CELLS numbers in memory at a time either way.
    use_multinomial = n_patterns <= 4096
    inverse = None if use_multinomial else np.repeat(np.arange(n_patterns), frequency)
    chunk = max(1, _CHUNK_CELLS // max(n_patterns if use_multinomial else n_units, 1))
    vectorised = [_vectorised(statistic) for statistic in statistics]
    values: list[list[np.ndarray]] = [[] for _ in statistics]
    for start in range(0, n_resamples, chunk):
        size = min(chunk, n_resamples - start)
        if use_multinomial:
            draws = rng.multinomial(n_units, probabilities, size=size)
        else:
            picks = inverse[rng.integers(0, n_units, size=(size, n_units))]
            offsets = (np.arange(size) * n_patterns)[:, None]
            draws = np.bincount((picks + offsets).ravel(),
                                minlength=size * n_patterns).reshape(size, n_patterns)
        weights = draws.astype(float)
        for statistic, fast, found in zip(statistics, vectorised, values, strict=True):
            if fast is not None:
                found.append(np.asarray(fast(patterns, weights), dtype=float))
            else:
                found.append(np.array([
                    np.nan if (v := statistic(np.repeat(patterns, row, axis=0)).value) is None
                    else v for row in draws], dtype=float))
    return [np.concatenate(found) if found else np.zeros(0) for found in values]


def bootstrap_ci(counts, statistic: Callable[[np.ndarray], Stat], *, n_resamples: int = 1000,
                 seed: int = 0, level: float = 0.95) -> tuple[float, float] | None:
    """Percentile bootstrap interval of `statistic` over units resampled with replacement.

    Seeded, so the same data and seed give the same interval. None when the statistic is
    undefined on the data, or on more than 5% of the resamples (then the interval of the rest
    would describe other data than these); otherwise the interval of the defined resamples.
    The statistic must not depend on the order of the units (every coefficient here doesn't);
    this module's own coefficients, also as `functools.partial` with keyword arguments, take a
    vectorised path, any other callable is called once per resample.
    """
    counts = _as_counts(counts)
    if counts.shape[0] == 0 or n_resamples < 1 or statistic(counts).value is None:
        return None
    [values] = _resampled_values(counts, [statistic], n_resamples, seed)
    return _percentile_interval(values, level)


def _percentile_interval(values: np.ndarray, level: float) -> tuple[float, float] | None:
    undefined = np.isnan(values)
    if undefined.mean() > MAX_UNDEFINED_RESAMPLES:
        return None
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values[~undefined], [tail, 100 - tail])
    return float(low), float(high)


LEVEL_WEIGHTS = {"ordinal": "ordinal", "interval": "quadratic", "ratio": "ratio"}


def summary(counts, *, level: str = "nominal", values=None, n_resamples: int = 1000,
            seed: int = 0) -> dict[str, Stat]:
    """The standard set, each with a seeded bootstrap ci95 (n_resamples=0: no intervals).

    Keys: percent_agreement, fleiss_kappa, krippendorff_alpha (at `level`), gwet_ac1 (nominal)
    and brennan_prediger (nominal) always; at the ordinal, interval and ratio levels also
    gwet_ac2 with Gwet's weights of that level (ordinal, quadratic, ratio over `values`).
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    counts = _as_counts(counts)
    alpha = functools.partial(krippendorff_alpha, level=level, values=values)
    entries: list[tuple[str, Callable]] = [
        ("percent_agreement", percent_agreement),
        ("fleiss_kappa", fleiss_kappa),
        ("krippendorff_alpha", alpha),
        ("gwet_ac1", gwet_ac1),
        ("brennan_prediger", brennan_prediger),
    ]
    if level in LEVEL_WEIGHTS:
        agreement = weights(counts.shape[1], LEVEL_WEIGHTS[level], values)
        entries.append(("gwet_ac2", functools.partial(gwet_ac1, weights=agreement)))
    stats = {key: statistic(counts) for key, statistic in entries}
    defined = [(key, statistic) for key, statistic in entries if stats[key].defined]
    if n_resamples < 1 or not defined:
        return stats
    resampled = _resampled_values(counts, [statistic for _, statistic in defined],
                                  n_resamples, seed)
    for (key, _), ci95 in zip(defined, _percentile_intervals(resampled, 0.95), strict=True):
        stats[key] = replace(stats[key], ci95=ci95)
    return stats


def _percentile_intervals(resampled: list[np.ndarray],
                          level: float) -> list[tuple[float, float] | None]:
    """`_percentile_interval` of each array; those without an undefined resample (most) in one
    call."""
    complete = [i for i, values in enumerate(resampled) if not np.isnan(values).any()]
    intervals = [None if i in complete else _percentile_interval(values, level)
                 for i, values in enumerate(resampled)]
    if complete:
        tail = (1 - level) / 2 * 100
        bounds = np.percentile(np.stack([resampled[i] for i in complete]), [tail, 100 - tail],
                               axis=1)
        for i, low, high in zip(complete, *bounds.tolist(), strict=True):
            intervals[i] = (low, high)
    return intervals
