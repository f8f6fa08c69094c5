"""Export: spreadsheet-safe CSV (no cell runs as a formula), run archives, run summaries."""

from __future__ import annotations

import csv
import io
import json
import math
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from psygentab_core.export import (
    REPORT_HTML,
    REPORT_JSON,
    constraint_table,
    csv_bytes,
    download_stem,
    looks_like_formula,
    relative_to_threshold,
    report_sensitive,
    run_archive,
    sensitive_in,
    spreadsheet_safe,
)
from psygentab_core.io import read_table, write_table
from tests.tables import mixed_table

DANGEROUS_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("  =1", "'  =1"),
        ("\t=1", "'\t=1"),
        ("\rtext", "'\rtext"),
        ("normal text", "normal text"),
        ("a=b", "a=b"),
        ("'already text", "'already text"),
        ("", ""),
    ],
)
def test_known_cells(cell: str, written: str) -> None:
    safe = spreadsheet_safe(pd.DataFrame({"text": [cell]}))
    assert safe["text"].iloc[0] == written


def test_numbers_and_missing_values_are_left_alone() -> None:
    frame = pd.DataFrame(
        {
            "integer": [-1, 2],
            "decimal": [-1.5, np.nan],
            "nullable": pd.array([-3, None], dtype="Int64"),
            "flag": [True, False],
            "text": [np.nan, "-x"],
        }
    )
    safe = spreadsheet_safe(frame)
    pd.testing.assert_frame_equal(safe.drop(columns="text"), frame.drop(columns="text"))
    assert math.isnan(safe["text"].iloc[0])
    assert csv_bytes(frame).decode().splitlines()[1:] == ["-1,-1.5,-3,True,", "2,,,False,'-x"]


def test_categories_and_string_columns_are_checked() -> None:
    frame = pd.DataFrame(
        {
            "category": pd.Categorical(["a", "=b"]),
            "string": pd.array(["+c", None], dtype="string"),
        }
    )
    safe = spreadsheet_safe(frame)
    assert safe["category"].tolist() == ["a", "'=b"]
    assert safe["string"].iloc[0] == "'+c"
    assert safe["string"].dtype == frame["string"].dtype
    assert safe["string"].isna().iloc[1]


def test_column_names_that_look_like_formulas_are_neutralised() -> None:
    frame = pd.DataFrame([[1, 2, 3]], columns=["=HYPERLINK(1)", "age", 7])
    assert list(spreadsheet_safe(frame).columns) == ["'=HYPERLINK(1)", "age", 7]
    assert csv_bytes(frame).decode().splitlines()[0] == "'=HYPERLINK(1),age,7"


def test_the_input_is_not_changed() -> None:
    frame = pd.DataFrame({"=a": ["=1"]})
    spreadsheet_safe(frame)
    assert frame.columns[0] == "=a"
    assert frame["=a"].iloc[0] == "=1"


def _parsed_back(data: bytes) -> list[list[str]]:
    # Every cell as the exact text a spreadsheet would receive (the csv module, like Excel,
    # keeps quoted line breaks inside their cell).
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


# NUL is refused by CSV readers and never reaches a cell; everything else is fair game.
_cells = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)


@settings(max_examples=150, deadline=None)
@given(
    cells=st.lists(_cells, min_size=1, max_size=8),
    name=_cells.filter(lambda text: text.strip() != ""),
)
def test_no_exported_text_cell_starts_like_a_formula(cells: list[str], name: str) -> None:
    numbers = np.arange(len(cells)) - 3
    frame = pd.DataFrame({name: cells, "number": numbers})
    header, *rows = _parsed_back(csv_bytes(frame))
    assert len(rows) == len(cells)
    for text in [header[0], *(row[0] for row in rows)]:
        assert not looks_like_formula(text), repr(text)
        assert not text.startswith(DANGEROUS_STARTS)
    # Numbers are still written as numbers, negative ones included.
    assert [row[1] for row in rows] == [str(n) for n in numbers]


_safe_cells = st.text(alphabet="abcxyz 019.,;'\"\n", max_size=10).filter(
    lambda text: not looks_like_formula(text)
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_safe_cells, min_size=1, max_size=8))
def test_safe_frames_are_exported_unchanged(cells: list[str]) -> None:
    frame = pd.DataFrame({"text": cells, "value": np.linspace(-1, 1, len(cells))})
    pd.testing.assert_frame_equal(spreadsheet_safe(frame), frame)
    assert csv_bytes(frame) == frame.to_csv(index=False).encode("utf-8")


def test_csv_bytes_match_write_table_and_read_back_the_same(tmp_path: Path) -> None:
    frame = mixed_table(rows=60)
    write_table(frame, tmp_path / "table.csv")
    data = csv_bytes(frame)
    assert data == (tmp_path / "table.csv").read_bytes()
    pd.testing.assert_frame_equal(read_table(data), read_table(tmp_path / "table.csv"))


