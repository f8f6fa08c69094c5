"""Runs page: the runs table from disk, reopening a run, comparing runs, failed runs."""

from __future__ import annotations

from psygentab_app.session import SESSION_KEY

PAGE = "views/runs.py"


def _run_id(page) -> str:
    return page.session_state[SESSION_KEY].current_run


def test_an_empty_runs_folder_points_to_the_train_page(app) -> None:
    page = app(PAGE)
    assert not page.exception
    assert page.title[0].value == "Runs"
    assert "No runs of this table" in page.info[0].value
    assert not page.dataframe
    assert not page.get("plotly_chart")


def test_the_table_lists_the_run_with_its_constraints(app_with_run) -> None:
    page = app_with_run(PAGE)
    assert not page.exception
    table = page.dataframe[0].value
    row = table.iloc[0]
    assert (row["Name"], row["Dataset"], row["Status"]) == ("test run", "nhefs", "completed")
    assert row["Release rows"] == 1629
    assert row["Fit seconds"] > 0
    for constraint in ("exact match", "close records", "closer to training"):
        assert f"{constraint}: measured" in table.columns
        assert f"{constraint}: met" in table.columns
    assert row["close records: threshold"] == "at most 0.05"
    assert row["composite privacy: threshold"] == "at least 0.8"


def test_make_current_reopens_the_picked_run(app_with_run) -> None:
    page = app_with_run(PAGE)
    run_id = _run_id(page)
    page.session_state[SESSION_KEY].current_run = None
    page.run()
    assert page.selectbox(key="runs_pick").value == run_id
    page.button(key="runs_make_current").click().run()
    assert not page.exception
    assert _run_id(page) == run_id
    # The button acts before the page is drawn, so the same rerun already shows the new run.
    assert any(caption.value.startswith("Current run: test run · ") for caption in page.caption)


def test_comparing_runs_draws_constraints_and_training_curves(app_with_run) -> None:
    page = app_with_run(PAGE)
    run_id = _run_id(page)
    assert page.multiselect(key="runs_compare").value == [run_id]  # the current run to start
    page.multiselect(key="runs_compare").set_value([]).run()
    assert not page.get("plotly_chart")
    page.multiselect(key="runs_compare").set_value([run_id]).run()
    assert not page.exception
    charts = page.get("plotly_chart")
    assert len(charts) == 2  # constraint bars, then the training curves in the run's tab
    assert '"barmode":"group"' in charts[0].proto.spec.replace(" ", "")
    assert page.tabs[0].label == "test run"


def test_a_failed_run_shows_its_message_and_cannot_be_opened(app_with_run) -> None:
    page = app_with_run(PAGE)
    session = page.session_state[SESSION_KEY]
    store = session.store
    failed = store.start(
        name="broken run", dataset="nhefs", fingerprint=session.dataset.fingerprint
    )
    store.fail(failed, "Training stopped: the table has no rows left after the split.")
    page.run()
    assert not page.exception
    table = page.dataframe[0].value
    status = table.set_index("Name").loc["broken run", "Status"]
    assert status == "failed: Training stopped: the table has no rows left after the split."
    assert failed not in page.selectbox(key="runs_pick").options
    assert failed not in page.multiselect(key="runs_compare").options


def test_runs_of_another_table_are_not_listed(app_with_run) -> None:
    page = app_with_run(PAGE)
    store = page.session_state[SESSION_KEY].store
    store.start(name="someone else's run", dataset="other", fingerprint="0" * 64)
    page.run()
    assert not page.exception
    names = set(page.dataframe[0].value["Name"])
    assert "test run" in names
    assert "someone else's run" not in names


def test_the_sidebar_picks_the_current_run(app_with_run) -> None:
    page = app_with_run("views/data.py")
    session = page.session_state[SESSION_KEY]
    run_id = session.current_run
    assert page.sidebar.selectbox(key=f"sidebar_current_run:{run_id}").value == run_id
    session.current_run = None
    page.run()
    picker = page.sidebar.selectbox(key="sidebar_current_run:None")
    assert picker.value is None
    picker.set_value(run_id).run()
    assert session.current_run == run_id
    # A value the browser still holds for the old widget cannot undo the change.
    assert page.sidebar.selectbox(key=f"sidebar_current_run:{run_id}").value == run_id
