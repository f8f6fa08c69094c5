"""Tests for psygentab_core.encoding: exact round trips, layout, bounds and serialisation."""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import ndtri

from psygentab_core.encoding import (
    ChoiceEncoder,
    NumericEncoder,
    SpanKind,
    TableEncoder,
    _discrete_support,
    canonical_value,
    fit_encoder,
)
from psygentab_core.errors import SchemaError
from psygentab_core.privacy import row_keys
from psygentab_core.schema import ColumnKind, ColumnSpec, TableSchema, infer_schema

DATE_FORMAT = "%Y-%m-%d"
SETTINGS = settings(max_examples=50, deadline=None)

SCHEMA = TableSchema(
    (
        ColumnSpec("weight", ColumnKind.CONTINUOUS, ""),
        ColumnSpec("age", ColumnKind.INTEGER, ""),
        ColumnSpec("diagnosis", ColumnKind.CATEGORICAL, ""),
        ColumnSpec("smoker", ColumnKind.BINARY, ""),
        ColumnSpec("stage", ColumnKind.ORDINAL, ""),
        ColumnSpec("treated", ColumnKind.BINARY, ""),
        ColumnSpec("admitted", ColumnKind.DATETIME, "", datetime_format=DATE_FORMAT),
        ColumnSpec("notes", ColumnKind.EXCLUDED, ""),
        ColumnSpec("death", ColumnKind.BINARY, ""),
    ),
    target="death",
)
FEATURES = [c.name for c in SCHEMA.modelled if c.name != SCHEMA.target]


def _with_gaps(draw, values: list, *, allow: bool = True) -> list:
    """Some values replaced by None, always keeping at least one."""
    if not allow:
        return values
    gaps = draw(st.lists(st.booleans(), min_size=len(values), max_size=len(values)))
    keep = draw(st.integers(0, len(values) - 1))
    return [
        None if gap and i != keep else v
        for i, (v, gap) in enumerate(zip(values, gaps, strict=True))
    ]


@st.composite
def tables(draw) -> pd.DataFrame:
    """A clinical-looking table of every kind, with gaps in the numeric and discrete columns."""
    n = draw(st.integers(4, 30))

    def column(elements):
        return draw(st.lists(elements, min_size=n, max_size=n))

    decimals = draw(st.integers(0, 3))
    weights = [v / 10**decimals for v in column(st.integers(-(10**7), 10**7))]
    days = column(st.integers(0, 365 * 60))
    diagnosis = column(st.sampled_from(["asthma", "copd", "ild"]))
    diagnosis[draw(st.integers(0, n - 1))] = "sarcoidosis"  # a level with a single row
    death = column(st.sampled_from(["alive", "dead"]))
    death[:2] = ["alive", "dead"]  # both classes, as validation requires of a target
    return pd.DataFrame(
        {
            "weight": pd.Series(
                _with_gaps(draw, weights, allow=draw(st.booleans())), dtype="float64"
            ),
            "age": pd.array(_with_gaps(draw, column(st.integers(0, 110))), dtype="Int64"),
            "diagnosis": pd.Series(_with_gaps(draw, diagnosis), dtype=object),
            "smoker": pd.Series(column(st.sampled_from(["no", "yes"])), dtype=object),
            "stage": pd.array(_with_gaps(draw, column(st.integers(1, 4))), dtype="Int64"),
            "treated": pd.Series(column(st.booleans()), dtype=bool),
            "admitted": pd.Series(
                _with_gaps(
                    draw, [(date(1970, 1, 1) + timedelta(days=d)).isoformat() for d in days]
                ),
                dtype=object,
            ),
            "notes": pd.Series(column(st.text(max_size=5)), dtype=object),
            "death": pd.Series(death, dtype=object),
        }
    )


