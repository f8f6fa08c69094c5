"""Fairness: does the synthetic table treat subgroups alike, and is any subgroup more exposed?

The user picks the sensitive attributes (the evaluation is recomputed for that choice); per
subgroup, models trained on real and on synthetic data are compared on the holdout, and the
membership attack is broken down by subgroup.
"""

import streamlit as st

from psygentab_app.results import current_evaluation
from psygentab_app.session import Session
from psygentab_app.sidebar import start_page
from psygentab_app.ui import (
    figure,
    membership_verdict,
    metric_cards,
    next_page,
    results_by_key,
    subgroup_exposure,
    verdict,
)
from psygentab_core.evaluation.evaluate import Evaluation
from psygentab_core.evaluation.figures import fairness
from psygentab_core.evaluation.report import FAMILY_INTRODUCTIONS
from psygentab_core.evaluation.result import Family, MetricResult

SENSITIVE_KEY = "fairness_sensitive"
SUBGROUP_PREFIX = "privacy.subgroup_attack_auc."


def sensitive_picker(session: Session, evaluation: Evaluation) -> None:
    """Sensitive attributes among the run's modelled columns; a change updates the session,
    and the rerun that follows evaluates the run for the new choice."""
    schema = evaluation.context.schema
    options = [c for c in schema.names if c != schema.target]
    # The widget mirrors the session, which another page may have changed since.
    st.session_state[SENSITIVE_KEY] = [c for c in session.sensitive if c in options]

    def choose() -> None:
        session.sensitive = tuple(st.session_state[SENSITIVE_KEY])

    st.multiselect(
        "Sensitive attributes",
        options,
        key=SENSITIVE_KEY,
        on_change=choose,
        help="Numeric attributes such as age are cut into ranges. Changing the choice "
        "re-evaluates the run (a few seconds).",
    )


def gaps_section(gaps: list[MetricResult]) -> None:
    """Equalized-odds gap of each attribute, then TPR and FPR of every subgroup."""
    st.subheader("Equalized-odds gap")
    metric_cards(gaps)
    figure(
        fairness.equalized_odds_figure(gaps),
        "Largest difference in true- or false-positive rate between subgroups, for models "
        "trained on real (blue) and on synthetic (orange) data, with 95 % intervals.",
        key="fairness-gaps",
    )
    st.subheader("Rates per subgroup")
    for result in gaps:
        attribute = result.details["attribute"]
        figure(
            fairness.subgroup_rates_figure(result),
            f"True- and false-positive rates per subgroup of {attribute} on the holdout "
            "(faded: too few rows to judge).",
            key=f"fairness-rates-{attribute}",
        )


def privacy_section(subgroups: list[MetricResult]) -> None:
    """The membership attack within the subgroups of each attribute, with a verdict."""
    st.subheader("Privacy risk per subgroup")
    if not subgroups:
        return
    labelled = [
        (f"distance attack on the most exposed {r.key.removeprefix(SUBGROUP_PREFIX)} subgroup", r)
        for r in subgroups
    ]
    verdict(*membership_verdict(labelled))
    subgroup_exposure(subgroups, key_prefix="fairness-exposure")


session = start_page()
st.title("Fairness")
st.caption(FAMILY_INTRODUCTIONS[Family.FAIRNESS])
evaluation = current_evaluation(session)
if evaluation is None:
    st.stop()

sensitive_picker(session, evaluation)
gaps = list(evaluation.by_family(Family.FAIRNESS))
subgroups = [
    r
    for k, r in results_by_key(evaluation, Family.PRIVACY).items()
    if k.startswith(SUBGROUP_PREFIX)
]
if not evaluation.context.data.sensitive:
    st.info(
        "No sensitive attribute is chosen. Choose one or more (sex, race, age, …) to compare, "
        "subgroup by subgroup, how models trained on real and on synthetic data treat patients "
        "(true- and false-positive rates, equalized-odds gap), and whether the membership "
        "attack succeeds more on some subgroup than overall."
    )
else:
    if gaps:
        gaps_section(gaps)
    else:
        st.caption(
            "The equalized-odds gap needs an outcome column with a rare class to predict; this "
            "run has none, so only the privacy risk per subgroup is shown."
        )
    privacy_section(subgroups)

next_page("views/tradeoff.py", "Trade-off explorer")
