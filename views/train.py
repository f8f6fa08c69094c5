"""Train: start and stop a run and watch the Augmented Lagrangian work, live.

The run trains in a worker thread (psygentab_core.jobs) that never calls Streamlit; a fragment
reads its immutable snapshot about once a second. Leaving the page does not stop the run.
"""

from datetime import timedelta

import pandas as pd
import streamlit as st

from psygentab_app.session import Session, current
from psygentab_app.sidebar import start_page
from psygentab_core import validate_schema
from psygentab_core.errors import PsygentabError
from psygentab_core.evaluation.figures.training import constraint_panels, training_curves
from psygentab_core.evaluation.runs import info_from_run_dir
from psygentab_core.jobs import JobSnapshot, JobState, TrainingJob
from psygentab_core.store import RunStatus
from psygentab_core.training import TrainingRun, prepare_data

EPOCHS_KEY = "train_epochs"
SEED_KEY = "train_seed"
NAME_KEY = "train_name"
START_KEY = "train_start"
STOP_KEY = "train_stop"
# A little under a second, so that the view visibly moves at least once a second.
REFRESH_SECONDS = 0.75


def duration(seconds: float) -> str:
    """12 s, 3 min 05 s."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    return str(timedelta(seconds=seconds)).removeprefix("0:").replace(":", " min ", 1) + " s"


def start(session: Session, name: str) -> None:
    """Prepare the data and hand the run to a worker thread."""
    config = session.train_config()
    try:
        validate_schema(session.schema, session.dataset.frame)
        data = prepare_data(session.dataset.frame, session.schema, config)
    except PsygentabError as error:
        session.train_message = str(error)
        return
    session.train_message = None
    session.job = TrainingJob(
        TrainingRun(data, config),
        rows=len(session.dataset.frame),
        dataset_name=session.dataset.name,
        store=session.store,
        name=name,
        # One thread per run, in a process of its own: the pages must stay responsive while
        # it trains, and several sessions training at once must not oversubscribe the cores.
        threads=1,
        process=session.train_in_process,
    )


def progress_text(snapshot: JobSnapshot) -> str:
    if not snapshot.records:
        return f"Preparing distances and the first epoch… {duration(snapshot.elapsed)} elapsed"
    last = snapshot.records[-1]
    text = f"Epoch {last.epoch} of {last.total_epochs} · {duration(snapshot.elapsed)} elapsed"
    if snapshot.remaining_seconds is not None:
        text += f" · about {duration(snapshot.remaining_seconds)} left"
    return text


def curves(history: list[dict], *, key: str, session: Session) -> None:
    """The two training figures from a history of epoch records (as dicts).

    Built once per new epoch and kept in the session: the live view redraws every second, and
    rebuilding both figures each time would take that second from training on a small machine.
    """
    if not history:
        return
    stamp = (key, len(history))
    if session.training_figures is None or session.training_figures[0] != stamp:
        session.training_figures = (stamp, constraint_panels(history), training_curves(history))
    _, constraints, alm = session.training_figures
    st.plotly_chart(constraints, width="stretch", key=f"{key}-constraints")
    st.plotly_chart(alm, width="stretch", key=f"{key}-alm")
    st.caption(
        "Top: each constraint measured exactly on fresh synthetic rows after every epoch "
        "(solid) against its threshold (dashed); the dotted line is the smooth surrogate the "
        "optimiser follows. Below: the objective and the fidelity proxy, each constraint "
        "relative to its threshold (≤ 1 is met), the multipliers λ, the penalties ρ and the "
        "three privacy knobs the constraints act on."
    )


def epoch_metrics(snapshot: JobSnapshot) -> None:
    last = snapshot.records[-1]
    met = sum(c.satisfied for c in last.constraints)
    epoch, objective, fidelity, constraints = st.columns(4)
    epoch.metric("Epoch", f"{last.epoch} / {last.total_epochs}")
    objective.metric("Objective (per column)", f"{last.objective:.3f}")
    fidelity.metric(
        "Fidelity proxy",
        f"{last.fidelity:.3f}",
        help="Mean similarity of each column's distribution, real vs synthetic (1 = same).",
    )
    constraints.metric("Constraints met", f"{met} of {len(last.constraints)}")


@st.fragment(run_every=REFRESH_SECONDS)
def live() -> None:
    """Redrawn every second while the run trains; hands over to a full rerun when it ends."""
    session = current()
    job = session.job
    snapshot = job.snapshot() if job is not None else None
    if snapshot is None or snapshot.state is not JobState.RUNNING:
        st.rerun()
    st.progress(snapshot.progress, text=progress_text(snapshot))
    if snapshot.records:
        epoch_metrics(snapshot)
        for note in snapshot.records[-1].notes:
            st.info(note, icon=":material/info:")
        curves([r.to_dict() for r in snapshot.records], key="live", session=session)


def finished_run(session: Session) -> None:
    """What the current run reached: constraints on the released table and its curves."""
    entry = session.run_entry()
    if entry is None:
        return
    if entry.status is not RunStatus.COMPLETED:
        if entry.status is RunStatus.FAILED:
            st.error(f"Run {entry.name} failed: {entry.message}", icon=":material/error:")
        else:
            st.warning(f"Run {entry.name} is {entry.status.value}. {entry.message or ''}")
        return
    summary = entry.summary or {}
    st.subheader(f"Run {entry.name}")
    stop = summary.get("stop") or "completed"
    st.caption(
        f"{summary.get('epochs_run', '?')} epochs ({stop}) in "
        f"{duration(summary.get('fit_seconds', 0.0))}; released "
        f"{summary.get('release', {}).get('rows', 0):,} synthetic rows."
    )
    rows = [
        {
            "constraint": c["label"],
            "rule": c["rule"],
            "threshold": c["threshold"],
            "measured on the release": c["measured_on_release"],
            "met": "yes" if c["satisfied_on_release"] else "no",
        }
        for c in summary.get("constraints", [])
    ]
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    if all(r["met"] == "yes" for r in rows):
        st.success(
            "Every privacy constraint holds on the released table.", icon=":material/verified_user:"
        )
    else:
        st.warning(
            "Some constraints do not hold on the released table; the notes below say why. "
            "Loosen them on the Privacy thresholds page or train longer.",
            icon=":material/warning:",
        )
    for note in summary.get("notes", []):
        st.info(note, icon=":material/info:")
    info, _ = info_from_run_dir(session.store.folder_of(entry.run_id))
    curves(list(info.history), key=f"run-{entry.run_id}", session=session)
    st.page_link(
        "views/fidelity.py", label="Next: how faithful is it?", icon=":material/arrow_forward:"
    )


session = start_page()
st.title("Train")
st.caption(
    "The generator learns the table while each privacy rule is enforced with an augmented "
    "Lagrangian: a multiplier per rule grows while the rule is broken, so the privacy knobs "
    "move only as far as needed."
)

schema = session.schema
preset = session.preset_name or "custom"
st.markdown(
    f"**{session.dataset.label}** · outcome **{schema.target or 'none'}** · "
    f"{len(schema.modelled)} modelled columns · **{preset}** privacy thresholds"
)

settings = st.columns(3)
st.session_state[EPOCHS_KEY] = session.epochs
st.session_state[SEED_KEY] = session.seed


def set_epochs() -> None:
    session.epochs = int(st.session_state[EPOCHS_KEY])


def set_seed() -> None:
    session.seed = int(st.session_state[SEED_KEY])


training = session.training
settings[0].number_input(
    "Epochs",
    min_value=1,
    max_value=1000,
    key=EPOCHS_KEY,
    on_change=set_epochs,
    disabled=training,
    help="Passes over the data; constraints are measured and multipliers updated after each.",
)
settings[1].number_input(
    "Seed",
    min_value=0,
    max_value=2**31 - 1,
    key=SEED_KEY,
    on_change=set_seed,
    disabled=training,
    help="Fixes the split, the initial weights and the sampling: same seed, same run.",
)
default_name = f"{session.dataset.name} · {preset} · {session.epochs} epochs"
name = (
    settings[2]
    .text_input("Run name", placeholder=default_name, key=NAME_KEY, disabled=training)
    .strip()
)

try:
    validate_schema(session.schema, session.dataset.frame)
    problem = None
except PsygentabError as error:
    problem = str(error)
    st.error(f"Fix the column types first: {problem}", icon=":material/error:")
    st.page_link("views/columns.py", label="Column types", icon=":material/view_column:")

if training:
    if st.button("Stop", key=STOP_KEY, icon=":material/stop_circle:"):
        session.job.stop()
        st.toast("Stopping after the current step; the model so far is kept and saved.")
    live()
else:
    if st.button(
        "Start training",
        key=START_KEY,
        type="primary",
        icon=":material/play_arrow:",
        disabled=problem is not None,
    ):
        start(session, name or default_name)
        if session.job is not None:
            st.rerun()
    if session.train_message:
        st.error(session.train_message, icon=":material/error:")
    last = session.last_job
    if last is not None and last.state is JobState.FAILED:
        st.error(f"The last run failed: {last.error}", icon=":material/error:")
    finished_run(session)
