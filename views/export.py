"""Report & export: the current run's released table, its report, its configuration, its files.

Large downloads (the table, the zip, the report) are read from disk only when their button is
clicked, so opening the page never zips or re-reads a run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import streamlit as st

from psygentab_app.results import current_evaluation
from psygentab_app.session import Session
from psygentab_app.sidebar import run_label, start_page
from psygentab_core.errors import PsygentabError
from psygentab_core.evaluation.runs import info_from_run_dir, schema_from_run_dir
from psygentab_core.export import (
    REPORT_HTML,
    REPORT_JSON,
    constraint_table,
    csv_bytes,
    download_stem,
    report_sensitive,
    run_archive,
    sensitive_in,
    write_report,
)
from psygentab_core.io import read_table
from psygentab_core.store import SYNTHETIC_FILE, RunEntry

BUILD_REPORT_KEY = "export_build_report"
CONFIG_FILE = "config.toml"


def synthetic_csv(folder: Path) -> Callable[[], bytes]:
    """The released table as spreadsheet-safe CSV, read when the download is clicked."""
    return lambda: csv_bytes(read_table(folder / SYNTHETIC_FILE))


def file_bytes(path: Path) -> Callable[[], bytes]:
    """A file's bytes, read when the download is clicked."""
    return path.read_bytes


def archive(folder: Path) -> Callable[[], bytes]:
    """The run folder as a zip, built when the download is clicked."""
    return lambda: run_archive(folder)


def download(
    label: str,
    data: bytes | Callable[[], bytes],
    *,
    file_name: str,
    mime: str,
    key: str,
    contents: str,
) -> None:
    """A download button with one line on what the file holds."""
    button, text = st.columns([1, 3], vertical_alignment="center")
    with button:
        # A download changes nothing on the page, so it does not rerun it.
        st.download_button(
            label,
            data,
            file_name=file_name,
            mime=mime,
            key=key,
            on_click="ignore",
            icon=":material/download:",
            width="stretch",
        )
    with text:
        st.caption(contents)


def summary_section(entry: RunEntry) -> None:
    """The release in numbers and each privacy constraint measured against its threshold."""
    summary = entry.summary or {}
    release = summary.get("release", {})
    privacy = summary.get("privacy")
    rows, redrawn, epochs, seconds = st.columns(4)
    rows.metric("Released rows", f"{release.get('rows', 0):,}")
    if privacy:
        # A DP run has no release filter (it would read the training rows): its budget instead.
        redrawn.metric(
            "ε spent",
            f"{privacy['epsilon']:.2f} of {privacy['target_epsilon']:g}",
            help=f"δ = {privacy['delta']:.0e}. {privacy['statement']}",
        )
    else:
        redrawn.metric(
            "Rows redrawn",
            f"{release.get('rejected', 0):,}",
            help="Generated rows the release filter dropped (copies or too close to a training "
            "patient) and replaced with fresh draws.",
        )
    epochs.metric("Epochs", summary.get("epochs_run", "n/a"))
    seconds.metric("Training time", f"{summary.get('fit_seconds', 0):.1f} s")
    table = constraint_table(summary)
    if table.empty:
        return
    table["threshold"] = [
        f"{s} {t:g}" for s, t in zip(table["sense"], table["threshold"], strict=True)
    ]
    st.dataframe(
        table[["rule", "threshold", "measured", "met"]],
        hide_index=True,
        width="stretch",
        column_config={
            "rule": st.column_config.TextColumn("Privacy rule", width="large"),
            "threshold": st.column_config.TextColumn("Threshold"),
            "measured": st.column_config.NumberColumn("Measured on the release", format="%.3f"),
            "met": st.column_config.CheckboxColumn("Met"),
        },
    )
    unmet = int(table["met"].eq(False).sum())  # a rule with no measurement is not "unmet"
    if unmet:
        st.warning(
            f"{unmet} constraint{'s are' if unmet > 1 else ' is'} not met on the released table; "
            "read the Privacy audit page before sharing it.",
            icon=":material/warning:",
        )


