"""Train: start and stop a run and watch the Augmented Lagrangian work, live.

The run trains in a worker thread (psygentab_core.jobs) that never calls Streamlit; a fragment
reads its immutable snapshot about once a second. Leaving the page does not stop the run.

With differential privacy (chosen on the Privacy thresholds page) the run trains with DP-SGD:
its records carry no constraints, so the page shows the privacy budget spent instead of the
constraint panels, and the finished run's guarantee and ledger.
"""

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pandas as pd
import streamlit as st

from psygentab_app.privacy_mode import format_delta, training_rows
from psygentab_app.session import DpTarget, Session, current
from psygentab_app.sidebar import start_page
from psygentab_app.ui import ledger
from psygentab_core import validate_schema
from psygentab_core.dp import default_delta
from psygentab_core.errors import PsygentabError
from psygentab_core.evaluation.figures.training import (
    constraint_panels,
    epsilon_curve,
    objective_curve,
    training_curves,
)
from psygentab_core.evaluation.runs import info_from_run_dir
from psygentab_core.jobs import JobSnapshot, JobState, TrainingJob
from psygentab_core.store import RunStatus
from psygentab_core.training import StopReason, TrainingRun, prepare_data

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
    try:
        config = session.train_config()
        schema = session.training_schema()
        validate_schema(schema, session.dataset.frame)
        data = prepare_data(session.dataset.frame, schema, config)
    except PsygentabError as error:
        session.train_message = str(error)
        return
    session.train_message = None
    session.job_dp = (
        None
        if config.dp is None
        else DpTarget(
            epsilon=config.dp.epsilon,
            delta=config.dp.delta or default_delta(len(data.members)),
            rows=len(data.members),
        )
    )
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


def progress_text(snapshot: JobSnapshot, *, private: bool = False) -> str:
    if not snapshot.records:
        first = "Calibrating the privacy noise" if private else "Preparing distances"
        return f"{first} and the first epoch… {duration(snapshot.elapsed)} elapsed"
    last = snapshot.records[-1]
    text = f"Epoch {last.epoch} of {last.total_epochs} · {duration(snapshot.elapsed)} elapsed"
    if snapshot.remaining_seconds is not None:
        text += f" · about {duration(snapshot.remaining_seconds)} left"
    return text


def private_curves(
    history: list[dict], *, target: float | None, key: str, session: Session
) -> None:
    """A DP run's figures: ε spent against the target beside the objective and fidelity
    (kept in the session like :func:`curves`' figures, under a stamp of their own)."""
    stamp = (key, len(history), "private")
    if session.training_figures is None or session.training_figures[0] != stamp:
        session.training_figures = (
            stamp,
            epsilon_curve(history, target=target),
            objective_curve(history),
        )
    _, spent, objective = session.training_figures
    budget, fit = st.columns(2)
    with budget:
        st.plotly_chart(spent, width="stretch", key=f"{key}-epsilon")
    with fit:
        st.plotly_chart(objective, width="stretch", key=f"{key}-objective")
    st.caption(
        "Left: ε spent after each epoch (the encoder's statistics first, then DP-SGD as counted "
        "by Opacus's accountant) against the target (dashed); training stops before a step "
        "that would pass it. Right: the objective and the fidelity proxy. DP-SGD trains on no "
        "privacy constraint, so there are no constraint panels, multipliers or penalties."
    )


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


def epsilon_text(spent: float, target: float) -> str:
    """2.21 of 3."""
    return f"{spent:.2f} of {target:g}"


def epoch_metrics(snapshot: JobSnapshot, target: DpTarget | None) -> None:
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
    if last.epsilon is None:
        constraints.metric("Constraints met", f"{met} of {len(last.constraints)}")
    elif target is not None:
        constraints.metric(
            f"ε spent (δ = {format_delta(target.delta)})",
            epsilon_text(last.epsilon, target.epsilon),
            help="The privacy budget spent so far, of the run's target: the encoder's "
            f"statistics, then DP-SGD on the n = {target.rows:,} training rows.",
        )
    else:
        constraints.metric("ε spent", f"{last.epsilon:.2f}")


@st.fragment(run_every=REFRESH_SECONDS)
def live() -> None:
    """Redrawn every second while the run trains; hands over to a full rerun when it ends."""
    session = current()
    job = session.job
    snapshot = job.snapshot() if job is not None else None
    if snapshot is None or snapshot.state is not JobState.RUNNING:
        st.rerun()
    target = session.job_dp
    st.progress(snapshot.progress, text=progress_text(snapshot, private=target is not None))
    if snapshot.records:
        epoch_metrics(snapshot, target)
        for note in snapshot.records[-1].notes:
            st.info(note, icon=":material/info:")
        history = [r.to_dict() for r in snapshot.records]
        if snapshot.records[-1].epsilon is None:
            curves(history, key="live", session=session)
        else:
            private_curves(
                history,
                target=None if target is None else target.epsilon,
                key="live",
                session=session,
            )


