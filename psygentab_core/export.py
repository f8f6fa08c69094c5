"""What leaves the tool: spreadsheet-safe CSV, a zip of a run, the report files, a run's summary.

A released synthetic table is opened in Excel or LibreOffice far more often than in pandas, and
a spreadsheet runs any cell that starts like a formula (``=cmd|' /C calc'!A0`` is the classic
CSV injection). Text cells and column names that could be read as a formula get a leading
apostrophe, which spreadsheets take as "this is text"; numbers are never touched.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:  # the evaluation stack is heavy; CSV export alone should not load it
    from psygentab_core.evaluation.evaluate import Evaluation
    from psygentab_core.evaluation.report import RunInfo

# First characters a spreadsheet reads as the start of a formula (or of a DDE call).
FORMULA_STARTS = frozenset("=+-@")
# Control characters that are formula triggers in their own right, even before trimming.
CONTROL_STARTS = frozenset("\t\r")
TEXT_MARKER = "'"
REPORT_HTML = "report.html"
REPORT_JSON = "report.json"
# Table suffixes dropped from a dataset name before it becomes part of a download's file name.
_TABLE_SUFFIXES = re.compile(r"(\.(csv|tsv|txt|parquet))?(\.gz)?$", flags=re.IGNORECASE)
_UNSAFE_FILE_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]+")


def looks_like_formula(text: str) -> bool:
    """Whether a spreadsheet could run ``text`` as a formula (leading whitespace is no shield:
    Excel trims it before deciding)."""
    return text[:1] in CONTROL_STARTS or text.lstrip()[:1] in FORMULA_STARTS


def is_formula_text(value: Any) -> bool:
    """Whether ``value`` is text that a spreadsheet could run as a formula."""
    return isinstance(value, str) and looks_like_formula(value)


def neutralise(value: Any) -> Any:
    """``value`` with a leading apostrophe if it is text that looks like a formula."""
    return TEXT_MARKER + value if is_formula_text(value) else value


def _is_text_column(values: pd.Series) -> bool:
    # Numbers, booleans and dates are written as such and cannot start a formula by themselves
    # (a negative number must stay a number); anything that can hold text is checked.
    dtype = values.dtype
    return (
        pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
    )


def _safe_text_column(values: pd.Series) -> pd.Series | None:
    """The column with formula-like cells neutralised; None when no cell needs it."""
    text = values.astype(object)
    flagged = text.map(is_formula_text).astype(bool)
    if not flagged.any():
        return None
    text = text.copy()
    text[flagged] = TEXT_MARKER + text[flagged]
    # String columns keep their dtype; categories become plain text, as the marked values
    # are new categories (and could clash with existing ones).
    if isinstance(values.dtype, pd.CategoricalDtype):
        return text
    return text.astype(values.dtype)


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names cannot run as spreadsheet formulas.

    Only cells that need it change (missing values stay missing); numeric, boolean and date
    columns are kept exactly as they are.
    """
    safe = frame.copy()
    for position in range(safe.shape[1]):
        values = safe.iloc[:, position]
        if _is_text_column(values):
            changed = _safe_text_column(values)
            if changed is not None:
                safe.isetitem(position, changed)
    # Positional rename, so duplicate or non-text column names survive unchanged.
    safe.columns = [neutralise(name) for name in safe.columns]
    return safe


