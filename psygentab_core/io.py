"""Reading and writing tables: CSV (any common delimiter and encoding) and Parquet."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from psygentab_core.errors import DataError

_SIGNATURES = {
    b"PK\x03\x04": "a ZIP archive or an Excel .xlsx workbook",
    b"\xd0\xcf\x11\xe0": "an Excel .xls workbook",
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\x1f\x8b": "a gzip archive",
}
_PARQUET_MAGIC = b"PAR1"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_DELIMITERS = ",;\t|"
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "vertical bar"}
# Text files hold almost no control characters; a sample with more than this share of them
# (other than tab and line ends) is binary data that happened to contain no NUL byte.
_MAX_CONTROL_SHARE = 0.01
_MIN_CONTROLS = 8
# Spellings of infinity pandas reads as such; any other number read as infinite overflowed.
_INFINITY_WORDS = frozenset({"inf", "infinity"})


def read_table(source: str | Path | bytes | BinaryIO, *, name: str | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet table from a path, bytes or a binary file object.

    CSV files may be comma, semicolon, tab or pipe separated, in UTF-8 (with or without a byte
    order mark), UTF-16 with a byte order mark (Excel's "Unicode text") or Windows-1252/Latin-1.
    A column with neither a name nor a single value (a delimiter at the end of every line) is
    dropped, as it holds nothing.

    Raises:
        DataError: with a one-sentence explanation of what is wrong and what to do. Line numbers
            in messages count the header as line 1, like a spreadsheet's row numbers.
    """
    raw, label = _read_bytes(source, name)
    if not raw.strip():
        raise DataError(_empty_message(label))
    if raw[:4] == _PARQUET_MAGIC or label.lower().endswith(".parquet"):
        return _read_parquet(raw, label)
    for signature, what in _SIGNATURES.items():
        if raw.startswith(signature):
            raise DataError(
                f"{label} is {what}, not a CSV file; export it as CSV (comma-separated) first."
            )
    # UTF-16 text is half NUL bytes, so it is recognised by its byte order mark before the
    # NUL test below would call it binary.
    if not raw.startswith(_UTF16_BOMS) and b"\x00" in raw[:8192]:
        raise DataError(_binary_message(label))
    return _read_csv(raw, label)


def _empty_message(label: str) -> str:
    """The message for a file with nothing in it (or only white space)."""
    return (
        f"{label} is empty; choose the file that holds the table (a header line with the column "
        "names, then one line per patient)."
    )


def _binary_message(label: str) -> str:
    """The message for a file that is not text (an image, a database, a renamed workbook)."""
    return f"{label} contains binary data, not text; export the table as CSV."


def _read_bytes(source: str | Path | bytes | BinaryIO, name: str | None) -> tuple[bytes, str]:
    if isinstance(source, bytes):
        return source, name or "the uploaded file"
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.exists():
            raise DataError(f"File not found: {path}.")
        if path.is_dir():
            raise DataError(f"{path} is a folder, not a file.")
        if path.suffix == ".gz":
            import gzip

            try:
                return gzip.decompress(path.read_bytes()), name or path.name
            except OSError as error:
                raise DataError(f"{path.name} is not a valid gzip file: {error}.") from None
        return path.read_bytes(), name or path.name
    return source.read(), name or getattr(source, "name", "the uploaded file")


def _read_parquet(raw: bytes, label: str) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(io.BytesIO(raw))
    except Exception as error:
        raise DataError(f"{label} could not be read as Parquet: {error}.") from None
    if frame.empty:
        raise DataError(f"{label} has no rows.")
    return plain_dtypes(frame)


def _decode(raw: bytes, label: str) -> tuple[str, str]:
    if raw.startswith(_UTF16_BOMS):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise DataError(
                f"{label} starts like UTF-16 text but is not valid UTF-16; save it as UTF-8 CSV."
            ) from None
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise DataError(f"{label}: the text encoding is not recognised; save it as UTF-8.")


def _looks_binary(text: str) -> bool:
    """Whether decoded text is mostly not text (control characters other than tab and line
    ends, as random bytes decode to)."""
    sample = text[:8192]
    controls = sum(
        1 for ch in sample if (ch < " " and ch not in "\t\n\r") or "\x7f" <= ch <= "\x9f"
    )
    # A few stray ones (a form feed, an end-of-file mark) in a short file are still text.
    return controls >= _MIN_CONTROLS and controls > _MAX_CONTROL_SHARE * len(sample)


