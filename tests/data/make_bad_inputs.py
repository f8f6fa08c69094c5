"""The corpus of malformed and awkward inputs (issue 6): what a clinic's export can look like.

Small inputs are committed under ``tests/data/bad/``; this module is where they come from, so
that each one can be read as code and rebuilt exactly::

    python -m tests.data.make_bad_inputs          # rewrites tests/data/bad/*

Large inputs (5,000 levels, 500 columns, a million rows, a file over the dashboard's upload
limit) are never committed: the tests call :func:`make_large` to write them into a temporary
folder. Every value comes from arithmetic on the row number, not from a random generator, so
the bytes never change with a library version.
"""

from __future__ import annotations

import io
import tomllib
import zipfile
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
BAD = Path(__file__).resolve().parent / "bad"
STREAMLIT_CONFIG = ROOT / ".streamlit" / "config.toml"

BASE_ROWS = 40
HEADER = ("age", "sex", "bmi", "ward", "admitted", "outcome")
FORMULA_NAME = "=cmd|' /C calc'!A0"


# ---------------------------------------------------------------------------------------------
# The well-formed table every small input is a variation of


def base_row(i: int) -> dict[str, str]:
    """Row ``i`` of a small clinical table, as the text a CSV file holds.

    Ages repeat (13 values), BMI has one decimal, admission dates are all different and
    written as YYYY-MM-DD, and 12 of 40 patients have the outcome.
    """
    admitted = date(2023, 1, 1) + timedelta(days=(i * 11) % 365)
    return {
        "age": str(20 + 5 * ((i * 7) % 13)),
        "sex": "female" if (i * i) % 3 == 0 else "male",
        "bmi": f"{18.5 + ((i * 37) % 150) / 10:.1f}",
        "ward": "ABC"[(i * 5) % 3],
        "admitted": admitted.isoformat(),
        "outcome": "yes" if (i * 13) % 10 < 3 else "no",
    }


def base_rows(n: int = BASE_ROWS) -> list[dict[str, str]]:
    """The first ``n`` rows of the base table."""
    return [base_row(i) for i in range(n)]


def csv_text(
    rows: Sequence[dict[str, str]],
    header: Sequence[str] | None = None,
    *,
    sep: str = ",",
    newline: str = "\n",
) -> str:
    """Rows as CSV text, exactly as given (no quoting: each input controls its own)."""
    header = list(header if header is not None else rows[0])
    lines = [sep.join(header)]
    lines += [sep.join(row[name] for name in header) for row in rows]
    return newline.join(lines) + newline


def _with(column: str, values: dict[int, str], n: int = BASE_ROWS) -> list[dict[str, str]]:
    """The base rows with some cells of one column replaced (row number → new text)."""
    rows = base_rows(n)
    for i, value in values.items():
        rows[i][column] = value
    return rows


# ---------------------------------------------------------------------------------------------
# Small inputs, committed


def _latin1() -> bytes:
    rows = base_rows()
    cities = ("Köln", "München", "Genève", "Zürich", "Malmö")
    for i, row in enumerate(rows):
        row["city"] = cities[i % len(cities)]
    return csv_text(rows, sep=";").encode("latin-1")


def _decimal_commas(sep: str) -> bytes:
    rows = base_rows()
    for row in rows:
        row["bmi"] = row["bmi"].replace(".", ",")
    return csv_text(rows, sep=sep).encode()


def _quoted_newlines() -> bytes:
    rows = base_rows()
    for i, row in enumerate(rows):
        row["note"] = '"seen twice;\nfollow-up booked"' if i % 4 == 0 else "routine"
    return csv_text(rows).encode()


def _blank_column_name() -> bytes:
    rows = base_rows()
    for i, row in enumerate(rows):
        row[""] = str(i % 3)
    return csv_text(rows, [*HEADER[:2], "", *HEADER[2:]]).encode()


def _row_names() -> bytes:
    # R's write.csv: a first column of row numbers under an empty header.
    rows = base_rows()
    for i, row in enumerate(rows, start=1):
        row['""'] = f'"{i}"'
    return csv_text(rows, ['""', *HEADER]).encode()


def _pandas_index() -> bytes:
    # A table read with pandas and saved again with its row index: the index's empty header
    # comes back as the literal text "Unnamed: 0".
    rows = base_rows()
    for i, row in enumerate(rows):
        row["Unnamed: 0"] = str(i)
    return csv_text(rows, ["Unnamed: 0", *HEADER]).encode()