def _has_bare_carriage_return(frame: pd.DataFrame) -> bool:
    """Whether any text cell or column name holds a carriage return."""
    names = any(isinstance(name, str) and "\r" in name for name in frame.columns)
    return names or any(
        frame.iloc[:, position].map(lambda value: isinstance(value, str) and "\r" in value).any()
        for position in range(frame.shape[1])
        if _is_text_column(frame.iloc[:, position])
    )


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The table as spreadsheet-safe UTF-8 CSV, written as :func:`psygentab_core.io.write_table`
    writes CSV files (comma-separated, header row, no index).

    One exception: pandas quotes cells holding a line feed but not a lone carriage return,
    which spreadsheets take as a row break, so ``"x\r=1+1"`` would start a row with a formula.
    Such tables are written with CRLF line ends, which makes the writer quote every cell that
    holds either character.
    """
    safe = spreadsheet_safe(frame)
    if _has_bare_carriage_return(safe):
        return safe.to_csv(index=False, lineterminator="\r\n").encode("utf-8")
    return safe.to_csv(index=False).encode("utf-8")


def download_stem(name: str) -> str:
    """A file-name-safe stem from a dataset name (``ward data.csv`` → ``ward_data``)."""
    stem = _TABLE_SUFFIXES.sub("", Path(name).name)
    stem = _UNSAFE_FILE_CHARACTERS.sub("_", stem).strip("._")
    return stem or "table"


def run_archive(folder: str | Path) -> bytes:
    """A zip of a run folder, built in memory, with the files under ``<run id>/``.

    Hidden entries are left out: they are only ever half-written files of a save in progress.
    """
    folder = Path(folder)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            if not path.is_file() or any(part.startswith(".") for part in relative.parts):
                continue
            archive.write(path, Path(folder.name, relative).as_posix())
    return buffer.getvalue()


def relative_to_threshold(measured: float | None, threshold: float, sense: str) -> float:
    """Measured value over threshold, turned so that at most 1 always means "met".

    A zero "at most" threshold has no ratio; as in the training curves, 0 measured reads as
    exactly at the limit (1) and every copy pushes it up steeply. NaN when nothing was measured.
    """
    if measured is None or not math.isfinite(measured):
        return math.nan
    if sense == "at most":
        return measured / threshold if threshold > 0 else 1.0 + measured * 100
    return threshold / measured if measured > 0 else math.inf


def constraint_table(summary: Mapping[str, Any] | None) -> pd.DataFrame:
    """The privacy constraints of a run summary (``RunSummary.to_dict()``): one row each."""
    rows = [
        {
            "key": item["key"],
            "constraint": item["key"].replace("_", " "),
            "rule": item.get("rule", item.get("label", "")),
            "sense": item["sense"],
            "threshold": item["threshold"],
            "measured": item.get("measured_on_release"),
            "met": item.get("satisfied_on_release"),
            "relative": relative_to_threshold(
                item.get("measured_on_release"), item["threshold"], item["sense"]
            ),
        }
        for item in (summary or {}).get("constraints", [])
    ]
    columns = ["key", "constraint", "rule", "sense", "threshold", "measured", "met", "relative"]
    return pd.DataFrame(rows, columns=columns)


def report_sensitive(folder: str | Path) -> tuple[str, ...] | None:
    """The sensitive attributes of the report saved in a run folder; None if there is no
    complete report (report.json is written last, so its presence means both files are whole)."""
    folder = Path(folder)
    if not (folder / REPORT_HTML).is_file():
        return None
    try:
        data = json.loads((folder / REPORT_JSON).read_text())
        return tuple(data["dataset"]["sensitive"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_report(evaluation: Evaluation, folder: str | Path, info: RunInfo) -> tuple[Path, Path]:
    """Write report.html and report.json into a run folder without ever exposing a half-written
    file: both are built aside, then moved in, the JSON (which marks the report complete) last."""
    from psygentab_core.evaluation.report import build_report

    folder = Path(folder)
    staging = Path(tempfile.mkdtemp(prefix=".report.", dir=folder))
    try:
        # The old marker goes first, so no reader pairs a new HTML file with an old JSON file.
        (folder / REPORT_JSON).unlink(missing_ok=True)
        html_path, json_path = build_report(evaluation, staging / REPORT_HTML, info=info)
        os.replace(html_path, folder / REPORT_HTML)
        os.replace(json_path, folder / REPORT_JSON)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder / REPORT_HTML, folder / REPORT_JSON


def sensitive_in(
    schema_names: Sequence[str], target: str | None, chosen: Sequence[str]
) -> tuple[str, ...]:
    """The chosen sensitive attributes an evaluation of this run can use (as the evaluation
    pages pick them: columns of the run's schema, never its outcome)."""
    return tuple(c for c in chosen if c in schema_names and c != target)
