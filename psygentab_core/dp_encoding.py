"""The encoder's statistics under differential privacy.

:func:`psygentab_core.encoding.fit_encoder` reads exact statistics of the training rows: every
distinct value of a numeric column as a quantile knot, the observed levels of every category,
which columns have missing values, the class shares. Each of these can single out a patient (a
rare level, an extreme value), so in DP mode :func:`fit_dp_encoder` replaces every one of them by
either information the user declared public or the output of a DP mechanism charged to the run's
budget. Mechanisms (neighbouring tables differ by adding or removing one training row, so every
histogram below has sensitivity 1 and Laplace noise of scale 1/ε makes it ε-DP):

* **Numeric range** (unless declared in ``DpConfig.public_bounds``): a Laplace histogram over a
  fixed grid of magnitudes (two bins per power of two, either sign, from 2⁻⁸ to 2⁴⁰); the range
  runs from the lowest to the highest bin whose noisy count clears a threshold that some empty
  bin passes with probability below 1 % (the approach of Google's DP library, ``ApproxBounds``).
  Half the column's ε.
* **Numeric quantiles**: a Laplace histogram of the values, clipped to the range, in equal bins
  (unit bins centred on whole numbers for integer columns of narrow range); its cumulative sums
  give the quantile map. The rest of the column's ε.
* **Levels of a category** (unless declared in the schema, or ``public_categories``): the stable
  histogram (Korolova et al. 2009; Bun, Nissim and Stemmer 2016): each observed level's count
  plus Laplace(1/ε) noise; a level is kept when that exceeds 1 + ln(1/(2δ))/ε, so that a level
  held by one patient shows with probability at most δ. (ε, δ)-DP.
* **Class shares of the target**: the noisy counts of its levels (the same histogram when the
  levels were found by it, a Laplace histogram of the declared levels otherwise).

What is data-independent costs nothing: every column gets a missing flag (the generator learns
how often it is used), no level is marked as unseen, and levels dropped by the stable histogram
are encoded as missing. Everything else is post-processing of the noisy outputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri

from psygentab_core.dp import BudgetSplit, Coverage, DpConfig, LedgerEntry, split_budget
from psygentab_core.encoding import (
    ChoiceEncoder,
    ColumnEncoder,
    NumericEncoder,
    TableEncoder,
    as_numbers,
    canonical_value,
    fitted_levels,
    plain_value,
    sorted_levels,
)
from psygentab_core.errors import ConfigError
from psygentab_core.schema import ColumnKind, ColumnSpec, TableSchema

GRID_BINS_PER_OCTAVE = 2
GRID_MIN_EXPONENT = -8
GRID_MAX_EXPONENT = 40
# The chance that some empty bin of the range grid clears the threshold (a utility setting: it
# decides how wide the range may come out, not what is private).
RANGE_FAILURE = 0.01
QUANTILE_BINS = 32
# Integer columns spanning at most this many whole numbers get one bin per number.
MAX_UNIT_BINS = 64
# Mass spread evenly over the quantile bins so that the map stays strictly increasing: a share
# of the noisy total, so it is post-processing.
FLOOR_SHARE = 0.01


class RangeNotFound(Exception):
    """No DP range of a numeric column cleared the noise."""

    def __init__(self, column: str) -> None:
        super().__init__(column)
        self.column = column


@dataclass(frozen=True, slots=True)
class DpPreprocessing:
    """The DP encoder, the DP class shares and the ledger entries of how they were made."""

    encoder: TableEncoder
    class_shares: tuple[float, ...]
    budget: BudgetSplit
    entries: tuple[LedgerEntry, ...]
    rows: int


@dataclass(frozen=True, slots=True)
class ColumnCharge:
    """What one column's statistics cost: whether it needs ε, and whether also a δ."""

    charged: bool
    thresholded: bool


def column_charge(spec: ColumnSpec, *, target: str | None, dp: DpConfig) -> ColumnCharge:
    """Which statistics of a column must be estimated privately (decided from the schema and
    the configuration only, never from the data)."""
    if spec.kind.is_numeric:
        return ColumnCharge(charged=True, thresholded=False)
    public_levels = spec.levels is not None or dp.public_categories
    if spec.name == target:
        return ColumnCharge(charged=True, thresholded=not public_levels)
    return ColumnCharge(charged=not public_levels, thresholded=not public_levels)


def plan_budget(schema: TableSchema, dp: DpConfig, *, rows: int) -> BudgetSplit:
    """The budget split of a run on ``rows`` training rows with this schema."""
    charges = [column_charge(s, target=schema.target, dp=dp) for s in schema.modelled]
    return split_budget(
        dp,
        rows=rows,
        charged_columns=sum(c.charged for c in charges),
        thresholded_columns=sum(c.thresholded for c in charges),
    )


