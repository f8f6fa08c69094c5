"""Reversible encoding of a table into the generator's space, and back.

Numbers (continuous, integer, datetime) go through their empirical quantiles onto a standard
normal scale: skewed and multi-modal shapes become easy to model, and decoding maps every
generated value back inside the observed range (no negative ages, no impossible dates). Integer
and date columns are rounded back to whole units. A missing value is a separate flag, learned
jointly with every other column, so co-missingness survives; it is never imputed away. Discrete
columns (categorical, binary, ordinal) are one-hot blocks that keep every observed level, however
rare, with missing as a level of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri

from psygentab_core.errors import SchemaError
from psygentab_core.schema import ColumnKind, ColumnSpec, TableSchema

MAX_DECIMALS = 12
# More knots than this adds nothing visible and bloats the saved model.
MAX_KNOTS = 1000
_EPOCH = pd.Timestamp("1970-01-01")
_SECONDS_PER_DAY = 86_400.0
# Scores this close to a knot decode to the knot's value (float32 rounding is below 3e-7 for |z|<5).
_KNOT_SNAP = 1e-6


class SpanKind(StrEnum):
    """What a slice of the encoded vector holds, and so which output head it needs."""

    GAUSSIAN = "gaussian"  # one value on the normal-score scale
    FLAG = "flag"  # one 0/1 missing indicator
    CHOICE = "choice"  # a one-hot block


@dataclass(frozen=True, slots=True)
class Span:
    """A slice ``[start, start + width)`` of the encoded vector belonging to one column."""

    column: str
    kind: SpanKind
    start: int
    width: int

    @property
    def stop(self) -> int:
        """End of the slice (exclusive)."""
        return self.start + self.width


def span_columns(spans: Iterable[Span]) -> tuple[str, ...]:
    """The columns of ``spans``, each once, in the order of their first span."""
    return tuple(dict.fromkeys(span.column for span in spans))


@dataclass(frozen=True, slots=True)
class NumericEncoder:
    """Quantile-normal encoding of one numeric column, with an optional missing flag."""

    name: str
    kind: ColumnKind
    knots_value: tuple[float, ...]
    knots_score: tuple[float, ...]
    decimals: int
    has_missing: bool
    datetime_format: str | None = None
    # Missing only outside the training rows: the flag exists for encoding, never generated.
    missing_in_training: bool = True
    # For columns of few, repeated values: the values generated (each seen in at least
    # MIN_DISCRETE_COUNT training rows) and the normal scores that separate their probability
    # masses. Empty for continuous columns.
    discrete_values: tuple[float, ...] = ()
    cut_scores: tuple[float, ...] = ()

    @property
    def blocked_slots(self) -> tuple[int, ...]:
        """Offsets within the block that must never be generated."""
        return (1,) if self.has_missing and not self.missing_in_training else ()

    @property
    def width(self) -> int:
        """Encoded width: the value, plus the flag if the column has missing values."""
        return 1 + int(self.has_missing)

    def encode(self, values: pd.Series) -> np.ndarray:
        """The column as an (n, width) float array."""
        numbers = as_numbers(values, self.kind, self.datetime_format)
        missing = np.isnan(numbers)
        scores = np.interp(np.where(missing, 0.0, numbers), self.knots_value, self.knots_score)
        scores = np.where(missing, 0.0, scores)
        if self.has_missing:
            return np.column_stack([scores, missing.astype(float)])
        return scores[:, None]

    def decode(self, block: np.ndarray) -> pd.Series:
        """Inverse of :meth:`encode`; the flag (if any) is read as missing when above 0.5."""
        scores = np.asarray(block[:, 0], dtype=float)
        numbers = np.interp(scores, self.knots_score, self.knots_value)
        # encode() returns float32, which moves a knot's score by up to ~3e-7; between two knots
        # far apart in value that is enough to decode 1 as 2. A score that close to a knot is
        # that knot's value, so encode → decode stays exact.
        knots = np.asarray(self.knots_score)
        upper = np.clip(np.searchsorted(knots, scores), 0, len(knots) - 1)
        lower = np.maximum(upper - 1, 0)
        closer_below = np.abs(scores - knots[lower]) <= np.abs(scores - knots[upper])
        nearest = np.where(closer_below, lower, upper)
        if self.discrete_values:
            # A column with few, often repeated values (a state's tax rate, cigarettes per day
            # heaped at 10 and 20) keeps exactly those values, each with its own probability.
            numbers = np.asarray(self.discrete_values)[np.searchsorted(self.cut_scores, scores)]
        snap = np.abs(scores - knots[nearest]) <= _KNOT_SNAP
        numbers = np.where(snap, np.asarray(self.knots_value)[nearest], numbers)
        numbers = np.round(numbers, self.decimals)
        if self.has_missing:
            numbers = np.where(block[:, 1] > 0.5, np.nan, numbers)
        if self.kind is ColumnKind.DATETIME:
            return _as_dates(numbers, self.datetime_format, self.name)
        if self.kind is ColumnKind.INTEGER:
            return pd.Series(pd.array(numbers, dtype="Float64").round(0), name=self.name).astype(
                "Int64"
            )
        return pd.Series(numbers, name=self.name, dtype=float)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "type": "numeric",
            "name": self.name,
            "kind": self.kind.value,
            "knots_value": list(self.knots_value),
            "knots_score": list(self.knots_score),
            "discrete_values": list(self.discrete_values),
            "cut_scores": list(self.cut_scores),
            "decimals": self.decimals,
            "has_missing": self.has_missing,
            "datetime_format": self.datetime_format,
            "missing_in_training": self.missing_in_training,
        }


@dataclass(frozen=True, slots=True)
class ChoiceEncoder:
    """One-hot encoding of a discrete column; missing, if present, is the last level."""

    name: str
    kind: ColumnKind
    levels: tuple[Any, ...]
    has_missing: bool
    # Slots (levels, or missing as the last) seen only outside the training rows: they can be
    # encoded, for distances to unseen patients, but are never generated.
    unseen_in_training: tuple[int, ...] = ()
    # Differentially private encoders publish only the levels a DP mechanism let through; any
    # other value is encoded as missing instead of being an error (needs has_missing).
    unknown_as_missing: bool = False

    @property
    def blocked_slots(self) -> tuple[int, ...]:
        """Offsets within the block that must never be generated."""
        return self.unseen_in_training

    @property
    def width(self) -> int:
        """One slot per level, plus one for missing."""
        return len(self.levels) + int(self.has_missing)

    def codes(self, values: pd.Series) -> np.ndarray:
        """Level index of every value (missing gets the last slot)."""
        values = pd.Series(values).reset_index(drop=True)
        # Each distinct value is looked up once (pd.factorize), not every cell: a million-row
        # column then codes in milliseconds instead of seconds.
        found, uniques = pd.factorize(values, use_na_sentinel=True)
        uniques = list(uniques)
        absent = found < 0
        if _factorize_disagrees(uniques, values[absent] if absent.any() else None):
            return self._codes_row_by_row(values)
        lookup = {canonical_value(level): i for i, level in enumerate(self.levels)}
        missing_code = len(self.levels)
        mapping = np.empty(len(uniques), dtype=np.int64)
        unknown = None
        for i, value in enumerate(uniques):
            code = lookup.get(canonical_value(value))
            if code is None:
                if not (self.unknown_as_missing and self.has_missing):
                    unknown = i
                    break
                code = missing_code
            mapping[i] = code
        # Report whichever problem comes first in row order, as a row-by-row pass would.
        first_unknown = int(np.argmax(found == unknown)) if unknown is not None else len(found)
        first_missing = int(np.argmax(absent)) if absent.any() else len(found)
        if first_missing < first_unknown and not self.has_missing:
            self._codes_row_by_row(values.iloc[first_missing : first_missing + 1])
        if unknown is not None:
            self._codes_row_by_row(values.iloc[first_unknown : first_unknown + 1])
        result = np.full(len(found), missing_code, dtype=np.int64)
        result[~absent] = mapping[found[~absent]]
        return result

    def _codes_row_by_row(self, values: pd.Series) -> np.ndarray:
        """Level index of every value, one cell at a time; raises on the first bad value."""
        lookup = {canonical_value(level): i for i, level in enumerate(self.levels)}
        missing_code = len(self.levels)
        result = np.empty(len(values), dtype=np.int64)
        for row, value in enumerate(values.tolist()):
            if _is_missing(value):
                if not self.has_missing:
                    raise SchemaError(
                        f"Column {self.name!r}: a missing value appeared, but the encoder was "
                        "fitted on a column without missing values.",
                        column=self.name,
                    )
                result[row] = missing_code
                continue
            try:
                result[row] = lookup[canonical_value(value)]
            except KeyError:
                if self.unknown_as_missing and self.has_missing:
                    result[row] = missing_code
                    continue
                raise SchemaError(
                    f"Column {self.name!r}: value {value!r} was not seen when the encoder was "
                    f"fitted (known levels: {_preview_levels(self.levels)}).",
                    column=self.name,
                ) from None
        return result

    def encode(self, values: pd.Series) -> np.ndarray:
        """The column as an (n, width) one-hot array."""
        # Filled in place: indexing np.eye(width) would first build a width × width matrix,
        # 200 MB for a column of 5,000 levels.
        codes = self.codes(values)
        block = np.zeros((len(codes), self.width))
        block[np.arange(len(codes)), codes] = 1.0
        return block

    def decode(self, block: np.ndarray) -> pd.Series:
        """The level with the largest entry in each row."""
        codes = block.argmax(axis=1)
        return self.from_codes(codes)

    def from_codes(self, codes: np.ndarray) -> pd.Series:
        """Values from level indices, in the column's original value type."""
        levels = np.empty(len(self.levels) + 1, dtype=object)
        for i, level in enumerate([*self.levels, None]):
            levels[i] = level  # one by one: a tuple-like level must stay one object
        values = levels[np.asarray(codes)].tolist()
        if self.levels and all(isinstance(v, bool) for v in self.levels):
            return pd.Series(pd.array(values, dtype="boolean"), name=self.name)
        if self.levels and all(isinstance(v, int) for v in self.levels):
            return pd.Series(pd.array(values, dtype="Int64"), name=self.name)
        if self.levels and all(isinstance(v, float) for v in self.levels):
            return pd.Series([np.nan if v is None else v for v in values], name=self.name)
        return pd.Series(values, name=self.name, dtype=object)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "type": "choice",
            "name": self.name,
            "kind": self.kind.value,
            "levels": list(self.levels),
            "has_missing": self.has_missing,
            "unseen_in_training": list(self.unseen_in_training),
            "unknown_as_missing": self.unknown_as_missing,
        }


