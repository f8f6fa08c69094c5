"""Privacy thresholds: how the training patients are protected.

Either empirically (the default): one slider per constraint with its meaning in plain words,
presets, and how each threshold compares with what real patients the generator never sees
reach. Or with differential privacy: a target (ε, δ) and what is declared public; the
constraints are then only measured on the release.

The DP option lives here rather than on the Train page because it is the same decision as the
thresholds (how are the patients protected, and what can we tell the ethics board?), taken by
the same person before training, and it changes what the sliders below mean.
"""

from dataclasses import replace

import streamlit as st

from psygentab_app.privacy_mode import (
    delta_choices,
    format_bounds,
    format_delta,
    outcome_classes,
    parse_bounds,
    training_rows,
)
from psygentab_app.sidebar import start_page
from psygentab_app.thresholds import unseen_levels
from psygentab_core.constraints import Constraint
from psygentab_core.dp import attack_bound, default_delta
from psygentab_core.errors import PsygentabError
from psygentab_core.presets import PRESET_DESCRIPTIONS, STRICTNESS, preset

PRESET_KEY = "thresholds_preset"
PRESETS = tuple(STRICTNESS)
DP_ENABLED_KEY = "dp_enabled"
DP_EPSILON_KEY = "dp_epsilon"
DP_DELTA_KEY = "dp_delta"
DP_OUTCOME_KEY = "dp_public_outcome"
DP_CATEGORIES_KEY = "dp_public_categories"
DP_BOUNDS_KEY = "dp_public_bounds"
# The δ option that follows the table's size (DpConfig.delta = None).
DEFAULT_DELTA = "default"


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


def set_dp(key: str, field: str) -> None:
    session.dp = replace(session.dp, **{field: st.session_state[key]})


def set_delta() -> None:
    value = st.session_state[DP_DELTA_KEY]
    session.dp = replace(session.dp, delta=None if value == DEFAULT_DELTA else float(value))


def set_bounds() -> None:
    bounds, problems = parse_bounds(st.session_state[DP_BOUNDS_KEY], session.schema)
    if problems:
        # The ranges in force stay as they were; the text stays as typed, to be corrected.
        session.dp_message = " ".join(problems)
        return
    session.dp = replace(session.dp, public_bounds=bounds)
    session.dp_message = None