def fit_dp_encoder(
    schema: TableSchema, members: pd.DataFrame, *, dp: DpConfig, rng: np.random.Generator
) -> DpPreprocessing:
    """The encoder of ``members`` (the training rows) from public information and DP estimates.

    Reads ``members`` only through the mechanisms listed in the module's docstring; the returned
    entries (one per modelled column) say which each column used and what it cost.
    """
    rows = len(members)
    budget = plan_budget(schema, dp, rows=rows)
    charges = {s.name: column_charge(s, target=schema.target, dp=dp) for s in schema.modelled}
    charged = sum(c.charged for c in charges.values())
    thresholded = sum(c.thresholded for c in charges.values())
    column_epsilon = budget.preprocessing_epsilon / charged if charged else 0.0
    column_delta = budget.preprocessing_delta / thresholded if thresholded else 0.0
    features: list[ColumnEncoder] = []
    entries: list[LedgerEntry] = []
    target: ChoiceEncoder | None = None
    shares: tuple[float, ...] = ()
    rangeless: list[str] = []
    for spec in schema.modelled:
        charge = charges[spec.name]
        epsilon = column_epsilon if charge.charged else 0.0
        delta = column_delta if charge.thresholded else 0.0
        values = members[spec.name]
        if spec.kind.is_numeric:
            try:
                encoder, entry = _numeric(spec, values, dp=dp, epsilon=epsilon, rng=rng)
            except RangeNotFound as missing:
                rangeless.append(missing.column)
                continue
        else:
            is_target = spec.name == schema.target
            encoder, entry, counts = _choice(
                spec, values, dp=dp, epsilon=epsilon, delta=delta, rng=rng, target=is_target
            )
            if is_target:
                target, shares = encoder, _class_shares(encoder, counts, spec.name)
                entries.append(entry)
                continue
        features.append(encoder)
        entries.append(entry)
    if rangeless:
        raise ConfigError(
            f"With {rows} training rows and ε = {column_epsilon:.3g} per column, no range of "
            f"{', '.join(repr(c) for c in rangeless)} stands out from the privacy noise. Declare "
            "their ranges public (dp.public_bounds, or --public-bounds COLUMN=LOW:HIGH on the "
            "command line, e.g. clinical limits), or raise ε."
        )
    return DpPreprocessing(
        encoder=TableEncoder(schema=schema, features=tuple(features), target=target),
        class_shares=shares,
        budget=budget,
        entries=tuple(entries),
        rows=rows,
    )


# ---------------------------------------------------------------------------------------------
# Numeric columns


def magnitude_grid() -> np.ndarray:
    """Edges of the fixed range grid: ±2^k for k from 2⁻⁸ to 2⁴⁰ in half-octave steps, with one
    bin around zero."""
    exponents = np.arange(
        GRID_MIN_EXPONENT, GRID_MAX_EXPONENT + 1e-9, 1.0 / GRID_BINS_PER_OCTAVE, dtype=float
    )
    positive = 2.0**exponents
    return np.concatenate([-positive[::-1], positive])


def laplace_histogram(
    values: np.ndarray, edges: np.ndarray, *, epsilon: float, rng: np.random.Generator
) -> np.ndarray:
    """Counts of ``values`` (clipped into the edges) in each bin, plus Laplace(1/ε) noise.

    Adding or removing one row moves one count by one, so this is ε-DP.
    """
    clipped = np.clip(values, edges[0], edges[-1])
    counts, _ = np.histogram(clipped, bins=edges)
    return counts + rng.laplace(0.0, 1.0 / epsilon, size=counts.size)


def range_threshold(bins: int, epsilon: float) -> float:
    """The noisy count an empty bin exceeds with probability below ``RANGE_FAILURE`` across all
    ``bins``: P(Laplace(1/ε) > τ) = e^(−ετ)/2, summed over the bins."""
    return math.log(bins / (2.0 * RANGE_FAILURE)) / epsilon


def approx_range(
    values: np.ndarray, *, epsilon: float, rng: np.random.Generator
) -> tuple[float, float] | None:
    """A DP range of ``values`` from a Laplace histogram on :func:`magnitude_grid`, or None
    when no bin clears the threshold: with too few rows for this ε no range can be told from
    the noise, and a range drawn from noise would be worse than none."""
    edges = magnitude_grid()
    noisy = laplace_histogram(values, edges, epsilon=epsilon, rng=rng)
    passing = np.flatnonzero(noisy > range_threshold(noisy.size, epsilon))
    if passing.size == 0:
        return None
    return float(edges[passing[0]]), float(edges[passing[-1] + 1])


