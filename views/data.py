"""Data: start from a bundled demo table (the default) or upload a CSV or Parquet file."""

import pandas as pd
import streamlit as st

from psygentab_app.session import Dataset, demo_dataset
from psygentab_app.sidebar import start_page
from psygentab_core import DEMO_DATASETS, read_table
from psygentab_core.errors import PsygentabError

SOURCE_KEY = "data_source"
DEMO_KEY = "demo_name"
UPLOAD_KEY = "data_upload"
SOURCES = ("Bundled demo table", "Upload a file")

session = start_page()
st.title("PSyGenTAB")
st.caption(
    "Synthetic clinical tables under privacy constraints that you set. Walk the pages on the "
    "left from top to bottom: data, column types, privacy thresholds, training, then the "
    "evaluation of the synthetic table."
)

st.session_state.setdefault(
    SOURCE_KEY, SOURCES[0] if session.dataset.source == "demo" else SOURCES[1]
)
source = st.segmented_control("Where does the table come from?", SOURCES, key=SOURCE_KEY)

if source == SOURCES[1]:
    upload = st.file_uploader(
        "A CSV (comma, semicolon or tab separated) or Parquet file, one row per patient",
        type=["csv", "tsv", "txt", "parquet", "gz"],
        key=UPLOAD_KEY,
        help="The file stays in this session's memory; it is written only into your runs folder "
        "when you train.",
    )
    if upload is not None and upload.file_id != session.upload_id:
        session.upload_id = upload.file_id
        try:
            frame = read_table(upload.getvalue(), name=upload.name)
            session.use_dataset(Dataset(name=upload.name, frame=frame, source="upload"))
        except PsygentabError as error:
            session.upload_message = str(error)
    if session.upload_message:
        st.error(session.upload_message, icon=":material/error:")
        st.caption(f"Still working on {session.dataset.label}.")
else:
    names = list(DEMO_DATASETS)
    if session.dataset.source == "demo":
        st.session_state[DEMO_KEY] = session.dataset.name

    def use_demo() -> None:
        name = st.session_state[DEMO_KEY]
        session.use_dataset(demo_dataset(name), target=DEMO_DATASETS[name].target)
        session.sensitive = tuple(DEMO_DATASETS[name].sensitive)

    st.selectbox(
        "Demo table",
        names,
        index=names.index(session.dataset.name) if session.dataset.name in names else None,
        format_func=lambda key: DEMO_DATASETS[key].title,
        key=DEMO_KEY,
        on_change=use_demo,
        placeholder="Choose a bundled table",
    )

dataset = session.dataset
frame = dataset.frame
st.subheader(dataset.name)
if dataset.description:
    st.write(dataset.description)

rows, columns, missing, identifiers = st.columns(4)
rows.metric("Rows", f"{len(frame):,}")
columns.metric("Columns", len(frame.columns))
missing.metric("Missing cells", f"{frame.isna().to_numpy().mean():.1%}")
identifiers.metric("Likely identifiers", len(session.schema.identifiers))

if session.schema.target is None:
    st.info(
        "No outcome column is set. Choose it on the Column types page: its classes are kept in "
        "their real shares, and the downstream, minority-class and fairness checks need it.",
        icon=":material/flag:",
    )
for spec in session.schema.identifiers:
    st.warning(
        f"**{spec.name}** looks like a direct identifier ({spec.reason}). It is left out of "
        "training; keep it only if you are sure, on the Column types page.",
        icon=":material/badge:",
    )

st.dataframe(frame.head(200), width="stretch", hide_index=True)
if len(frame) > 200:
    st.caption(f"The first 200 of {len(frame):,} rows.")

missing_share = frame.isna().mean()
missing_share = missing_share[missing_share > 0].sort_values(ascending=False)
if missing_share.empty:
    st.success("No missing values.", icon=":material/check_circle:")
else:
    st.markdown(f"**Missing values** in {len(missing_share)} of {len(frame.columns)} columns")
    st.dataframe(
        pd.DataFrame({"column": missing_share.index.astype(str), "missing": missing_share.values}),
        hide_index=True,
        column_config={
            "missing": st.column_config.ProgressColumn(
                "share of rows missing", format="percent", min_value=0.0, max_value=1.0
            )
        },
        height=min(36 * (len(missing_share) + 1) + 2, 400),
    )
    st.caption("Missing values are learned as such (a flag per column), never filled in.")

st.page_link(
    "views/columns.py", label="Next: check the column types", icon=":material/arrow_forward:"
)
