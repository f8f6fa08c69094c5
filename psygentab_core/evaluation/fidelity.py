"""Fidelity: does the synthetic table look like the real one?

Column by column (distances on a grid shared by both tables), pair by pair (association matrices
real | synthetic | difference), in its missing-value pattern, to a classifier that tries to tell
the two apart, and by the source paper's composite quality score Q.

"Real" is always the training rows (members). Where a figure has no natural zero, the same
figure computed between the holdout and the members is given as the baseline: what two real
samples of the population score, so a synthetic table is not asked to beat sampling noise.
Every function is a pure function of the :class:`EvaluationContext`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.spatial.distance import jensenshannon
from scipy.stats import rankdata, wasserstein_distance
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

from psygentab_core.encoding import ChoiceEncoder, as_numbers, canonical_value
from psygentab_core.evaluation.data import EvaluationContext
from psygentab_core.evaluation.result import (
    Direction,
    Family,
    MetricResult,
    bootstrap_interval,
)
from psygentab_core.schema import ColumnKind, ColumnSpec

MISSING_LABEL = "(missing)"
HISTOGRAM_BINS = 30  # shared bins of a numeric column (whole-number columns: one bin per value)
MAX_WHOLE_NUMBER_BINS = 60
RARE_SHARE = 0.01  # a level rarer than this among the members is a rare category
DETECTION_CAP = 10_000  # rows per side for the detection classifier
DETECTION_FOLDS = 5
ROC_POINTS = 200
# Too few rows with both values present to say anything about a pair: reported as 0.
MIN_PAIR_ROWS = 3

SPEARMAN = "Spearman (Pearson on ranks)"
CRAMERS_V = "Cramér's V"
CORRELATION_RATIO = "correlation ratio on ranks"


# ---------------------------------------------------------------------------------------------
# Shared preparation: every table's modelled columns as arrays, computed once per context


@dataclass(frozen=True, slots=True)
class Layout:
    """The modelled columns and, for discrete ones, their levels (missing is an extra slot)."""

    specs: tuple[ColumnSpec, ...]
    levels: dict[str, tuple[Any, ...]]

    @property
    def numeric(self) -> list[str]:
        """Numeric and datetime columns."""
        return [s.name for s in self.specs if s.kind.is_numeric]

    @property
    def discrete(self) -> list[str]:
        """Categorical, binary and ordinal columns."""
        return [s.name for s in self.specs if s.kind.is_discrete]

    def slots(self, name: str) -> int:
        """Number of codes of a discrete column: its levels plus the missing slot."""
        return len(self.levels[name]) + 1

    def labels(self, name: str) -> list[str]:
        """Display labels of a discrete column's codes (the last is missing)."""
        return [str(level) for level in self.levels[name]] + [MISSING_LABEL]

    def without(self, name: str | None) -> Layout:
        """The same layout without one column."""
        return Layout(tuple(s for s in self.specs if s.name != name), self.levels)


@dataclass(frozen=True, slots=True)
class Columns:
    """One table's modelled columns: numbers (NaN = missing) or level codes (last = missing)."""

    numbers: dict[str, np.ndarray]
    codes: dict[str, np.ndarray]
    rows: int

    def subset(self, mask: np.ndarray) -> Columns:
        """The rows where ``mask`` holds."""
        return Columns(
            {k: v[mask] for k, v in self.numbers.items()},
            {k: v[mask] for k, v in self.codes.items()},
            int(np.count_nonzero(mask)),
        )

    def missing(self, layout: Layout, name: str) -> np.ndarray:
        """Missing indicator of one column."""
        if name in self.numbers:
            return np.isnan(self.numbers[name])
        return self.codes[name] == layout.slots(name) - 1


@dataclass(frozen=True, slots=True)
class Prepared:
    """The layout and the three tables as arrays."""

    layout: Layout
    members: Columns
    holdout: Columns
    synthetic: Columns


def prepared(ctx: EvaluationContext) -> Prepared:
    """The context's tables as arrays, computed once per context and shared by the metrics."""
    cached = ctx.memo.get("fidelity.prepared")
    if cached is not None:
        return cached
    encoders = [*ctx.encoder.features, ctx.encoder.target]
    levels = {e.name: tuple(e.levels) for e in encoders if isinstance(e, ChoiceEncoder)}
    specs = ctx.schema.modelled
    for spec in specs:
        if spec.kind.is_discrete and spec.name not in levels:
            values = pd.concat([t.frame[spec.name] for t in ctx.tables().values()]).dropna()
            levels[spec.name] = tuple(dict.fromkeys(values.tolist()))
    layout = Layout(specs, levels)
    result = Prepared(
        layout,
        *(table_columns(layout, ctx.tables()[role].frame) for role in _ROLES),
    )
    ctx.memo["fidelity.prepared"] = result
    return result


_ROLES = ("members", "holdout", "synthetic")


def table_columns(layout: Layout, frame: pd.DataFrame) -> Columns:
    """A table's modelled columns as arrays."""
    numbers, codes = {}, {}
    for spec in layout.specs:
        if spec.kind.is_numeric:
            numbers[spec.name] = as_numbers(frame[spec.name], spec.kind, spec.datetime_format)
        else:
            codes[spec.name] = _level_codes(frame[spec.name], layout.levels[spec.name], spec.name)
    return Columns(numbers, codes, len(frame))


