"""Train page: a short run starts, shows live progress, ends as the current run with results."""

from __future__ import annotations

import time
from dataclasses import replace

from psygentab_app.session import SESSION_KEY, DpTarget
from psygentab_core.config import DP_MODEL, load_config
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


def chart_keys(page) -> set[str]:
    """Keys of the page's Plotly charts (the element id ends with the key)."""
    return {chart.proto.id.split("-", 2)[-1] for chart in page.get("plotly_chart")}


def metrics(page) -> dict[str, str]:
    return {m.label: m.value for m in page.metric}


def test_a_dp_run_trains_with_dp_shows_the_budget_live_and_its_guarantee(app_dp) -> None:
    page = app_dp("views/train.py")
    assert not page.exception
    assert any("differential privacy, target ε = 3" in m.value for m in page.markdown)
    page.number_input(key="train_epochs").set_value(100).run()
    page.button(key="train_start").click().run()
    assert not page.exception
    session = page.session_state[SESSION_KEY]
    job = session.job
    assert session.job_dp == DpTarget(epsilon=3.0, delta=1e-4, rows=132)
    deadline = time.monotonic() + 60
    while not job.snapshot().records and time.monotonic() < deadline:
        time.sleep(0.1)
    page.run()
    assert not page.exception
    # The live view (a hundred epochs take far longer than one page run): ε against its target
    # beside the objective, and no constraint panels.
    assert session.training
    assert metrics(page)["ε spent (δ = 1e-04)"].endswith(" of 3")
    assert "Constraints met" not in metrics(page)
    assert chart_keys(page) == {"live-epsilon", "live-objective"}
    job.stop()
    job.join(60)
    page.run()
    assert not page.exception
    entry = session.run_entry()
    assert entry.status is RunStatus.COMPLETED
    # The run was trained with the session's DP settings (its saved configuration says so).
    saved = load_config(session.store.folder_of(entry.run_id) / "config.toml")
    assert saved.dp == session.train_config().dp
    assert saved.model == DP_MODEL
    # The finished run: ε card, the guarantee in words, the empirical rules as an audit only.
    spent = entry.summary["privacy"]["epsilon"]
    assert metrics(page)["ε spent (δ = 1e-04)"] == f"{spent:.2f} of 3"
    statement = entry.summary["privacy"]["statement"]
    assert any(s.value == statement for s in page.success)
    assert any("not enforced in DP mode" in m.value for m in page.markdown)
    assert not any("Every privacy constraint holds" in s.value for s in page.success)
    assert chart_keys(page) == {f"run-{entry.run_id}-epsilon", f"run-{entry.run_id}-objective"}


def test_a_dp_run_stopped_by_its_budget_says_so(app_with_dp_run) -> None:
    page = app_with_dp_run("views/train.py")
    assert not page.exception
    entry = page.session_state[SESSION_KEY].run_entry()
    privacy = entry.summary["privacy"]
    assert any("because the privacy budget was spent" in w.value for w in page.warning)
    assert metrics(page)["ε spent (δ = 1e-04)"] == f"{privacy['epsilon']:.2f} of 3"
    assert metrics(page)["DP-SGD steps"] == "2 of 3"
    assert privacy["epsilon"] <= 3.0
    assert {e.label for e in page.expander} >= {"Ledger: every read of the real rows"}
    assert chart_keys(page) == {f"run-{entry.run_id}-epsilon", f"run-{entry.run_id}-objective"}


def test_a_dp_run_whose_ranges_cannot_be_found_under_dp_asks_for_them(app_dp) -> None:
    page = app_dp("views/train.py")
    session = page.session_state[SESSION_KEY]
    session.dp = replace(session.dp, public_bounds=())  # 132 rows: too few to find a range
    page.button(key="train_start").click().run()
    assert not page.exception
    assert session.job is None
    assert "stands out from the privacy noise" in page.error[0].value
    # ... and points to where ranges are declared.
    assert "thresholds" in [link.proto.page for link in page.get("page_link")]