def _trailing_delimiter() -> bytes:
    text = csv_text(base_rows(), sep=";")
    return "".join(line + ";\n" for line in text.splitlines()).encode()


def _identifier() -> bytes:
    rows = base_rows()
    for i, row in enumerate(rows):
        row["patient_id"] = f"P{1000 + i * 7}"
    return csv_text(rows, ["patient_id", *HEADER]).encode()


def _only_target_left() -> bytes:
    rows = base_rows()
    for i, row in enumerate(rows):
        row["patient_id"] = f"P{1000 + i * 7}"
    return csv_text(rows, ["patient_id", "outcome"]).encode()


def _formula_column() -> bytes:
    rows = base_rows()
    for i, row in enumerate(rows):
        row[FORMULA_NAME] = str(i % 4)
        row["comment"] = ("=1+1", "@SUM(A1:A9)", "+44 20 7946 0000", "fine")[i % 4]
    return csv_text(rows, [FORMULA_NAME, "comment", *HEADER]).encode()


def _ragged_rows() -> bytes:
    rows = base_rows()
    rows[3]["ward"] = "B,C"  # an unquoted comma inside a value: one field too many
    return csv_text(rows).encode()


def _unclosed_quote() -> bytes:
    rows = base_rows()
    rows[2]["ward"] = '"B'
    return csv_text(rows).encode()


def _xlsx() -> bytes:
    """A minimal Excel workbook (one sheet, two cells), as Excel's own zip layout holds it."""
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            '<sheets><sheet name="patients" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
        ),
        "xl/worksheets/sheet1.xml": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>age</t></is></c></row>'
            '<row r="2"><c r="A2"><v>61</v></c></row></sheetData></worksheet>'
        ),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            # A fixed time stamp keeps the bytes the same on every run.
            archive.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), text)
    return buffer.getvalue()


def _binary() -> bytes:
    # Bytes of every value, NUL included, in a fixed scrambled order (like an image or a
    # database file).
    return bytes((i * 73 + 41) % 256 for i in range(4096))


def _mixed_dates() -> bytes:
    rows = base_rows()
    for i, row in enumerate(rows):
        if i % 2:  # every other date written day first, as a European spreadsheet would
            row["admitted"] = date.fromisoformat(row["admitted"]).strftime("%d/%m/%Y")
    return csv_text(rows).encode()


SMALL: dict[str, Callable[[], bytes]] = {
    "empty.csv": lambda: b"",
    "header_only.csv": lambda: csv_text([], HEADER).encode(),
    "one_row.csv": lambda: csv_text(base_rows(1)).encode(),
    "latin1.csv": _latin1,
    "utf8_bom.csv": lambda: b"\xef\xbb\xbf" + csv_text(base_rows()).encode(),
    "utf16_excel_unicode_text.txt": lambda: csv_text(base_rows(), sep="\t", newline="\r\n").encode(
        "utf-16"
    ),
    "semicolon.csv": lambda: csv_text(base_rows(), sep=";").encode(),
    "tab.tsv": lambda: csv_text(base_rows(), sep="\t").encode(),
    "decimal_commas.csv": lambda: _decimal_commas(";"),
    "decimal_commas_tab.tsv": lambda: _decimal_commas("\t"),
    "quoted_newlines.csv": _quoted_newlines,
    "duplicate_column_names.csv": lambda: csv_text(
        base_rows(), [*HEADER[:4], "age", *HEADER[4:]]
    ).encode(),
    "blank_column_name.csv": _blank_column_name,
    "row_names_without_header.csv": _row_names,
    "pandas_unnamed_index.csv": _pandas_index,
    "trailing_delimiter.csv": _trailing_delimiter,
    "all_missing_column.csv": lambda: csv_text(_with("bmi", dict.fromkeys(range(40), ""))).encode(),
    "constant_column.csv": lambda: csv_text(_with("ward", dict.fromkeys(range(40), "A"))).encode(),
    "one_class_target.csv": lambda: csv_text(
        _with("outcome", dict.fromkeys(range(40), "no"))
    ).encode(),
    "minority_class_one_row.csv": lambda: csv_text(
        _with("outcome", {i: ("yes" if i == 5 else "no") for i in range(40)})
    ).encode(),
    "identifier_column.csv": _identifier,
    "only_target_left.csv": _only_target_left,
    "mixed_numbers_and_text.csv": lambda: csv_text(
        _with("age", {3: "unknown", 17: "not recorded"})
    ).encode(),
    "inf_and_nan_strings.csv": lambda: csv_text(
        _with("bmi", {1: "inf", 5: "-inf", 9: "NaN"})
    ).encode(),
    "beyond_float_range.csv": lambda: csv_text(_with("bmi", {2: "1e400", 30: "-1e999"})).encode(),
    "mixed_date_formats.csv": _mixed_dates,
    "impossible_dates.csv": lambda: csv_text(_with("admitted", {7: "2023-02-30"})).encode(),
    "excel_renamed.csv": _xlsx,
    "binary_renamed.csv": _binary,
    "ragged_rows.csv": _ragged_rows,
    "unclosed_quote.csv": _unclosed_quote,
    "formula_column_name.csv": _formula_column,
}