def _level_codes(values: pd.Series, levels: Sequence[Any], name: str) -> np.ndarray:
    """Index of every value among ``levels``; missing gets ``len(levels)``."""
    found, uniques = pd.factorize(values, use_na_sentinel=True)
    lookup = {canonical_value(level): i for i, level in enumerate(levels)}
    mapping = []
    for value in list(uniques):
        try:
            mapping.append(lookup[canonical_value(value)])
        except KeyError:
            raise ValueError(f"Column {name!r}: value {value!r} is not a known level.") from None
    mapping.append(len(levels))  # the sentinel -1 picks this last entry: missing
    return np.asarray(mapping, dtype=np.int64)[found]


# ---------------------------------------------------------------------------------------------
# Column by column


@dataclass(frozen=True, slots=True)
class ColumnComparison:
    """One column of two tables compared on a shared grid."""

    column: str
    kind: str
    statistic: str  # "Kolmogorov–Smirnov" or "total variation"
    distance: float  # in [0, 1]
    wasserstein: float | None = None  # scaled by the real column's IQR (or range)
    scale: float | None = None
    js: float | None = None  # Jensen–Shannon distance (base 2) on the shared bins
    in_range: float | None = None  # share of synthetic values inside the real range
    plot: dict[str, Any] | None = None

    @property
    def similarity(self) -> float:
        """1 − distance."""
        return 1.0 - self.distance


def compare_columns(
    layout: Layout, real: Columns, synthetic: Columns, *, plot: bool = False
) -> list[ColumnComparison]:
    """Every column of ``layout`` in the two tables, in layout order."""
    comparisons = []
    for spec in layout.specs:
        if spec.kind.is_numeric:
            comparisons.append(
                _compare_numeric(
                    spec, real.numbers[spec.name], synthetic.numbers[spec.name], plot=plot
                )
            )
        else:
            comparisons.append(
                _compare_discrete(
                    spec,
                    real.codes[spec.name],
                    synthetic.codes[spec.name],
                    layout.labels(spec.name),
                    plot=plot,
                )
            )
    return comparisons


def _compare_numeric(
    spec: ColumnSpec, real: np.ndarray, synthetic: np.ndarray, *, plot: bool
) -> ColumnComparison:
    r = np.sort(real[~np.isnan(real)])
    s = np.sort(synthetic[~np.isnan(synthetic)])
    if r.size == 0 or s.size == 0:
        empty = 0.0 if r.size == s.size else 1.0
        details = None
        if plot:
            details = {
                "kind": spec.kind.value,
                "type": "histogram",
                "edges": [],
                "real": [],
                "synthetic": [],
                "real_missing": _share(np.isnan(real)),
                "synthetic_missing": _share(np.isnan(synthetic)),
            }
        return ColumnComparison(
            spec.name,
            spec.kind.value,
            "Kolmogorov–Smirnov",
            distance=empty,
            js=empty,
            in_range=1.0 - empty,
            plot=details,
        )
    grid = np.concatenate([r, s])
    ks = float(
        np.max(
            np.abs(
                np.searchsorted(r, grid, side="right") / r.size
                - np.searchsorted(s, grid, side="right") / s.size
            )
        )
    )
    q1, q3 = np.quantile(r, [0.25, 0.75])
    scale = float(q3 - q1) if q3 > q1 else float(r[-1] - r[0]) if r[-1] > r[0] else 1.0
    wasserstein = float(wasserstein_distance(r, s)) / scale
    edges = _shared_edges(r, s, spec.kind)
    real_hist = np.histogram(r, edges)[0] / r.size
    synthetic_hist = np.histogram(s, edges)[0] / s.size
    js = float(jensenshannon(real_hist, synthetic_hist, base=2.0))
    js = 0.0 if not np.isfinite(js) else js
    inside = np.mean((s >= r[0]) & (s <= r[-1]))
    details = None
    if plot:
        details = {
            "kind": spec.kind.value,
            "type": "histogram",
            "edges": edges.tolist(),
            "real": real_hist.tolist(),
            "synthetic": synthetic_hist.tolist(),
            "real_missing": _share(np.isnan(real)),
            "synthetic_missing": _share(np.isnan(synthetic)),
        }
    return ColumnComparison(
        spec.name,
        spec.kind.value,
        "Kolmogorov–Smirnov",
        distance=ks,
        wasserstein=wasserstein,
        scale=scale,
        js=js,
        in_range=float(inside),
        plot=details,
    )


def _shared_edges(real: np.ndarray, synthetic: np.ndarray, kind: ColumnKind) -> np.ndarray:
    """Bin edges covering both tables (never two different ranges)."""
    low = float(min(real[0], synthetic[0]))
    high = float(max(real[-1], synthetic[-1]))
    whole = kind is ColumnKind.INTEGER or (
        np.all(np.mod(real, 1) == 0) and np.all(np.mod(synthetic, 1) == 0)
    )
    if whole and high - low <= MAX_WHOLE_NUMBER_BINS:
        return np.arange(low - 0.5, high + 1.0, 1.0)
    if high == low:
        return np.array([low - 0.5, high + 0.5])
    return np.linspace(low, high, HISTOGRAM_BINS + 1)


