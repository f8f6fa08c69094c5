"""Trade-off explorer: one run per privacy strictness level, utility against attack risk.

The sweep runs in a background :class:`SweepJob` kept in ``session.sweep``, so its points stay
on this page after it finishes and when the user comes back. The worker never calls Streamlit:
a fragment polls the job's snapshot about once a second while it runs.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from psygentab_app.session import Session
from psygentab_app.sidebar import start_page
from psygentab_core.errors import PsygentabError
from psygentab_core.evaluation.figures import NEUTRAL, REAL, SYNTHETIC, styled
from psygentab_core.jobs import JobState
from psygentab_core.presets import PRESET_DESCRIPTIONS
from psygentab_core.sweep import (
    DEFAULT_LEVELS,
    SweepJob,
    SweepPoint,
    SweepSnapshot,
    pareto_front,
    preset_at,
    sorted_points,
)

LEVELS_KEY = "sweep_levels"
EPOCHS_KEY = "sweep_epochs"
WORKERS_KEY = "sweep_workers"
START_KEY = "sweep_start"
STOP_KEY = "sweep_stop"
CHART_KEY = "sweep_chart"
LIVE_CHART_KEY = "sweep_live_chart"
PICK_KEY = "sweep_pick"
MAKE_CURRENT_KEY = "sweep_pick_make_current"
INITIAL_LEVELS = (0.0, 0.5, 1.0)
CPUS = os.cpu_count() or 1
CHANCE_AUC = 0.5


def level_option(level: float) -> str:
    """How a level reads in the controls: ``0.50 (balanced)``."""
    name = preset_at(level)
    return f"{level:.2f}" if name is None else f"{level:.2f} ({name})"


def sweep_of(session: Session) -> SweepJob | None:
    """The session's sweep, if it has run one."""
    return session.sweep if isinstance(session.sweep, SweepJob) else None


