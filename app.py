"""PSyGenTAB dashboard: page configuration, the shared sidebar and navigation.

Every screen lives in views/ and begins with psygentab_app.sidebar.start_page(), which draws the
shared sidebar; the state they share is one typed object (psygentab_app.session).

The folder is views/, not pages/: Streamlit treats a pages/ folder as the older multipage layout
until st.navigation has run once, so a bookmarked page opened first on a freshly started server
would run without this file (no navigation sections, no shared layout).
"""

from pathlib import Path

import streamlit as st

# A local image: a Material icon name here would make browsers fetch it from fonts.gstatic.com.
ICON = Path(__file__).resolve().parent / "psygentab_app" / "icon.png"
st.set_page_config(page_title="PSyGenTAB", page_icon=str(ICON), layout="wide")

PAGES = {
    "Prepare": [
        st.Page("views/data.py", title="Data", icon=":material/table:", default=True),
        st.Page("views/columns.py", title="Column types", icon=":material/view_column:"),
        st.Page("views/thresholds.py", title="Privacy thresholds", icon=":material/tune:"),
        st.Page("views/train.py", title="Train", icon=":material/model_training:"),
    ],
    "Evaluate": [
        st.Page("views/fidelity.py", title="Fidelity", icon=":material/compare:"),
        st.Page("views/minority.py", title="Minority class", icon=":material/pie_chart:"),
        st.Page("views/privacy.py", title="Privacy audit", icon=":material/shield_person:"),
        st.Page("views/fairness.py", title="Fairness", icon=":material/balance:"),
    ],
    "Decide": [
        st.Page("views/tradeoff.py", title="Trade-off explorer", icon=":material/scatter_plot:"),
        st.Page("views/runs.py", title="Runs", icon=":material/history:"),
        st.Page("views/export.py", title="Report & export", icon=":material/download:"),
    ],
}

st.navigation(PAGES).run()
