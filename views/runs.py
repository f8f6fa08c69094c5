"""Runs: every run in the runs folder, reopening one as the current run, and comparing runs.

The list is read from the run store on disk at every visit, so it survives restarts and shows
runs started by other sessions or by the command line in the same folder.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.colors import qualitative

from psygentab_app.session import Session
from psygentab_app.sidebar import run_label, start_page
from psygentab_app.ui import figure
from psygentab_core.errors import PsygentabError
from psygentab_core.evaluation.figures import NEUTRAL, styled
from psygentab_core.evaluation.figures.training import training_curves
from psygentab_core.evaluation.runs import info_from_run_dir
from psygentab_core.export import constraint_table
from psygentab_core.store import RunEntry, RunStatus

PICK_KEY = "runs_pick"
MAKE_CURRENT_KEY = "runs_make_current"
COMPARE_KEY = "runs_compare"
# Bars above this many times the threshold are drawn at it (the hover still tells the value),
# so that one far-off run does not flatten every other bar.
BAR_CAP = 3.0
RUN_COLOURS = qualitative.Safe  # colour-blind safe; blue and orange stay "real" and "synthetic"


def status_text(entry: RunEntry) -> str:
    """The status, with the reason for a failed or interrupted run."""
    if entry.message and entry.status in (RunStatus.FAILED, RunStatus.INTERRUPTED):
        return f"{entry.status.value}: {entry.message}"
    return entry.status.value


def run_row(entry: RunEntry) -> dict[str, Any]:
    """One line of the runs table; a run without a summary has empty figures."""
    summary = entry.summary or {}
    row: dict[str, Any] = {
        "Name": entry.name,
        "Dataset": entry.dataset,
        "Status": status_text(entry),
        "Started": datetime.fromisoformat(entry.created),
        "Fit seconds": summary.get("fit_seconds"),
        "Release rows": summary.get("release", {}).get("rows"),
    }
    for item in constraint_table(summary).itertuples():
        row[f"{item.constraint}: measured"] = item.measured
        row[f"{item.constraint}: threshold"] = f"{item.sense} {item.threshold:g}"
        row[f"{item.constraint}: met"] = item.met
    return row


def runs_table(entries: Sequence[RunEntry]) -> pd.DataFrame:
    """Every run, newest first, with its constraints measured against their thresholds."""
    return pd.DataFrame([run_row(entry) for entry in entries])


def column_formats(table: pd.DataFrame) -> dict[str, Any]:
    """How the runs table shows its columns."""
    formats: dict[str, Any] = {
        "Started": st.column_config.DatetimeColumn(format="D MMM YYYY, HH:mm"),
        "Fit seconds": st.column_config.NumberColumn(format="%.1f"),
        "Release rows": st.column_config.NumberColumn(format="%d"),
        "Status": st.column_config.TextColumn(width="medium"),
    }
    for name in table.columns:
        if name.endswith(": measured"):
            formats[name] = st.column_config.NumberColumn(format="%.3f")
        elif name.endswith(": met"):
            formats[name] = st.column_config.CheckboxColumn()
    return formats


def bar_label(value: float) -> str:
    """What a bar says about its run: the ratio, or that it is off the chart."""
    if math.isnan(value):
        return "not measured"
    return f"{value:.2f}" if value <= BAR_CAP else f"> {BAR_CAP:g}"


def constraint_bars(entries: Sequence[RunEntry]) -> go.Figure:
    """Each constraint's measured value relative to its threshold, one bar per run."""
    bars = go.Figure()
    for index, entry in enumerate(entries):
        table = constraint_table(entry.summary)
        bars.add_trace(
            go.Bar(
                name=entry.name,
                x=table["constraint"],
                y=[min(value, BAR_CAP) for value in table["relative"]],
                text=[bar_label(value) for value in table["relative"]],
                textposition="outside",  # a met rule at 0 has no bar, but still its label
                customdata=table[["sense", "threshold", "measured", "met"]].to_numpy(),
                marker_color=RUN_COLOURS[index % len(RUN_COLOURS)],
                hovertemplate=(
                    f"{entry.name}<br>%{{x}}: measured %{{customdata[2]:.3f}}, "
                    "threshold %{customdata[0]} %{customdata[1]:.3f}; met: %{customdata[3]}"
                    "<extra></extra>"
                ),
            )
        )
    bars.add_hline(y=1.0, line={"color": NEUTRAL, "dash": "dash"}, annotation_text="threshold")
    # The legend names the runs even when only one is shown.
    bars.update_layout(
        barmode="group", showlegend=True, yaxis_title="measured / threshold (≤ 1 is met)"
    )
    return styled(bars, title="Privacy constraints on each released table")


