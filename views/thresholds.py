"""Privacy thresholds: one slider per constraint with its meaning in plain words, presets, and
how each threshold compares with what real patients the generator never sees reach."""

from dataclasses import replace

import streamlit as st

from psygentab_app.sidebar import start_page
from psygentab_app.thresholds import unseen_levels
from psygentab_core.constraints import Constraint
from psygentab_core.errors import PsygentabError
from psygentab_core.presets import PRESET_DESCRIPTIONS, STRICTNESS, preset

PRESET_KEY = "thresholds_preset"
PRESETS = tuple(STRICTNESS)


# (constraint key, field, label, slider low, high, step, shown as percent)
SLIDERS = {
    "exact_match": [("max_share", "Largest share of exact copies", 0.0, 0.05, 0.005, True)],
    "close_records": [
        ("max_share", "Largest share of too-close synthetic patients", 0.0, 0.20, 0.005, True),
        (
            "quantile",
            "'Too close' means closer than this share of unseen patients",
            0.01,
            0.20,
            0.01,
            True,
        ),
    ],
    "closer_to_training": [
        ("max_excess", "Largest excess over 50 % closer to training", 0.0, 0.20, 0.005, True)
    ],
    "composite_privacy": [("min_score", "Smallest composite score P", 0.5, 1.0, 0.01, False)],
}

session = start_page()
st.title("Privacy thresholds")
st.caption(
    "Each rule is enforced while the generator trains (an augmented Lagrangian keeps it within "
    "the limit) and checked again on the released table. Start from a preset; fine-tune below."
)


def choose_preset() -> None:
    name = st.session_state[PRESET_KEY]
    if name is not None:
        session.constraints = preset(name)


st.session_state[PRESET_KEY] = session.preset_name
st.segmented_control(
    "Preset",
    PRESETS,
    key=PRESET_KEY,
    on_change=choose_preset,
    format_func=str.capitalize,
    help="\n".join(
        f"- **{name.capitalize()}**: {text}" for name, text in PRESET_DESCRIPTIONS.items()
    ),
)
st.caption(
    PRESET_DESCRIPTIONS[session.preset_name]
    if session.preset_name
    else "Custom thresholds (set by hand below)."
)

try:
    levels = unseen_levels(session)
except PsygentabError as error:
    levels = {}
    st.warning(
        f"How real patients compare cannot be shown until the table is ready: {error}",
        icon=":material/info:",
    )


def slider_key(constraint: Constraint, field: str) -> str:
    return f"threshold_{constraint.key}_{field}"


def update(constraint_key: str, field: str) -> None:
    current_constraint = next(c for c in session.constraints if c.key == constraint_key)
    value = st.session_state[f"threshold_{constraint_key}_{field}"]
    session.with_constraint(replace(current_constraint, **{field: float(value)}))


for constraint in session.constraints:
    with st.container(border=True):
        rule, control = st.columns([3, 2])
        rule.markdown(f"**{constraint.label}**")
        rule.write(constraint.describe())
        if constraint.key in levels:
            level, stricter = levels[constraint.key]
            shown = f"{level:.1%}" if constraint.key != "composite_privacy" else f"{level:.2f}"
            if stricter:
                rule.warning(
                    f"Real patients the generator never saw reach {shown}: this limit is "
                    "stricter than real data. It can be met by keeping synthetic patients "
                    "further from training patients, at some cost in fidelity.",
                    icon=":material/warning:",
                )
            else:
                rule.caption(f"Real patients the generator never saw reach {shown}.")
        elif constraint.key == "closer_to_training":
            rule.caption("Real patients the generator never saw reach 50 % by construction.")
        for field, label, low, high, step, percent in SLIDERS[constraint.key]:
            key = slider_key(constraint, field)
            st.session_state[key] = float(getattr(constraint, field))
            control.slider(
                label,
                min_value=low,
                max_value=high,
                step=step,
                key=key,
                format="percent" if percent else "%.2f",
                on_change=update,
                args=(constraint.key, field),
            )

st.info(
    "Stricter limits push synthetic patients further from real ones: privacy goes up and "
    "fidelity and downstream utility come down. The trade-off explorer measures that curve.",
    icon=":material/balance:",
)
st.page_link("views/train.py", label="Next: train the generator", icon=":material/arrow_forward:")
