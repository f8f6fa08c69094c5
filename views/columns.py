"""Column types: the inferred kind of every column with its reason, the outcome column and the
sensitive attributes; every change is checked against the data before it is kept."""

import pandas as pd
import streamlit as st

from psygentab_app.sidebar import start_page
from psygentab_core import ColumnKind, validate_schema
from psygentab_core.errors import SchemaError

TARGET_KEY = "columns_target"
SENSITIVE_KEY = "columns_sensitive"
PICK_KEY = "columns_pick"
KIND_KEY = "columns_kind"
KEEP_IDENTIFIER_KEY = "columns_keep_identifier"
APPLY_KEY = "columns_apply"
NO_TARGET = "(no outcome column)"
KIND_HELP = {
    ColumnKind.CONTINUOUS: "a measurement (blood pressure, weight)",
    ColumnKind.INTEGER: "a count or whole-number measurement (visits, age in years)",
    ColumnKind.CATEGORICAL: "one of several unordered groups (ward, diagnosis)",
    ColumnKind.BINARY: "one of two values (yes/no, sex at birth)",
    ColumnKind.ORDINAL: "ordered levels (stage I–IV, education level)",
    ColumnKind.DATETIME: "a date or time",
    ColumnKind.EXCLUDED: "left out of training and of the synthetic table",
}

session = start_page()
frame = session.dataset.frame
schema = session.schema

st.title("Column types")
st.caption(
    "How each column is modelled, and why it was guessed so. Check the guesses: a code stored "
    "as a number (a ward number, an ICD code) should be categorical, not a measurement."
)

# --- outcome and sensitive attributes -------------------------------------------------------
outcome_options = [NO_TARGET, *schema.names]
st.session_state[TARGET_KEY] = schema.target or NO_TARGET


def set_target() -> None:
    choice = st.session_state[TARGET_KEY]
    target = None if choice == NO_TARGET else choice
    try:
        updated = session.schema.with_target(target)
        validate_schema(updated, frame)
    except SchemaError as error:
        session.column_message = str(error)
        return
    session.schema = updated
    session.sensitive = tuple(c for c in session.sensitive if c != target)
    session.column_message = None


left, right = st.columns(2)
left.selectbox(
    "Outcome column (what a model would predict; its classes are kept in their real shares)",
    outcome_options,
    key=TARGET_KEY,
    on_change=set_target,
)

sensitive_options = [c.name for c in schema.modelled if c.name != schema.target]
st.session_state[SENSITIVE_KEY] = [c for c in session.sensitive if c in sensitive_options]


def set_sensitive() -> None:
    session.sensitive = tuple(st.session_state[SENSITIVE_KEY])


right.multiselect(
    "Sensitive attributes (subgroups checked for fairness and privacy risk)",
    sensitive_options,
    key=SENSITIVE_KEY,
    on_change=set_sensitive,
    placeholder="e.g. sex, ethnicity, age",
)

# --- changing one column --------------------------------------------------------------------
with st.container(border=True):
    st.markdown("**Change a column's kind**")
    pick, kind, apply = st.columns([3, 3, 1], vertical_alignment="bottom")
    column = pick.selectbox("Column", schema.names, key=PICK_KEY)
    spec = schema.column(column)
    kinds = list(ColumnKind)
    new_kind = kind.selectbox(
        "Kind",
        kinds,
        index=kinds.index(spec.kind),
        # One widget per column, so picking another column starts from that column's kind.
        key=f"{KIND_KEY}:{column}",
        format_func=lambda k: f"{k.value}: {KIND_HELP[k]}",
    )
    keeping_identifier = spec.identifier and new_kind is not ColumnKind.EXCLUDED
    if keeping_identifier:
        st.warning(
            f"**{column}** looks like a direct identifier ({spec.reason}). Keeping it lets the "
            "generator learn it, and the report will say that it was kept.",
            icon=":material/badge:",
        )
        st.checkbox(f"I understand; keep {column} in training anyway", key=KEEP_IDENTIFIER_KEY)
    if apply.button("Apply", key=APPLY_KEY, type="primary", width="stretch"):
        session.column_notice = None
        if keeping_identifier and not st.session_state.get(KEEP_IDENTIFIER_KEY):
            session.column_message = (
                f"{column} was not changed: tick the box to confirm keeping an identifier."
            )
        else:
            try:
                reason = (
                    "kept by the user although it looks like an identifier"
                    if keeping_identifier
                    else "set by the user"
                )
                updated = session.schema.with_kind(column, new_kind, reason=reason)
                validate_schema(updated, frame)
            except SchemaError as error:
                session.column_message = str(error)
            else:
                session.schema = updated
                if updated.target is None and schema.target == column:
                    st.session_state.pop(TARGET_KEY, None)
                session.sensitive = tuple(
                    c
                    for c in session.sensitive
                    if updated.column(c).kind is not ColumnKind.EXCLUDED
                )
                session.column_message = None
                session.column_notice = f"{column} is now {new_kind.value}."
                st.rerun()

if session.column_message:
    st.error(session.column_message, icon=":material/error:")
elif session.column_notice:
    st.success(session.column_notice, icon=":material/check:")

# --- the whole schema -----------------------------------------------------------------------
try:
    validate_schema(session.schema, frame)
except SchemaError as error:
    st.error(f"The table cannot be trained on as it is: {error}", icon=":material/error:")
else:
    modelled = len(session.schema.modelled)
    st.success(
        f"{modelled} of {len(session.schema.columns)} columns will be modelled"
        + (f"; outcome {session.schema.target}." if session.schema.target else "."),
        icon=":material/check_circle:",
    )


def _examples(values: pd.Series) -> str:
    present = values.dropna().astype(str).unique()[:3]
    return ", ".join(present)


overview = pd.DataFrame(
    {
        "column": [c.name for c in session.schema.columns],
        "kind": [c.kind.value for c in session.schema.columns],
        "why": [c.reason for c in session.schema.columns],
        "identifier?": ["yes" if c.identifier else "" for c in session.schema.columns],
        "missing": [frame[c.name].isna().mean() for c in session.schema.columns],
        "distinct values": [frame[c.name].nunique() for c in session.schema.columns],
        "examples": [_examples(frame[c.name]) for c in session.schema.columns],
    }
)
st.dataframe(
    overview,
    width="stretch",
    hide_index=True,
    column_config={
        "missing": st.column_config.ProgressColumn(
            "missing", format="percent", min_value=0.0, max_value=1.0
        )
    },
)

st.page_link(
    "views/thresholds.py",
    label="Next: set the privacy thresholds",
    icon=":material/arrow_forward:",
)