@pytest.fixture
def frame() -> pd.DataFrame:
    """A fixed table of every kind, with gaps and a rare level."""
    rng = np.random.default_rng(11)
    n = 40
    admitted = pd.date_range("2015-01-01", periods=n, freq="7D").strftime(DATE_FORMAT)
    frame = pd.DataFrame(
        {
            "weight": np.round(rng.normal(75, 12, n), 1),
            "age": pd.array(rng.integers(18, 95, n), dtype="Int64"),
            "diagnosis": pd.Series(rng.choice(["asthma", "copd", "ild"], n), dtype=object),
            "smoker": pd.Series(rng.choice(["no", "yes"], n), dtype=object),
            "stage": pd.array(rng.integers(1, 5, n), dtype="Int64"),
            "treated": rng.integers(0, 2, n).astype(bool),
            "admitted": pd.Series(list(admitted), dtype=object),
            "notes": pd.Series(["free text"] * n, dtype=object),
            "death": pd.Series(["alive", "dead"] * (n // 2), dtype=object),
        }
    )
    frame.loc[[2, 9], "age"] = pd.NA
    frame.loc[[4, 30], "admitted"] = None
    frame.loc[5, "diagnosis"] = "sarcoidosis"
    frame.loc[6, "diagnosis"] = None
    return frame


@pytest.fixture
def encoder(frame: pd.DataFrame) -> TableEncoder:
    return fit_encoder(SCHEMA, frame)


def assert_same_values(decoded: pd.DataFrame, original: pd.DataFrame) -> None:
    """Value-for-value equality of the modelled columns, missing equal to missing."""
    for name in (c.name for c in SCHEMA.modelled):
        expected = original[name]
        if name == "treated":
            expected = expected.astype("boolean")
        pd.testing.assert_series_equal(
            decoded[name].reset_index(drop=True),
            expected.reset_index(drop=True),
            check_exact=True,
            check_names=False,
        )


# ---------------------------------------------------------------------------------------------
# Round trips


@SETTINGS
@given(tables())
def test_round_trip_is_exact(table: pd.DataFrame) -> None:
    encoder = fit_encoder(SCHEMA, table)
    features, target = encoder.encode(table)
    assert features.shape == (len(table), encoder.feature_width)
    assert target.shape == (len(table), 2)
    assert features.dtype == np.float32
    assert target.dtype == np.float32
    assert np.isfinite(features).all()
    decoded = encoder.decode(features, target)
    assert list(decoded.columns) == list(SCHEMA.names)
    assert_same_values(decoded, table)
    assert decoded["notes"].isna().all()  # excluded columns come back empty


@SETTINGS
@given(tables())
def test_decoded_columns_are_the_decoded_tables_columns(table: pd.DataFrame) -> None:
    encoder = fit_encoder(SCHEMA, table)
    features, target = encoder.encode(table)
    columns = encoder.decode_columns(features, target)
    decoded = encoder.decode(features, target)
    assert set(columns) == {spec.name for spec in SCHEMA.modelled}
    for name, values in columns.items():
        pd.testing.assert_series_equal(values.reset_index(drop=True), decoded[name])
    # The exact-copy check of a generated batch keys its columns, not a table.
    np.testing.assert_array_equal(row_keys(columns, SCHEMA), row_keys(decoded, SCHEMA))
    np.testing.assert_array_equal(row_keys(decoded, SCHEMA), row_keys(table, SCHEMA))


@SETTINGS
@given(tables())
def test_round_trip_through_saved_encoder(table: pd.DataFrame) -> None:
    encoder = fit_encoder(SCHEMA, table)
    restored = TableEncoder.from_dict(json.loads(json.dumps(encoder.to_dict())))
    features, target = encoder.encode(table)
    again_features, again_target = restored.encode(table)
    np.testing.assert_array_equal(features, again_features)
    np.testing.assert_array_equal(target, again_target)
    assert restored.spans == encoder.spans
    pd.testing.assert_frame_equal(
        restored.decode(features, target), encoder.decode(features, target)
    )
    assert_same_values(restored.decode(features, target), table)


@SETTINGS
@given(
    values=st.lists(
        st.one_of(st.none(), st.integers(-(10**6), 10**6).map(lambda v: v / 1000)),
        min_size=1,
        max_size=40,
    ).filter(lambda vs: any(v is not None for v in vs))
)
def test_continuous_round_trip_with_gaps(values: list) -> None:
    schema = TableSchema((ColumnSpec("x", ColumnKind.CONTINUOUS, ""),))
    table = pd.DataFrame({"x": pd.Series(values, dtype="float64")})
    encoder = fit_encoder(schema, table)
    decoded = encoder.decode(*encoder.encode(table))
    pd.testing.assert_series_equal(decoded["x"], table["x"], check_exact=True)


def test_fixed_table_round_trip(encoder: TableEncoder, frame: pd.DataFrame) -> None:
    decoded = encoder.decode(*encoder.encode(frame))
    assert_same_values(decoded, frame)
    assert decoded.loc[5, "diagnosis"] == "sarcoidosis"
    assert decoded.loc[6, "diagnosis"] is None
    assert decoded["age"].dtype == "Int64"
    assert decoded["stage"].dtype == "Int64"
    assert decoded["treated"].dtype == "boolean"
    assert decoded.loc[[4, 30], "admitted"].isna().all()


def test_datetime_dtype_round_trip() -> None:
    stamps = pd.Series(pd.date_range("2020-03-01 06:00", periods=30, freq="37h"))
    stamps.iloc[3] = pd.NaT
    schema = TableSchema((ColumnSpec("seen", ColumnKind.DATETIME, ""),))
    table = pd.DataFrame({"seen": stamps})
    encoder = fit_encoder(schema, table)
    decoded = encoder.decode(*encoder.encode(table))["seen"]
    assert pd.api.types.is_datetime64_any_dtype(decoded.dtype)
    assert decoded.isna().tolist() == stamps.isna().tolist()
    assert (decoded.dropna() == stamps.dropna()).all()


def test_datetime_with_time_of_day_round_trip() -> None:
    fmt = "%Y-%m-%d %H:%M:%S"
    stamps = pd.date_range("2021-06-01 00:00:01", periods=50, freq="3607s").strftime(fmt)
    schema = TableSchema((ColumnSpec("t", ColumnKind.DATETIME, "", datetime_format=fmt),))
    table = pd.DataFrame({"t": pd.Series(list(stamps), dtype=object)})
    encoder = fit_encoder(schema, table)
    assert encoder.decode(*encoder.encode(table))["t"].tolist() == list(stamps)


# ---------------------------------------------------------------------------------------------
# Layout


def test_spans_tile_the_feature_block(encoder: TableEncoder) -> None:
    spans = encoder.spans
    assert sum(s.width for s in spans) == encoder.feature_width
    assert [s.start for s in spans] == [0, *[s.stop for s in spans[:-1]]]
    assert spans[-1].stop == encoder.feature_width
    layout = [(s.column, s.kind, s.width) for s in spans]
    assert layout == [
        ("weight", SpanKind.GAUSSIAN, 1),
        ("age", SpanKind.GAUSSIAN, 1),
        ("age", SpanKind.FLAG, 1),
        ("diagnosis", SpanKind.CHOICE, 5),  # four levels and missing
        ("smoker", SpanKind.CHOICE, 2),
        ("stage", SpanKind.CHOICE, 4),
        ("treated", SpanKind.CHOICE, 2),
        ("admitted", SpanKind.GAUSSIAN, 1),
        ("admitted", SpanKind.FLAG, 1),
    ]
    assert encoder.feature_width == 18
    assert encoder.target_width == 2
    assert encoder.target_levels == ("alive", "dead")
    assert [e.name for e in encoder.features] == FEATURES


@SETTINGS
@given(tables())
def test_spans_match_widths(table: pd.DataFrame) -> None:
    encoder = fit_encoder(SCHEMA, table)
    assert sum(s.width for s in encoder.spans) == encoder.feature_width
    assert encoder.feature_width == sum(e.width for e in encoder.features)
    for encoder_ in encoder.features:
        widths = sum(s.width for s in encoder.spans if s.column == encoder_.name)
        assert widths == encoder_.width
    flags = {s.column for s in encoder.spans if s.kind is SpanKind.FLAG}
    numeric = {"weight", "age", "admitted"}
    assert flags == {c for c in numeric if table[c].isna().any()}


def test_no_target() -> None:
    schema = TableSchema((ColumnSpec("x", ColumnKind.CATEGORICAL, ""),))
    encoder = fit_encoder(schema, pd.DataFrame({"x": ["a", "b", "a"]}))
    features, target = encoder.encode(pd.DataFrame({"x": ["b", "a"]}))
    assert target.shape == (2, 0)
    assert encoder.target_width == 0
    assert encoder.target_levels == ()
    np.testing.assert_array_equal(features, [[0, 1], [1, 0]])


# ---------------------------------------------------------------------------------------------
# Decoding arbitrary generator output


@SETTINGS
@given(tables(), st.integers(0, 2**32 - 1), st.floats(0.5, 10))
def test_decoded_scores_stay_inside_observed_range(
    table: pd.DataFrame, seed: int, scale: float
) -> None:
    encoder = fit_encoder(SCHEMA, table)
    rng = np.random.default_rng(seed)
    features = rng.normal(0, scale, (64, encoder.feature_width))
    target = rng.normal(0, scale, (64, encoder.target_width))
    decoded = encoder.decode(features, target)

    for name in ("weight", "age"):
        present = decoded[name].dropna().astype(float)
        assert present.min() >= table[name].min()
        assert present.max() <= table[name].max()
    assert decoded["age"].dtype == "Int64"
    assert decoded["weight"].dtype == np.float64

    dates = decoded["admitted"].dropna()
    parsed = pd.to_datetime(dates, format=DATE_FORMAT, errors="coerce")
    assert parsed.notna().all()  # valid date strings, in the column's own format
    assert (dates == parsed.dt.strftime(DATE_FORMAT)).all()
    observed = pd.to_datetime(table["admitted"], format=DATE_FORMAT)
    assert parsed.min() >= observed.min()
    assert parsed.max() <= observed.max()

    for name in ("diagnosis", "smoker", "stage", "treated"):
        assert set(decoded[name].dropna()) <= set(table[name].dropna())
    assert set(decoded["death"]) <= {"alive", "dead"}


def test_missing_flag_decides_missingness(encoder: TableEncoder) -> None:
    features = np.zeros((2, encoder.feature_width))
    flag = next(s.start for s in encoder.spans if s.kind is SpanKind.FLAG and s.column == "age")
    features[:, flag] = [0.49, 0.51]
    ages = encoder.decode(features, np.zeros((2, 2)))["age"]
    assert ages.isna().tolist() == [False, True]


# ---------------------------------------------------------------------------------------------
# Levels and missing values seen only outside the training rows


def test_layout_rows_block_unseen_slots(frame: pd.DataFrame) -> None:
    # Training rows without the rare diagnosis, without missing ages, and without stage 4.
    train = frame[
        (frame["diagnosis"] != "sarcoidosis") & frame["age"].notna() & (frame["stage"] != 4)
    ].reset_index(drop=True)
    assert frame["stage"].eq(4).any()
    encoder = fit_encoder(SCHEMA, train, layout_rows=frame)
    by_name = {e.name: e for e in encoder.features}
    start = {s.column: s.start for s in encoder.spans if s.kind is not SpanKind.FLAG}

    assert by_name["diagnosis"].levels == ("asthma", "copd", "ild", "sarcoidosis")
    assert by_name["diagnosis"].blocked_slots == (3,)
    assert by_name["age"].blocked_slots == (1,)  # the missing flag
    assert by_name["stage"].blocked_slots == (3,)
    assert by_name["admitted"].blocked_slots == ()  # missing dates are in the training rows
    assert encoder.blocked_slots == (
        start["age"] + 1,
        start["diagnosis"] + 3,
        start["stage"] + 3,
    )
    # Every real row can still be encoded (for distances to unseen patients) ...
    features, _ = encoder.encode(frame)
    assert features[5, start["diagnosis"] + 3] == 1
    # ... while quantiles come from the training rows alone.
    age = by_name["age"]
    assert age.knots_value[0] == train["age"].min()
    assert age.knots_value[-1] == train["age"].max()
    # A restored encoder keeps the blocked slots.
    assert TableEncoder.from_dict(encoder.to_dict()).blocked_slots == encoder.blocked_slots


def test_missing_only_in_training_rows_is_not_blocked(frame: pd.DataFrame) -> None:
    encoder = fit_encoder(SCHEMA, frame)
    assert encoder.blocked_slots == ()


def test_unknown_level_and_unexpected_missing(encoder: TableEncoder, frame: pd.DataFrame) -> None:
    with pytest.raises(SchemaError, match="value 'lupus' was not seen") as caught:
        encoder.encode(frame.assign(diagnosis="lupus"))
    assert caught.value.column == "diagnosis"
    with pytest.raises(SchemaError, match="a missing value appeared") as caught:
        encoder.encode(frame.assign(smoker=None))
    assert caught.value.column == "smoker"


def test_numeric_column_without_training_values(frame: pd.DataFrame) -> None:
    with pytest.raises(SchemaError, match="'weight' has no values in the training rows") as caught:
        fit_encoder(SCHEMA, frame.assign(weight=np.nan))
    assert caught.value.column == "weight"


def test_declared_levels(frame: pd.DataFrame) -> None:
    schema = SCHEMA.with_kind("stage", "ordinal", levels=[1, 2, 3, 4, 5])
    encoder = fit_encoder(schema, frame)
    stage = next(e for e in encoder.features if e.name == "stage")
    assert stage.levels == (1, 2, 3, 4, 5)
    assert stage.blocked_slots == (4,)  # declared but never seen
    too_few = SCHEMA.with_kind("stage", "ordinal", levels=[1, 2])
    with pytest.raises(SchemaError, match="not among the declared levels"):
        fit_encoder(too_few, frame)


# ---------------------------------------------------------------------------------------------
# Serialisation and levels


def test_encoder_dict_round_trip(encoder: TableEncoder, frame: pd.DataFrame) -> None:
    data = json.loads(json.dumps(encoder.to_dict()))
    restored = TableEncoder.from_dict(data)
    assert restored == encoder
    assert restored.to_dict() == encoder.to_dict()
    for got, want in zip(restored.encode(frame), encoder.encode(frame), strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    ("same", "other"),
    [
        ((1, 1.0, np.int64(1), np.float64(1.0)), ("1", True, 1.5)),
        ((0, 0.0, np.int32(0)), ("0", False)),
        ((True, np.True_), (1, "True")),
        (("a",), ("A", " a")),
    ],
)
def test_canonical_value(same: tuple, other: tuple) -> None:
    keys = {canonical_value(v) for v in same}
    assert len(keys) == 1
    assert keys.isdisjoint(canonical_value(v) for v in other)


def test_one_and_one_point_zero_are_one_level() -> None:
    schema = TableSchema((ColumnSpec("grade", ColumnKind.ORDINAL, ""),))
    mixed = pd.DataFrame({"grade": pd.Series([1, 1.0, 2.0, 3, 2], dtype=object)})
    encoder = fit_encoder(schema, mixed)
    (grade,) = encoder.features
    assert isinstance(grade, ChoiceEncoder)
    assert grade.levels == (1, 2, 3)
    assert all(type(v) is int for v in grade.levels)
    as_ints, _ = encoder.encode(pd.DataFrame({"grade": [1, 2, 3]}))
    as_floats, _ = encoder.encode(pd.DataFrame({"grade": [1.0, 2.0, 3.0]}))
    np.testing.assert_array_equal(as_ints, as_floats)
    np.testing.assert_array_equal(as_ints, np.eye(3))
    decoded = encoder.decode(as_floats, np.zeros((3, 0)))["grade"]
    assert decoded.dtype == "Int64"
    assert decoded.tolist() == [1, 2, 3]


def test_float_levels_with_missing_decode_as_numbers() -> None:
    schema = TableSchema((ColumnSpec("dose", ColumnKind.CATEGORICAL, ""),))
    table = pd.DataFrame({"dose": [0.5, 1.5, np.nan, 0.5]})
    encoder = fit_encoder(schema, table)
    decoded = encoder.decode(*encoder.encode(table))["dose"]
    pd.testing.assert_series_equal(decoded, table["dose"], check_exact=True)


def test_numeric_encoder_is_monotone() -> None:
    schema = TableSchema((ColumnSpec("x", ColumnKind.CONTINUOUS, ""),))
    values = np.round(np.random.default_rng(5).lognormal(0, 1, 200), 3)
    encoder = fit_encoder(schema, pd.DataFrame({"x": values}))
    (x,) = encoder.features
    assert isinstance(x, NumericEncoder)
    assert np.all(np.diff(x.knots_value) > 0)
    assert np.all(np.diff(x.knots_score) > 0)
    scores = encoder.encode(pd.DataFrame({"x": np.sort(values)}))[0][:, 0]
    assert np.all(np.diff(scores) >= 0)
    # Mid-rank normal scores: roughly standard normal.
    assert abs(scores.mean()) < 0.05
    assert 0.8 < scores.std() < 1.1


def test_columns_of_few_repeated_values_generate_only_common_observed_values() -> None:
    rng = np.random.default_rng(0)
    rates = np.array([1.1022949, 1.3649902, 0.8813477, 1.9871, 2.25])
    values = np.concatenate([rng.choice(rates, 400, p=[0.4, 0.3, 0.15, 0.1, 0.05]), [3.14159]])
    frame = pd.DataFrame({"tax": values})
    encoder = fit_encoder(infer_schema(frame), frame)
    column = encoder.features[0]
    assert set(column.discrete_values) == set(rates)  # the single 3.14159 is not among them
    scores = rng.normal(size=(20_000, 1))
    decoded = column.decode(scores)
    assert set(decoded.unique()) <= set(rates)
    shares = decoded.value_counts(normalize=True)
    real = frame["tax"].value_counts(normalize=True)
    for rate in rates:
        assert shares[rate] == pytest.approx(real[rate], abs=0.015)
    # Real rows, rare value included, still round-trip exactly.
    round_trip = column.decode(column.encode(frame["tax"]))
    assert round_trip.tolist() == frame["tax"].tolist()


def test_continuous_columns_have_no_discrete_support() -> None:
    frame = pd.DataFrame({"bmi": np.random.default_rng(1).normal(25, 4, 500).round(2)})
    assert fit_encoder(infer_schema(frame), frame).features[0].discrete_values == ()


def test_one_hot_block_of_many_levels() -> None:
    # Encoded without a levels × levels identity matrix (200 MB for 5,000 levels).
    levels = tuple(f"L{i:04d}" for i in range(5000))
    encoder = ChoiceEncoder("code", ColumnKind.CATEGORICAL, levels, has_missing=True)
    block = encoder.encode(pd.Series(["L0003", None, "L4999"]))
    assert block.shape == (3, 5001)
    assert block.sum(axis=1).tolist() == [1.0, 1.0, 1.0]
    assert block.argmax(axis=1).tolist() == [3, 5000, 4999]
    assert encoder.decode(block).tolist() == ["L0003", None, "L4999"]


def codes_one_by_one(encoder: ChoiceEncoder, values: list) -> list[int]:
    """The reference coding: every cell looked up on its own."""
    lookup = {canonical_value(level): i for i, level in enumerate(encoder.levels)}
    missing = len(encoder.levels)
    return [
        missing
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v))
        else lookup[canonical_value(v)]
        for v in values
    ]


