"""The gold export's memory savings change no output: the in-place Dawid-Skene steps give the
bits of the plain expressions, and the field report counts as before."""

from __future__ import annotations

from functools import reduce

import numpy as np
import pytest

from judging import gold


def _plain_dawid_skene(tasks, workers, labels, *, n_tasks, n_workers, n_labels):
    """gold.dawid_skene as it was written before its buffers were reused: fresh arrays from
    plain expressions at every step."""
    pairs = workers * n_labels + labels
    given = (np.bincount(pairs, minlength=n_workers * n_labels) > 0).reshape(
        n_workers, n_labels, 1)
    counts = np.bincount(tasks * n_labels + labels, minlength=n_tasks * n_labels)
    probas = counts.reshape(n_tasks, n_labels).astype(float)
    probas /= probas.sum(axis=1, keepdims=True)

    def expected_counts(probas):
        return np.stack([np.bincount(pairs, weights=probas[:, k].take(tasks),
                                     minlength=n_workers * n_labels)
                         for k in range(n_labels)], axis=1).reshape(n_workers, n_labels,
                                                                    n_labels)

    def m_step(counts):
        errors = np.where(given, np.maximum(counts, gold.DS_EPS), 0.0)
        return errors / errors.sum(axis=1, keepdims=True)

    rows_per_task = np.bincount(tasks, minlength=n_tasks)
    priors = probas.mean(axis=0)
    errors = m_step(expected_counts(probas))
    loss = -np.inf
    with np.errstate(divide="ignore", invalid="ignore"):
        for _ in range(gold.DS_ITERATIONS):
            log2_errors = np.log2(errors).reshape(n_workers * n_labels, n_labels)
            likelihood = np.log2(np.maximum(priors, gold.DS_EPS)) + np.stack(
                [np.bincount(tasks, weights=log2_errors[:, k].take(pairs), minlength=n_tasks)
                 for k in range(n_labels)], axis=1)
            top = reduce(np.maximum, (likelihood[:, k] for k in range(n_labels)))
            probas = np.exp2(likelihood - top[:, None])
            probas /= probas.sum(axis=1, keepdims=True)
            priors = probas.mean(axis=0)
            counts = expected_counts(probas)
            errors = m_step(counts)
            log_errors = np.where(given, np.log(np.where(given, errors, 1.0)), 0.0)
            expectation = float((counts * log_errors).sum()) + float(
                np.log(np.maximum(priors, gold.DS_EPS)) @ (rows_per_task @ probas))
            probas = np.maximum(probas, gold.DS_EPS)
            entropy = -float((np.log(probas) * probas).sum())
            new_loss = (expectation + entropy) / len(tasks)
            if new_loss - loss < gold.DS_TOLERANCE:
                break
            loss = new_loss
    return probas


def _random_labels(rng, n_tasks, n_workers, n_labels, *, sorted_tasks):
    """Every task labelled at least once, by workers 0..n_workers-1 (some maybe never)."""
    extra = rng.integers(0, n_tasks, int(rng.integers(0, 3 * n_tasks)))
    tasks = np.concatenate([np.arange(n_tasks), extra])
    tasks = np.sort(tasks) if sorted_tasks else rng.permutation(tasks)
    workers = rng.integers(0, n_workers, len(tasks))
    labels = rng.integers(0, n_labels, len(tasks))
    return tasks.astype(np.int32), workers.astype(np.int32), labels.astype(np.int32)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # 0/0 for workers who gave no label
@pytest.mark.parametrize("seed", range(12))
def test_dawid_skene_gives_the_bits_of_the_plain_expressions(seed):
    rng = np.random.default_rng(seed)
    n_labels = 2 if seed % 3 else 3
    n_tasks, n_workers = int(rng.integers(1, 1500)), int(rng.integers(1, 30))
    tasks, workers, labels = _random_labels(rng, n_tasks, n_workers, n_labels,
                                            sorted_tasks=seed % 2 == 0)
    kwargs = {"n_tasks": n_tasks, "n_workers": n_workers + seed % 4, "n_labels": n_labels}
    ours = gold.dawid_skene(tasks, workers, labels, **kwargs)
    plain = _plain_dawid_skene(tasks, workers, labels, **kwargs)
    assert ours.shape == plain.shape and ours.tobytes() == plain.tobytes()


@pytest.mark.parametrize("seed", range(6))
def test_field_report_counts_as_before(seed):
    """_FieldCodes.report counts "no" labels with integers and compares label codes; it used
    to weigh booleans and compare value names: the same report."""
    rng = np.random.default_rng(100 + seed)
    n_units = int(rng.integers(1, 800))
    tasks, workers, _ = _random_labels(rng, n_units, 12, 2, sorted_tasks=True)
    # The first value gets code 0: "yes" first on even seeds, so that the codes are not in
    # sorted order and report() recodes them.
    order = ["no", "yes"] if seed % 2 else ["yes", "no"]
    values = [order[0], *rng.choice(order, len(tasks) - 1).tolist()]
    if seed == 4:
        values = ["yes"] * len(tasks)  # no failing value at all
    codes = gold._FieldCodes()
    for task, worker, value in zip(tasks.tolist(), workers.tolist(), values, strict=True):
        codes.add_unit(f"u{task:05d}", worker, value)
    report = codes.report("judge_agreement", "agree", n_workers=12)

    names = sorted(set(values))
    label_codes = np.array([names.index(v) for v in values], dtype=np.int32)
    with np.errstate(divide="ignore", invalid="ignore"):
        probas = _plain_dawid_skene(tasks, workers, label_codes, n_tasks=n_units,
                                    n_workers=12, n_labels=len(names))
    predicted_no = np.asarray(names, dtype=object)[probas.argmax(axis=1)] == "no"
    is_no = label_codes == (names.index("no") if "no" in names else -1)
    n_no = np.bincount(tasks, weights=is_no, minlength=n_units)
    n_yes = np.bincount(tasks, weights=~is_no, minlength=n_units)
    assert report == {
        "task": "judge_agreement", "field": "agree", "n_units": n_units,
        "n_labels": len(values),
        "differs_from_conservative": int((predicted_no != (n_no > 0)).sum()),
        "differs_from_majority": int((predicted_no != (n_yes <= n_no)).sum())}