def _compare_discrete(
    spec: ColumnSpec,
    real: np.ndarray,
    synthetic: np.ndarray,
    labels: list[str],
    *,
    plot: bool,
) -> ColumnComparison:
    slots = len(labels)
    p = _frequencies(real, slots)
    q = _frequencies(synthetic, slots)
    if real.size == 0 or synthetic.size == 0:
        tv = 0.0 if real.size == synthetic.size else 1.0
    else:
        tv = float(0.5 * np.abs(p - q).sum())
    details = None
    if plot:
        keep = (p > 0) | (q > 0)
        keep[:-1] = True  # every declared level is shown; missing only where it occurs
        details = {
            "kind": spec.kind.value,
            "type": "levels",
            "levels": [label for label, k in zip(labels, keep, strict=True) if k],
            "real": p[keep].tolist(),
            "synthetic": q[keep].tolist(),
        }
    return ColumnComparison(spec.name, spec.kind.value, "total variation", tv, plot=details)


def _frequencies(codes: np.ndarray, slots: int) -> np.ndarray:
    counts = np.bincount(codes, minlength=slots).astype(float)
    return counts / max(codes.size, 1)


def _share(flags: np.ndarray) -> float:
    return float(np.mean(flags)) if flags.size else 0.0


def marginal_similarity(comparisons: Sequence[ColumnComparison]) -> float:
    """Mean over columns of 1 − distance (1 when there are no columns)."""
    if not comparisons:
        return 1.0
    return float(np.mean([c.similarity for c in comparisons]))


def column_distances(ctx: EvaluationContext) -> MetricResult:
    """Per-column distances real (members) vs synthetic on shared grids; headline similarity."""
    data = prepared(ctx)
    comparisons = compare_columns(data.layout, data.members, data.synthetic, plot=True)
    baseline = compare_columns(data.layout, data.members, data.holdout)
    rows = [
        {
            "column": c.column,
            "kind": c.kind,
            "statistic": c.statistic,
            "value": c.distance,
            "similarity": c.similarity,
            "wasserstein": c.wasserstein,
            "wasserstein_scale": c.scale,
            "baseline_similarity": b.similarity,
        }
        for c, b in zip(comparisons, baseline, strict=True)
    ]
    return MetricResult(
        key="fidelity.marginal_similarity",
        name="Marginal similarity (column by column)",
        family=Family.FIDELITY,
        value=marginal_similarity(comparisons),
        ideal=1.0,
        direction=Direction.HIGHER,
        meaning=(
            "How alike each column's distribution is in the real training rows and the synthetic "
            "table, averaged over columns: 1 minus the Kolmogorov–Smirnov statistic (largest gap "
            "between the two cumulative distributions) for numbers and dates, 1 minus the total "
            "variation distance (share of rows that would have to change level) for categories, "
            "where a missing value counts as a level of its own. Both tables are binned on the "
            "same grid. For numbers the Wasserstein distance (how far values must move, in units "
            "of the real column's interquartile range) is listed too; missing numbers are "
            "compared in the missing-value pattern. 1 means identical marginals."
        ),
        baseline=marginal_similarity(baseline),
        baseline_meaning=(
            f"The same score between the holdout ({len(ctx.holdout):,} real rows the generator "
            f"never saw) and the {len(ctx.members):,} training rows: what two real samples "
            "score. A synthetic table near this value is as close as sampling noise allows."
        ),
        details={
            "columns": rows,
            "distributions": {c.column: c.plot for c in comparisons},
        },
    )


# ---------------------------------------------------------------------------------------------
# Pair by pair


def association_matrix(layout: Layout, table: Columns) -> np.ndarray:
    """Association of every pair of columns, in layout order (diagonal 1).

    Spearman between numbers (Pearson on each column's ranks, pairwise-complete rows),
    bias-corrected Cramér's V between categories (missing is a level), correlation ratio η of a
    number's ranks grouped by a category (rows where the number is present). Undefined values (a
    constant column, fewer than three rows) are 0: a column that does not vary carries no
    association.

    Numbers enter as ranks because clinical measurements have heavy tails: on raw values one
    turnaround time of 61,370 hours among 10,656 tests (COVID-19 table) set the η of three
    categories with that column to 0.04 or less, and dropping that row and two others moved
    them to 0.38–0.49. Ranks give the same association with or without those rows.
    """
    names = [s.name for s in layout.specs]
    index = {name: i for i, name in enumerate(names)}
    matrix = np.eye(len(names))
    numeric, discrete = layout.numeric, layout.discrete
    if numeric:
        block = _ranked_numbers(layout, table)
        positions = [index[n] for n in numeric]
        matrix[np.ix_(positions, positions)] = pairwise_pearson(block)
        present = ~np.isnan(block)
        centred = _standardised(block)
        for name in discrete:
            eta = _correlation_ratios(table.codes[name], layout.slots(name), centred, present)
            matrix[index[name], positions] = eta
            matrix[positions, index[name]] = eta
    for a_pos, a in enumerate(discrete):
        for b in discrete[a_pos + 1 :]:
            table_ab = contingency(table.codes[a], table.codes[b], layout.slots(a), layout.slots(b))
            v = cramers_v(table_ab)
            matrix[index[a], index[b]] = matrix[index[b], index[a]] = v
    return matrix