def training_history(entry: RunEntry, session: Session) -> list[dict[str, Any]]:
    """The per-epoch records of a completed run (history.jsonl)."""
    info, _ = info_from_run_dir(session.store.folder_of(entry.run_id))
    return [dict(record) for record in info.history]


def make_current(session: Session) -> None:
    """The run picked on this page becomes the session's current run (runs before the page is
    drawn, so the sidebar shows the new run at once)."""
    session.current_run = st.session_state[PICK_KEY]


def reopen_section(session: Session, entries: Sequence[RunEntry]) -> None:
    """Pick a completed run and make it the current run."""
    st.subheader("Reopen a run")
    completed = {e.run_id: e for e in entries if e.finished}
    if not completed:
        st.caption("No completed run yet; failed and interrupted runs have nothing to open.")
        return
    ids = list(completed)
    picked, button = st.columns([4, 1], vertical_alignment="bottom")
    with picked:
        st.selectbox(
            "Completed run",
            ids,
            index=ids.index(session.current_run) if session.current_run in completed else 0,
            format_func=lambda run_id: run_label(completed[run_id]),
            key=PICK_KEY,
            help="Every page (evaluation, trade-offs, export) works on the current run.",
        )
    with button:
        st.button(
            "Make current",
            key=MAKE_CURRENT_KEY,
            on_click=make_current,
            args=(session,),
            icon=":material/restore:",
        )
    if session.current_run in completed:
        st.caption(f"Current run: {run_label(completed[session.current_run])}.")


def compare_section(session: Session, entries: Sequence[RunEntry]) -> None:
    """Constraint bars and training curves of the completed runs the user picks."""
    st.subheader("Compare runs")
    completed = {e.run_id: e for e in entries if e.finished and e.summary}
    if not completed:
        st.caption("Runs can be compared once at least one has completed.")
        return
    chosen = st.multiselect(
        "Runs to compare",
        list(completed),
        default=[session.current_run] if session.current_run in completed else [],
        format_func=lambda run_id: run_label(completed[run_id]),
        key=COMPARE_KEY,
    )
    if not chosen:
        st.caption("Pick one or more completed runs to see their constraints and training.")
        return
    picked = [completed[run_id] for run_id in chosen]
    figure(
        constraint_bars(picked),
        "Each privacy constraint measured on the released table, divided by its threshold "
        '(turned round for "at least" rules), so a bar at or below the dashed line means the '
        "rule is met. A rule allowing no copies at all reads 1 when there are none. Bars above "
        f"{BAR_CAP:g} are cut at {BAR_CAP:g}; hover for the measured values.",
        key="runs-constraints",
    )
    st.markdown("**Training curves**")
    for tab, entry in zip(st.tabs([e.name for e in picked]), picked, strict=True):
        with tab:
            try:
                history = training_history(entry, session)
            except (PsygentabError, OSError, ValueError) as error:
                st.warning(f"The training history of {entry.name} cannot be read: {error}")
                continue
            if not history:
                st.caption(f"{entry.name} has no recorded epochs.")
                continue
            figure(
                training_curves(history),
                "Per epoch: the objective, each constraint relative to its threshold (≤ 1 is "
                "met), the Lagrange multipliers and the penalties.",
                key=f"runs-curves-{entry.run_id}",
            )


session = start_page()
st.title("Runs")
entries = session.runs()
if not entries:
    st.info(
        "No runs of this table in the runs folder yet (runs of other tables are not listed). "
        "Train one, and it will be listed here."
    )
    st.page_link("views/train.py", label="Go to Train", icon=":material/model_training:")
    st.stop()

st.caption(
    f"{len(entries)} run{'s' if len(entries) != 1 else ''} in "
    f"`{session.runs_folder.resolve()}`, newest first. The list is read from disk, so it "
    "survives restarts; change the folder under Settings in the sidebar."
)
table = runs_table(entries)
st.dataframe(table, hide_index=True, width="stretch", column_config=column_formats(table))
reopen_section(session, entries)
compare_section(session, entries)
