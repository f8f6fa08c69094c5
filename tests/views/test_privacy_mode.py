"""The dashboard's DP option: declared ranges read and written as text, the code books of the
bundled tables, δ below 1/n, and the choice turned into the run's DpConfig and schema."""

from __future__ import annotations

import pytest

from psygentab_app.privacy_mode import (
    DpChoice,
    delta_choices,
    format_bounds,
    parse_bounds,
    training_rows,
    with_public_outcome,
)
from psygentab_core import infer_schema
from psygentab_core.datasets import CODE_BOOKS, DEMO_DATASETS, load_demo
from psygentab_core.dp import DpConfig
from psygentab_core.split import SplitConfig
from tests.tables import mixed_table


@pytest.fixture(scope="module")
def schema():
    return infer_schema(mixed_table(), target="outcome")


def test_ranges_are_read_from_lines_with_dates_and_comments(schema) -> None:
    text = (
        "# clinical limits\nage = 0 : 120\n\nbmi=10:60  # kg/m²\nadmitted = 2019-01-01 : 2021-12-31"
    )
    bounds, problems = parse_bounds(text, schema)
    assert problems == []
    assert bounds == (("age", 0.0, 120.0), ("bmi", 10.0, 60.0), ("admitted", 17897.0, 18992.0))
    # Written back as the user would type them (dates as dates), and read again the same.
    written = format_bounds(bounds, schema)
    assert written.splitlines()[2] == "admitted = 2019-01-01 : 2021-12-31"
    assert parse_bounds(written, schema) == (bounds, [])


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("age 0 120", "Line 1 ('age 0 120'): write COLUMN = LOW : HIGH"),
        ("ward = 0 : 3", "Line 1: 'ward' is not a numeric column of this table"),
        ("age = young : old", "Line 1: the limits of 'age' must be numbers."),
        ("admitted = soon : later", "the limits of 'admitted' must be numbers or dates"),
        ("age = 120 : 0", "Line 1: the low limit of 'age' must be below the high one."),
        ("age = 0 : inf", "Line 1: the limits of 'age' must be numbers."),
        ("age = 0 : 1\nage = 0 : 2", "Line 2: 'age' is declared twice."),
    ],
)
def test_a_line_that_cannot_be_used_is_named(schema, line: str, message: str) -> None:
    _, problems = parse_bounds(line, schema)
    assert len(problems) == 1
    assert message in problems[0]


def test_dp_config_keeps_only_ranges_of_numeric_columns_of_the_schema(schema) -> None:
    choice = DpChoice(
        enabled=True,
        epsilon=2.0,
        delta=1e-6,
        public_categories=True,
        public_bounds=(("age", 0.0, 120.0), ("gone", 0.0, 1.0)),
    )
    assert choice.dp_config(schema) == DpConfig(
        epsilon=2.0, delta=1e-6, public_categories=True, public_bounds=(("age", 0.0, 120.0),)
    )
    assert choice.estimated_columns(schema) == ["bmi", "admitted"]


def test_a_bundled_table_brings_its_code_book_and_an_upload_nothing() -> None:
    choice = DpChoice(enabled=True, epsilon=1.0, delta=1e-7)
    demo = choice.for_table("aids2", "demo")
    assert demo.public_bounds == CODE_BOOKS["aids2"]
    assert demo.public_categories
    assert (demo.enabled, demo.epsilon, demo.delta) == (True, 1.0, None)  # δ follows the size
    upload = demo.for_table("aids2", "upload")
    assert upload.public_bounds == ()
    assert not upload.public_categories


@pytest.mark.parametrize("name", DEMO_DATASETS)
def test_every_code_book_covers_every_numeric_column_of_its_table(name: str) -> None:
    frame = load_demo(name)
    schema = infer_schema(frame, target=DEMO_DATASETS[name].target)
    assert DpChoice().for_table(name, "demo").estimated_columns(schema) == []


def test_delta_choices_sit_below_one_over_n() -> None:
    rows = training_rows(mixed_table(), SplitConfig(), seed=0)
    assert rows == 132
    choices = delta_choices(rows)
    assert choices[0] == 1e-4  # the default: a power of ten at most 1/(10 n)
    assert all(delta < 1 / rows for delta in choices)
    assert choices == sorted(choices, reverse=True)
    assert training_rows(mixed_table().head(5), SplitConfig(), seed=0) is None


def test_public_outcome_declares_the_classes_in_the_schema(schema) -> None:
    declared = with_public_outcome(schema, mixed_table())
    assert declared.column("outcome").levels == ("no", "yes")
    assert declared.column("outcome").kind is schema.column("outcome").kind
    assert with_public_outcome(declared, mixed_table()) == declared  # declared levels stay
