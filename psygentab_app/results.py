"""The evaluation of the current run: computed once per run and sensitive attributes, then
kept in the session so that switching pages never recomputes it."""

from __future__ import annotations

import streamlit as st

from psygentab_app.session import EvaluationKey, Session
from psygentab_core.errors import PsygentabError
from psygentab_core.evaluation.evaluate import Evaluation, evaluate
from psygentab_core.evaluation.runs import data_from_run_dir, schema_from_run_dir
from psygentab_core.store import RunStatus

# Evaluations kept per session; older ones are dropped first (each holds a few tables).
KEPT_EVALUATIONS = 6


def current_evaluation(session: Session) -> Evaluation | None:
    """The current run's evaluation, computing it (with progress shown) on first request.

    Shows why there is none (no run yet, run still training, failed run) and returns None.
    """
    entry = session.run_entry()
    if entry is None:
        st.info(
            "No run yet. Train one on the **Train** page, or pick an earlier run in the sidebar."
        )
        st.page_link("views/train.py", label="Go to Train", icon=":material/model_training:")
        return None
    if entry.status is not RunStatus.COMPLETED:
        st.warning(f"Run {entry.name} is {entry.status.value}; there is nothing to evaluate yet.")
        if entry.message:
            st.caption(entry.message)
        return None
    folder = session.store.folder_of(entry.run_id)
    schema = schema_from_run_dir(folder)
    sensitive = tuple(c for c in session.sensitive if c in schema.names and c != schema.target)
    key = EvaluationKey(entry.run_id, sensitive)
    if key in session.evaluations:
        return session.evaluations[key]
    with st.status(f"Evaluating run {entry.name}…", expanded=False) as status:
        try:
            data = data_from_run_dir(folder, sensitive=sensitive)
            evaluation = evaluate(
                data, progress=lambda part: status.update(label=f"Evaluating: {part}…")
            )
        except PsygentabError as error:
            status.update(label="The evaluation could not run.", state="error")
            st.error(str(error))
            return None
        status.update(
            label=f"Evaluated run {entry.name} in {evaluation.seconds['total']:.1f} s.",
            state="complete",
        )
    while len(session.evaluations) >= KEPT_EVALUATIONS:
        session.evaluations.pop(next(iter(session.evaluations)))
    session.evaluations[key] = evaluation
    return evaluation
