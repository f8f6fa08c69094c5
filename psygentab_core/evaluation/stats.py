"""Small statistics shared by the attacks: ROC, AUC with DeLong's interval, TPR at low FPR."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.stats import norm, rankdata

from psygentab_core.evaluation.result import Interval, bootstrap_interval


def auc_with_interval(
    positive: np.ndarray, negative: np.ndarray, *, level: float = 0.95
) -> tuple[float, Interval]:
    """ROC AUC of scores (higher = more likely positive) with DeLong's interval.

    DeLong, DeLong & Clarke-Pearson (1988), computed with midranks (Sun & Xu, 2014) in
    O(n log n), so it stays fast for hundreds of thousands of scores; ties count half.
    """
    auc, variance = auc_and_variance(positive, negative)
    if np.isnan(auc):
        return auc, Interval(float("nan"), float("nan"), level, "DeLong")
    half = norm.ppf(0.5 + level / 2.0) * np.sqrt(variance)
    return auc, Interval(float(max(0.0, auc - half)), float(min(1.0, auc + half)), level, "DeLong")


def auc_and_variance(positive: np.ndarray, negative: np.ndarray) -> tuple[float, float]:
    """ROC AUC and DeLong's estimate of its variance (NaN and 0 without both classes)."""
    m, n = len(positive), len(negative)
    if m == 0 or n == 0:
        return float("nan"), 0.0
    both = rankdata(np.concatenate([positive, negative]))
    within_positive = rankdata(positive)
    within_negative = rankdata(negative)
    auc = (both[:m].sum() - m * (m + 1) / 2.0) / (m * n)
    v10 = (both[:m] - within_positive) / n
    v01 = 1.0 - (both[m:] - within_negative) / m
    variance = (np.var(v10, ddof=1) if m > 1 else 0.0) / m + (
        np.var(v01, ddof=1) if n > 1 else 0.0
    ) / n
    return float(auc), float(max(variance, 0.0))


def auc_difference_with_interval(
    first: tuple[np.ndarray, np.ndarray],
    second: tuple[np.ndarray, np.ndarray],
    *,
    level: float = 0.95,
) -> tuple[float, Interval]:
    """AUC of ``first`` (positive, negative scores) minus AUC of ``second``, two independent
    samples, with the normal interval of DeLong's variances added."""
    auc_first, variance_first = auc_and_variance(*first)
    auc_second, variance_second = auc_and_variance(*second)
    difference = auc_first - auc_second
    half = norm.ppf(0.5 + level / 2.0) * np.sqrt(variance_first + variance_second)
    return difference, Interval(
        float(difference - half), float(difference + half), level, "DeLong, two samples"
    )


def roc_curve_points(
    positive: np.ndarray, negative: np.ndarray, *, points: int = 200
) -> dict[str, list[float]]:
    """The ROC curve, thinned to about ``points`` points for plotting (log-spaced in FPR, so
    the low-FPR region an attacker cares about stays visible)."""
    scores = np.concatenate([positive, negative])
    truth = np.concatenate([np.ones(len(positive)), np.zeros(len(negative))])
    order = np.argsort(-scores, kind="stable")
    tp = np.cumsum(truth[order]) / max(len(positive), 1)
    fp = np.cumsum(1 - truth[order]) / max(len(negative), 1)
    fpr = np.concatenate([[0.0], fp])
    tpr = np.concatenate([[0.0], tp])
    grid = np.unique(np.concatenate([[0.0], np.geomspace(1e-4, 1.0, points), [1.0]]))
    return {"fpr": grid.tolist(), "tpr": np.interp(grid, fpr, tpr).tolist()}


def tpr_at_fpr(
    positive: np.ndarray, negative: np.ndarray, fpr: float, *, seed: int
) -> tuple[float, Interval]:
    """True-positive rate at the threshold that flags a share ``fpr`` of the negatives, with a
    bootstrap interval (members and non-members resampled separately)."""

    def statistic(pos: np.ndarray, neg: np.ndarray) -> float:
        threshold = np.quantile(neg, 1.0 - fpr, method="higher")
        return float(np.mean(pos > threshold))

    return statistic(positive, negative), two_sample_bootstrap(
        statistic, positive, negative, seed=seed
    )


def two_sample_bootstrap(
    statistic: Callable[[np.ndarray, np.ndarray], float],
    first: np.ndarray,
    second: np.ndarray,
    *,
    seed: int,
    repeats: int = 200,
) -> Interval:
    """Percentile bootstrap of a statistic of two independent samples, each resampled alone."""
    rng = np.random.default_rng(seed)
    values = [
        statistic(
            first[rng.integers(0, len(first), len(first))],
            second[rng.integers(0, len(second), len(second))],
        )
        for _ in range(repeats)
    ]
    low, high = np.nanquantile(values, [0.025, 0.975])
    return Interval(float(low), float(high), 0.95, f"percentile bootstrap ({repeats} resamples)")


def share_interval(flags: np.ndarray, *, seed: int) -> Interval:
    """Bootstrap interval of a share of flagged rows."""
    return bootstrap_interval(lambda f: float(np.mean(f)), (flags.astype(float),), seed=seed)