ColumnEncoder = NumericEncoder | ChoiceEncoder


@dataclass(frozen=True, slots=True)
class TableEncoder:
    """The fitted encoders of a schema's modelled columns; the target, if any, is kept apart.

    ``encode`` returns the feature block and the target's one-hot block separately because the
    generator conditions on the target rather than generating it.
    """

    schema: TableSchema
    features: tuple[ColumnEncoder, ...]
    target: ChoiceEncoder | None

    @property
    def spans(self) -> tuple[Span, ...]:
        """Layout of the feature block."""
        spans: list[Span] = []
        position = 0
        for encoder in self.features:
            if isinstance(encoder, NumericEncoder):
                spans.append(Span(encoder.name, SpanKind.GAUSSIAN, position, 1))
                if encoder.has_missing:
                    spans.append(Span(encoder.name, SpanKind.FLAG, position + 1, 1))
            else:
                spans.append(Span(encoder.name, SpanKind.CHOICE, position, encoder.width))
            position += encoder.width
        return tuple(spans)

    @property
    def blocked_slots(self) -> tuple[int, ...]:
        """Feature positions the generator must never produce (seen only outside training)."""
        slots, position = [], 0
        for encoder in self.features:
            slots.extend(position + offset for offset in encoder.blocked_slots)
            position += encoder.width
        return tuple(slots)

    @property
    def feature_width(self) -> int:
        """Width of the feature block."""
        return sum(e.width for e in self.features)

    @property
    def target_width(self) -> int:
        """Width of the target block (0 without a target)."""
        return 0 if self.target is None else self.target.width

    @property
    def target_levels(self) -> tuple[Any, ...]:
        """The target's classes (empty without a target)."""
        return () if self.target is None else self.target.levels

    def encode(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Feature block (n, feature_width) and target block (n, target_width), as float32."""
        # Filled column by column into float32: stacking float64 blocks first held two more
        # copies of the table, gigabytes at a million rows.
        rows = len(frame)
        features = np.zeros((rows, self.feature_width), dtype=np.float32)
        position = 0
        for encoder in self.features:
            _encode_into(encoder, frame[encoder.name], features, position)
            position += encoder.width
        target = np.zeros((rows, self.target_width), dtype=np.float32)
        if self.target is not None:
            _encode_into(self.target, frame[self.target.name], target, 0)
        return features, target

    def decode_columns(self, features: np.ndarray, target: np.ndarray) -> dict[str, pd.Series]:
        """Every modelled column decoded, by name: :meth:`decode` without building the table
        (the exact-copy check of a generated batch needs only the columns)."""
        columns: dict[str, pd.Series] = {}
        position = 0
        for encoder in self.features:
            columns[encoder.name] = encoder.decode(features[:, position : position + encoder.width])
            position += encoder.width
        if self.target is not None:
            columns[self.target.name] = self.target.decode(target)
        return columns

    def decode(self, features: np.ndarray, target: np.ndarray) -> pd.DataFrame:
        """A table in the schema's column order; excluded columns come back empty."""
        columns = self.decode_columns(features, target)
        n_rows = features.shape[0]
        ordered = {
            spec.name: (
                columns[spec.name].reset_index(drop=True)
                if spec.name in columns
                else pd.Series([np.nan] * n_rows, dtype=object)
            )
            for spec in self.schema.columns
        }
        return pd.DataFrame(ordered)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (the schema and every encoder's fitted state)."""
        return {
            "schema": self.schema.to_dict(),
            "features": [e.to_dict() for e in self.features],
            "target": None if self.target is None else self.target.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TableEncoder:
        """Inverse of :meth:`to_dict`."""
        return cls(
            schema=TableSchema.from_dict(data["schema"]),
            features=tuple(_encoder_from_dict(e) for e in data["features"]),
            target=None if data["target"] is None else _encoder_from_dict(data["target"]),
        )


def _encode_into(encoder: ColumnEncoder, values: pd.Series, out: np.ndarray, position: int) -> None:
    """Write one column's encoding into ``out[:, position : position + width]`` (zeroed)."""
    if isinstance(encoder, ChoiceEncoder):
        out[np.arange(len(values)), position + encoder.codes(values)] = 1.0
    else:
        out[:, position : position + encoder.width] = encoder.encode(values)


def fit_encoder(
    schema: TableSchema, frame: pd.DataFrame, *, layout_rows: pd.DataFrame | None = None
) -> TableEncoder:
    """Fit every modelled column's encoder on ``frame`` (the training rows).

    ``layout_rows`` (all real rows, by default ``frame``) decides only which levels and missing
    flags exist, so that unseen patients can be encoded for distance measurements; quantiles and
    everything the generator learns come from ``frame`` alone, and whatever appears only in
    ``layout_rows`` is never generated.
    """
    layout_rows = frame if layout_rows is None else layout_rows
    features: list[ColumnEncoder] = []
    target: ChoiceEncoder | None = None
    for spec in schema.modelled:
        encoder = _fit_column(spec, frame[spec.name], layout_rows[spec.name])
        if spec.name == schema.target:
            assert isinstance(encoder, ChoiceEncoder)
            target = encoder
        else:
            features.append(encoder)
    return TableEncoder(schema=schema, features=tuple(features), target=target)


def _fit_column(spec: ColumnSpec, values: pd.Series, layout_values: pd.Series) -> ColumnEncoder:
    has_missing = bool(layout_values.isna().any())
    missing_in_training = bool(values.isna().any())
    if spec.kind.is_discrete:
        levels = fitted_levels(spec, layout_values)
        trained = {canonical_value(v) for v in values.dropna().unique().tolist()}
        unseen = [i for i, level in enumerate(levels) if canonical_value(level) not in trained]
        if has_missing and not missing_in_training:
            unseen.append(len(levels))
        return ChoiceEncoder(spec.name, spec.kind, levels, has_missing, tuple(unseen))
    numbers = as_numbers(values, spec.kind, spec.datetime_format)
    present = numbers[~np.isnan(numbers)]
    if present.size == 0:
        raise SchemaError(
            f"Column {spec.name!r} has no values in the training rows; exclude it.",
            column=spec.name,
        )
    knots_value, knots_score = _quantile_knots(present)
    discrete_values, cut_scores = _discrete_support(present)
    return NumericEncoder(
        name=spec.name,
        kind=spec.kind,
        knots_value=tuple(float(v) for v in knots_value),
        knots_score=tuple(float(s) for s in knots_score),
        discrete_values=tuple(float(v) for v in discrete_values),
        cut_scores=tuple(float(s) for s in cut_scores),
        decimals=_decimals(present, spec.kind),
        has_missing=has_missing,
        datetime_format=spec.datetime_format,
        missing_in_training=missing_in_training,
    )


# A column is treated as taking a few discrete values when each of them is, on average, shared
# by at least this many training rows.
MIN_ROWS_PER_DISCRETE_VALUE = 10
# Values seen in fewer training rows are never generated as such (they could single out a
# patient); their probability goes to the nearest common value.
MIN_DISCRETE_COUNT = 3


def _discrete_support(present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The values a discrete column may take and the normal scores between their masses."""
    unique, counts = np.unique(present, return_counts=True)
    if unique.size < 2 or present.size < MIN_ROWS_PER_DISCRETE_VALUE * unique.size:
        return np.zeros(0), np.zeros(0)
    common = counts >= MIN_DISCRETE_COUNT
    if common.sum() < 2:
        return np.zeros(0), np.zeros(0)
    kept = unique[common]
    # Each rare value's rows join the nearest common value (the lower one on a tie). Both are
    # sorted, so the two candidates are found by bisection: a full unique × kept matrix of
    # differences runs to gigabytes on a column of a million rows and many values.
    upper = np.clip(np.searchsorted(kept, unique), 0, kept.size - 1)
    lower = np.maximum(upper - 1, 0)
    closer_below = np.abs(unique - kept[lower]) <= np.abs(unique - kept[upper])
    nearest = np.where(closer_below, lower, upper)
    masses = np.bincount(nearest, weights=counts, minlength=kept.size)
    return kept, ndtri(np.cumsum(masses)[:-1] / present.size)


def _quantile_knots(present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Knots mapping values to normal scores through mid-rank empirical quantiles."""
    n = present.size
    unique, counts = np.unique(present, return_counts=True)
    if unique.size <= MAX_KNOTS:
        below = np.cumsum(counts) - counts
        probabilities = (below + counts / 2.0) / n
        values = unique
    else:
        probabilities = np.linspace(0.0, 1.0, MAX_KNOTS)
        values, keep = np.unique(np.quantile(present, probabilities), return_index=True)
        probabilities = probabilities[keep]
    probabilities = np.clip(probabilities, 0.5 / n, 1 - 0.5 / n)
    scores = ndtri(probabilities)
    if scores.size == 1:
        scores = np.zeros(1)
    return values.astype(float), scores.astype(float)


def _decimals(present: np.ndarray, kind: ColumnKind) -> int:
    if kind is ColumnKind.INTEGER:
        return 0
    if kind is ColumnKind.DATETIME:
        # Dates without a time of day are rounded to whole days, otherwise to seconds.
        return 0 if np.all(np.mod(present, 1) == 0) else 5
    # Up to 12 places: values such as 1.0498046875 (a binary fraction) must come back exactly,
    # or a classifier tells real from synthetic by the last digits alone.
    for decimals in range(MAX_DECIMALS + 1):
        if np.allclose(present, np.round(present, decimals), rtol=0, atol=1e-12):
            return decimals
    return MAX_DECIMALS


def fitted_levels(spec: ColumnSpec, values: pd.Series) -> tuple[Any, ...]:
    """The levels of a discrete column: the declared ones (checked against ``values``), or
    every value observed, sorted."""
    present = values.dropna()
    observed = {canonical_value(v): plain_value(v) for v in present.unique().tolist()}
    if spec.levels is not None:
        declared = [plain_value(v) for v in spec.levels]
        known = {canonical_value(v) for v in declared}
        unknown = [v for key, v in observed.items() if key not in known]
        if unknown:
            raise SchemaError(
                f"Column {spec.name!r}: values {unknown[:3]} are not among the declared levels.",
                column=spec.name,
            )
        return tuple(declared)
    return sorted_levels(observed.values())


def sorted_levels(levels: Iterable[Any]) -> tuple[Any, ...]:
    """Levels in their natural order, or by their text where they cannot be compared."""
    levels = list(levels)
    try:
        return tuple(sorted(levels))
    except TypeError:
        return tuple(sorted(levels, key=str))


def plain_value(value: Any) -> Any:
    """A JSON-friendly scalar: numpy types unwrapped, whole floats as ints (1.0 reads as 1)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def canonical_value(value: Any) -> Any:
    """Key under which equal values meet, so that 1, 1.0 and numpy's 1 are one level."""
    value = plain_value(value)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", float(value))
    return ("text", str(value))


def _is_missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


def _factorize_disagrees(uniques: list[Any], absent: pd.Series | None) -> bool:
    """Whether pd.factorize may group values differently from :func:`canonical_value`.

    It hashes by Python equality, so True and 1 would meet, and it treats NaT as missing where
    the encoder does not; such (rare) columns are coded row by row instead.
    """
    flags = [isinstance(v, bool | np.bool_) for v in uniques]
    if any(flags) and not all(flags):
        return True
    return absent is not None and any(not _is_missing(v) for v in absent.unique().tolist())


def _preview_levels(levels: tuple[Any, ...], limit: int = 6) -> str:
    shown = ", ".join(repr(v) for v in levels[:limit])
    return shown + (", …" if len(levels) > limit else "")


def as_numbers(values: pd.Series, kind: ColumnKind, datetime_format: str | None) -> np.ndarray:
    """A column as floats (dates as days since 1970); anything unreadable becomes NaN."""
    if kind is not ColumnKind.DATETIME:
        return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        stamps = pd.Series(values).dt.tz_localize(None) if values.dt.tz else values
    else:
        stamps = pd.to_datetime(values, format=datetime_format, errors="coerce")
    delta = (pd.Series(stamps) - _EPOCH).dt.total_seconds() / _SECONDS_PER_DAY
    return delta.to_numpy(dtype=float, na_value=np.nan)


def _as_dates(days: np.ndarray, datetime_format: str | None, name: str) -> pd.Series:
    finite = np.where(np.isnan(days), 0.0, days)
    stamps = _EPOCH + pd.to_timedelta(np.round(finite * _SECONDS_PER_DAY), unit="s")
    stamps = pd.Series(stamps, name=name).where(~np.isnan(days))
    if datetime_format is None:
        return stamps
    text = stamps.dt.strftime(datetime_format)
    return text.astype(object).where(stamps.notna(), None).rename(name)


def _encoder_from_dict(data: dict[str, Any]) -> ColumnEncoder:
    kind = ColumnKind(data["kind"])
    if data["type"] == "numeric":
        return NumericEncoder(
            name=data["name"],
            kind=kind,
            knots_value=tuple(float(v) for v in data["knots_value"]),
            knots_score=tuple(float(v) for v in data["knots_score"]),
            discrete_values=tuple(float(v) for v in data.get("discrete_values", ())),
            cut_scores=tuple(float(v) for v in data.get("cut_scores", ())),
            decimals=int(data["decimals"]),
            has_missing=bool(data["has_missing"]),
            datetime_format=data.get("datetime_format"),
            missing_in_training=bool(data.get("missing_in_training", True)),
        )
    return ChoiceEncoder(
        name=data["name"],
        kind=kind,
        levels=tuple(data["levels"]),
        has_missing=bool(data["has_missing"]),
        unseen_in_training=tuple(int(i) for i in data.get("unseen_in_training", ())),
        unknown_as_missing=bool(data.get("unknown_as_missing", False)),
    )