def association_measures(layout: Layout) -> list[list[str]]:
    """Which measure each cell of :func:`association_matrix` uses."""
    kinds = ["numeric" if s.kind.is_numeric else "discrete" for s in layout.specs]
    return [
        [
            SPEARMAN
            if a == b == "numeric"
            else CRAMERS_V
            if a == b == "discrete"
            else CORRELATION_RATIO
            for b in kinds
        ]
        for a in kinds
    ]


def _ranked_numbers(layout: Layout, table: Columns) -> np.ndarray:
    """The numeric columns (layout order) as average ranks of their present values (NaN stays
    NaN): the form in which every association involving a number is measured."""
    block = np.column_stack([table.numbers[n] for n in layout.numeric])
    ranked = np.full(block.shape, np.nan)
    for j in range(block.shape[1]):
        present = ~np.isnan(block[:, j])
        ranked[present, j] = rankdata(block[present, j])
    return ranked


def _standardised(block: np.ndarray) -> np.ndarray:
    """Columns centred and scaled on their present values; missing entries become 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        present = ~np.isnan(block)
        counts = present.sum(axis=0)
        filled = np.where(present, block, 0.0)
        mean = filled.sum(axis=0) / np.maximum(counts, 1)
        centred = np.where(present, block - mean, 0.0)
        spread = np.sqrt((centred**2).sum(axis=0) / np.maximum(counts, 1))
        spread = np.where(spread > 0, spread, 1.0)
    return centred / spread


def pairwise_pearson(block: np.ndarray) -> np.ndarray:
    """Pearson correlation of every pair of columns on the rows where both are present.

    Vectorised with matrix products: sums over pairwise-complete rows are ``X'M`` and ``X'X``
    where ``X`` holds the (standardised) values with missing set to 0 and ``M`` the presence
    mask.
    """
    present = (~np.isnan(block)).astype(float)
    x = _standardised(block)
    n = present.T @ present
    sx = x.T @ present  # [i, j]: sum of column i over rows where i and j are present
    sxx = (x * x).T @ present
    sxy = x.T @ x
    with np.errstate(invalid="ignore", divide="ignore"):
        safe_n = np.maximum(n, 1.0)
        covariance = sxy - sx * sx.T / safe_n
        var_i = sxx - sx**2 / safe_n
        var_j = var_i.T
        r = covariance / np.sqrt(var_i * var_j)
    tiny = 1e-12 * np.maximum(n, 1.0)
    undefined = (n < MIN_PAIR_ROWS) | (var_i <= tiny) | (var_j <= tiny) | ~np.isfinite(r)
    r = np.clip(np.where(undefined, 0.0, r), -1.0, 1.0)
    np.fill_diagonal(r, 1.0)
    return r


def _correlation_ratios(
    codes: np.ndarray, slots: int, centred: np.ndarray, present: np.ndarray
) -> np.ndarray:
    """η of every numeric column (standardised, 0 where missing) grouped by one category."""
    rows = codes.size
    if rows == 0:
        return np.zeros(centred.shape[1])
    one_hot = sparse.csr_matrix((np.ones(rows), (codes, np.arange(rows))), shape=(slots, rows))
    counts = np.asarray(one_hot @ present.astype(float))
    sums = np.asarray(one_hot @ centred)
    squares = np.asarray(one_hot @ (centred * centred))
    total_n = counts.sum(axis=0)
    total_s = sums.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        grand = total_s**2 / np.maximum(total_n, 1.0)
        ss_total = squares.sum(axis=0) - grand
        between = np.where(counts > 0, sums**2 / np.maximum(counts, 1.0), 0.0).sum(axis=0)
        ratio = (between - grand) / ss_total
    defined = (total_n >= MIN_PAIR_ROWS) & (ss_total > 1e-12 * np.maximum(total_n, 1.0))
    return np.sqrt(np.clip(np.where(defined, ratio, 0.0), 0.0, 1.0))


def contingency(a: np.ndarray, b: np.ndarray, slots_a: int, slots_b: int) -> np.ndarray:
    """Counts of every pair of codes (rows: ``a``, columns: ``b``)."""
    if slots_a * slots_b <= 4_000_000:
        counts = np.bincount(a * slots_b + b, minlength=slots_a * slots_b)
        return counts.reshape(slots_a, slots_b).astype(float)
    # Many levels on both sides: only the combinations that occur (empty rows and columns
    # change neither Cramér's V nor the mutual information).
    pairs, counts = np.unique(a.astype(np.int64) * slots_b + b, return_counts=True)
    kept_a, ia = np.unique(pairs // slots_b, return_inverse=True)
    kept_b, ib = np.unique(pairs % slots_b, return_inverse=True)
    table = np.zeros((kept_a.size, kept_b.size))
    table[ia, ib] = counts
    return table


def cramers_v(table: np.ndarray) -> float:
    """Bias-corrected Cramér's V of a contingency table (Bergsma, 2013).

    Rows and columns without counts are dropped first; a table with one row or one column left
    (a constant variable) gives 0.
    """
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    n = table.sum()
    r, k = table.shape
    if r < 2 or k < 2 or n < 2:
        return 0.0
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    phi2 = max(0.0, chi2 / n - (k - 1) * (r - 1) / (n - 1))
    r_corrected = r - (r - 1) ** 2 / (n - 1)
    k_corrected = k - (k - 1) ** 2 / (n - 1)
    denominator = min(k_corrected - 1, r_corrected - 1)
    if denominator <= 0:
        return 0.0
    return float(min(1.0, np.sqrt(phi2 / denominator)))


def normalised_mutual_information(table: np.ndarray) -> float:
    """Mutual information over the mean of the two entropies (scikit-learn's default).

    A constant variable carries no information: 0.
    """
    n = table.sum()
    if n <= 0:
        return 0.0
    p = table / n
    pa, pb = p.sum(axis=1), p.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p / np.outer(pa, pb)), 0.0)
        ha = -np.sum(np.where(pa > 0, pa * np.log(pa), 0.0))
        hb = -np.sum(np.where(pb > 0, pb * np.log(pb), 0.0))
    mean_entropy = (ha + hb) / 2.0
    if ha <= 0 or hb <= 0 or mean_entropy <= 0:
        return 0.0
    return float(np.clip(terms.sum() / mean_entropy, 0.0, 1.0))


def _mean_pair_difference(a: np.ndarray, b: np.ndarray) -> float:
    upper = np.triu_indices(a.shape[0], k=1)
    if upper[0].size == 0:
        return 0.0
    return float(np.mean(np.abs(a[upper] - b[upper])))


def association_difference(ctx: EvaluationContext) -> MetricResult:
    """Association matrices real | synthetic | difference; headline mean absolute difference."""
    data = prepared(ctx)
    layout = data.layout
    real = association_matrix(layout, data.members)
    synthetic = association_matrix(layout, data.synthetic)
    holdout = association_matrix(layout, data.holdout)
    columns = [s.name for s in layout.specs]
    pairs = len(columns) * (len(columns) - 1) // 2
    note = "" if pairs else " There is only one modelled column, so there are no pairs."
    return MetricResult(
        key="fidelity.association_difference",
        name="Association difference (pairs of columns)",
        family=Family.FIDELITY,
        value=_mean_pair_difference(real, synthetic),
        ideal=0.0,
        direction=Direction.LOWER,
        meaning=(
            "How differently pairs of columns go together in the real training rows and the "
            "synthetic table: the mean, over all pairs of columns, of the absolute difference "
            "between the real and the synthetic association. Associations are Spearman's rank "
            "correlation for two numbers (rows where both are present), bias-corrected Cramér's "
            "V for two categories (missing is a level), and the correlation ratio η of a "
            "number's ranks grouped by a category. Ranks keep a few extreme values from "
            "deciding the association of a whole column. 0 means every pair relates exactly as "
            "in the real data; 0.1 means associations are off by 0.1 on average (on a scale "
            "where 1 is a perfect relation)." + note
        ),
        baseline=_mean_pair_difference(real, holdout),
        baseline_meaning=(
            "The same difference between the holdout (real rows the generator never saw) and "
            "the training rows: the part of the difference that sampling noise alone produces."
        ),
        details={
            "columns": columns,
            "real": real.tolist(),
            "synthetic": synthetic.tolist(),
            "difference": (synthetic - real).tolist(),
            "measures": association_measures(layout),
            "pairs": pairs,
        },
    )


# ---------------------------------------------------------------------------------------------
# Missing values


def _missing_block(layout: Layout, table: Columns, names: Sequence[str]) -> np.ndarray:
    if not names:
        return np.zeros((table.rows, 0), dtype=bool)
    return np.column_stack([table.missing(layout, n) for n in names])


def _column_means(block: np.ndarray) -> np.ndarray:
    return block.mean(axis=0) if len(block) else np.zeros(block.shape[1])


def _indicator_correlation(block: np.ndarray) -> np.ndarray:
    """Pearson correlation of missing indicators (0 where an indicator is constant)."""
    return pairwise_pearson(block.astype(float))


def missingness_similarity(ctx: EvaluationContext) -> MetricResult:
    """Missing rates and co-missingness, real (members) vs synthetic."""
    data = prepared(ctx)
    layout = data.layout
    names_all = [s.name for s in layout.specs]
    blocks = {role: _missing_block(layout, getattr(data, role), names_all) for role in _ROLES}
    rates = {role: _column_means(block) for role, block in blocks.items()}
    affected = [
        i
        for i in range(len(names_all))
        if blocks["members"][:, i].any() or blocks["synthetic"][:, i].any()
    ]
    columns = [names_all[i] for i in affected]
    key, name = "fidelity.missingness_similarity", "Missing-value pattern similarity"
    if not affected:
        return MetricResult(
            key=key,
            name=name,
            family=Family.FIDELITY,
            value=1.0,
            ideal=1.0,
            direction=Direction.HIGHER,
            meaning=(
                "No column has missing values in the real training rows or in the synthetic "
                "table, so the missing-value pattern is trivially the same (1.0)."
            ),
            details={
                "columns": [],
                "real_rates": [],
                "synthetic_rates": [],
                "holdout_rates": [],
                "rate_difference": 0.0,
                "co_missingness_real": [],
                "co_missingness_synthetic": [],
                "co_missingness_difference": 0.0,
            },
        )
    real_rates = rates["members"][affected]
    synthetic_rates = rates["synthetic"][affected]
    holdout_rates = rates["holdout"][affected]
    rate_difference = float(np.mean(np.abs(real_rates - synthetic_rates)))
    co_real = _indicator_correlation(blocks["members"][:, affected])
    co_synthetic = _indicator_correlation(blocks["synthetic"][:, affected])
    return MetricResult(
        key=key,
        name=name,
        family=Family.FIDELITY,
        value=1.0 - rate_difference,
        ideal=1.0,
        direction=Direction.HIGHER,
        meaning=(
            f"Whether values are missing as often in the synthetic table as in the real "
            f"training rows: 1 minus the mean absolute difference of the missing rates over the "
            f"{len(columns)} column(s) with missing values in either table (1 = the same rates; "
            "0.95 = rates off by 5 percentage points on average). Whether values tend to be "
            "missing together (co-missingness: the correlation between the columns' missing "
            "indicators) is compared in the details; missing values are never imputed away."
        ),
        baseline=1.0 - float(np.mean(np.abs(real_rates - holdout_rates))),
        baseline_meaning=(
            "The same score between the holdout (real rows the generator never saw) and the "
            "training rows: what two real samples score."
        ),
        details={
            "columns": columns,
            "real_rates": real_rates.tolist(),
            "synthetic_rates": synthetic_rates.tolist(),
            "holdout_rates": holdout_rates.tolist(),
            "rate_difference": rate_difference,
            "co_missingness_real": co_real.tolist(),
            "co_missingness_synthetic": co_synthetic.tolist(),
            "co_missingness_difference": _mean_pair_difference(co_real, co_synthetic),
        },
    )


# ---------------------------------------------------------------------------------------------
# Detection


def _design(table: Any, classes: int) -> np.ndarray:
    """Features plus the target's one-hot block (the class is part of the row)."""
    if table.labels is None:
        return np.asarray(table.features, dtype=np.float32)
    target = np.eye(classes + 1, dtype=np.float32)[table.labels]
    return np.hstack([np.asarray(table.features, dtype=np.float32), target])


def _detection_folds(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Fold of every row: stratified by side, and identical rows always in the same fold.

    Without grouping, a copied row in the test fold meets its own twin, labelled the other way,
    in the training folds, and the classifier scores it backwards (AUC far below 0.5).
    """
    hashes = pd.util.hash_pandas_object(pd.DataFrame(x), index=False).to_numpy()
    _, group = np.unique(hashes, return_inverse=True)
    sides = np.zeros((group.max() + 1, 2), dtype=bool)
    sides[group, y] = True
    stratum = sides[:, 0].astype(int) + 2 * sides[:, 1].astype(
        int
    )  # 1: real, 2: synthetic, 3: both
    group_fold = np.zeros(len(sides), dtype=np.int64)
    for value in (1, 2, 3):
        members = rng.permutation(np.flatnonzero(stratum == value))
        group_fold[members] = np.arange(members.size) % DETECTION_FOLDS
    return group_fold[group]


def _auc_groups(scores: np.ndarray) -> np.ndarray:
    """Rank group of every score (ties share a group)."""
    return np.unique(scores, return_inverse=True)[1]


def _auc(groups: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC from score groups (ties count half); NaN if a class is absent."""
    size = int(groups.max()) + 1 if groups.size else 0
    positive = np.bincount(groups[labels == 1], minlength=size).astype(float)
    negative = np.bincount(groups[labels == 0], minlength=size).astype(float)
    total_p, total_n = positive.sum(), negative.sum()
    if total_p == 0 or total_n == 0:
        return float("nan")
    below = np.cumsum(negative) - negative
    return float((positive * (below + 0.5 * negative)).sum() / (total_p * total_n))


def _roc_points(groups: np.ndarray, labels: np.ndarray) -> dict[str, list[float]]:
    size = int(groups.max()) + 1
    positive = np.bincount(groups[labels == 1], minlength=size)[::-1]
    negative = np.bincount(groups[labels == 0], minlength=size)[::-1]
    tpr = np.concatenate([[0.0], np.cumsum(positive) / max(positive.sum(), 1)])
    fpr = np.concatenate([[0.0], np.cumsum(negative) / max(negative.sum(), 1)])
    if fpr.size > ROC_POINTS:
        keep = np.unique(np.linspace(0, fpr.size - 1, ROC_POINTS).round().astype(int))
        fpr, tpr = fpr[keep], tpr[keep]
    return {"fpr": fpr.tolist(), "tpr": tpr.tolist()}


def detection_auc(ctx: EvaluationContext) -> MetricResult:
    """Cross-validated ROC AUC of a classifier telling real (members) from synthetic rows."""
    rng = np.random.default_rng(ctx.seed)
    size = min(len(ctx.members), len(ctx.synthetic), DETECTION_CAP)
    key = "fidelity.detection_auc"
    name = "Detection AUC (real vs synthetic classifier)"
    meaning = (
        "Can a classifier tell real training rows from synthetic rows? A gradient-boosted tree "
        f"model (scikit-learn HistGradientBoostingClassifier) is trained on {size:,} rows of each "
        f"(the larger table subsampled, at most {DETECTION_CAP:,} each) with "
        f"{DETECTION_FOLDS}-fold stratified cross-validation (identical rows kept in one fold, so "
        "a copied row is never recognised by its own twin); the figure is the ROC AUC of the "
        "out-of-fold scores. 0.5 means it cannot tell them apart (ideal); 1.0 means every "
        "synthetic row is recognisable. The source paper called this a membership inference "
        "attack, but it is a detection test: it says nothing about whether a given patient was "
        "in the training data (see the privacy audit for genuine membership attacks). Values "
        "clearly below 0.5 are as suspicious as values above: the classifier learned a "
        "difference and inverted it across folds."
    )
    if size < 2 * DETECTION_FOLDS:
        return MetricResult(
            key=key,
            name=name,
            family=Family.FIDELITY,
            value=float("nan"),
            ideal=0.5,
            direction=Direction.TOWARD_IDEAL,
            meaning=meaning + f" Not computed: fewer than {2 * DETECTION_FOLDS} rows per side.",
            baseline=0.5,
            baseline_meaning="0.5: the classifier cannot tell real from synthetic rows.",
        )
    classes = len(ctx.classes)
    real_rows = rng.choice(len(ctx.members), size, replace=False)
    synthetic_rows = rng.choice(len(ctx.synthetic), size, replace=False)
    x = np.vstack(
        [
            _design(ctx.members, classes)[real_rows],
            _design(ctx.synthetic, classes)[synthetic_rows],
        ]
    )
    y = np.concatenate([np.zeros(size, dtype=np.int64), np.ones(size, dtype=np.int64)])
    fold = _detection_folds(x, y, np.random.default_rng(ctx.seed + 1))
    scores = np.zeros(len(y))
    fold_aucs = []
    # One OpenMP thread: on a busy 2-core machine, spinning threads make the fits 10-50x slower.
    with threadpool_limits(1, user_api="openmp"):
        for k in range(DETECTION_FOLDS):
            test = fold == k
            model = HistGradientBoostingClassifier(
                max_iter=50,
                learning_rate=0.2,
                max_leaf_nodes=15,
                max_bins=64,
                early_stopping=False,
                random_state=ctx.seed,
            )
            model.fit(x[~test], y[~test])
            scores[test] = model.predict_proba(x[test])[:, 1]
            fold_aucs.append(_auc(_auc_groups(scores[test]), y[test]))
    groups = _auc_groups(scores)
    return MetricResult(
        key=key,
        name=name,
        family=Family.FIDELITY,
        value=_auc(groups, y),
        ideal=0.5,
        direction=Direction.TOWARD_IDEAL,
        meaning=meaning,
        baseline=0.5,
        baseline_meaning="0.5: the classifier cannot tell real from synthetic rows.",
        interval=bootstrap_interval(_auc, (groups, y), seed=ctx.seed),
        details={
            "roc": _roc_points(groups, y),
            "fold_aucs": fold_aucs,
            "rows_per_side": size,
            "folds": DETECTION_FOLDS,
            "features": int(x.shape[1]),
            "classifier": "HistGradientBoostingClassifier(max_iter=50, learning_rate=0.2, "
            "max_leaf_nodes=15, max_bins=64)",
        },
    )


# ---------------------------------------------------------------------------------------------
# The source paper's composite quality score Q


def _spearman(layout: Layout, table: Columns) -> np.ndarray:
    if not layout.numeric:
        return np.zeros((0, 0))
    return pairwise_pearson(_ranked_numbers(layout, table))


def _nmi_matrix(layout: Layout, table: Columns) -> np.ndarray:
    names = layout.discrete
    matrix = np.eye(len(names))
    for i, a in enumerate(names):
        for j in range(i + 1, len(names)):
            b = names[j]
            counts = contingency(table.codes[a], table.codes[b], layout.slots(a), layout.slots(b))
            matrix[i, j] = matrix[j, i] = normalised_mutual_information(counts)
    return matrix


def _rare_events(
    layout: Layout, real: Columns, synthetic: Columns
) -> tuple[float, list[dict[str, Any]]]:
    """Outlier rates (1.5·IQR fences of the real column) and frequencies of rare levels.

    Each item scores 1 − |real rate − synthetic rate|, as the paper's notebooks compare rates.
    Rates of rare events are small, so this part is always near 1; whether rare levels survive
    at all is measured on its own scale by ``minority.rare_category_coverage``.
    """
    items: list[dict[str, Any]] = []
    for name in layout.numeric:
        r = real.numbers[name][~np.isnan(real.numbers[name])]
        s = synthetic.numbers[name][~np.isnan(synthetic.numbers[name])]
        if r.size == 0:
            continue
        q1, q3 = np.quantile(r, [0.25, 0.75])
        low, high = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
        real_rate = float(np.mean((r < low) | (r > high)))
        synthetic_rate = float(np.mean((s < low) | (s > high))) if s.size else 0.0
        items.append(_rare_item(name, "outliers (1.5·IQR rule)", real_rate, synthetic_rate))
    for name in layout.discrete:
        slots = layout.slots(name)
        p = _frequencies(real.codes[name], slots)[:-1]
        q = _frequencies(synthetic.codes[name], slots)[:-1]
        labels = layout.labels(name)
        for level in np.flatnonzero((p > 0) & (p < RARE_SHARE)):
            items.append(
                _rare_item(name, f"level {labels[level]}", float(p[level]), float(q[level]))
            )
    if not items:
        return 1.0, items
    return float(np.mean([i["similarity"] for i in items])), items


def _rare_item(column: str, item: str, real: float, synthetic: float) -> dict[str, Any]:
    return {
        "column": column,
        "item": item,
        "real": real,
        "synthetic": synthetic,
        "similarity": 1.0 - abs(real - synthetic),
    }


def _coverage(
    layout: Layout, real: Columns, synthetic: Columns
) -> tuple[float, int, list[dict[str, str]]]:
    """Share of (column, level) pairs seen among the real rows that the synthetic rows have."""
    total, lost = 0, []
    for name in layout.discrete:
        slots = layout.slots(name)
        p = np.bincount(real.codes[name], minlength=slots)[:-1]
        q = np.bincount(synthetic.codes[name], minlength=slots)[:-1]
        labels = layout.labels(name)
        total += int(np.count_nonzero(p))
        lost += [{"column": name, "level": labels[i]} for i in np.flatnonzero((p > 0) & (q == 0))]
    if total == 0:
        return 1.0, 0, lost
    return 1.0 - len(lost) / total, total, lost


def _quality(layout: Layout, real: Columns, synthetic: Columns) -> dict[str, Any]:
    comparisons = compare_columns(layout, real, synthetic)
    per_column = []
    for c in comparisons:
        if c.js is not None and c.in_range is not None:
            score = float(np.mean([1.0 - c.distance, 1.0 - c.js, c.in_range]))
            row = {"ks": c.distance, "js": c.js, "in_range": c.in_range, "tv": None}
        else:
            score = 1.0 - c.distance
            row = {"ks": None, "js": None, "in_range": None, "tv": c.distance}
        per_column.append({"column": c.column, "kind": c.kind, **row, "score": score})
    distribution = float(np.mean([r["score"] for r in per_column])) if per_column else 1.0
    parts: dict[str, float | None] = {"numeric_spearman": None, "categorical_nmi": None}
    if len(layout.numeric) > 1:
        parts["numeric_spearman"] = 1.0 - _mean_pair_difference(
            _spearman(layout, real), _spearman(layout, synthetic)
        )
    if len(layout.discrete) > 1:
        parts["categorical_nmi"] = 1.0 - _mean_pair_difference(
            _nmi_matrix(layout, real), _nmi_matrix(layout, synthetic)
        )
    known = [v for v in parts.values() if v is not None]
    association = float(np.mean(known)) if known else 1.0
    rare, rare_items = _rare_events(layout, real, synthetic)
    coverage, levels, lost = _coverage(layout, real, synthetic)
    components = {
        "distribution": distribution,
        "association": association,
        "rare_events": rare,
        "coverage": coverage,
    }
    return {
        "q": float(np.mean(list(components.values()))),
        "components": components,
        "association_parts": parts,
        "columns": per_column,
        "rare_events": rare_items,
        "coverage": {"levels": levels, "missing_levels": lost},
    }


def quality_score(ctx: EvaluationContext) -> MetricResult:
    """The source paper's composite quality score Q in [0, 1] (METHOD.md §2)."""
    data = prepared(ctx)
    result = _quality(data.layout, data.members, data.synthetic)
    baseline = _quality(data.layout, data.members, data.holdout)
    return MetricResult(
        key="fidelity.quality_score",
        name="Composite quality score Q (source paper)",
        family=Family.FIDELITY,
        value=result["q"],
        ideal=1.0,
        direction=Direction.HIGHER,
        meaning=(
            "The source paper's overall quality score, kept for comparison with the paper: the "
            "mean of four parts, each between 0 and 1. Distribution: per column, the mean of "
            "1 − Kolmogorov–Smirnov, 1 − Jensen–Shannon distance (shared bins) and the share of "
            "synthetic values inside the real range for numbers, 1 − total variation for "
            "categories. Association: 1 − mean |Spearman real − Spearman synthetic| over pairs "
            "of numbers, 1 − mean |NMI real − NMI synthetic| over pairs of categories, averaged. "
            "Rare events: outlier rates (1.5·IQR rule) and frequencies of categories rarer than "
            "1 %, each scored as 1 − |real rate − synthetic rate| (so this part stays near 1; see "
            "rare-category coverage for whether rare levels survive). "
            "Coverage: share of the real categories that occur in the synthetic table. 1 means "
            "indistinguishable on all four; a single number hides which part is weak, so read "
            "the parts."
        ),
        baseline=baseline["q"],
        baseline_meaning=(
            "Q between the holdout (real rows the generator never saw) and the training rows: "
            "what two real samples score."
        ),
        details={
            "components": result["components"],
            "association_parts": result["association_parts"],
            "baseline_components": baseline["components"],
            "columns": result["columns"],
            "rare_events": result["rare_events"],
            "coverage": result["coverage"],
        },
    )


def fidelity_metrics(ctx: EvaluationContext) -> list[MetricResult]:
    """Every fidelity metric, in the order the report shows them."""
    return [
        column_distances(ctx),
        association_difference(ctx),
        missingness_similarity(ctx),
        detection_auc(ctx),
        quality_score(ctx),
    ]
