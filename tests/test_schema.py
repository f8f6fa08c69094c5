"""Tests for psygentab_core.schema: inference, identifier flagging, overrides and validation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from psygentab_core.errors import SchemaError
from psygentab_core.schema import (
    MAX_ORDINAL_LEVELS,
    ColumnKind,
    ColumnSpec,
    TableSchema,
    infer_schema,
    validate_schema,
)

N = 60


def infer_one(values, name: str = "x") -> ColumnSpec:
    """The inferred spec of a one-column table."""
    return infer_schema(pd.DataFrame({name: values})).column(name)


def dates(fmt: str, n: int = N, freq: str = "D") -> list[str]:
    """``n`` consecutive dates from 1 January 2021 (days above 12 make d/m and m/d distinct)."""
    return list(pd.date_range("2021-01-01 08:30:00", periods=n, freq=freq).strftime(fmt))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


@pytest.fixture
def table(rng: np.random.Generator) -> pd.DataFrame:
    """A small clinical table with one column of each kind and a binary target."""
    n = N
    return pd.DataFrame(
        {
            "age": pd.array(rng.integers(18, 90, n), dtype="Int64"),
            "bmi": np.round(rng.normal(26, 4, n), 1),
            "nyha": pd.array(rng.integers(1, 5, n), dtype="Int64"),
            "sex": rng.choice(["female", "male"], n).astype(object),
            "diagnosis": rng.choice(["asthma", "copd", "ild"], n).astype(object),
            "visit_date": dates("%Y-%m-%d", n),
            "death": np.tile([0, 1, 0], n // 3),
        }
    )


# ---------------------------------------------------------------------------------------------
# Inference of every kind


@pytest.mark.parametrize(
    ("values", "kind", "reason"),
    [
        pytest.param(
            np.round(np.random.default_rng(1).normal(100, 15, N), 2),
            ColumnKind.CONTINUOUS,
            "numbers with decimals",
            id="continuous",
        ),
        pytest.param(
            np.round(np.random.default_rng(1).lognormal(0, 1.5, N), 3),
            ColumnKind.CONTINUOUS,
            "numbers with decimals with a long tail",
            id="continuous-long-tail",
        ),
        pytest.param(
            pd.array(np.arange(N) % 30, dtype="Int64"),
            ColumnKind.INTEGER,
            "whole numbers (30 distinct values)",
            id="integer",
        ),
        pytest.param(
            pd.array([*(np.arange(N - 2) % 30), None, None], dtype="Int64"),
            ColumnKind.INTEGER,
            "whole numbers (30 distinct values)",
            id="integer-with-gaps",
        ),
        pytest.param(
            np.arange(N) % 5 + 1,
            ColumnKind.ORDINAL,
            "5 distinct whole numbers",
            id="ordinal",
        ),
        pytest.param(
            (np.arange(N) % 4).astype(float),
            ColumnKind.ORDINAL,
            "4 distinct whole numbers",
            id="ordinal-stored-as-float",
        ),
        pytest.param(
            np.arange(N) % MAX_ORDINAL_LEVELS,
            ColumnKind.ORDINAL,
            f"{MAX_ORDINAL_LEVELS} distinct whole numbers",
            id="ordinal-at-limit",
        ),
        pytest.param(
            np.arange(N) % (MAX_ORDINAL_LEVELS + 1),
            ColumnKind.INTEGER,
            f"whole numbers ({MAX_ORDINAL_LEVELS + 1} distinct values)",
            id="integer-above-ordinal-limit",
        ),
        pytest.param(np.arange(N) % 2, ColumnKind.BINARY, "two distinct values", id="binary-01"),
        pytest.param(
            ["yes", "no", None] * (N // 3),
            ColumnKind.BINARY,
            "two distinct values",
            id="binary-text",
        ),
        pytest.param(
            (np.arange(N) % 2).astype(bool), ColumnKind.BINARY, "true/false values", id="bool"
        ),
        pytest.param(
            ["a", "b", "c"] * (N // 3),
            ColumnKind.CATEGORICAL,
            "text with 3 distinct values",
            id="categorical",
        ),
        pytest.param(
            ["1", "2", "unknown", "3"] * (N // 4),
            ColumnKind.CATEGORICAL,
            "mixes numbers and text (75% numeric)",
            id="numbers-and-text",
        ),
        pytest.param(
            ["same"] * N, ColumnKind.CATEGORICAL, "a single value", id="single-text-value"
        ),
        pytest.param([3] * N, ColumnKind.CATEGORICAL, "a single value", id="single-number"),
        pytest.param(
            [1.5, np.inf, 2.5, -np.inf] * (N // 4),
            ColumnKind.CONTINUOUS,
            "some infinite",
            id="infinite",
        ),
        pytest.param(
            [np.nan] * N, ColumnKind.EXCLUDED, "every value is missing", id="all-missing-float"
        ),
        pytest.param(
            pd.Series([None] * N, dtype=object),
            ColumnKind.EXCLUDED,
            "every value is missing",
            id="all-missing-object",
        ),
        pytest.param(
            [f"patient {i} reported a mild headache after the morning visit" for i in range(N)],
            ColumnKind.EXCLUDED,
            "free text",
            id="free-text",
        ),
    ],
)
def test_inferred_kind_and_reason(values, kind: ColumnKind, reason: str) -> None:
    spec = infer_one(values, name="measure")
    assert spec.kind is kind
    assert reason in spec.reason
    assert spec.identifier is False


@pytest.mark.parametrize(
    ("fmt", "freq"),
    [
        ("%Y-%m-%d", "D"),
        ("%Y-%m-%d %H:%M:%S", "h"),
        ("%Y-%m-%dT%H:%M:%S", "h"),
        ("%Y-%m-%d %H:%M", "h"),
        ("%d/%m/%Y", "D"),
        ("%m/%d/%Y", "D"),
        ("%d.%m.%Y", "D"),
        ("%Y/%m/%d", "D"),
        ("%d-%m-%Y", "D"),
        ("%d/%m/%Y %H:%M", "D"),
        ("%m/%d/%Y %H:%M", "D"),
    ],
)
def test_datetime_inferred_from_strings(fmt: str, freq: str) -> None:
    # Every value is distinct and the ISO forms look like phone numbers: neither makes an event
    # date an identifier.
    values = dates(fmt, freq=freq)
    values[5] = None
    spec = infer_one(pd.Series(values, dtype=object), name="admitted")
    assert spec.kind is ColumnKind.DATETIME
    assert spec.datetime_format == fmt
    assert spec.reason == f"dates written as {fmt}"
    assert spec.identifier is False


def test_datetime_dtype_is_datetime() -> None:
    spec = infer_one(pd.Series(pd.date_range("2020-01-01", periods=N)), name="seen")
    assert spec.kind is ColumnKind.DATETIME
    assert spec.reason == "stored as dates"
    assert spec.datetime_format is None
    assert spec.identifier is False


def test_mostly_invalid_dates_are_not_dates() -> None:
    values = dates("%Y-%m-%d")[:10] + ["unknown"] * 10
    spec = infer_one(values)
    assert spec.kind is ColumnKind.CATEGORICAL
    assert spec.datetime_format is None
    assert spec.reason == "text with 11 distinct values"


def test_kind_properties() -> None:
    numeric = {k for k in ColumnKind if k.is_numeric}
    discrete = {k for k in ColumnKind if k.is_discrete}
    assert numeric == {ColumnKind.CONTINUOUS, ColumnKind.INTEGER, ColumnKind.DATETIME}
    assert discrete == {ColumnKind.CATEGORICAL, ColumnKind.BINARY, ColumnKind.ORDINAL}
    assert ColumnKind.EXCLUDED not in numeric | discrete


def test_infer_table_keeps_order_and_kinds(table: pd.DataFrame) -> None:
    schema = infer_schema(table)
    assert schema.names == tuple(table.columns)
    kinds = {c.name: c.kind for c in schema.columns}
    assert kinds == {
        "age": ColumnKind.INTEGER,
        "bmi": ColumnKind.CONTINUOUS,
        "nyha": ColumnKind.ORDINAL,
        "sex": ColumnKind.BINARY,
        "diagnosis": ColumnKind.CATEGORICAL,
        "visit_date": ColumnKind.DATETIME,
        "death": ColumnKind.BINARY,
    }
    assert schema.target is None
    assert schema.identifiers == ()
    assert len(schema.modelled) == len(table.columns)


# ---------------------------------------------------------------------------------------------
# Direct identifiers


def _names(n: int = N) -> list[str]:
    first = ["Anna", "Ben", "Chloe", "David", "Emma", "Femi", "Grace", "Hugo"]
    return [first[i % len(first)] for i in range(n)]


@pytest.mark.parametrize(
    ("name", "values", "because"),
    [
        ("patient_id", np.arange(N) + 1000, "identifier-like name and 100% distinct"),
        ("PatientID", [f"P{i:04d}" for i in range(N)], "identifier-like name"),
        ("mrn", np.arange(N) * 7 + 13, "identifier-like name"),
        ("subjectid", np.arange(N) % 40, "identifier-like name and 67% distinct"),
        ("first_name", _names(), "personal names"),
        ("firstName", _names(), "personal names"),
        ("surname", _names(), "personal names"),
        ("name", _names(), "personal names"),
        ("patient_name", _names(), "personal names"),
        ("email", ["a@b.org"] * N, "an e-mail address"),
        ("phone", ["0123"] * N, "a telephone number"),
        ("mobile_number", np.arange(N), "a telephone number"),
        ("postcode", ["SW1A 1AA", "EC1A 1BB"] * (N // 2), "a postcode"),
        ("zip", np.arange(N) % 3 + 10001, "a postcode"),
        ("home_address", ["1 High St"] * N, "a postal address"),
        ("date_of_birth", dates("%Y-%m-%d"), "an exact date of birth"),
        ("dob", dates("%d/%m/%Y"), "an exact date of birth"),
        ("contact", [f"user{i}@example.org" for i in range(N)], "values are e-mail addresses"),
        ("reach", [f"+44 20 7946 {i:04d}" for i in range(N)], "look like telephone numbers"),
        ("reach", [f"(555) 123-{i:04d}" for i in range(N)], "look like telephone numbers"),
        ("code", np.random.default_rng(3).permutation(N) + 500, "100% of values are distinct"),
        ("ref", [f"AB{i:06d}" for i in range(N)], "100% of values are distinct"),
    ],
)
def test_identifiers_are_flagged_and_excluded(name: str, values, because: str) -> None:
    frame = pd.DataFrame({name: values, "age": np.arange(N) % 50 + 20})
    schema = infer_schema(frame)
    spec = schema.column(name)
    assert spec.kind is ColumnKind.EXCLUDED
    assert spec.identifier is True
    assert spec.reason.startswith("likely direct identifier: ")
    assert because in spec.reason
    assert spec.reason.endswith("excluded by default")
    assert schema.identifiers == (spec,)
    assert [c.name for c in schema.modelled] == ["age"]


@pytest.mark.parametrize(
    ("name", "values", "kind"),
    [
        ("test_id", ["covid", "xcvd1"] * (N // 2), ColumnKind.BINARY),
        ("site_id", np.arange(N) % 3, ColumnKind.ORDINAL),
        ("bmi", np.round(np.random.default_rng(2).normal(26, 4, N), 2), ColumnKind.CONTINUOUS),
        ("uric_acid", np.round(np.linspace(2, 9, N), 2), ColumnKind.CONTINUOUS),
        ("lipid", np.round(np.linspace(2, 9, N), 3), ColumnKind.CONTINUOUS),
        (
            "clinic_name",
            ["emergency dept", "oncology day hosp", "nicu"] * 20,
            ColumnKind.CATEGORICAL,
        ),
        ("drug_name", ["aspirin", "warfarin"] * (N // 2), ColumnKind.BINARY),
        ("name_length", np.arange(N) % 4 + 3, ColumnKind.ORDINAL),
        ("admission_date", dates("%Y-%m-%d"), ColumnKind.DATETIME),
        ("sample_date", dates("%d.%m.%Y"), ColumnKind.DATETIME),
        ("cholesterol", np.arange(15) * 3 + 150, ColumnKind.INTEGER),  # distinct, but few rows
    ],
)
def test_non_identifiers_are_not_flagged(name: str, values, kind: ColumnKind) -> None:
    spec = infer_one(values, name=name)
    assert spec.identifier is False
    assert spec.kind is kind
    assert "identifier" not in spec.reason


# ---------------------------------------------------------------------------------------------
# Targets and overrides


def test_infer_with_discrete_target(table: pd.DataFrame) -> None:
    schema = infer_schema(table, target="death")
    assert schema.target == "death"
    assert schema.column("death").kind is ColumnKind.BINARY
    assert schema.column("death").reason == "two distinct values; chosen as the target"


def test_infer_integer_target_becomes_categorical(table: pd.DataFrame) -> None:
    schema = infer_schema(table.assign(stage=np.arange(N) % 12), target="stage")
    spec = schema.column("stage")
    assert spec.kind is ColumnKind.CATEGORICAL
    assert "its 12 distinct values are treated as classes" in spec.reason


def test_infer_measurement_target_is_refused(table: pd.DataFrame) -> None:
    with pytest.raises(SchemaError, match=r"'bmi' has \d+ distinct values") as caught:
        infer_schema(table, target="bmi")
    assert caught.value.column == "bmi"


def test_with_kind_overrides_one_column(table: pd.DataFrame) -> None:
    schema = infer_schema(table)
    changed = schema.with_kind("nyha", "categorical")
    assert changed.column("nyha").kind is ColumnKind.CATEGORICAL
    assert changed.column("nyha").reason == "set by the user"
    assert schema.column("nyha").kind is ColumnKind.ORDINAL  # the original is untouched
    others = [c for c in changed.columns if c.name != "nyha"]
    assert others == [c for c in schema.columns if c.name != "nyha"]
    assert changed.names == schema.names


def test_with_kind_reason_levels_and_formats(table: pd.DataFrame) -> None:
    schema = infer_schema(table)
    ordered = schema.with_kind("nyha", ColumnKind.ORDINAL, reason="NYHA class", levels=[1, 2, 3, 4])
    assert ordered.column("nyha").levels == (1, 2, 3, 4)
    assert ordered.column("nyha").reason == "NYHA class"
    # A datetime override keeps the inferred format unless a new one is given ...
    kept = schema.with_kind("visit_date", "datetime")
    assert kept.column("visit_date").datetime_format == "%Y-%m-%d"
    other = schema.with_kind("visit_date", "datetime", datetime_format="%d/%m/%Y")
    assert other.column("visit_date").datetime_format == "%d/%m/%Y"
    # ... and another kind drops it.
    assert (
        schema.with_kind("visit_date", "categorical").column("visit_date").datetime_format is None
    )


def test_with_kind_excluding_the_target_clears_it(table: pd.DataFrame) -> None:
    schema = infer_schema(table, target="death")
    assert schema.with_kind("death", "excluded").target is None
    assert schema.with_kind("sex", "excluded").target == "death"


def test_with_kind_unknown_column(table: pd.DataFrame) -> None:
    with pytest.raises(SchemaError, match="No column named 'weight'") as caught:
        infer_schema(table).with_kind("weight", "continuous")
    assert caught.value.column == "weight"


def test_with_kind_target_must_stay_discrete(table: pd.DataFrame) -> None:
    schema = infer_schema(table, target="death")
    with pytest.raises(SchemaError, match="Target 'death' is continuous") as caught:
        schema.with_kind("death", "continuous")
    assert caught.value.column == "death"


def test_with_target(table: pd.DataFrame) -> None:
    schema = infer_schema(table)
    assert schema.with_target("sex").target == "sex"
    assert schema.with_target("sex").with_target(None).target is None
    with pytest.raises(SchemaError, match="Target 'age' is integer") as caught:
        schema.with_target("age")
    assert caught.value.column == "age"


# ---------------------------------------------------------------------------------------------
# Serialisation


def test_schema_dict_round_trip(table: pd.DataFrame) -> None:
    schema = (
        infer_schema(table.assign(mrn=np.arange(N)), target="death")
        .with_kind("nyha", "ordinal", levels=[1, 2, 3, 4], reason="NYHA")
        .with_kind("bmi", "excluded")
    )
    data = json.loads(json.dumps(schema.to_dict()))
    restored = TableSchema.from_dict(data)
    assert restored == schema
    assert restored.target == "death"
    assert restored.column("nyha").levels == (1, 2, 3, 4)
    assert restored.column("visit_date").datetime_format == "%Y-%m-%d"
    assert restored.column("mrn").identifier is True
    assert restored.column("mrn").kind is ColumnKind.EXCLUDED
    assert restored.to_dict() == schema.to_dict()


def test_spec_from_dict_unknown_kind() -> None:
    with pytest.raises(SchemaError, match="unknown kind 'number'") as caught:
        ColumnSpec.from_dict({"name": "age", "kind": "number"})
    assert caught.value.column == "age"


def test_duplicate_specs_are_refused() -> None:
    spec = ColumnSpec("age", ColumnKind.INTEGER, "")
    with pytest.raises(SchemaError, match="repeated: age") as caught:
        TableSchema((spec, spec))
    assert caught.value.column == "age"


# ---------------------------------------------------------------------------------------------
# Validation


def test_inferred_schema_validates(table: pd.DataFrame) -> None:
    schema = infer_schema(table, target="death")
    assert validate_schema(schema, table) is None


def _break(table: pd.DataFrame, column: str, row: int, value) -> pd.DataFrame:
    broken = table.copy()
    broken[column] = broken[column].astype(object)
    broken.loc[row, column] = value
    return broken


@pytest.mark.parametrize(
    ("change", "column", "message"),
    [
        pytest.param(
            lambda s, t: (s, _break(t, "bmi", 3, "n/a")),
            "bmi",
            "Column 'bmi': kind 'continuous' needs numbers, but 1 value is not a number "
            "(e.g. 'n/a' on line 5). Fix it or choose 'categorical'.",
            id="text-in-numbers",
        ),
        pytest.param(
            lambda s, t: (s, t.assign(bmi=t["bmi"].where(t.index != 4, np.inf))),
            "bmi",
            "Column 'bmi': 1 value is infinite (e.g. 'inf' on line 6)",
            id="infinite",
        ),
        pytest.param(
            lambda s, t: (s, _break(t, "age", 0, 41.5)),
            "age",
            "Column 'age': kind 'integer' needs whole numbers, but 1 value has decimals "
            "(e.g. '41.5' on line 2)",
            id="integer-with-decimals",
        ),
        pytest.param(
            lambda s, t: (s, _break(t, "visit_date", 2, "2021-02-30")),
            "visit_date",
            "Column 'visit_date': 1 value is not a valid date as %Y-%m-%d "
            "(e.g. '2021-02-30' on line 4)",
            id="invalid-date",
        ),
        pytest.param(
            lambda s, t: (s, _break(t, "sex", 1, "unknown")),
            "sex",
            "Column 'sex': kind 'binary' allows two values, but there are 3",
            id="binary-with-three-values",
        ),
        pytest.param(
            lambda s, t: (s.with_kind("diagnosis", "binary"), t),
            "diagnosis",
            "Column 'diagnosis': kind 'binary' allows two values, but there are 3",
            id="binary-override-on-three-levels",
        ),
        pytest.param(
            lambda s, t: (s.with_kind("nyha", "ordinal", levels=[1, 2, 3]), t),
            "nyha",
            "Column 'nyha':",
            id="ordinal-outside-declared-levels",
        ),
        pytest.param(
            lambda s, t: (s, t.assign(death=t["death"].astype(float).where(t.index != 7))),
            "death",
            "Target 'death' has 1 missing value (first on line 9); drop that row",
            id="target-with-missing",
        ),
        pytest.param(
            lambda s, t: (s, t.assign(death=0)),
            "death",
            "Target 'death' has only one class (0)",
            id="one-class-target",
        ),
        pytest.param(
            lambda s, t: (s, t.assign(death=[1] + [0] * (len(t) - 1))),
            "death",
            "Target 'death': class 1 has a single row",
            id="single-row-class",
        ),
        pytest.param(
            lambda s, t: (s, t.drop(columns="sex")),
            "sex",
            "Column 'sex' is in the schema but not in the table",
            id="column-missing-from-table",
        ),
        pytest.param(
            lambda s, t: (s, t.assign(weight=1.0)),
            "weight",
            "Column 'weight' is in the table but not in the schema",
            id="column-missing-from-schema",
        ),
        pytest.param(
            lambda s, t: (s, t.set_axis([*t.columns[:-2], "sex", "death"], axis=1)),
            "sex",
            "Column names must be unique; repeated: sex",
            id="duplicate-names",
        ),
    ],
)
def test_validation_errors_name_the_column(
    table: pd.DataFrame, change, column: str, message: str
) -> None:
    schema, frame = change(infer_schema(table, target="death"), table)
    with pytest.raises(SchemaError) as caught:
        validate_schema(schema, frame)
    assert message in str(caught.value)
    assert caught.value.column == column


@pytest.mark.parametrize("target", ["outcome", "BMI"])
def test_unknown_target(table: pd.DataFrame, target: str) -> None:
    with pytest.raises(SchemaError, match=f"Target '{target}' is not a column") as caught:
        infer_schema(table, target=target)
    assert caught.value.column == target
    with pytest.raises(SchemaError, match=f"Target '{target}' is not a column") as caught:
        infer_schema(table).with_target(target)
    assert caught.value.column == target


@pytest.mark.parametrize("blank", ["", "  ", "Unnamed: 2"])
def test_blank_column_names(table: pd.DataFrame, blank: str) -> None:
    frame = table.set_axis([*table.columns[:2], blank, *table.columns[3:]], axis=1)
    with pytest.raises(SchemaError, match=r"Column 3 has no name.*positions 3\)") as caught:
        infer_schema(frame)
    assert caught.value.column is None  # the column has no name to give
    with pytest.raises(SchemaError, match="Column 3 has no name"):
        validate_schema(infer_schema(table), frame)


def test_duplicate_column_names_in_inference() -> None:
    frame = pd.DataFrame([[1, 2, 3], [4, 5, 6]], columns=["a", "b", "a"])
    with pytest.raises(SchemaError, match="repeated: a") as caught:
        infer_schema(frame)
    assert caught.value.column == "a"


def test_all_columns_excluded(table: pd.DataFrame) -> None:
    schema = infer_schema(table)
    for name in schema.names:
        schema = schema.with_kind(name, "excluded")
    with pytest.raises(SchemaError, match="Every column is excluded") as caught:
        validate_schema(schema, table)
    assert caught.value.column is None


def test_no_rows(table: pd.DataFrame) -> None:
    with pytest.raises(SchemaError, match="no rows"):
        validate_schema(infer_schema(table), table.iloc[:0])


def test_excluded_and_missing_values_are_not_validated(table: pd.DataFrame) -> None:
    # Text in an excluded column and gaps in a numeric one are fine.
    schema = infer_schema(table).with_kind("bmi", "excluded")
    frame = _break(table, "bmi", 0, "n/a")
    frame["age"] = frame["age"].astype("Int64").where(frame.index != 1)
    assert validate_schema(schema, frame) is None


def test_unknown_kind_override_is_a_schema_error() -> None:
    schema = infer_schema(pd.DataFrame({"x": [1.5, 2.5, 3.5]}))
    with pytest.raises(SchemaError, match="unknown kind 'numberish'") as caught:
        schema.with_kind("x", "numberish")
    assert caught.value.column == "x"


# ---------------------------------------------------------------------------------------------
# Hardening (issue 6): awkward columns get a kind with a reason that says what to do, and
# validation messages give the line of the first offending values


def test_dates_written_two_ways_are_excluded_with_both_formats_named() -> None:
    written = [
        d if i % 2 else "/".join(reversed(d.split("-"))) for i, d in enumerate(dates("%Y-%m-%d"))
    ]
    spec = infer_one(written, "admitted")
    assert spec.kind is ColumnKind.EXCLUDED
    assert not spec.identifier  # all distinct, but event dates, not record numbers
    assert spec.reason == (
        "dates written in more than one way (%Y-%m-%d and %d/%m/%Y); excluded: write them all "
        "one way (for example 2023-01-31) to model them as dates"
    )


def test_one_impossible_date_among_many_keeps_the_column_a_date(table: pd.DataFrame) -> None:
    frame = _break(table, "visit_date", 0, "2021-02-30")
    spec = infer_schema(frame).column("visit_date")
    assert (spec.kind, spec.datetime_format) == (ColumnKind.DATETIME, "%Y-%m-%d")


def test_numbers_mixed_with_text_name_the_text_to_fix() -> None:
    spec = infer_one(["61", "unknown", "70", "not recorded", "61", "unknown"] * 10)
    assert spec.kind is ColumnKind.CATEGORICAL
    assert spec.reason == (
        "mixes numbers and text (50% numeric); each value is a level. To model it as numbers, "
        "fix or empty the text cells (e.g. 'unknown', 'not recorded')"
    )


@pytest.mark.parametrize(
    ("levels", "rows_each", "kind"),
    [
        pytest.param(5000, 2, ColumnKind.EXCLUDED, id="5000-levels-2-rows-each"),
        pytest.param(300, 5, ColumnKind.EXCLUDED, id="300-levels-5-rows-each"),
        pytest.param(300, 10, ColumnKind.CATEGORICAL, id="300-levels-10-rows-each"),
        pytest.param(200, 2, ColumnKind.CATEGORICAL, id="200-levels-2-rows-each"),
    ],
)
def test_many_rare_levels_are_excluded_by_default(
    levels: int, rows_each: int, kind: ColumnKind
) -> None:
    values = [f"clinic {i % levels:04d}" for i in range(levels * rows_each)]
    spec = infer_one(values, "clinic")
    assert spec.kind is kind
    assert not spec.identifier
    if kind is ColumnKind.EXCLUDED:
        assert spec.reason.startswith(
            f"{levels:,} distinct values, about {rows_each:.1f} rows each: too many rare levels"
        )


def test_a_nameless_pandas_column_is_explained() -> None:
    frame = pd.DataFrame({"Unnamed: 0": [0, 1, 2], "age": [30, 40, 50]})
    with pytest.raises(SchemaError) as caught:
        infer_schema(frame)
    assert str(caught.value) == (
        "Column 1 has no name ('Unnamed: 0' is what pandas writes for a nameless column, such as "
        "a saved row index; delete the column or name it); give every column a header (blank "
        "headers at positions 1)."
    )


def test_only_the_target_left_to_learn_is_refused(table: pd.DataFrame) -> None:
    schema = infer_schema(table, target="death")
    for name in schema.names:
        if name != "death":
            schema = schema.with_kind(name, "excluded")
    with pytest.raises(SchemaError) as caught:
        validate_schema(schema, table)
    assert str(caught.value) == (
        "Only the target 'death' is left to learn: every other column is excluded (age, bmi, "
        "nyha, sex, diagnosis, visit_date). Include at least one other column."
    )
    assert caught.value.column == "death"


def test_validation_examples_give_lines_by_position_and_plural_counts(
    table: pd.DataFrame,
) -> None:
    schema = infer_schema(table)
    # A filtered table keeps its old index labels; lines count positions (header = line 1).
    frame = _break(_break(table, "bmi", 11, "n/a"), "bmi", 13, "?").iloc[10:]
    frame.index = frame.index * 100
    with pytest.raises(SchemaError) as caught:
        validate_schema(schema, frame)
    assert str(caught.value) == (
        "Column 'bmi': kind 'continuous' needs numbers, but 2 values are not numbers (e.g. 'n/a' "
        "on line 3, '?' on line 5). Fix them or choose 'categorical'."
    )


def test_target_messages_say_what_to_do_and_where(table: pd.DataFrame) -> None:
    schema = infer_schema(table, target="death")
    with pytest.raises(SchemaError) as caught:
        validate_schema(schema, table.assign(death=0))
    assert str(caught.value) == (
        "Target 'death' has only one class (0); a target needs at least two. Choose another "
        "target, or none."
    )
    rare = table.assign(death=[0] * 4 + [1] + [0] * (len(table) - 5))
    with pytest.raises(SchemaError) as caught:
        validate_schema(schema, rare)
    assert str(caught.value) == (
        "Target 'death': class 1 has a single row (line 6), too few to split between training, "
        "reference and holdout rows; merge it with another class or choose another target."
    )
    gaps = table.assign(death=table["death"].astype(float).where(table.index % 20 != 3))
    with pytest.raises(SchemaError) as caught:
        validate_schema(schema, gaps)
    assert str(caught.value) == (
        "Target 'death' has 3 missing values (first on line 5); drop those rows or choose "
        "another target."
    )