@SETTINGS
@given(st.lists(st.sampled_from([1, 1.0, 2, "2", "a", None, np.nan, 3.5, "b"]), max_size=60))
def test_codes_of_distinct_values_match_cell_by_cell_coding(values: list) -> None:
    encoder = ChoiceEncoder("c", ColumnKind.CATEGORICAL, (1, 2, 3.5, "2", "a", "b"), True)
    series = pd.Series(values, dtype=object, index=np.arange(len(values)) * 3 + 7)
    assert encoder.codes(series).tolist() == codes_one_by_one(encoder, values)


def test_booleans_and_numbers_stay_apart_in_one_column() -> None:
    # pd.factorize would put True and 1 in one group; the encoder keeps them apart.
    encoder = ChoiceEncoder("c", ColumnKind.CATEGORICAL, (True, 1, 0, False), False)
    values = [1, True, False, 0, True]
    assert encoder.codes(pd.Series(values, dtype=object)).tolist() == [1, 0, 3, 2, 0]


def test_the_first_bad_cell_in_row_order_is_reported() -> None:
    encoder = ChoiceEncoder("c", ColumnKind.CATEGORICAL, ("a", "b"), has_missing=False)
    with pytest.raises(SchemaError, match="a missing value appeared"):
        encoder.codes(pd.Series(["a", None, "zz"]))
    with pytest.raises(SchemaError, match="value 'zz' was not seen"):
        encoder.codes(pd.Series(["a", "zz", None]))
    lenient = ChoiceEncoder("c", ColumnKind.CATEGORICAL, ("a",), True, unknown_as_missing=True)
    assert lenient.codes(pd.Series(["zz", "a", None])).tolist() == [1, 0, 1]


@SETTINGS
@given(st.lists(st.integers(0, 40), min_size=30, max_size=400))
def test_rare_values_join_the_nearest_common_value(values: list[int]) -> None:
    present = np.asarray(values, dtype=float)
    kept, cuts = _discrete_support(present)
    unique, counts = np.unique(present, return_counts=True)
    if kept.size == 0:
        return
    # Reference: the full unique × kept matrix of differences (first minimum on a tie).
    nearest = np.abs(unique[:, None] - kept[None, :]).argmin(axis=1)
    masses = np.bincount(nearest, weights=counts, minlength=kept.size)
    np.testing.assert_array_equal(cuts, ndtri(np.cumsum(masses)[:-1] / present.size))