def duration(seconds: float) -> str:
    """``42 s`` or ``3 min 05 s``."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def seconds_per_epoch(session: Session) -> float | None:
    """Training seconds per epoch of the latest completed run on this dataset, if any."""
    for entry in session.runs():
        summary = entry.summary or {}
        if not entry.finished or entry.dataset != session.dataset.name:
            continue
        epochs = summary.get("epochs_run") or 0
        if epochs and summary.get("fit_seconds"):
            return float(summary["fit_seconds"]) / epochs
    return None


def plan_text(session: Session, *, points: int, epochs: int, workers: int) -> str:
    """What a sweep with these settings will do, with a time estimate where one is possible."""
    rounds = math.ceil(points / workers)
    text = (
        f"{points} runs × {epochs} epochs = {points * epochs} epochs of training in all, on "
        f"{workers} worker process{'es' if workers > 1 else ''} (one CPU thread each), so "
        f"{rounds} run{'s' if rounds > 1 else ''} one after another; each run is then released, "
        "evaluated and saved in the runs folder."
    )
    per_epoch = seconds_per_epoch(session)
    if per_epoch is not None:
        # A single-threaded worker is slower per epoch than a run that had the whole machine.
        estimate = rounds * epochs * per_epoch
        text += (
            f" From the last run on this table ({per_epoch:.1f} s per epoch), expect at least "
            f"{duration(estimate)} of training, plus evaluation."
        )
    return text


def front_trace(points: Sequence[SweepPoint], front: Sequence[int]) -> go.Scatter:
    """The Pareto front as a line from the most private to the most useful point."""
    return go.Scatter(
        x=[points[i].attack_auc for i in front],
        y=[points[i].tstr_auc for i in front],
        mode="lines",
        line={"color": SYNTHETIC, "width": 2},
        name="Pareto front",
        hoverinfo="skip",
    )


def points_trace(points: Sequence[SweepPoint], *, on_front: bool) -> go.Scatter:
    """The points on the front (coloured) or dominated by it (grey), with 95 % intervals."""

    def errors(values: list[float], intervals: list[Any]) -> dict[str, Any]:
        return {
            "type": "data",
            "symmetric": False,
            "array": [
                0.0 if i is None else i[1] - v for v, i in zip(values, intervals, strict=True)
            ],
            "arrayminus": [
                0.0 if i is None else v - i[0] for v, i in zip(values, intervals, strict=True)
            ],
            "color": NEUTRAL,
            "thickness": 1,
        }

    x = [p.attack_auc for p in points]
    y = [p.tstr_auc for p in points]
    colour = SYNTHETIC if on_front else NEUTRAL
    return go.Scatter(
        x=x,
        y=y,
        mode="markers+text",
        text=[p.label for p in points],
        textposition="top center",
        marker={"color": colour, "size": 13, "line": {"color": "white", "width": 1}},
        error_x=errors(x, [p.attack_interval for p in points]),
        error_y=errors(y, [p.tstr_interval for p in points]),
        # The run id travels with the point, so a click can say which run was chosen.
        customdata=[[p.run_id] for p in points],
        name="on the Pareto front" if on_front else "dominated by a front point",
        hovertemplate=(
            "strictness %{text}<br>membership-inference AUC %{x:.3f}<br>"
            "TSTR AUC %{y:.3f}<br>run %{customdata[0]}<extra></extra>"
        ),
    )


def tradeoff_figure(points: Sequence[SweepPoint], *, title: str) -> go.Figure:
    """Utility (TSTR AUC) against risk (membership-inference AUC), one point per level."""
    scored = [p for p in points if p.scored]
    front = pareto_front(scored)
    fig = go.Figure()
    if len(front) > 1:
        fig.add_trace(front_trace(scored, front))
    fig.add_trace(points_trace([scored[i] for i in front], on_front=True))
    dominated = [p for i, p in enumerate(scored) if i not in front]
    if dominated:
        fig.add_trace(points_trace(dominated, on_front=False))
    fig.add_vline(
        x=CHANCE_AUC,
        line={"color": NEUTRAL, "dash": "dash"},
        annotation_text="attacker guessing (0.5)",
        annotation_position="bottom right",
    )
    trtr = next((p.trtr_auc for p in scored if p.trtr_auc is not None), None)
    if trtr is not None:
        fig.add_hline(
            y=trtr,
            line={"color": REAL, "dash": "dash"},
            annotation_text=f"trained on the real rows (TRTR) {trtr:.3f}",
            annotation_position="top left",
        )
    fig.update_layout(
        xaxis_title="membership-inference AUC, distance attack (0.5 = guessing; lower is safer)",
        yaxis_title="TSTR AUC (higher is more useful)",
        clickmode="event+select",
    )
    return styled(fig, title=title, height=480)


def points_table(points: Sequence[SweepPoint]) -> pd.DataFrame:
    """One row per point, by strictness, for the table under the chart."""
    front = {points[i].run_id for i in pareto_front(points)}

    def number(value: float | None) -> float:
        return math.nan if value is None else value

    def interval(values: tuple[float, float] | None) -> str:
        return "" if values is None else f"{values[0]:.3f} to {values[1]:.3f}"

    rows = [
        {
            "strictness": p.label,
            "status": p.status.value,
            "TSTR AUC": number(p.tstr_auc),
            "TRTR AUC": number(p.trtr_auc),
            "MIA AUC": number(p.attack_auc),
            "MIA 95 % interval": interval(p.attack_interval),
            "closer to training": number(p.closer_share),
            "detection AUC": number(p.detection_auc),
            "constraints met": p.constraints_met,
            "fit s": number(p.fit_seconds),
            "Pareto front": p.run_id in front,
            "run": p.run_id,
            "error": p.error or "",
        }
        for p in sorted_points(points)
    ]
    return pd.DataFrame(rows)


def selected_run(selection: Mapping[str, Any] | None) -> str | None:
    """The run id of the point clicked in the chart, if a point with one was clicked."""
    if not selection:
        return None
    for point in selection.get("selection", {}).get("points", []):
        data = point.get("customdata")
        if isinstance(data, list | tuple):
            data = data[0] if data else None
        if data:
            return str(data)
    return None


def start_sweep(session: Session, *, levels: Sequence[float], epochs: int, workers: int) -> None:
    """Start a sweep on the session's table; it replaces the session's previous sweep."""
    session.sweep = SweepJob(
        session.dataset.frame,
        schema=session.schema,
        config=replace(session.constraint_config(), epochs=epochs),
        levels=sorted(levels),
        store=session.store,
        dataset_name=session.dataset.name,
        n_jobs=min(workers, len(levels)),
        sensitive=session.sensitive,
    )


def controls(session: Session, *, running: bool) -> None:
    """Levels, epochs and workers, the button that starts a sweep and what it will do."""
    # Back on the page after a sweep, the controls start from that sweep's levels.
    last = sweep_of(session)
    st.session_state.setdefault(LEVELS_KEY, list(last.levels if last else INITIAL_LEVELS))
    st.session_state.setdefault(EPOCHS_KEY, session.epochs)
    st.session_state.setdefault(WORKERS_KEY, min(len(INITIAL_LEVELS), CPUS))
    levels = st.multiselect(
        "Strictness levels (one run each)",
        list(DEFAULT_LEVELS),
        format_func=level_option,
        key=LEVELS_KEY,
        disabled=running,
        help="0 is the lenient preset, 0.5 balanced (the default) and 1 strict; the levels in "
        "between move every threshold part of the way. "
        + " ".join(f"{name.capitalize()}: {text}" for name, text in PRESET_DESCRIPTIONS.items()),
    )
    epochs_column, workers_column = st.columns(2)
    epochs = epochs_column.number_input(
        "Epochs per run", min_value=1, max_value=1000, step=1, key=EPOCHS_KEY, disabled=running
    )
    workers = workers_column.number_input(
        "Parallel workers",
        min_value=1,
        max_value=CPUS,
        step=1,
        key=WORKERS_KEY,
        disabled=running,
        help=f"Runs trained at the same time, each on one CPU thread ({CPUS} cores here). "
        "More workers than runs are not used.",
    )
    enough = len(levels) >= 2
    if enough:
        st.caption(
            plan_text(
                session,
                points=len(levels),
                epochs=int(epochs),
                workers=min(int(workers), len(levels)),
            )
        )
    else:
        st.caption("Choose at least two levels: a trade-off needs something to compare.")
    if session.dp.enabled:
        st.info(
            "The sweep varies the empirical constraints, so its runs train without differential "
            "privacy; the DP option applies to runs started on the Train page.",
            icon=":material/info:",
        )
    if session.training:
        st.warning(
            "A training run of this session is still going; a sweep now shares the CPU with it.",
            icon=":material/hourglass_top:",
        )
    if st.button(
        "Run sweep",
        key=START_KEY,
        type="primary",
        disabled=running or not enough,
        icon=":material/play_arrow:",
    ):
        try:
            start_sweep(session, levels=levels, epochs=int(epochs), workers=int(workers))
        except PsygentabError as error:
            st.error(str(error), icon=":material/error:")
        else:
            st.rerun()


@st.fragment(run_every=1.0)
def live_view(job: SweepJob) -> None:
    """Progress and the points so far, redrawn about once a second while the sweep runs."""
    snapshot = job.snapshot()
    if not snapshot.running:
        st.rerun()  # the whole page, to show the finished sweep with its table and picker
    done = len(snapshot.points)
    st.progress(
        snapshot.progress,
        text=f"{done} of {snapshot.total} points done · {duration(snapshot.elapsed)} elapsed",
    )
    if snapshot.stopping:
        st.caption("Stopping: the points already running finish and are saved; no new one starts.")
    if any(p.scored for p in snapshot.points):
        st.plotly_chart(
            tradeoff_figure(snapshot.points, title="Points so far"),
            key=LIVE_CHART_KEY,
            width="stretch",
            config={"displaylogo": False},
        )
    else:
        st.caption("A point appears once its run has trained, been released and been evaluated.")


def outcome_message(snapshot: SweepSnapshot) -> None:
    """How the last sweep ended."""
    done = len(snapshot.points)
    failed = [p for p in snapshot.points if p.error]
    if snapshot.state is JobState.FAILED:
        st.error(f"The sweep failed: {snapshot.error}", icon=":material/error:")
    elif snapshot.state is JobState.STOPPED:
        st.info(
            f"Stopped after {done} of {snapshot.total} points ({duration(snapshot.elapsed)}).",
            icon=":material/stop_circle:",
        )
    else:
        st.caption(f"Last sweep: {done} points in {duration(snapshot.elapsed)}.")
    for point in failed:
        st.warning(f"Strictness {point.label} failed: {point.error}", icon=":material/warning:")


def make_current_from_chart(session: Session) -> None:
    """A click on a point makes its run the current run (before the page is drawn, so that
    the sidebar shows it at once)."""
    run_id = selected_run(st.session_state.get(CHART_KEY))
    if run_id is not None:
        session.current_run = run_id


def make_current_from_pick(session: Session) -> None:
    """The run picked under the table becomes the current run."""
    session.current_run = st.session_state[PICK_KEY]


def results_view(session: Session, snapshot: SweepSnapshot) -> None:
    """The finished sweep: chart (click a point to use its run), table and a run picker."""
    outcome_message(snapshot)
    points = snapshot.points
    scored = {p.run_id: p for p in sorted_points(points) if p.scored}
    if scored:
        event = st.plotly_chart(
            tradeoff_figure(points, title="Utility against membership-inference risk"),
            key=CHART_KEY,
            width="stretch",
            config={"displaylogo": False},
            on_select=lambda: make_current_from_chart(session),
            selection_mode="points",
        )
        st.caption(
            "Each point is one run. Right is riskier (an attacker who holds the synthetic table "
            "tells training patients from unseen ones better; 0.5 is a coin flip), up is more "
            "useful (models trained on the synthetic table predict the real holdout better). "
            "Points on the orange line are the Pareto front: no other point is both more "
            "useful and less exposed. Bars are 95 % intervals. Click a point to make its run "
            "the current run."
        )
        clicked = selected_run(event)
        if clicked is not None and clicked == session.current_run:
            st.success(
                f"The run at strictness {scored[clicked].label} ({clicked}) is now the current "
                "run: the evaluation and export pages show it.",
                icon=":material/check_circle:",
            )
    if points:
        st.dataframe(points_table(points), hide_index=True, width="stretch")
    if not scored:
        return
    ids = list(scored)
    picked, button = st.columns([4, 1], vertical_alignment="bottom")
    with picked:
        st.selectbox(
            "Point",
            ids,
            index=ids.index(session.current_run) if session.current_run in scored else 0,
            format_func=lambda run_id: f"strictness {scored[run_id].label} · run {run_id}",
            key=PICK_KEY,
            help="The same as clicking a point in the chart.",
        )
    with button:
        made_current = st.button(
            "Make current",
            key=MAKE_CURRENT_KEY,
            on_click=make_current_from_pick,
            args=(session,),
            icon=":material/restore:",
        )
    if made_current and session.current_run in scored:
        st.success(
            f"The run at strictness {scored[session.current_run].label} is now the current run.",
            icon=":material/check_circle:",
        )


session = start_page()
st.title("Trade-off explorer")
st.write(
    "Stricter privacy thresholds keep synthetic patients further from the real ones, and usually "
    "cost some usefulness. This page trains one run per strictness level (same data, split and "
    "seed) and places each on a chart of usefulness (TSTR AUC) against the risk that an "
    "attacker can tell who was in the training data (membership-inference AUC), so you can pick "
    "the level that suits your release."
)

job = sweep_of(session)
snapshot = job.snapshot() if job is not None else None
running = snapshot is not None and snapshot.running

controls(session, running=running)

if job is not None and running:
    st.button(
        "Stop",
        key=STOP_KEY,
        on_click=job.stop,
        disabled=snapshot.stopping,
        icon=":material/stop:",
        help="Starts no further point; those already running finish and are saved.",
    )
    live_view(job)
elif snapshot is not None:
    results_view(session, snapshot)
else:
    st.info(
        f"No sweep yet in this session. Run one to train {session.dataset.name} at each chosen "
        "level with the privacy constraints of that level, save every run, and score it for "
        "utility and membership-inference risk.",
        icon=":material/scatter_plot:",
    )
