"""Known answers for the attack statistics."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from psygentab_core.evaluation.stats import (
    auc_difference_with_interval,
    auc_with_interval,
    roc_curve_points,
    tpr_at_fpr,
)


def test_auc_matches_scikit_learn_with_ties() -> None:
    rng = np.random.default_rng(0)
    positive = rng.integers(0, 5, 300).astype(float)
    negative = rng.integers(0, 4, 200).astype(float)
    truth = np.r_[np.ones(300), np.zeros(200)]
    auc, interval = auc_with_interval(positive, negative)
    assert auc == pytest.approx(roc_auc_score(truth, np.r_[positive, negative]))
    assert interval.low < auc < interval.high


def test_delong_interval_covers_half_for_identical_distributions() -> None:
    covered = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        _, interval = auc_with_interval(rng.normal(size=400), rng.normal(size=400))
        covered += interval.low <= 0.5 <= interval.high
    assert covered >= 34  # about 95 % coverage


def test_separated_scores_give_auc_one_and_full_tpr() -> None:
    positive, negative = np.arange(100, 200.0), np.arange(0, 100.0)
    assert auc_with_interval(positive, negative)[0] == 1.0
    assert tpr_at_fpr(positive, negative, 0.01, seed=0)[0] == 1.0
    curve = roc_curve_points(positive, negative)
    assert curve["tpr"][1] == pytest.approx(1.0)


def test_tpr_at_fpr_of_a_coin_flip_is_near_the_fpr() -> None:
    rng = np.random.default_rng(1)
    value, interval = tpr_at_fpr(rng.normal(size=20000), rng.normal(size=20000), 0.01, seed=0)
    assert value == pytest.approx(0.01, abs=0.004)
    assert interval.low <= 0.01 <= interval.high


def test_an_auc_difference_adds_the_two_delong_variances() -> None:
    rng = np.random.default_rng(2)
    first = (rng.normal(1.0, 1.0, 300), rng.normal(size=500))
    second = (rng.normal(0.5, 1.0, 200), rng.normal(size=400))
    difference, interval = auc_difference_with_interval(first, second)
    (auc_first, bounds_first), (auc_second, bounds_second) = (
        auc_with_interval(*first),
        auc_with_interval(*second),
    )
    assert difference == pytest.approx(auc_first - auc_second)
    # Neither AUC is near 0 or 1, so their intervals are unclipped: half-widths add in quadrature.
    half = np.hypot(
        (bounds_first.high - bounds_first.low) / 2, (bounds_second.high - bounds_second.low) / 2
    )
    assert (interval.high - interval.low) / 2 == pytest.approx(half)
    assert interval.low < difference < interval.high


def test_an_auc_difference_of_one_population_covers_zero() -> None:
    covered = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        first, second = (one_population_sample(rng) for _ in range(2))
        _, interval = auc_difference_with_interval(first, second)
        covered += interval.low <= 0.0 <= interval.high
    assert covered >= 34  # about 95 % coverage


def one_population_sample(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Scores of 200 positives and 300 negatives, the same two distributions every time."""
    return rng.normal(0.7, 1.0, 200), rng.normal(size=300)
