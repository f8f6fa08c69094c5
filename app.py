"""PSyGenTAB dashboard: page configuration, the shared sidebar and navigation.

Every screen lives in pages/ and begins with psygentab_app.sidebar.start_page(), which draws the
shared sidebar; the state they share is one typed object (psygentab_app.session).
"""

import streamlit as st

st.set_page_config(page_title="PSyGenTAB", page_icon=":material/health_and_safety:", layout="wide")

PAGES = {
    "Prepare": [
        st.Page("pages/data.py", title="Data", icon=":material/table:", default=True),
        st.Page("pages/columns.py", title="Column types", icon=":material/view_column:"),
        st.Page("pages/thresholds.py", title="Privacy thresholds", icon=":material/tune:"),
        st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    ],
    "Evaluate": [
        st.Page("pages/fidelity.py", title="Fidelity", icon=":material/compare:"),
        st.Page("pages/minority.py", title="Minority class", icon=":material/pie_chart:"),
        st.Page("pages/privacy.py", title="Privacy audit", icon=":material/shield_person:"),
        st.Page("pages/fairness.py", title="Fairness", icon=":material/balance:"),
    ],
    "Decide": [
        st.Page("pages/tradeoff.py", title="Trade-off explorer", icon=":material/scatter_plot:"),
        st.Page("pages/runs.py", title="Runs", icon=":material/history:"),
        st.Page("pages/export.py", title="Report & export", icon=":material/download:"),
    ],
}

st.navigation(PAGES).run()
