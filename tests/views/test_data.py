"""Data page: the demo table by default, switching demo tables, uploads that work or fail."""

from __future__ import annotations

from psygentab_app.session import SESSION_KEY
from psygentab_core.datasets import DEMO_DATASETS

NHEFS_ROWS = "1,629"


def test_the_app_opens_on_the_default_demo_table(app) -> None:
    page = app()
    assert not page.exception
    assert page.title[0].value == "PSyGenTAB"
    assert page.metric[0].value == NHEFS_ROWS
    assert page.session_state[SESSION_KEY].schema.target == "death"


def test_switching_demo_table_updates_the_page_and_the_session(app) -> None:
    page = app()
    page.selectbox(key="demo_name").set_value("covid_testing").run()
    assert not page.exception
    assert page.metric[0].value == "15,223"
    assert DEMO_DATASETS["covid_testing"].description in [m.value for m in page.markdown]
    session = page.session_state[SESSION_KEY]
    assert session.dataset.name == "covid_testing"
    assert session.schema.target == DEMO_DATASETS["covid_testing"].target


def test_an_upload_becomes_the_dataset(app) -> None:
    page = app()
    page.segmented_control(key="data_source").set_value("Upload a file").run()
    csv = b"age;ward;outcome\n61;A;yes\n45;B;no\n70;A;no\n"
    page.file_uploader(key="data_upload").set_value(("ward.csv", csv, "text/csv")).run()
    assert not page.exception
    assert [m.value for m in page.metric][:2] == ["3", "3"]
    assert page.session_state[SESSION_KEY].dataset.source == "upload"


def test_a_bad_upload_says_why_and_keeps_the_previous_table(app) -> None:
    page = app()
    page.segmented_control(key="data_source").set_value("Upload a file").run()
    page.file_uploader(key="data_upload").set_value(("empty.csv", b"", "text/csv")).run()
    assert not page.exception
    assert page.error[0].value.startswith("empty.csv is empty; choose the file that holds")
    assert page.metric[0].value == NHEFS_ROWS
    assert page.session_state[SESSION_KEY].dataset.name == "nhefs"