def small_inputs() -> dict[str, bytes]:
    """Every small input by file name."""
    return {name: make() for name, make in SMALL.items()}


def write_small(folder: Path = BAD) -> list[Path]:
    """Write every small input into ``folder``; returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, raw in small_inputs().items():
        path = folder / name
        path.write_bytes(raw)
        written.append(path)
    return written


# ---------------------------------------------------------------------------------------------
# Large inputs, generated into a temporary folder

MANY_LEVELS = 5000
WIDE_COLUMNS = 500
WIDE_ROWS = 200
MILLION = 1_000_000


def upload_limit_mb() -> int:
    """The dashboard's upload limit, ``server.maxUploadSize`` in .streamlit/config.toml (MB)."""
    with STREAMLIT_CONFIG.open("rb") as handle:
        return int(tomllib.load(handle)["server"]["maxUploadSize"])


def _write_lines(path: Path, header: str, line: Callable[[int], str], rows: int) -> Path:
    # Written in chunks: a million rows as one string would hold the whole file twice.
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(header + "\n")
        for start in range(0, rows, 100_000):
            handle.write("".join(line(i) for i in range(start, min(start + 100_000, rows))))
    return path


def _many_levels(path: Path) -> Path:
    # 5,000 clinic codes, each on two rows (so they are not flagged as one row's identifier).
    rows = 2 * MANY_LEVELS

    def line(i: int) -> str:
        return f"C{(i * 2503) % MANY_LEVELS:04d},{20 + i % 60},{'yes' if i % 7 == 0 else 'no'}\n"

    return _write_lines(path, "clinic_code,age,outcome", line, rows)


def _wide(path: Path) -> Path:
    header = ",".join(f"lab_{j:03d}" for j in range(WIDE_COLUMNS)) + ",outcome"

    def line(i: int) -> str:
        values = (f"{((i * 31 + j * 17) % 97) / 10:.1f}" for j in range(WIDE_COLUMNS))
        return ",".join(values) + f",{'yes' if i % 4 == 0 else 'no'}\n"

    return _write_lines(path, header, line, WIDE_ROWS)


def _million(path: Path) -> Path:
    # Three narrow columns: the cost is in the rows, which is what this input is about.
    def line(i: int) -> str:
        return f"{18 + (i * 7) % 73},{'FM'[(i * i) % 3 == 0]},{15 + (i * 37) % 250 / 10:.1f}\n"

    return _write_lines(path, "age,sex,bmi", line, MILLION)


def _over_upload_limit(path: Path) -> Path:
    # Just over the limit, in rows of the million-row table's shape (about 10 bytes each).
    limit = upload_limit_mb() * 1024 * 1024
    rows = limit // 10 + 1

    def line(i: int) -> str:
        return f"{18 + (i * 7) % 73},{'FM'[(i * i) % 3 == 0]},{15 + (i * 37) % 250 / 10:.1f}\n"

    _write_lines(path, "age,sex,bmi", line, rows)
    while path.stat().st_size <= limit:
        with path.open("a", encoding="utf-8") as handle:
            handle.write("".join(line(i) for i in range(100_000)))
    return path


LARGE: dict[str, Callable[[Path], Path]] = {
    "many_levels.csv": _many_levels,
    "wide_500_columns.csv": _wide,
    "million_rows.csv": _million,
    "over_upload_limit.csv": _over_upload_limit,
}


def make_large(name: str, folder: Path) -> Path:
    """Write the large input ``name`` (a key of :data:`LARGE`) into ``folder``."""
    return LARGE[name](folder / name)


if __name__ == "__main__":
    for written in write_small():
        print(f"{written.relative_to(ROOT)}: {written.stat().st_size:,} bytes")  # noqa: T201