def guarantee_section(summary: Mapping[str, Any], privacy: Mapping[str, Any]) -> None:
    """A DP run's budget, why it stopped, its guarantee in words and its ledger."""
    spent, target = privacy["epsilon"], privacy["target_epsilon"]
    budget, chance, steps = st.columns(3)
    budget.metric(
        f"ε spent (δ = {format_delta(privacy['delta'])})",
        epsilon_text(spent, target),
        help="Sum over the ledger's charged entries (sequential composition).",
    )
    chance.metric("Target δ", format_delta(privacy["target_delta"]))
    plan = privacy.get("dp_sgd") or {}
    steps.metric(
        "DP-SGD steps",
        f"{privacy.get('steps_taken', 0)} of {plan.get('planned_steps', '?')}",
        help="Noisy steps taken, of those planned; the noise was calibrated so that the "
        "planned steps end at the target.",
    )
    if summary.get("stop") == StopReason.BUDGET.value:
        st.warning(
            f"Training stopped after {summary.get('epochs_run', '?')} epochs because the privacy "
            f"budget was spent: one more step would have passed the target ε = {target:g}. The "
            "model as trained so far was released.",
            icon=":material/savings:",
        )
    if privacy.get("guarantee_holds"):
        st.success(privacy["statement"], icon=":material/verified_user:")
    else:
        st.error(privacy["statement"], icon=":material/gpp_bad:")
    ledger(privacy)


def constraints_section(summary: Mapping[str, Any], *, private: bool) -> None:
    """Each constraint measured on the released table: enforced, or (DP) an audit only."""
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
    if private:
        st.markdown("**Empirical rules, measured on the release (not enforced in DP mode)**")
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    met = sum(r["met"] == "yes" for r in rows)
    if private:
        st.caption(
            f"{met} of {len(rows)} rules hold on the released table. With differential privacy "
            "they were neither trained on nor used to filter rows: the guarantee above is what "
            "protects the training patients; these figures are for comparison."
        )
    elif met == len(rows):
        st.success(
            "Every privacy constraint holds on the released table.", icon=":material/verified_user:"
        )
    else:
        st.warning(
            "Some constraints do not hold on the released table; the notes below say why. "
            "Loosen them on the Privacy thresholds page or train longer.",
            icon=":material/warning:",
        )


def finished_run(session: Session) -> None:
    """What the current run reached: its guarantee (with DP), the constraints on the released
    table and its curves."""
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
    privacy = summary.get("privacy")
    st.subheader(f"Run {entry.name}")
    stop = summary.get("stop") or "completed"
    st.caption(
        f"{summary.get('epochs_run', '?')} epochs ({stop}) in "
        f"{duration(summary.get('fit_seconds', 0.0))}; released "
        f"{summary.get('release', {}).get('rows', 0):,} synthetic rows"
        + (", with differential privacy." if privacy else ".")
    )
    if privacy:
        guarantee_section(summary, privacy)
    constraints_section(summary, private=bool(privacy))
    for note in summary.get("notes", []):
        st.info(note, icon=":material/info:")
    info, _ = info_from_run_dir(session.store.folder_of(entry.run_id))
    if privacy:
        private_curves(
            list(info.history),
            target=privacy["target_epsilon"],
            key=f"run-{entry.run_id}",
            session=session,
        )
    else:
        curves(list(info.history), key=f"run-{entry.run_id}", session=session)
    st.page_link(
        "views/fidelity.py", label="Next: how faithful is it?", icon=":material/arrow_forward:"
    )


session = start_page()
st.title("Train")
private = session.dp.enabled
if private:
    st.caption(
        "The generator learns the table with DP-SGD (Opacus): each training row's gradient is "
        "clipped and Gaussian noise is added to every step, calibrated so that the planned "
        "epochs end at the target ε. The privacy rules are only measured on the release."
    )
else:
    st.caption(
        "The generator learns the table while each privacy rule is enforced with an augmented "
        "Lagrangian: a multiplier per rule grows while the rule is broken, so the privacy knobs "
        "move only as far as needed."
    )

schema = session.schema
preset = session.preset_name or "custom"
if private:
    n = training_rows(session.dataset.frame, session.constraint_config().split, seed=session.seed)
    delta = session.dp.delta or (default_delta(n) if n else None)
    protection = f"**differential privacy, target ε = {session.dp.epsilon:g}**" + (
        f" (δ = {format_delta(delta)}, n = {n:,} training rows)" if delta and n else ""
    )
else:
    protection = f"**{preset}** privacy thresholds"
st.markdown(
    f"**{session.dataset.label}** · outcome **{schema.target or 'none'}** · "
    f"{len(schema.modelled)} modelled columns · {protection}"
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
    help=(
        "Passes over the data. The privacy noise is calibrated to them: more epochs, more "
        "noise per step, the same ε in the end."
        if private
        else "Passes over the data; constraints are measured and multipliers updated after each."
    ),
)
settings[1].number_input(
    "Seed",
    min_value=0,
    max_value=2**31 - 1,
    key=SEED_KEY,
    on_change=set_seed,
    disabled=training,
    help=(
        "Fixes the split and the initial weights. The privacy noise and batches are drawn "
        "fresh (the guarantee needs them secret), so a DP run never repeats exactly."
        if private
        else "Fixes the split, the initial weights and the sampling: same seed, same run."
    ),
)
protection_name = f"DP ε={session.dp.epsilon:g}" if private else preset
default_name = f"{session.dataset.name} · {protection_name} · {session.epochs} epochs"
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
    if private:
        st.page_link(
            "views/thresholds.py",
            label="Differential-privacy settings (ε, δ, what is public)",
            icon=":material/tune:",
        )
    last = session.last_job
    if last is not None and last.state is JobState.FAILED:
        st.error(f"The last run failed: {last.error}", icon=":material/error:")
    finished_run(session)