def test_a_carriage_return_cannot_start_a_row() -> None:
    frame = pd.DataFrame({"note\r=2": ["x\r=1+1", "plain"], "n": [1, -2]})
    data = csv_bytes(frame)
    assert data == b'"note\r=2",n\r\n"x\r=1+1",1\r\nplain,-2\r\n'
    assert _parsed_back(data) == [["note\r=2", "n"], ["x\r=1+1", "1"], ["plain", "-2"]]


def test_csv_bytes_are_utf8() -> None:
    assert csv_bytes(pd.DataFrame({"ort": ["Zürich", "Łódź"]})) == "ort\nZürich\nŁódź\n".encode()


def _fake_run(folder: Path) -> Path:
    (folder / "model").mkdir(parents=True)
    (folder / "config.toml").write_text("epochs = 3\n")
    (folder / "synthetic.csv").write_text("a\n1\n")
    (folder / "model" / "weights.pt").write_bytes(bytes(range(256)) * 4)
    (folder / ".report.tmp").mkdir()
    (folder / ".report.tmp" / "report.html").write_text("half written")
    return folder


def test_the_archive_holds_every_file_of_the_run(tmp_path: Path) -> None:
    folder = _fake_run(tmp_path / "20260101-120000-abcdef")
    with zipfile.ZipFile(io.BytesIO(run_archive(folder))) as archive:
        assert archive.testzip() is None
        assert sorted(archive.namelist()) == [
            "20260101-120000-abcdef/config.toml",
            "20260101-120000-abcdef/model/weights.pt",
            "20260101-120000-abcdef/synthetic.csv",
        ]
        assert (
            archive.read("20260101-120000-abcdef/model/weights.pt")
            == (folder / "model" / "weights.pt").read_bytes()
        )
    assert not list(tmp_path.glob("*.zip"))  # built in memory


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("nhefs", "nhefs"),
        ("ward data.csv", "ward_data"),
        ("export.CSV.gz", "export"),
        ("../../etc/passwd", "passwd"),
        ("...", "table"),
    ],
)
def test_download_stems_are_safe_file_names(name: str, stem: str) -> None:
    assert download_stem(name) == stem


@pytest.mark.parametrize(
    ("measured", "threshold", "sense", "relative"),
    [
        (0.025, 0.05, "at most", 0.5),
        (0.1, 0.05, "at most", 2.0),
        (0.0, 0.0, "at most", 1.0),
        (0.01, 0.0, "at most", 2.0),
        (1.0, 0.8, "at least", 0.8),
        (0.4, 0.8, "at least", 2.0),
        (0.0, 0.8, "at least", math.inf),
    ],
)
def test_relative_to_threshold_is_at_most_one_when_met(
    measured: float, threshold: float, sense: str, relative: float
) -> None:
    assert relative_to_threshold(measured, threshold, sense) == pytest.approx(relative)


def test_relative_to_threshold_of_nothing_measured_is_nan() -> None:
    assert math.isnan(relative_to_threshold(None, 0.05, "at most"))
    assert math.isnan(relative_to_threshold(math.nan, 0.05, "at most"))


def test_constraint_table_reads_a_run_summary() -> None:
    summary = {
        "constraints": [
            {
                "key": "close_records",
                "label": "Too close",
                "rule": "At most 5% too close.",
                "sense": "at most",
                "threshold": 0.05,
                "measured_on_release": 0.1,
                "satisfied_on_release": False,
            }
        ]
    }
    table = constraint_table(summary)
    assert table.to_dict("records") == [
        {
            "key": "close_records",
            "constraint": "close records",
            "rule": "At most 5% too close.",
            "sense": "at most",
            "threshold": 0.05,
            "measured": 0.1,
            "met": False,
            "relative": pytest.approx(2.0),
        }
    ]
    assert constraint_table(None).empty
    assert list(constraint_table(None).columns) == list(table.columns)


def test_report_sensitive_needs_both_files_and_a_readable_json(tmp_path: Path) -> None:
    assert report_sensitive(tmp_path) is None
    (tmp_path / REPORT_JSON).write_text(json.dumps({"dataset": {"sensitive": ["sex"]}}))
    assert report_sensitive(tmp_path) is None  # no HTML yet
    (tmp_path / REPORT_HTML).write_text("<html></html>")
    assert report_sensitive(tmp_path) == ("sex",)
    (tmp_path / REPORT_JSON).write_text('{"dataset": ')
    assert report_sensitive(tmp_path) is None


def test_sensitive_in_keeps_schema_columns_other_than_the_target() -> None:
    assert sensitive_in(("age", "sex", "death"), "death", ("sex", "death", "gone")) == ("sex",)
