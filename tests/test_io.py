"""Tests for psygentab_core.io: reading CSV/Parquet in their common forms, and writing."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from psygentab_core.config import TrainConfig
from psygentab_core.errors import DataError, PsygentabError
from psygentab_core.io import read_table, write_table
from psygentab_core.schema import infer_schema, validate_schema
from psygentab_core.training import prepare_data


@pytest.fixture
def expected() -> pd.DataFrame:
    """The table every CSV variant below holds: an integer with a gap, text, decimals."""
    return pd.DataFrame(
        {
            "age": pd.array([34, None, 71], dtype="Int64"),
            "sex": pd.Series(["female", "male", np.nan], dtype=object),
            "bmi": [22.5, 31.25, np.nan],
        }
    )


CSV_VARIANTS = {
    "comma": b"age,sex,bmi\n34,female,22.5\n,male,31.25\n71,,\n",
    "semicolon-decimal-comma": b"age;sex;bmi\n34;female;22,5\n;male;31,25\n71;;\n",
    "tab": b"age\tsex\tbmi\n34\tfemale\t22.5\n\tmale\t31.25\n71\t\t\n",
    "crlf": b"age,sex,bmi\r\n34,female,22.5\r\n,male,31.25\r\n71,,\r\n",
    "utf8-bom": b"\xef\xbb\xbfage,sex,bmi\n34,female,22.5\n,male,31.25\n71,,\n",
}


@pytest.mark.parametrize("variant", CSV_VARIANTS)
def test_csv_bytes(variant: str, expected: pd.DataFrame) -> None:
    frame = read_table(CSV_VARIANTS[variant])
    pd.testing.assert_frame_equal(frame, expected)


@pytest.mark.parametrize("variant", CSV_VARIANTS)
def test_csv_path(variant: str, expected: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / f"{variant}.csv"
    path.write_bytes(CSV_VARIANTS[variant])
    for source in (path, str(path)):
        pd.testing.assert_frame_equal(read_table(source), expected)


def test_csv_file_object(expected: pd.DataFrame) -> None:
    frame = read_table(io.BytesIO(CSV_VARIANTS["comma"]))
    pd.testing.assert_frame_equal(frame, expected)


def test_csv_gzip_path(expected: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "table.csv.gz"
    path.write_bytes(gzip.compress(CSV_VARIANTS["semicolon-decimal-comma"]))
    pd.testing.assert_frame_equal(read_table(path), expected)


def test_semicolon_with_decimal_commas() -> None:
    raw = b"id;weight;note\n1;70,5;a\n2;80;b\n3;-65,25;c\n"
    frame = read_table(raw)
    assert list(frame.columns) == ["id", "weight", "note"]
    assert frame["weight"].dtype == np.float64
    assert frame["weight"].tolist() == [70.5, 80.0, -65.25]


def test_semicolon_without_decimal_commas_keeps_commas_in_text() -> None:
    frame = read_table(b"name;n\nSmith, J;3\nLee;4\n")
    assert frame["name"].tolist() == ["Smith, J", "Lee"]
    assert frame["n"].tolist() == [3, 4]


def test_quoted_delimiters_in_comma_file() -> None:
    frame = read_table(b'name,note\n"Smith, J","a;b"\nLee,c\n')
    assert frame.to_dict("list") == {"name": ["Smith, J", "Lee"], "note": ["a;b", "c"]}


def test_pipe_and_single_column() -> None:
    assert read_table(b"a|b\n1|x\n2|y\n").to_dict("list") == {"a": [1, 2], "b": ["x", "y"]}
    assert read_table(b"a\n1\n2\n").to_dict("list") == {"a": [1, 2]}


def test_utf8_text_with_bom() -> None:
    raw = "\ufeffname,city\nJosé,Zürich\nChloë,Kraków\n".encode()
    frame = read_table(raw)
    assert list(frame.columns) == ["name", "city"]  # no BOM glued to the first header
    assert frame["name"].tolist() == ["José", "Chloë"]
    assert frame["city"].tolist() == ["Zürich", "Kraków"]


def test_latin1_text(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("city;n\nKöln;3\nMünchen;4\nPréfecture;5\n".encode("latin-1"))
    frame = read_table(path)
    assert frame["city"].tolist() == ["Köln", "München", "Préfecture"]
    assert frame["n"].tolist() == [3, 4, 5]


def test_dtypes_whole_numbers_with_gaps_stay_integers() -> None:
    frame = read_table(b"count,label,flag,ratio\n3,a,true,1.0\n,b,false,2.5\n5,,true,\n")
    assert frame["count"].dtype == "Int64"
    assert frame["count"].tolist()[0] == 3
    assert frame["count"].isna().tolist() == [False, True, False]
    assert frame["label"].dtype == object
    assert frame["label"].tolist()[:2] == ["a", "b"]
    assert np.isnan(frame["label"].tolist()[2])  # text gaps are NaN, not pd.NA
    assert frame["flag"].dtype == "boolean"
    assert frame["ratio"].dtype == np.float64
    assert np.isnan(frame["ratio"].iloc[2])


def test_parquet(expected: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "table.parquet"
    expected.to_parquet(path, index=False)
    pd.testing.assert_frame_equal(read_table(path), expected)
    # The magic number is recognised without the file name too.
    pd.testing.assert_frame_equal(read_table(path.read_bytes()), expected)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_write_table_round_trip(expected: pd.DataFrame, tmp_path: Path, suffix: str) -> None:
    path = tmp_path / "nested" / "folder" / f"out{suffix}"
    write_table(expected, path)
    assert path.is_file()
    pd.testing.assert_frame_equal(read_table(path), expected)


def test_write_csv_has_no_index(expected: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    write_table(expected, path)
    assert path.read_text().splitlines()[0] == "age,sex,bmi"


# ---------------------------------------------------------------------------------------------
# What cannot be read


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.csv"
    with pytest.raises(DataError, match=r"File not found: .*nowhere\.csv"):
        read_table(missing)


def test_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="is a folder, not a file"):
        read_table(tmp_path)


@pytest.mark.parametrize("raw", [b"", b"   \n\n", b"\r\n"])
def test_empty(raw: bytes, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"^the uploaded file is empty; choose the file that"):
        read_table(raw)
    path = tmp_path / "empty.csv"
    path.write_bytes(raw)
    with pytest.raises(DataError, match=r"^empty\.csv is empty; "):
        read_table(path)


@pytest.mark.parametrize("raw", [b"a,b,c\n", b"a;b\n", b"a,b,c"])
def test_header_only(raw: bytes) -> None:
    with pytest.raises(DataError, match=r"^data\.csv has a header but no rows; export the table"):
        read_table(raw, name="data.csv")


@pytest.mark.parametrize(
    ("raw", "what"),
    [
        (b"PK\x03\x04\x14\x00\x06\x00rest-of-an-xlsx", "a ZIP archive or an Excel .xlsx workbook"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", "an Excel .xls workbook"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "a PDF document"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "a PNG image"),
        (gzip.compress(b"a,b\n1,2\n"), "a gzip archive"),
    ],
)
def test_file_signatures(raw: bytes, what: str, tmp_path: Path) -> None:
    with pytest.raises(DataError) as caught:
        read_table(raw, name="upload.csv")
    assert str(caught.value) == (
        f"upload.csv is {what}, not a CSV file; export it as CSV (comma-separated) first."
    )
    path = tmp_path / "sheet.csv"
    path.write_bytes(raw)
    with pytest.raises(DataError, match=f"^sheet.csv is {what}"):
        read_table(path)


def test_binary_data() -> None:
    raw = b"a,b\n1,2\n" + bytes(range(256))
    with pytest.raises(DataError, match="contains binary data, not text"):
        read_table(raw)


def test_bad_gzip(tmp_path: Path) -> None:
    path = tmp_path / "table.csv.gz"
    path.write_bytes(b"a,b\n1,2\n")
    with pytest.raises(DataError, match=r"table\.csv\.gz is not a valid gzip file"):
        read_table(path)


def test_bad_parquet(tmp_path: Path) -> None:
    path = tmp_path / "table.parquet"
    path.write_bytes(b"PAR1 but not really a parquet file")
    with pytest.raises(DataError, match=r"table\.parquet could not be read as Parquet"):
        read_table(path)


def test_empty_parquet(tmp_path: Path) -> None:
    path = tmp_path / "table.parquet"
    pd.DataFrame({"a": pd.Series([], dtype="int64")}).to_parquet(path)
    with pytest.raises(DataError, match=r"table\.parquet has no rows"):
        read_table(path)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b'a,b\n1,"never closed\n2,3\n', id="unclosed-quote"),
        pytest.param(b"a,b\n1,2\n3,4,5\n", id="later-row-too-long"),
        # pandas would make the extra leading fields an index and shift every column.
        pytest.param(b"a,b\n1,2,3,4\n5,6\n", id="first-row-too-long"),
        pytest.param(b"a,b\nr1,1,2\nr2,3,4\n", id="row-names-without-header"),
    ],
)
def test_malformed_csv(raw: bytes) -> None:
    with pytest.raises(DataError, match=r"^data\.csv is not a well-formed CSV file: "):
        read_table(raw, name="data.csv")


# ---------------------------------------------------------------------------------------------
# Hardening (issue 6): what pandas would silently get wrong or report in its own words


def test_repeated_header_names_are_refused_not_renamed() -> None:
    # pandas would read the second "age" as "age.1" and train on both.
    with pytest.raises(DataError) as caught:
        read_table(b"age,sex,age\n1,f,2\n", name="data.csv")
    assert str(caught.value) == (
        "data.csv: the header (line 1) uses the name 'age' for columns 1 and 3; give every "
        "column a different name."
    )
    with pytest.raises(DataError, match=r"for columns 1, 2 and 4 \(also repeated: 'b'\);"):
        read_table(b"a;a;b;a;b\n1;2;3;4;5\n")


def test_nameless_columns_with_values_are_refused() -> None:
    with pytest.raises(DataError) as caught:
        read_table(b"a,,b,\n1,2,3,4\n", name="data.csv")
    assert str(caught.value) == (
        "data.csv: column 2 has no name in the header (line 1) but holds values (columns 4 "
        "too); give it a name, or delete it if it only numbers the rows."
    )
    with pytest.raises(DataError, match=r"the header \(line 1\) holds no column names"):
        read_table(b",\n1,2\n")


def test_nameless_empty_columns_are_dropped() -> None:
    # A delimiter at the end of every line (some spreadsheet exports) adds an empty column.
    frame = read_table(b"a;b;\n1;x;\n2;y;\n")
    assert frame.to_dict("list") == {"a": [1, 2], "b": ["x", "y"]}


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_byte_order_mark(encoding: str) -> None:
    # Excel's "Unicode text" export: UTF-16 with a byte order mark, tab-separated.
    text = "\ufeffname\tn\r\nJosé\t1\r\nZoë\t2\r\n"
    frame = read_table(text.encode(encoding))
    assert frame.to_dict("list") == {"name": ["José", "Zoë"], "n": [1, 2]}


def test_utf16_without_byte_order_mark_is_binary() -> None:
    with pytest.raises(DataError, match="contains binary data, not text"):
        read_table("a,b\n1,2\n".encode("utf-16-le"))


def test_only_a_byte_order_mark_is_empty() -> None:
    with pytest.raises(DataError, match=r"^data\.csv is empty; "):
        read_table(b"\xef\xbb\xbf", name="data.csv")


def test_control_characters_without_nul_are_binary() -> None:
    raw = bytes(range(1, 256)) * 8  # every byte but NUL
    with pytest.raises(DataError) as caught:
        read_table(raw, name="photo.csv")
    assert str(caught.value) == (
        "photo.csv contains binary data, not text; export the table as CSV."
    )
    # A stray form feed in real text is not enough.
    assert read_table(b"a,b\n1,x\x0c\n2,y\n")["a"].tolist() == [1, 2]


def test_tab_separated_with_decimal_commas() -> None:
    frame = read_table(b"id\tweight\n1\t70,5\n2\t-65,25\n3\t80\n")
    assert frame["weight"].dtype == np.float64
    assert frame["weight"].tolist() == [70.5, -65.25, 80.0]


def test_numbers_beyond_float_range_are_refused_with_their_line() -> None:
    with pytest.raises(DataError) as caught:
        read_table(b"a,b\n1.5,x\n1e400,y\n2,z\n", name="data.csv")
    assert str(caught.value) == (
        "data.csv: column 'a' holds a number too large to store, '1e400' on line 3; numbers "
        "must lie within ±1.8e308, so check the value (a typing or unit error?) or leave the "
        "cell empty."
    )
    with pytest.raises(DataError, match=r"'-1E999' on line 2 \(and 2 more such values\)"):
        read_table(b"a;b\n-1E999;1\n1e400;2\n2e308;3\n")


def test_written_infinities_are_kept_for_validation() -> None:
    frame = read_table(b"a,b\ninf,1\n-Infinity,2\n+inf,3\n1.5,4\n")
    assert frame["a"].tolist()[:3] == [np.inf, -np.inf, np.inf]


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (
            b"a,b\n1,2\n3,4,5\n",
            "line 3 has 3 fields but the header has 2; check that line for a stray comma or a "
            "missing quote (text that holds a comma must be in double quotes).",
        ),
        (
            b"a;b\n1;2\n3;4;5\n",
            "line 3 has 3 fields but the header has 2; check that line for a stray semicolon or "
            "a missing quote (text that holds a semicolon must be in double quotes).",
        ),
        (
            b'a,b\n1,2\n3,"never closed\n4,5\n',
            'a quoted value that starts on line 3 is never closed; add the closing " or remove '
            "the opening one.",
        ),
    ],
)
def test_malformed_csv_says_which_line_in_words(raw: bytes, problem: str) -> None:
    with pytest.raises(DataError) as caught:
        read_table(raw, name="data.csv")
    assert str(caught.value) == f"data.csv is not a well-formed CSV file: {problem}"


# ---------------------------------------------------------------------------------------------
# Fuzzing: whatever table a spreadsheet writes, the loader and inference answer in words

_cells = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        ["", " ", "inf", "-inf", "NaN", "n/a", "1e400", "2023-02-30", "31/12/2023", "x\x0cy"]
    ),
    # Control characters in every cell would make most tables binary data; a few come above.
    st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=12),
)
_names = st.one_of(
    st.sampled_from(["", "age", "Age", "id", "=cmd|' /C calc'!A0", "Unnamed: 0", "a,b", '"q"']),
    st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=8),
)


@st.composite
def _csv_tables(draw: st.DrawFn) -> bytes:
    """A small table of mixed cells and odd column names, as one spreadsheet might export it."""
    n_columns = draw(st.integers(1, 5))
    # Half the tables have distinct names, so that most examples get past the header checks.
    unique = draw(st.booleans())
    names = draw(st.lists(_names, min_size=n_columns, max_size=n_columns, unique=unique))
    n_rows = draw(st.integers(0, 40))
    columns = [draw(st.lists(_cells, min_size=n_rows, max_size=n_rows)) for _ in names]
    frame = pd.DataFrame(dict(enumerate(columns)), index=range(n_rows)).set_axis(names, axis=1)
    sep = draw(st.sampled_from([",", ";", "\t", "|"]))
    text = frame.to_csv(index=False, sep=sep)
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]))
    return text.encode(encoding, errors="replace")


def _load_infer_validate_prepare(raw: bytes) -> PsygentabError | None:
    """The error the core answers ``raw`` with, or None if training would accept it."""
    try:
        frame = read_table(raw, name="upload.csv")
        schema = infer_schema(frame)
        validate_schema(schema, frame)
        prepare_data(frame, schema, TrainConfig())
    except PsygentabError as error:
        return error
    return None


@settings(max_examples=60, deadline=None)
@given(_csv_tables())
def test_fuzzed_tables_load_infer_and_validate_or_say_why(raw: bytes) -> None:
    # Any other exception (a raw pandas or numpy error) fails the test.
    error = _load_infer_validate_prepare(raw)
    assert error is None or str(error).strip()  # a message for a person, never an empty one


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=400))
def test_fuzzed_bytes_load_or_say_why(raw: bytes) -> None:
    error = _load_infer_validate_prepare(raw)
    assert error is None or str(error).strip()