def build_report_now(session: Session, folder: Path) -> bool:
    """Evaluate the run (reusing the session's evaluation) and write its report files."""
    evaluation = current_evaluation(session)
    if evaluation is None:
        return False
    try:
        info, _ = info_from_run_dir(folder)
        write_report(evaluation, folder, info)
    except (PsygentabError, OSError) as error:
        st.error(f"The report could not be written into {folder}: {error}")
        return False
    return True


def report_section(session: Session, folder: Path) -> None:
    """Download buttons for the HTML and JSON report, built the first time they are wanted."""
    schema = schema_from_run_dir(folder)
    wanted = sensitive_in(schema.names, schema.target, session.sensitive)
    saved = report_sensitive(folder)
    if saved != wanted:
        if saved is not None:
            st.caption(
                f"The saved report covers the sensitive attributes {_listed(saved)}; the session "
                f"now uses {_listed(wanted)}, so it will be built again."
            )
        if not st.button(
            "Build the report",
            key=BUILD_REPORT_KEY,
            icon=":material/description:",
            help="Evaluates the run (fidelity, minority class, utility, privacy attacks, "
            "fairness) and writes report.html and report.json into the run folder.",
        ):
            st.caption(
                "The report evaluates the run first (a few seconds to a minute); it is then "
                "kept in the run folder and offered here directly."
            )
            return
        if not build_report_now(session, folder):
            return
    download(
        "HTML report",
        file_bytes(folder / REPORT_HTML),
        file_name=f"{folder.name}-report.html",
        mime="text/html",
        key="export_report_html",
        contents="Every figure with its meaning, ideal, baseline and interval, and every attack "
        "with its attacker; opens offline. It reads the real training rows, so handle it like "
        "them.",
    )
    download(
        "JSON report",
        file_bytes(folder / REPORT_JSON),
        file_name=f"{folder.name}-report.json",
        mime="application/json",
        key="export_report_json",
        contents="The same results as data: every metric with its details, the schema, split, "
        "configuration, versions and training history.",
    )


def _listed(names: tuple[str, ...]) -> str:
    return ", ".join(names) if names else "(none)"


session = start_page()
st.title("Report & export")
entry = session.run_entry()
if entry is None:
    st.info("No current run. Train one on the **Train** page, or reopen one on the Runs page.")
    st.page_link("views/train.py", label="Go to Train", icon=":material/model_training:")
    st.stop()
if not entry.finished:
    st.warning(f"Run {entry.name} is {entry.status.value}; it has nothing to export.")
    if entry.message:
        st.caption(entry.message)
    st.stop()
try:
    folder = session.store.folder_of(entry.run_id)
except PsygentabError as error:
    st.error(str(error))
    st.stop()

st.caption(f"Run {run_label(entry)} · files in `{folder.resolve()}`")
summary_section(entry)

st.subheader("Downloads")
private = bool((entry.summary or {}).get("privacy"))
download(
    "Synthetic table (CSV)",
    synthetic_csv(folder),
    file_name=f"{download_stem(entry.dataset)}-synthetic.csv",
    mime="text/csv",
    key="export_synthetic_csv",
    contents="The released table: the one to share. "
    + (
        "Sampled from the differentially private generator as drawn, so the run's (ε, δ) "
        "guarantee covers it."
        if private
        else "Rows that broke the copy or too-close rules were redrawn before release."
    )
    + " Text that a spreadsheet would run as a formula starts with '.",
)
report_section(session, folder)
download(
    "Run configuration",
    (folder / CONFIG_FILE).read_bytes(),
    file_name=f"{folder.name}-config.toml",
    mime="application/toml",
    key="export_config",
    contents="The training settings and privacy thresholds; pass it to `psygentab fit "
    "--config` to train again with the same settings.",
)
download(
    "Whole run (zip)",
    archive(folder),
    file_name=f"{folder.name}.zip",
    mime="application/zip",
    key="export_run_zip",
    contents="Every file of the run: model, history, summary, report if built, and the real "
    "training, reference and holdout rows, so keep it where the real data may be kept.",
)
