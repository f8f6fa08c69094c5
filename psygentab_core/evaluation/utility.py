"""Downstream utility: do models trained on the synthetic table work on real patients?

Three model families are trained on the real training rows (members) and on the synthetic table
and tested as

* TRTR: train on the real training rows, test on the real holdout (the reference);
* TSTR: train on the synthetic table, test on the real holdout (the utility of the release);
* TRTS: train on the real training rows, test on the synthetic table (does the synthetic table
  keep the relations a real model learned?).

The real test set is always the holdout, never re-split. :func:`fit_downstream` fits every model
once and keeps its predictions (:class:`DownstreamPredictions`), so the utility figures, the
per-class figures and the fairness audit all read the same predictions without refitting.

Intervals are percentile bootstraps over the test rows. Every figure of one test set uses the same
resamples, so TSTR and TRTR (both on the holdout) are paired and their difference has an interval
of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from psygentab_core.evaluation.data import EvaluationContext
from psygentab_core.evaluation.result import Direction, Family, Interval, MetricResult

TRTR, TSTR, TRTS = "TRTR", "TSTR", "TRTS"
SETTINGS = (TRTR, TSTR, TRTS)
# (training table, test table) of every setting, as roles of the EvaluationContext.
TRAIN_TEST: dict[str, tuple[str, str]] = {
    TRTR: ("members", "holdout"),
    TSTR: ("synthetic", "holdout"),
    TRTS: ("members", "synthetic"),
}
SETTING_MEANING = {
    TRTR: "trained on the real training rows, tested on the real holdout",
    TSTR: "trained on the synthetic table, tested on the real holdout",
    TRTS: "trained on the real training rows, tested on the synthetic table",
}

LOGISTIC, FOREST, BOOSTING = "logistic regression", "random forest", "gradient boosting"
AUC, BALANCED_ACCURACY, MINORITY_F1 = "AUC", "balanced accuracy", "minority-class F1"
METRICS = (AUC, BALANCED_ACCURACY, MINORITY_F1)
RECALL, F1 = "recall", "F1"

REPEATS = 200
LEVEL = 0.95
# Cells (resamples × rows) a bootstrap step holds at once: 32 MB per float64 array.
BOOTSTRAP_CELLS = 1 << 22
BASELINE_MEANING = "the same model trained on the real training rows"
# Rows with a missing target cannot be scored; they are left out of training and testing.

ModelFactory = Callable[[int, str | None], Any]


def _logistic(seed: int, class_weight: str | None) -> Any:
    return make_pipeline(
        StandardScaler(),
        LogisticRegression(max_iter=5000, class_weight=class_weight, random_state=seed),
    )


def _forest(seed: int, class_weight: str | None) -> Any:
    return RandomForestClassifier(
        n_estimators=100,
        max_depth=12,
        min_samples_leaf=2,
        class_weight=class_weight,
        n_jobs=2,
        random_state=seed,
    )


def _boosting(seed: int, class_weight: str | None) -> Any:
    return HistGradientBoostingClassifier(
        max_iter=100,
        learning_rate=0.1,
        max_leaf_nodes=31,
        early_stopping=False,
        class_weight=class_weight,
        random_state=seed,
    )


# Every model is built fresh for every fit, seeded from the context's seed.
MODEL_FACTORIES: dict[str, ModelFactory] = {
    LOGISTIC: _logistic,
    FOREST: _forest,
    BOOSTING: _boosting,
}


@dataclass(frozen=True, slots=True)
class Prediction:
    """What one model, trained in one setting, predicts on that setting's test rows.

    ``rows`` are the positions of the scored rows in the test table (rows with a missing target
    are left out), ``truth`` their class codes, ``probabilities`` one column per class of the
    context (a class the training rows lack gets probability 0) and ``predicted`` the most
    probable class.
    """

    setting: str
    model: str
    test: str  # role of the test table: "holdout" or "synthetic"
    rows: np.ndarray
    truth: np.ndarray
    probabilities: np.ndarray
    predicted: np.ndarray
    trained_classes: tuple[int, ...]  # class codes present in the training rows
    constant: bool = False  # True when the training rows held one class: it always predicts it


@dataclass(frozen=True, slots=True)
class DownstreamPredictions:
    """Predictions of every (setting, model) pair, fitted once and shared by every figure."""

    classes: tuple[object, ...]
    minority: int | None
    models: tuple[str, ...]
    predictions: Mapping[tuple[str, str], Prediction] = field(default_factory=dict)
    # Class codes absent from each training table ("members", "synthetic").
    missing_classes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def get(self, setting: str, model: str) -> Prediction | None:
        """The prediction of ``model`` in ``setting``; None where no model could be trained."""
        return self.predictions.get((setting, model))


# --------------------------------------------------------------------------------------------
# Fitting


def fit_downstream(
    ctx: EvaluationContext,
    *,
    models: Sequence[str] | None = None,
    class_weight: str | None = "balanced",
) -> DownstreamPredictions:
    """Fit every model on the real training rows and on the synthetic table, and predict.

    Models are trained with balanced class weights by default, so that a rare class is not
    ignored at the default decision rule and minority-class recall and F1 mean something. A
    training table lacking a class gives models that never predict it (reported in ``notes``);
    one holding a single class gives a constant prediction; an empty one gives no prediction.

    Native thread pools (BLAS, OpenMP) are held to one thread while fitting: on small tables
    their start-up costs more than it saves, and on a busy machine an OpenMP gradient boosting
    slows down twentyfold. The random forest still grows its trees on two workers.
    """
    names = tuple(MODEL_FACTORIES) if models is None else tuple(models)
    unknown = [n for n in names if n not in MODEL_FACTORIES]
    if unknown:
        raise ValueError(f"Unknown downstream models {unknown}; known: {list(MODEL_FACTORIES)}.")
    if ctx.target is None or ctx.minority is None:
        return DownstreamPredictions(
            classes=ctx.classes,
            minority=None,
            models=names,
            notes=("The schema has no target column, so no downstream model was trained.",),
        )
    with threadpool_limits(limits=1):
        return _fit_all(ctx, names, class_weight)


def _fit_all(
    ctx: EvaluationContext, names: tuple[str, ...], class_weight: str | None
) -> DownstreamPredictions:
    k = len(ctx.classes)
    tables = ctx.tables()
    known = {role: _known_rows(tables[role].labels, k) for role in tables}
    notes: list[str] = []
    missing: dict[str, tuple[int, ...]] = {}
    predictions: dict[tuple[str, str], Prediction] = {}
    for train_role in ("members", "synthetic"):
        rows = known[train_role]
        features = tables[train_role].features[rows]
        labels = tables[train_role].labels[rows]
        present = tuple(int(c) for c in np.unique(labels))
        missing[train_role] = tuple(c for c in range(k) if c not in present)
        what = "real training rows" if train_role == "members" else "synthetic table"
        if missing[train_role] and present:
            lacking = ", ".join(repr(str(ctx.classes[c])) for c in missing[train_role])
            notes.append(
                f"The {what} has no rows of class {lacking}: models trained on it can never "
                "predict it (its recall is 0 and its probability is 0)."
            )
        if not present:
            notes.append(f"The {what} has no rows with a known target: no model was trained on it.")
            continue
        settings = [s for s in SETTINGS if TRAIN_TEST[s][0] == train_role]
        for name in names:
            fitted = None
            if len(present) > 1:
                fitted = MODEL_FACTORIES[name](ctx.seed, class_weight)
                fitted.fit(features, labels)
            for setting in settings:
                test_role = TRAIN_TEST[setting][1]
                test_rows = known[test_role]
                test_features = tables[test_role].features[test_rows]
                probabilities = np.zeros((len(test_rows), k))
                if fitted is None:
                    probabilities[:, present[0]] = 1.0
                elif len(test_rows):
                    columns = np.asarray(fitted.classes_, dtype=int)
                    probabilities[:, columns] = fitted.predict_proba(test_features)
                predictions[(setting, name)] = Prediction(
                    setting=setting,
                    model=name,
                    test=test_role,
                    rows=test_rows,
                    truth=tables[test_role].labels[test_rows],
                    probabilities=probabilities,
                    predicted=probabilities.argmax(axis=1) if len(test_rows) else test_rows,
                    trained_classes=present,
                    constant=fitted is None,
                )
        if len(present) == 1:
            notes.append(
                f"The {what} holds only class {str(ctx.classes[present[0]])!r}: every model "
                "trained on it predicts that class for every row."
            )
    return DownstreamPredictions(
        classes=ctx.classes,
        minority=ctx.minority,
        models=names,
        predictions=predictions,
        missing_classes=missing,
        notes=tuple(notes),
    )


def _known_rows(labels: np.ndarray | None, k: int) -> np.ndarray:
    """Positions of rows with a known target (the encoder codes a missing target as k)."""
    if labels is None:
        return np.zeros(0, dtype=int)
    return np.flatnonzero(labels < k)


# --------------------------------------------------------------------------------------------
# Vectorised bootstrap: every statistic is computed from row weights (resample multiplicities),
# one row of weights per resample; the point estimate is the all-ones weight row.


def resample_counts(size: int, repeats: int, seed: Sequence[int] | int) -> np.ndarray:
    """Multiplicity of every row in ``repeats`` bootstrap resamples, shape (repeats, size)."""
    if size == 0:
        return np.zeros((repeats, 0))
    rng = np.random.default_rng(seed)
    counts = np.empty((repeats, size))
    # A slice of resamples at a time: all draws at once (and their offsets and counts, as int64)
    # would hold three more copies of the matrix, gigabytes for a million test rows. The
    # generator yields the same numbers in slices as in one call.
    step = max(1, BOOTSTRAP_CELLS // size)
    for start in range(0, repeats, step):
        rows = min(step, repeats - start)
        draws = rng.integers(0, size, (rows, size))
        offsets = (np.arange(rows)[:, None] * size + draws).ravel()
        counts[start : start + rows] = np.bincount(offsets, minlength=rows * size).reshape(
            rows, size
        )
    return counts


def confusion(truth: np.ndarray, predicted: np.ndarray, k: int, weights: np.ndarray) -> np.ndarray:
    """Weighted confusion matrices (rows = true class, columns = predicted), shape (r, k, k)."""
    cells = np.zeros((len(truth), k * k))
    cells[np.arange(len(truth)), truth * k + predicted] = 1.0
    return (weights @ cells).reshape(-1, k, k)


def per_class_scores(matrices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Recall and F1 of every class, shape (r, k), and balanced accuracy, shape (r,).

    Recall is undefined (NaN) for a class absent from the test rows; F1 is undefined when the
    class is neither present nor predicted, and 0 when it is present but never predicted.
    Balanced accuracy is the mean recall over the classes present.
    """
    hits = np.diagonal(matrices, axis1=1, axis2=2)
    support = matrices.sum(axis=2)
    chosen = matrices.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(support > 0, hits / support, np.nan)
        f1 = np.where(support + chosen > 0, 2 * hits / (support + chosen), np.nan)
    present = support > 0
    count = present.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        balanced = np.where(count > 0, np.where(present, recall, 0.0).sum(axis=1) / count, np.nan)
    return recall, f1, balanced


