"""Minority class: is the rare class kept, in the right share, with the right profile, and can
models trained on the synthetic table still recognise it?

Each section puts a score with the figure it summarises: class balance, fidelity within each
class, downstream recall per class and utility, rare categories.
"""

import plotly.graph_objects as go
import streamlit as st

from psygentab_app.results import current_evaluation
from psygentab_app.sidebar import start_page
from psygentab_app.ui import (
    figure,
    metric_card,
    metric_cards,
    next_page,
    results_by_key,
    results_table,
)
from psygentab_core.evaluation.figures import minority, utility
from psygentab_core.evaluation.report import FAMILY_INTRODUCTIONS
from psygentab_core.evaluation.result import Family, MetricResult

# Of the per-model utility results, the cards show this one; the rest go into a table.
CARD_METRIC = "utility.tstr.minority_class_f1."


def card_beside_figure(result: MetricResult, fig: go.Figure, caption: str, *, key: str) -> None:
    """A score on the left, the figure it summarises on the right."""
    left, right = st.columns([1, 2])
    with left:
        metric_card(result)
    with right:
        figure(fig, caption, key=key)


def utility_section(results: dict[str, MetricResult]) -> None:
    """The summary TSTR AUC and each model's minority-class F1; every other figure in a table."""
    summary = results.get("utility.tstr_auc")
    per_model = [r for k, r in results.items() if k.startswith("utility.tstr.")]
    cards = [r for r in per_model if r.key.startswith(CARD_METRIC)]
    metric_cards(([summary] if summary else []) + cards)
    if summary is not None:
        figure(
            utility.performance_figure(summary),
            "Models trained on real (TRTR) or synthetic (TSTR) rows, tested on the holdout, "
            "with 95 % bootstrap intervals.",
            key="minority-utility",
        )
    rest = [r for r in per_model if r not in cards]
    if rest:
        with st.expander(f"Every model and measure ({len(rest)} more results)"):
            results_table(rest)


session = start_page()
st.title("Minority class")
st.caption(FAMILY_INTRODUCTIONS[Family.MINORITY])
evaluation = current_evaluation(session)
if evaluation is None:
    st.stop()
results = results_by_key(evaluation, Family.MINORITY)

if "minority.class_balance" in results:
    st.subheader("Class balance")
    card_beside_figure(
        results["minority.class_balance"],
        minority.class_balance_bars(results["minority.class_balance"]),
        "Class shares among real training rows (blue) and synthetic rows (orange); the whisker "
        "is the 95 % interval of the synthetic minority share.",
        key="minority-balance",
    )

if "minority.per_class_fidelity" in results:
    st.subheader("Profile of each class")
    card_beside_figure(
        results["minority.per_class_fidelity"],
        minority.per_class_fidelity_bars(results["minority.per_class_fidelity"]),
        "Distribution similarity within each class; green is what unseen real patients of "
        "that class score.",
        key="minority-per-class",
    )

st.subheader("Recognising the minority class downstream")
if "minority.downstream_per_class" in results:
    # One panel per model: the figure needs the full width.
    metric_cards([results["minority.downstream_per_class"]])
    figure(
        utility.per_class_figure(results["minority.downstream_per_class"]),
        "Recall of each class on the holdout for models trained on real (TRTR) and on "
        "synthetic (TSTR) data.",
        key="minority-recall",
    )
st.caption(FAMILY_INTRODUCTIONS[Family.UTILITY])
utility_section(results_by_key(evaluation, Family.UTILITY))

if "minority.rare_category_coverage" in results:
    st.subheader("Rare categories")
    card_beside_figure(
        results["minority.rare_category_coverage"],
        minority.rare_category_bars(results["minority.rare_category_coverage"]),
        "Categories rarer than 1 % among real patients, and how often they appear in the "
        "synthetic table.",
        key="minority-rare",
    )

next_page("views/privacy.py", "Privacy audit")
