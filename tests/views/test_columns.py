"""Column types page: kinds with reasons, outcome and sensitive attributes, checked changes."""

from __future__ import annotations

from psygentab_app.session import SESSION_KEY
from psygentab_core import ColumnKind


def session_of(page):
    return page.session_state[SESSION_KEY]


def test_every_column_is_listed_with_its_kind_and_reason(app) -> None:
    page = app("views/columns.py")
    assert not page.exception
    assert page.title[0].value == "Column types"
    overview = page.dataframe[0].value
    assert len(overview) == 28
    assert set(overview.columns) >= {"column", "kind", "why"}
    assert overview["why"].str.len().min() > 0


def test_changing_a_kind_updates_the_schema(app) -> None:
    page = app("views/columns.py")
    page.selectbox(key="columns_pick").set_value("active").run()
    page.selectbox(key="columns_kind:active").set_value(ColumnKind.CATEGORICAL).run()
    page.button(key="columns_apply").click().run()
    assert not page.exception
    assert session_of(page).schema.column("active").kind is ColumnKind.CATEGORICAL
    assert session_of(page).schema.column("active").reason == "set by the user"


def test_a_change_the_data_cannot_take_is_refused_with_the_column_named(app) -> None:
    page = app("views/columns.py")
    page.selectbox(key="columns_pick").set_value("sex").run()
    page.selectbox(key="columns_kind:sex").set_value(ColumnKind.DATETIME).run()
    page.button(key="columns_apply").click().run()
    assert not page.exception
    assert "sex" in page.error[0].value
    assert session_of(page).schema.column("sex").kind is not ColumnKind.DATETIME


def test_outcome_and_sensitive_attributes_are_chosen_here(app) -> None:
    page = app("views/columns.py")
    page.multiselect(key="columns_sensitive").set_value(["sex", "race"]).run()
    assert session_of(page).sensitive == ("sex", "race")
    page.selectbox(key="columns_target").set_value("sex").run()
    assert not page.exception
    assert session_of(page).schema.target == "sex"
    assert session_of(page).sensitive == ("race",)  # the outcome cannot also be a subgroup


def test_a_continuous_outcome_is_refused_inline(app) -> None:
    page = app("views/columns.py")
    page.selectbox(key="columns_target").set_value("wt71").run()
    assert not page.exception
    assert "wt71" in page.error[0].value
    assert session_of(page).schema.target == "death"


def test_keeping_an_identifier_needs_a_confirmation(app) -> None:
    page = app()
    session = session_of(page)
    frame = session.dataset.frame.assign(patient_id=[f"P{i:05d}" for i in range(1629)])
    session.use_dataset(type(session.dataset)(name="ids", frame=frame, source="upload"))
    page.switch_page("views/columns.py").run()
    assert session.schema.column("patient_id").kind is ColumnKind.EXCLUDED
    page.selectbox(key="columns_pick").set_value("patient_id").run()
    page.selectbox(key="columns_kind:patient_id").set_value(ColumnKind.CATEGORICAL).run()
    page.button(key="columns_apply").click().run()
    assert "tick the box" in page.error[0].value
    assert session.schema.column("patient_id").kind is ColumnKind.EXCLUDED
    page.checkbox(key="columns_keep_identifier").check().run()
    page.button(key="columns_apply").click().run()
    assert not page.exception
    assert session.schema.column("patient_id").kind is ColumnKind.CATEGORICAL
    assert "identifier" in session.schema.column("patient_id").reason