def _sniff_delimiter(text: str) -> str:
    head = "\n".join(text.splitlines()[:50])
    try:
        return csv.Sniffer().sniff(head, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        first = text.splitlines()[0] if text else ""
        counts = {d: first.count(d) for d in _DELIMITERS}
        best = max(counts, key=counts.get)
        return best if counts[best] > 0 else ","


def _read_csv(raw: bytes, label: str) -> pd.DataFrame:
    text, _ = _decode(raw, label)
    if not text.strip():
        raise DataError(_empty_message(label))
    if _looks_binary(text):
        raise DataError(_binary_message(label))
    delimiter = _sniff_delimiter(text)
    # Decimal commas go with semicolon- or tab-separated files (European spreadsheet exports).
    decimal = "," if delimiter != "," and _has_decimal_commas(text, delimiter) else "."
    header = _header(text, delimiter)
    if header is not None:
        _check_header_names(header[1], label, header[0])
    try:
        # Nullable dtypes keep "3" as 3 even when the column has gaps (plain pandas reads 3.0).
        frame = pd.read_csv(
            io.StringIO(text), sep=delimiter, decimal=decimal, dtype_backend="numpy_nullable"
        )
    except pd.errors.EmptyDataError:
        raise DataError(_empty_message(label)) from None
    except pd.errors.ParserError as error:
        raise DataError(
            f"{label} is not a well-formed CSV file: {_parser_problem(error, delimiter)}."
        ) from None
    except ValueError as error:
        raise DataError(f"{label} could not be read: {_short(error)}.") from None
    if not isinstance(frame.index, pd.RangeIndex):
        # pandas silently turns the extra leading fields into an index, shifting every column.
        raise DataError(
            f"{label} is not a well-formed CSV file: the first row has more fields than the "
            f"header ({len(frame.columns)} names); give every column a header."
        )
    if header is not None:
        frame = _drop_empty_nameless(frame, header[1], label, header[0])
    if frame.empty:
        raise DataError(
            f"{label} has a header but no rows; export the table again with its data rows "
            "(one line per patient)."
        )
    frame = plain_dtypes(frame)
    _check_overflow(frame, text, delimiter, label, header[0] if header is not None else 1)
    return frame


def _header(text: str, delimiter: str) -> tuple[int, list[str]] | None:
    """The header's line number and names as the CSV reader splits them (pandas renames
    repeated names, "a" and "a" becoming "a" and "a.1", so they are read here first); None if
    the text cannot be split this way (pandas then reports the problem)."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        for row in reader:
            if row:  # pandas skips empty lines before the header
                return reader.line_num, row
    except csv.Error:
        return None
    return None


def _check_header_names(names: list[str], label: str, line: int) -> None:
    """Refuse a header that names two columns alike (pandas would rename one silently)."""
    positions: dict[str, list[int]] = {}
    for position, name in enumerate(names, start=1):
        if name.strip():
            positions.setdefault(name, []).append(position)
    repeated = {name: where for name, where in positions.items() if len(where) > 1}
    if not repeated:
        return
    name, where = next(iter(repeated.items()))
    others = [repr(n) for n in repeated if n != name]
    also = f" (also repeated: {', '.join(others)})" if others else ""
    raise DataError(
        f"{label}: the header (line {line}) uses the name {name!r} for columns "
        f"{_and(where)}{also}; give every column a different name."
    )


def _and(numbers: list[int]) -> str:
    """1 and 2; 1, 2 and 5."""
    words = [str(n) for n in numbers]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _drop_empty_nameless(
    frame: pd.DataFrame, names: list[str], label: str, line: int
) -> pd.DataFrame:
    """Drop columns with a blank header and no values; refuse blank headers over values."""
    if len(names) != len(frame.columns):
        return frame  # the header was split differently; the schema check still names blanks
    blank = [i for i, name in enumerate(names) if not name.strip()]
    if not blank:
        return frame
    if len(blank) == len(names):
        raise DataError(
            f"{label}: the header (line {line}) holds no column names; the first line must "
            "name the columns."
        )
    holding = [i for i in blank if frame.iloc[:, i].notna().any()]
    if holding:
        others = ", ".join(str(i + 1) for i in holding[1:10])
        also = f" (columns {others} too)" if others else ""
        raise DataError(
            f"{label}: column {holding[0] + 1} has no name in the header (line {line}) but holds "
            f"values{also}; give it a name, or delete it if it only numbers the rows."
        )
    return frame.drop(columns=[frame.columns[i] for i in blank])


def _parser_problem(error: Exception, delimiter: str) -> str:
    """pandas' tokenizer message in words, with the line it points at."""
    message = str(error)
    fields = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    if fields:
        expected, line, saw = fields.groups()
        what = _DELIMITER_NAMES.get(delimiter, repr(delimiter))
        return (
            f"line {line} has {saw} fields but the header has {expected}; check that line for "
            f"a stray {what} or a missing quote (text that holds a {what} must be in double "
            "quotes)"
        )
    quote = re.search(r"EOF inside string starting at row (\d+)", message)
    if quote:
        # pandas counts rows from 0, the header included.
        line = int(quote.group(1)) + 1
        return (
            f'a quoted value that starts on line {line} is never closed; add the closing " or '
            "remove the opening one"
        )
    return _short(error)


def _check_overflow(
    frame: pd.DataFrame, text: str, delimiter: str, label: str, header_line: int
) -> None:
    """Refuse numbers beyond the float range (1e400), which pandas reads as infinite.

    Written infinities ("inf", "-Infinity") are kept: validation names them, and the user may
    exclude the column. Only columns holding an infinity are read again, as text.
    """
    for position, name in enumerate(frame.columns):
        values = frame.iloc[:, position]
        if not pd.api.types.is_float_dtype(values.dtype) or np.isfinite(values.dropna()).all():
            continue
        written = pd.read_csv(
            io.StringIO(text), sep=delimiter, usecols=[position], dtype=str, keep_default_na=False
        ).iloc[:, 0]
        infinite = np.isinf(values.to_numpy(dtype=float, na_value=np.nan))
        words = written.str.strip().str.lstrip("+-").str.lower()
        overflow = np.flatnonzero(infinite & ~words.isin(_INFINITY_WORDS).to_numpy())
        if overflow.size:
            # The line is exact unless an earlier cell holds a line break inside quotes.
            row = int(overflow[0])
            raise DataError(
                f"{label}: column {name!r} holds a number too large to store, "
                f"{written.iloc[row].strip()!r} on line {header_line + 1 + row}"
                f"{_more(overflow.size)}; numbers must lie within ±1.8e308, so check the value "
                "(a typing or unit error?) or leave the cell empty."
            )


def _more(count: int) -> str:
    """What follows the first of ``count`` values in a message: nothing when it is alone."""
    if count == 1:
        return ""
    return f" (and {count - 1} more such value{'s' if count > 2 else ''})"


def plain_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """Text as object columns and decimals as float64 (NaN for missing); whole numbers stay
    nullable integers and true/false stays nullable boolean, so their written form survives."""
    columns = {}
    for name in frame.columns:
        values = frame[name]
        if pd.api.types.is_string_dtype(values.dtype) or isinstance(values.dtype, pd.StringDtype):
            values = values.astype(object).where(values.notna(), np.nan)
        elif pd.api.types.is_float_dtype(values.dtype):
            values = values.astype("float64")
        columns[name] = values
    return pd.DataFrame(columns, index=frame.index)


def _has_decimal_commas(text: str, delimiter: str) -> bool:
    """Whether a file separated by ``delimiter`` (not a comma) writes decimals with commas."""
    sample = "\n".join(text.splitlines()[1:200])
    sep = re.escape(delimiter)
    return bool(re.search(rf"(^|{sep})-?\d+,\d+({sep}|$)", sample, flags=re.MULTILINE))


def _short(error: Exception) -> str:
    return str(error).strip().splitlines()[0].rstrip(".")


def write_table(frame: pd.DataFrame, path: str | Path) -> None:
    """Write a table as CSV (or Parquet for a .parquet path), creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