def dp_settings() -> None:
    """Target ε and δ, what is declared public, and what DP mode switches off."""
    dp, schema = session.dp, session.schema
    frame = session.dataset.frame
    rows = training_rows(frame, session.constraint_config().split, seed=session.seed)
    with st.container(border=True):
        st.markdown(
            "**Differential privacy (DP-SGD through Opacus).** The formal guarantee is "
            "(ε, δ)-differential privacy with respect to adding or removing one row of the "
            "*training split*"
            + (f" (n = {rows:,} of the {len(frame):,} rows)" if rows else "")
            + ": whatever the generator, the saved model or any table sampled from it reveal, "
            "they would reveal almost as likely had any one training patient been left out. "
            "The reference and holdout rows are read by no mechanism; they only serve the audits."
        )
        target, chance = st.columns(2)
        st.session_state[DP_EPSILON_KEY] = float(dp.epsilon)
        target.number_input(
            "Target ε (the whole run)",
            min_value=0.1,
            max_value=100.0,
            step=0.5,
            format="%.2f",
            key=DP_EPSILON_KEY,
            on_change=set_dp,
            args=(DP_EPSILON_KEY, "epsilon"),
            help="Smaller is stronger. Common choices: 1 (strong), 3 (moderate), 10 (weak). "
            "10 % of it pays for the statistics not declared public below; DP-SGD gets the rest, "
            "its noise calibrated so that the planned epochs end at the target.",
        )
        if rows:
            choices = [DEFAULT_DELTA, *delta_choices(rows)]
            if dp.delta is not None and dp.delta not in choices:
                session.dp = dp = replace(dp, delta=None)
            st.session_state[DP_DELTA_KEY] = DEFAULT_DELTA if dp.delta is None else dp.delta
            chance.selectbox(
                "δ",
                choices,
                format_func=lambda d: (
                    f"{format_delta(default_delta(rows))} (default)"
                    if d == DEFAULT_DELTA
                    else format_delta(d)
                ),
                key=DP_DELTA_KEY,
                on_change=set_delta,
                help="The chance that the guarantee fails outright. It must sit well below 1/n: "
                "at 1/n a mechanism could publish one patient's row and still meet it.",
            )
            delta = dp.delta if dp.delta is not None else default_delta(rows)
            chance.caption(f"Below 1/n = 1/{rows:,} ≈ {1 / rows:.1e}, n the training rows.")
        else:
            delta = None
        if delta is not None:
            bound = attack_bound(dp.epsilon, delta)
            target.caption(
                f"At ε = {dp.epsilon:g} no membership attack of any kind can reach ROC AUC "
                f"above {bound.max_auc:.3f} against a training patient (guessing: 0.5)."
            )

        st.markdown("**Declared public** (known without this table, so no ε is spent on it)")
        classes = outcome_classes(schema, frame)
        if classes is not None:
            st.session_state[DP_OUTCOME_KEY] = dp.public_outcome
            shown = ", ".join(str(c) for c in classes[:6]) + (" …" if len(classes) > 6 else "")
            st.checkbox(
                f"The outcome's classes are public ({schema.target}: {shown})",
                key=DP_OUTCOME_KEY,
                on_change=set_dp,
                args=(DP_OUTCOME_KEY, "public_outcome"),
                help="They define the outcome. If not public, they are found under DP, and a small "
                "budget may release too few of them to train on.",
            )
        st.session_state[DP_CATEGORIES_KEY] = dp.public_categories
        st.checkbox(
            "Every category list is public (from a code book)",
            key=DP_CATEGORIES_KEY,
            on_change=set_dp,
            args=(DP_CATEGORIES_KEY, "public_categories"),
            help="Otherwise each column's categories are found under DP (a stable histogram): "
            "categories held by very few patients are left out of the synthetic table.",
        )
        if session.dp_message is None:
            st.session_state[DP_BOUNDS_KEY] = format_bounds(dp.public_bounds, schema)
        numeric = [c.name for c in schema.modelled if c.kind.is_numeric]
        st.text_area(
            "Public ranges of numeric columns, one per line: column = low : high",
            key=DP_BOUNDS_KEY,
            on_change=set_bounds,
            height=160,
            placeholder="age = 0 : 120\nadmitted = 2019-01-01 : 2021-12-31",
            help="Wide limits from what each column means (clinical limits, a code book), never "
            "from the rows themselves. Values outside are clipped. Dates as YYYY-MM-DD. "
            f"Numeric columns here: {', '.join(numeric) or 'none'}.",
        )
        if session.dp_message:
            st.error(
                f"These ranges were not applied: {session.dp_message}", icon=":material/error:"
            )
        if session.dataset.source == "demo" and dp.public_bounds:
            st.caption(
                "Filled in from this bundled table's code book: limits chosen from what each "
                "column means, not from its rows. Check them as you would for your own table."
            )
        estimated = dp.estimated_columns(schema)
        if estimated:
            st.caption(
                "Estimated under DP from the budget (range and quantiles): "
                f"{', '.join(estimated)}. With few rows or a small ε a range cannot be told "
                "from the noise, and the run will ask you to declare it here."
            )
        st.warning(
            "In differential-privacy mode the privacy rules below are **not enforced**: training "
            "does not use them and the release filter is off, because both read training rows "
            "outside the DP mechanism and would void the guarantee. They are still measured on "
            "the released table and reported, as an audit. Each run's ledger lists every read of "
            "the real rows and what it cost; the run folder and the evaluation report read the "
            "real rows by design and are not covered.",
            icon=":material/policy:",
        )


session = start_page()
st.title("Privacy thresholds")
st.session_state[DP_ENABLED_KEY] = session.dp.enabled
st.toggle(
    "Train with differential privacy (a formal (ε, δ) guarantee)",
    key=DP_ENABLED_KEY,
    on_change=set_dp,
    args=(DP_ENABLED_KEY, "enabled"),
    help="Off: the rules below are enforced while training (empirical protection, measured by "
    "attacks; no formal guarantee). On: DP-SGD with a target (ε, δ) instead.",
)
if session.dp.enabled:
    dp_settings()
    st.subheader("Empirical rules (measured on the release only)")
    st.caption(
        "With differential privacy these rules are not trained on and no row is filtered by "
        "them; the thresholds below only decide what the release is measured against."
    )
else:
    st.caption(
        "Each rule is enforced while the generator trains (an augmented Lagrangian keeps it "
        "within the limit) and checked again on the released table. Start from a preset; "
        "fine-tune below. This protection is empirical: it is measured by attacks, not proved."
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

if session.dp.enabled:
    st.info(
        "A smaller ε adds more noise to training: the guarantee gets stronger and fidelity and "
        "downstream utility come down, most for small groups and rare classes.",
        icon=":material/balance:",
    )
else:
    st.info(
        "Stricter limits push synthetic patients further from real ones: privacy goes up and "
        "fidelity and downstream utility come down. The trade-off explorer measures that curve.",
        icon=":material/balance:",
    )
st.page_link("views/train.py", label="Next: train the generator", icon=":material/arrow_forward:")
