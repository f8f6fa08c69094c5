"""Train page: a short run starts, shows live progress, ends as the current run with results."""

from __future__ import annotations

from psygentab_app.session import SESSION_KEY
from psygentab_core.jobs import JobState
from psygentab_core.store import RunStatus


def test_a_short_run_trains_in_the_background_and_becomes_the_current_run(app) -> None:
    page = app("views/train.py")
    assert not page.exception
    page.number_input(key="train_epochs").set_value(2).run()
    page.button(key="train_start").click().run()
    assert not page.exception
    session = page.session_state[SESSION_KEY]
    assert session.job is not None
    assert page.get("progress")  # the live fragment is drawn while the run trains
    assert page.button(key="train_stop")
    session.job.join()
    page.run()
    assert not page.exception
    assert session.job is None
    entry = session.run_entry()
    assert entry.status is RunStatus.COMPLETED
    assert entry.summary["epochs_run"] == 2
    assert len(page.get("plotly_chart")) == 2
    assert "constraint" in page.dataframe[0].value.columns


def test_stopping_keeps_the_run_so_far(app) -> None:
    page = app("views/train.py")
    page.number_input(key="train_epochs").set_value(200).run()
    page.button(key="train_start").click().run()
    session = page.session_state[SESSION_KEY]
    page.button(key="train_stop").click().run()
    session.job.join(60)
    page.run()
    assert session.last_job.state is JobState.STOPPED
    entry = session.run_entry()
    assert entry.status is RunStatus.COMPLETED
    assert entry.summary["epochs_run"] < 200
    assert entry.summary["stop"] == "stopped by the user"


def test_a_table_that_cannot_be_trained_says_so_and_disables_start(app) -> None:
    page = app()
    session = page.session_state[SESSION_KEY]
    frame = session.dataset.frame.head(0)
    session.use_dataset(type(session.dataset)(name="empty", frame=frame, source="upload"))
    page.switch_page("views/train.py").run()
    assert not page.exception
    assert "no rows" in page.error[0].value
    assert page.button(key="train_start").disabled


def test_leaving_the_page_keeps_the_run_going_and_coming_back_shows_it(app) -> None:
    page = app("views/train.py")
    page.number_input(key="train_epochs").set_value(50).run()
    page.button(key="train_start").click().run()
    session = page.session_state[SESSION_KEY]
    job = session.job
    page.switch_page("views/data.py").run()
    assert not page.exception
    assert session.job is job
    assert page.sidebar.get("progress")  # the sidebar says a run is training
    page.switch_page("views/train.py").run()
    assert page.get("progress")
    assert page.button(key="train_stop")
    job.stop()
    job.join(60)


def test_a_run_that_fails_says_why_and_leaves_earlier_runs_intact(
    app_with_run, monkeypatch
) -> None:
    from psygentab_core.training import TrainingRun

    def explode(self, *args):
        raise MemoryError

    monkeypatch.setattr(TrainingRun, "_step", explode)
    page = app_with_run("views/train.py")
    session = page.session_state[SESSION_KEY]
    session.train_in_process = False  # the patch above lives in this process only
    earlier = session.current_run
    page.button(key="train_start").click().run()
    session.job.join(60)
    page.run()
    assert not page.exception
    assert any("ran out of memory" in e.value for e in page.error)
    (failed,) = [e for e in session.runs() if e.run_id != earlier]
    assert failed.status is RunStatus.FAILED
    assert session.store.entry(earlier).status is RunStatus.COMPLETED
    assert session.current_run == earlier  # a failed run does not replace the current one
    page.switch_page("views/fidelity.py").run()
    assert not page.exception  # the app stays usable