def quantile_edges(low: float, high: float, kind: ColumnKind) -> np.ndarray:
    """Bin edges of the quantile histogram: unit bins centred on whole numbers for a narrow
    integer column (so each number sits mid-bin, as mid-ranks do), equal bins otherwise."""
    if kind is ColumnKind.INTEGER and math.ceil(high) - math.floor(low) <= MAX_UNIT_BINS:
        return np.arange(math.floor(low) - 0.5, math.ceil(high) + 1.0, 1.0)
    return np.linspace(low, high, QUANTILE_BINS + 1)


def quantile_map(
    edges: np.ndarray, noisy: np.ndarray, *, noise_scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """Knots (values, normal scores) from a noisy histogram: its cumulative shares at the edges.

    Post-processing only: negative counts become 0 and every bin gets a pseudo-count of the
    noise scale, so that where the noise drowns the counts the map tends to a straight line
    over the range instead of following the noise (and it always increases strictly); the end
    shares are pulled in by half a row as the exact encoder does.
    """
    counts = np.maximum(noisy, 0.0)
    total = max(float(counts.sum()), 1.0)
    counts = counts + max(noise_scale, FLOOR_SHARE * total / counts.size)
    cumulative = np.concatenate([[0.0], np.cumsum(counts)]) / counts.sum()
    rows = max(total, 1.0)
    probabilities = np.clip(cumulative, 0.5 / rows, 1.0 - 0.5 / rows)
    keep = np.concatenate([[True], np.diff(probabilities) > 1e-12])
    return edges[keep].astype(float), ndtri(probabilities[keep]).astype(float)


def public_decimals(spec: ColumnSpec, low: float, high: float) -> int:
    """Decimals of generated values, from the kind and the (DP or public) range only: integers
    and dates without a time are whole; other numbers keep three significant digits of the
    range."""
    if spec.kind is ColumnKind.INTEGER:
        return 0
    if spec.kind is ColumnKind.DATETIME:
        timed = spec.datetime_format is None or "%H" in spec.datetime_format
        return 5 if timed else 0
    span = max(high - low, 1e-12)
    return int(min(max(2 - math.floor(math.log10(span)), 0), 6))


def _numeric(
    spec: ColumnSpec,
    values: pd.Series,
    *,
    dp: DpConfig,
    epsilon: float,
    rng: np.random.Generator,
) -> tuple[NumericEncoder, LedgerEntry]:
    numbers = as_numbers(values, spec.kind, spec.datetime_format)
    present = numbers[~np.isnan(numbers)]
    declared = dp.bounds_of(spec.name)
    if declared is None:
        found = approx_range(present, epsilon=epsilon / 2, rng=rng)
        if found is None:
            raise RangeNotFound(spec.name)
        low, high = found
        quantile_epsilon = epsilon / 2
        range_text = (
            f"range: Laplace histogram (scale {2 / epsilon:.3g}) on a fixed grid of magnitudes, "
            f"bins above {range_threshold(magnitude_grid().size - 1, epsilon / 2):.3g} kept "
            f"(ApproxBounds), ε = {epsilon / 2:.3g}"
        )
    else:
        low, high = declared
        quantile_epsilon = epsilon
        range_text = f"range [{low:g}, {high:g}] declared public"
    edges = quantile_edges(low, high, spec.kind)
    noisy = laplace_histogram(present, edges, epsilon=quantile_epsilon, rng=rng)
    knots_value, knots_score = quantile_map(edges, noisy, noise_scale=1.0 / quantile_epsilon)
    encoder = NumericEncoder(
        name=spec.name,
        kind=spec.kind,
        knots_value=tuple(float(v) for v in knots_value),
        knots_score=tuple(float(s) for s in knots_score),
        decimals=public_decimals(spec, low, high),
        # Data-independent: every numeric column may be missing; the generator learns how often.
        has_missing=True,
        datetime_format=spec.datetime_format,
        missing_in_training=True,
    )
    entry = LedgerEntry(
        step=f"encoder: {spec.name}",
        reads=f"training rows, column {spec.name!r}",
        coverage=Coverage.CHARGED,
        mechanism=(
            f"{range_text}; quantiles: Laplace histogram (scale {1 / quantile_epsilon:.3g}) of "
            f"{edges.size - 1} bins in the range, ε = {quantile_epsilon:.3g}"
        ),
        epsilon=epsilon,
        released=f"range [{low:.4g}, {high:.4g}] and a {edges.size - 1}-bin quantile map",
    )
    return encoder, entry


# ---------------------------------------------------------------------------------------------
# Discrete columns


def level_counts(values: pd.Series) -> dict[Any, tuple[Any, int]]:
    """Every observed level (by canonical key): its plain value and its count."""
    counts: dict[Any, tuple[Any, int]] = {}
    for value, count in values.dropna().value_counts(sort=False).items():
        key = canonical_value(value)
        plain, before = counts.get(key, (plain_value(value), 0))
        counts[key] = (plain, before + int(count))
    return counts


def stable_threshold(epsilon: float, delta: float) -> float:
    """1 + ln(1/(2δ))/ε: a level held by one row clears it with probability δ."""
    return 1.0 + math.log(1.0 / (2.0 * delta)) / epsilon


def stable_histogram(
    values: pd.Series, *, epsilon: float, delta: float, rng: np.random.Generator
) -> dict[Any, tuple[Any, float]]:
    """The levels whose noisy count clears :func:`stable_threshold`, with their noisy counts.

    Only levels present in ``values`` get noise, and a level one row adds or removes shows only
    if its noise clears the threshold (probability ≤ δ): (ε, δ)-DP.
    """
    threshold = stable_threshold(epsilon, delta)
    kept = {}
    for key, (plain, count) in level_counts(values).items():
        noisy = count + rng.laplace(0.0, 1.0 / epsilon)
        if noisy > threshold:
            kept[key] = (plain, float(noisy))
    return kept


def _choice(
    spec: ColumnSpec,
    values: pd.Series,
    *,
    dp: DpConfig,
    epsilon: float,
    delta: float,
    rng: np.random.Generator,
    target: bool,
) -> tuple[ChoiceEncoder, LedgerEntry, np.ndarray]:
    counts: np.ndarray
    if spec.levels is not None or dp.public_categories:
        levels = fitted_levels(spec, values)
        origin = (
            "declared in the schema"
            if spec.levels is not None
            else "read from the training rows and declared public by the user (public_categories)"
        )
        mechanism = f"levels {origin}"
        coverage = Coverage.PUBLIC
        counts = np.zeros(len(levels))
        if target:
            keys = [canonical_value(level) for level in levels]
            observed = level_counts(values)
            exact = np.array([observed.get(k, (None, 0))[1] for k in keys], dtype=float)
            counts = exact + rng.laplace(0.0, 1.0 / epsilon, size=len(levels))
            mechanism += f"; class shares: Laplace counts (scale {1 / epsilon:.3g})"
            coverage = Coverage.CHARGED
    else:
        kept = stable_histogram(values, epsilon=epsilon, delta=delta, rng=rng)
        levels = sorted_levels(plain for plain, _ in kept.values())
        by_key = {key: noisy for key, (_, noisy) in kept.items()}
        counts = np.array([by_key[canonical_value(level)] for level in levels], dtype=float)
        mechanism = (
            f"levels: stable histogram, Laplace counts (scale {1 / epsilon:.3g}) kept above "
            f"{stable_threshold(epsilon, delta):.3g}; other levels are encoded as missing"
        )
        if target:
            mechanism += "; class shares: the same noisy counts"
        coverage = Coverage.CHARGED
    encoder = ChoiceEncoder(
        spec.name,
        spec.kind,
        tuple(levels),
        has_missing=True,
        # The target's missing slot is never generated (its share is 0); nothing else is
        # blocked, as which levels the training rows lack is itself private.
        unseen_in_training=(len(levels),) if target else (),
        unknown_as_missing=True,
    )
    entry = LedgerEntry(
        step=f"encoder: {spec.name}",
        reads=f"training rows, column {spec.name!r}",
        coverage=coverage,
        mechanism=mechanism,
        epsilon=epsilon if coverage is Coverage.CHARGED else 0.0,
        delta=delta if coverage is Coverage.CHARGED else 0.0,
        released=f"{len(levels)} levels" + (" and the class shares" if target else ""),
    )
    return encoder, entry, counts


def _class_shares(encoder: ChoiceEncoder, counts: np.ndarray, name: str) -> tuple[float, ...]:
    """Shares of the target's classes from their noisy counts (the missing slot gets 0).

    A count the noise pushed below one row counts as one, so that a public class is never
    dropped outright (post-processing, like any function of the noisy counts).
    """
    positive = np.maximum(counts, 1.0)
    if len(encoder.levels) < 2:
        shown = ", ".join(repr(level) for level in encoder.levels) or "none"
        raise ConfigError(
            f"Under this privacy budget fewer than two classes of the target {name!r} could be "
            f"released (levels released: {shown}). Declare its classes public (the schema's "
            "levels, or --public-levels on the command line), or raise ε."
        )
    shares = np.append(positive / positive.sum(), 0.0)
    return tuple(float(s) for s in shares)