def weighted_auc(scores: np.ndarray, positive: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC AUC of ``scores`` for ``positive`` under each row of ``weights``, shape (r,).

    Ties count one half (the Mann-Whitney form); NaN where a resample lacks either class.
    Computed a slice of resamples at a time, so memory stays bounded on large test sets.
    """
    repeats = weights.shape[0]
    if len(scores) == 0:
        return np.full(repeats, np.nan)
    levels, inverse = np.unique(scores, return_inverse=True)
    width = len(levels)
    result = np.empty(repeats)
    step = max(1, BOOTSTRAP_CELLS // max(width, len(scores)))
    for start in range(0, repeats, step):
        part = weights[start : start + step]
        rows = part.shape[0]
        offsets = (np.arange(rows)[:, None] * width + inverse[None, :]).ravel()
        pos = np.bincount(offsets, (part * positive).ravel(), rows * width)
        neg = np.bincount(offsets, (part * ~positive).ravel(), rows * width)
        pos, neg = pos.reshape(rows, width), neg.reshape(rows, width)
        below = np.cumsum(neg, axis=1) - neg
        numerator = (pos * (below + 0.5 * neg)).sum(axis=1)
        denominator = pos.sum(axis=1) * neg.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            result[start : start + rows] = np.where(
                denominator > 0, numerator / denominator, np.nan
            )
    return result


def auc_scores(
    probabilities: np.ndarray, truth: np.ndarray, minority: int, weights: np.ndarray
) -> np.ndarray:
    """Binary: AUC of the minority-class probability. Multiclass: macro one-vs-rest AUC over the
    classes present (with both members and non-members) in each resample."""
    k = probabilities.shape[1]
    if k == 2:
        return weighted_auc(probabilities[:, minority], truth == minority, weights)
    per_class = np.stack(
        [weighted_auc(probabilities[:, c], truth == c, weights) for c in range(k)], axis=1
    )
    defined = np.isfinite(per_class)
    count = defined.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(count > 0, np.where(defined, per_class, 0.0).sum(axis=1) / count, np.nan)


@dataclass(frozen=True, slots=True)
class Estimate:
    """A point estimate and its bootstrap replicates."""

    value: float
    samples: np.ndarray

    def interval(self, what: str) -> Interval | None:
        """Percentile interval of the replicates (widened to include the estimate if needed)."""
        return percentile_interval(self.value, self.samples, what)

    def row(self, **labels: Any) -> dict[str, Any]:
        """A tidy row: the labels, then value, low and high."""
        interval = self.interval("")
        low, high = (np.nan, np.nan) if interval is None else (interval.low, interval.high)
        return {**labels, "value": self.value, "low": low, "high": high}


def percentile_interval(value: float, samples: np.ndarray, what: str) -> Interval | None:
    """Percentile bootstrap interval; None where the estimate or every replicate is undefined.

    Resamples where the statistic is undefined are skipped. When the estimate falls outside the
    percentile interval (as happens for a maximum of differences close to 0), the interval is
    widened to include it and the method says so.
    """
    finite = samples[np.isfinite(samples)]
    if not np.isfinite(value) or finite.size == 0:
        return None
    tail = (1.0 - LEVEL) / 2.0
    low, high = (float(q) for q in np.quantile(finite, [tail, 1.0 - tail]))
    method = f"percentile bootstrap ({len(samples)} resamples{what})"
    if value < low or value > high:
        low, high = min(low, value), max(high, value)
        method += ", widened to include the estimate"
    return Interval(low, high, LEVEL, method)


def _nan_reduce(stacked: np.ndarray, how: str) -> np.ndarray:
    """Mean or max over axis 0 ignoring NaN, NaN where every entry is NaN (without warnings)."""
    defined = np.isfinite(stacked)
    count = defined.sum(axis=0)
    if how == "max":
        reduced = np.where(defined, stacked, -np.inf).max(axis=0)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            reduced = np.where(defined, stacked, 0.0).sum(axis=0) / count
    return np.where(count > 0, reduced, np.nan)


# --------------------------------------------------------------------------------------------
# Scores of every (setting, model) pair


@dataclass(frozen=True, slots=True)
class _Scores:
    auc: Estimate
    balanced: Estimate
    recall: list[Estimate]  # one per class
    f1: list[Estimate]
    support: np.ndarray  # test rows of every class


def _score(prediction: Prediction, k: int, minority: int, counts: np.ndarray) -> _Scores:
    # The point estimate (all weights 1) and the resamples apart: stacking them would copy the
    # resample matrix once per model and setting.
    ones = np.ones((1, len(prediction.truth)))
    matrices = np.concatenate(
        [
            confusion(prediction.truth, prediction.predicted, k, weights)
            for weights in (ones, counts)
        ]
    )
    recall, f1, balanced = per_class_scores(matrices)
    auc = np.concatenate(
        [
            auc_scores(prediction.probabilities, prediction.truth, minority, weights)
            for weights in (ones, counts)
        ]
    )
    return _Scores(
        auc=Estimate(float(auc[0]), auc[1:]),
        balanced=Estimate(float(balanced[0]), balanced[1:]),
        recall=[Estimate(float(recall[0, c]), recall[1:, c]) for c in range(k)],
        f1=[Estimate(float(f1[0, c]), f1[1:, c]) for c in range(k)],
        support=np.bincount(prediction.truth, minlength=k)[:k],
    )


def _metric(scores: _Scores, metric: str, minority: int) -> Estimate:
    return {AUC: scores.auc, BALANCED_ACCURACY: scores.balanced, MINORITY_F1: scores.f1[minority]}[
        metric
    ]


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text.lower()).strip("_")


def _test_rows_text(test: str) -> str:
    return f" of the {test} rows" if test else ""


def _point(estimate: Estimate | None, what: str) -> dict[str, Any]:
    if estimate is None:
        return {"value": np.nan, "low": np.nan, "high": np.nan}
    interval = estimate.interval(what)
    return {
        "value": estimate.value,
        "low": np.nan if interval is None else interval.low,
        "high": np.nan if interval is None else interval.high,
    }


_METRIC_MEANING = {
    AUC: (
        "ROC AUC on the real holdout{of}: how well the model ranks patients of class {minority} "
        "above the others (0.5 = chance, 1 = perfect)"
    ),
    BALANCED_ACCURACY: (
        "Balanced accuracy on the real holdout: the mean over classes of the share of each "
        "class predicted correctly (1/{k} = chance for a constant prediction, 1 = perfect)"
    ),
    MINORITY_F1: (
        "F1 of the minority class {minority} on the real holdout: the harmonic mean of its "
        "precision and recall (0 = never found, 1 = perfect)"
    ),
}


def utility_metrics(
    ctx: EvaluationContext, predictions: DownstreamPredictions, *, repeats: int = REPEATS
) -> list[MetricResult]:
    """TSTR utility of every model against TRTR, the headline AUC and per-class recall/F1.

    Returns, in this order: the headline "TSTR AUC (best/mean model)", one result per model and
    metric (AUC, balanced accuracy, minority-class F1; TSTR against TRTR), and the per-class
    recall and F1 of every model (family MINORITY). Empty without a target.
    """
    if ctx.target is None or ctx.minority is None:
        return []
    k = len(ctx.classes)
    minority = ctx.minority
    minority_name = repr(str(ctx.classes[minority]))
    counts = {
        "holdout": resample_counts(len(_known_rows(ctx.holdout.labels, k)), repeats, [ctx.seed, 1]),
        "synthetic": resample_counts(
            len(_known_rows(ctx.synthetic.labels, k)), repeats, [ctx.seed, 2]
        ),
    }
    scores: dict[tuple[str, str], _Scores] = {}
    for (setting, model), prediction in predictions.predictions.items():
        scores[(setting, model)] = _score(prediction, k, minority, counts[prediction.test])
    models = predictions.models
    notes = list(predictions.notes)
    what = {s: _test_rows_text(TRAIN_TEST[s][1]) for s in SETTINGS}

    table: list[dict[str, Any]] = []
    for setting in SETTINGS:
        for model in models:
            got = scores.get((setting, model))
            for metric in METRICS:
                estimate = None if got is None else _metric(got, metric, minority)
                table.append(
                    {"setting": setting, "model": model, "metric": metric}
                    | _point(estimate, what[setting])
                )

    per_model: list[MetricResult] = []
    differences: list[dict[str, Any]] = []
    for model in models:
        real, synthetic = scores.get((TRTR, model)), scores.get((TSTR, model))
        trts = scores.get((TRTS, model))
        for metric in METRICS:
            tstr_estimate = None if synthetic is None else _metric(synthetic, metric, minority)
            trtr_estimate = None if real is None else _metric(real, metric, minority)
            trts_estimate = None if trts is None else _metric(trts, metric, minority)
            difference = None
            if tstr_estimate is not None and trtr_estimate is not None:
                difference = Estimate(
                    tstr_estimate.value - trtr_estimate.value,
                    tstr_estimate.samples - trtr_estimate.samples,
                )
            difference_row = {"model": model, "metric": metric} | _point(
                difference, what[TSTR] + ", paired"
            )
            differences.append(difference_row)
            per_model.append(
                MetricResult(
                    key=f"utility.tstr.{_slug(metric)}.{_slug(model)}",
                    name=f"TSTR {metric}: {model}",
                    family=Family.UTILITY,
                    value=np.nan if tstr_estimate is None else tstr_estimate.value,
                    ideal=1.0,
                    direction=Direction.HIGHER,
                    meaning=(
                        _METRIC_MEANING[metric].format(of="", minority=minority_name, k=k)
                        + f", of a {model} trained on the synthetic table. Compare with the "
                        "baseline: a synthetic table is useful when it comes close."
                    ),
                    baseline=np.nan if trtr_estimate is None else trtr_estimate.value,
                    baseline_meaning=BASELINE_MEANING,
                    interval=None if tstr_estimate is None else tstr_estimate.interval(what[TSTR]),
                    details={
                        "setting": TSTR,
                        "model": model,
                        "metric": metric,
                        "tstr": _point(tstr_estimate, what[TSTR]),
                        "trtr": _point(trtr_estimate, what[TRTR]),
                        "trts": _point(trts_estimate, what[TRTS]),
                        "difference": difference_row,
                        "notes": notes,
                    },
                )
            )

    headline = _headline(scores, models, minority_name, what, table, differences, notes)
    headline_details = dict(headline.details)
    headline_details.update(
        {
            "missing_classes": {
                role: [str(ctx.classes[c]) for c in codes]
                for role, codes in predictions.missing_classes.items()
            },
            "test_rows": {
                "holdout": int(counts["holdout"].shape[1]),
                "synthetic": int(counts["synthetic"].shape[1]),
            },
            "classes": [str(c) for c in ctx.classes],
            "minority_class": str(ctx.classes[minority]),
        }
    )
    headline = replace(headline, details=headline_details)
    return [headline, *per_model, _per_class(ctx, predictions, scores, what, notes)]


def _headline(
    scores: Mapping[tuple[str, str], _Scores],
    models: Sequence[str],
    minority_name: str,
    what: Mapping[str, str],
    table: list[dict[str, Any]],
    differences: list[dict[str, Any]],
    notes: list[str],
) -> MetricResult:
    """Best model's TSTR AUC against the best model's TRTR AUC; means in the details."""
    summary: dict[str, Any] = {}
    best_estimates: dict[str, Estimate | None] = {}
    for setting in SETTINGS:
        available = [m for m in models if (setting, m) in scores]
        if not available:
            best_estimates[setting] = None
            empty = _point(None, "")
            summary[setting] = {"best_model": None, "best": empty, "mean": empty}
            continue
        values = np.array([scores[(setting, m)].auc.value for m in available])
        samples = np.stack([scores[(setting, m)].auc.samples for m in available])
        best_index = int(np.nanargmax(values)) if np.isfinite(values).any() else 0
        best = Estimate(float(_nan_reduce(values, "max")), _nan_reduce(samples, "max"))
        mean = Estimate(float(_nan_reduce(values, "mean")), _nan_reduce(samples, "mean"))
        best_estimates[setting] = best
        summary[setting] = {
            "best_model": available[best_index],
            "best": _point(best, what[setting]),
            "mean": _point(mean, what[setting]),
        }
    tstr, trtr = best_estimates[TSTR], best_estimates[TRTR]
    return MetricResult(
        key="utility.tstr_auc",
        name="TSTR AUC (best/mean model)",
        family=Family.UTILITY,
        value=np.nan if tstr is None else tstr.value,
        ideal=1.0,
        direction=Direction.HIGHER,
        meaning=(
            "ROC AUC on the real holdout of the best of the models trained on the synthetic "
            f"table, for class {minority_name} (0.5 = chance, 1 = perfect). The baseline is the "
            "best of the same models trained on the real training rows: a useful synthetic "
            "table comes close to it. The mean over models is in the details."
        ),
        baseline=np.nan if trtr is None else trtr.value,
        baseline_meaning="the best of the same models trained on the real training rows",
        interval=None if tstr is None else tstr.interval(what[TSTR]),
        details={
            "table": table,
            "trts": [row for row in table if row["setting"] == TRTS],
            "differences": differences,
            "summary": summary,
            "models": list(models),
            "settings": list(SETTINGS),
            "setting_meaning": dict(SETTING_MEANING),
            "metrics": list(METRICS),
            "notes": notes,
        },
    )


def _per_class(
    ctx: EvaluationContext,
    predictions: DownstreamPredictions,
    scores: Mapping[tuple[str, str], _Scores],
    what: Mapping[str, str],
    notes: list[str],
) -> MetricResult:
    """Recall and F1 of every class × setting × model; headline: mean minority recall."""
    minority = int(ctx.minority or 0)
    k = len(ctx.classes)
    table: list[dict[str, Any]] = []
    for setting in SETTINGS:
        for model in predictions.models:
            got = scores.get((setting, model))
            for c in range(k):
                for metric, estimates in (
                    (RECALL, None if got is None else got.recall),
                    (F1, None if got is None else got.f1),
                ):
                    row = {
                        "setting": setting,
                        "model": model,
                        "class": str(ctx.classes[c]),
                        "minority": c == minority,
                        "metric": metric,
                    } | _point(None if estimates is None else estimates[c], what[setting])
                    row["support"] = np.nan if got is None else int(got.support[c])
                    table.append(row)

    def mean_recall(setting: str) -> Estimate | None:
        available = [m for m in predictions.models if (setting, m) in scores]
        if not available:
            return None
        values = np.array([scores[(setting, m)].recall[minority].value for m in available])
        samples = np.stack([scores[(setting, m)].recall[minority].samples for m in available])
        return Estimate(float(_nan_reduce(values, "mean")), _nan_reduce(samples, "mean"))

    tstr, trtr = mean_recall(TSTR), mean_recall(TRTR)
    minority_name = str(ctx.classes[minority])
    return MetricResult(
        key="minority.downstream_per_class",
        name="per-class recall and F1 of downstream models",
        family=Family.MINORITY,
        value=np.nan if tstr is None else tstr.value,
        ideal=1.0,
        direction=Direction.HIGHER,
        meaning=(
            f"Share of the real holdout's {minority_name!r} patients (the minority class) that "
            "models trained on the synthetic table recognise, averaged over the model families "
            "(0 = never, 1 = all). A generator that under-represents the rare class shows here "
            "first. The details hold recall and F1 of every class, setting and model."
        ),
        baseline=np.nan if trtr is None else trtr.value,
        baseline_meaning="the same models trained on the real training rows (mean recall)",
        interval=None if tstr is None else tstr.interval(what[TSTR]),
        details={
            "table": table,
            "minority_class": minority_name,
            "classes": [str(c) for c in ctx.classes],
            "models": list(predictions.models),
            "settings": list(SETTINGS),
            "minority_recall": {
                TSTR: _point(tstr, what[TSTR]),
                TRTR: _point(trtr, what[TRTR]),
                TRTS: _point(mean_recall(TRTS), what[TRTS]),
            },
            "notes": notes,
        },
    )
