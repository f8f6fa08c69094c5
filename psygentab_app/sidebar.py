"""The sidebar every page shares: the dataset, the current run and its status, and settings."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from psygentab_app.session import Session, current
from psygentab_core.jobs import JobState
from psygentab_core.store import RunEntry, RunStatus

RUN_PICKER_KEY = "sidebar_current_run"
RUNS_FOLDER_KEY = "sidebar_runs_folder"


def start_page() -> Session:
    """What every page calls first: the session, with a finished run adopted, and the sidebar.

    Called by the pages rather than once in app.py so that a page run on its own (as AppTest's
    switch_page does) still shows and updates the same sidebar.
    """
    session = current()
    adopt_finished_job(session)
    render(session)
    return session


def adopt_finished_job(session: Session) -> None:
    """Once this session's training job ends, its run becomes the current run (once)."""
    job = session.job
    if job is None:
        return
    snapshot = job.snapshot()
    if snapshot.state is JobState.RUNNING:
        return
    session.job = None
    session.last_job = snapshot
    if snapshot.run_id is not None and snapshot.state is not JobState.FAILED:
        session.current_run = snapshot.run_id


def run_label(entry: RunEntry) -> str:
    """One line per run: name, status unless completed, and when it started (words, not
    emoji: not every browser has an emoji font)."""
    started = datetime.fromisoformat(entry.created).strftime("%d %b %H:%M")
    status = "" if entry.status is RunStatus.COMPLETED else f" ({entry.status.value})"
    return f"{entry.name}{status} · {started}"


def render(session: Session) -> None:
    """Draw the sidebar."""
    with st.sidebar:
        st.markdown(f"**Dataset** \n{session.dataset.label}")
        if session.schema.target:
            st.caption(f"Outcome column: {session.schema.target}")
        _run_picker(session)
        if session.training:
            _training_status()
        with st.expander("Settings", icon=":material/settings:"):
            _settings(session)


def _run_picker(session: Session) -> None:
    entries = session.runs()
    if not entries:
        st.caption("No runs of this table yet.")
        return
    by_id = {e.run_id: e for e in entries}
    if session.current_run not in by_id:
        session.current_run = None
    # One widget per current run, drawn from the session: when a finished job or another page
    # changes the current run, a new widget appears, so a rerun that carries the browser's
    # stale value of the old one cannot undo the change.
    key = f"{RUN_PICKER_KEY}:{session.current_run}"
    options = list(by_id)

    def chosen() -> None:
        session.current_run = st.session_state[key]

    st.selectbox(
        "Current run",
        options,
        index=None if session.current_run is None else options.index(session.current_run),
        format_func=lambda run_id: run_label(by_id[run_id]),
        key=key,
        on_change=chosen,
        placeholder="No run chosen",
        help="Every run of this table in the runs folder; pick one to evaluate, compare or "
        "export it.",
    )
    entry = by_id.get(session.current_run)
    if entry is not None and entry.message:
        st.caption(entry.message)


@st.fragment(run_every=1.0)
def _training_status() -> None:
    session = current()
    job = session.job
    if job is None or job.snapshot().state is not JobState.RUNNING:
        st.rerun()  # the run ended: redraw the whole app with its results
    snapshot = job.snapshot()
    epoch = snapshot.records[-1].epoch if snapshot.records else 0
    total = snapshot.records[-1].total_epochs if snapshot.records else session.epochs
    st.progress(snapshot.progress, text=f"Training: epoch {epoch} of {total}")


def _settings(session: Session) -> None:
    st.session_state.setdefault(RUNS_FOLDER_KEY, str(session.runs_folder))
    folder = st.text_input(
        "Runs folder",
        key=RUNS_FOLDER_KEY,
        help="Where runs are saved (an index plus one folder per run). Created if missing.",
    )
    if folder and folder != str(session.runs_folder):
        if session.training:
            st.warning("Wait for the current run to finish before changing the runs folder.")
            return
        try:
            session.set_runs_folder(folder)
        except OSError as error:
            st.error(f"Cannot use {folder} for runs: {error.strerror or error}.")
            return
        st.rerun()
    st.caption(f"Runs are saved in `{session.runs_folder.resolve()}`.")
