"""Fidelity: does the synthetic table look like the real one, column by column and pair by pair?

The scores, the association heat maps, one column's distribution at a time (the least similar
first), the per-column similarity, the detection test and the parts of the quality score Q.
"""

import streamlit as st

from psygentab_app.results import current_evaluation
from psygentab_app.sidebar import start_page
from psygentab_app.ui import figure, metric_cards, next_page, results_by_key
from psygentab_core.evaluation.figures import fidelity
from psygentab_core.evaluation.report import FAMILY_INTRODUCTIONS
from psygentab_core.evaluation.result import Family, MetricResult

COLUMN_KEY = "fidelity_column"


def column_picker(marginal: MetricResult) -> str:
    """The column whose distribution is shown; the least similar column comes first."""
    ranked = sorted(marginal.details["columns"], key=lambda c: c["similarity"])
    similarity = {c["column"]: c["similarity"] for c in ranked}
    options = [c["column"] for c in ranked]
    # A column remembered from another run would not be an option here: start afresh.
    if st.session_state.get(COLUMN_KEY) not in options:
        st.session_state.pop(COLUMN_KEY, None)
    return st.selectbox(
        "Column (least similar first)",
        options,
        index=0,
        key=COLUMN_KEY,
        format_func=lambda name: f"{name} (similarity {similarity[name]:.3f})",
        help="Similarity is 1 − Kolmogorov–Smirnov distance for numbers and 1 − total "
        "variation for categories; 1 means the same distribution.",
    )


def columns_section(marginal: MetricResult) -> None:
    """Every column's similarity, then the distribution of one chosen column.

    One distribution at a time: drawing every column would make the page slow to open.
    """
    figure(
        fidelity.marginal_similarity_bars(marginal),
        "Each column's similarity; the green mark is what an unseen real sample scores "
        "(sampling noise alone).",
        key="fidelity-similarity",
    )
    column = column_picker(marginal)
    figure(
        fidelity.column_distribution(marginal, column),
        "Real (blue) and synthetic (orange) on the same bins or levels.",
        key="fidelity-distribution",
    )


session = start_page()
st.title("Fidelity")
st.caption(FAMILY_INTRODUCTIONS[Family.FIDELITY])
evaluation = current_evaluation(session)
if evaluation is None:
    st.stop()
results = results_by_key(evaluation, Family.FIDELITY)

metric_cards(list(results.values()))

if "fidelity.association_difference" in results:
    st.subheader("Pairs of columns")
    figure(
        fidelity.association_heatmaps(results["fidelity.association_difference"]),
        "Associations between every pair of columns in the real and the synthetic data, and "
        "their difference (synthetic minus real; white is no difference).",
        key="fidelity-associations",
    )

if "fidelity.marginal_similarity" in results:
    st.subheader("Column by column")
    columns_section(results["fidelity.marginal_similarity"])

st.subheader("Taken together")
left, right = st.columns(2)
with left:
    if "fidelity.detection_auc" in results:
        figure(
            fidelity.detection_roc(results["fidelity.detection_auc"]),
            "A classifier trying to tell real from synthetic rows; the diagonal is chance.",
            key="fidelity-detection",
        )
with right:
    if "fidelity.quality_score" in results:
        figure(
            fidelity.quality_components(results["fidelity.quality_score"]),
            "The four parts of the source paper's quality score Q, against what unseen real "
            "patients score.",
            key="fidelity-quality",
        )

next_page("views/minority.py", "Minority class")
