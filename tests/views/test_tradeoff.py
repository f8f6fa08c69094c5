"""Trade-off explorer: the page before a sweep, a short sweep run from it, picking a point."""

from __future__ import annotations

import threading

import pytest

from psygentab_app.session import SESSION_KEY
from psygentab_core import sweep
from psygentab_core.jobs import JobState
from psygentab_core.store import RunStatus

PAGE = "views/tradeoff.py"
TIMEOUT = 120


def test_the_page_explains_the_sweep_before_one_runs(app) -> None:
    page = app(PAGE)
    assert not page.exception
    assert page.title[0].value == "Trade-off explorer"
    assert page.multiselect(key="sweep_levels").value == [0.0, 0.5, 1.0]
    session = page.session_state[SESSION_KEY]
    assert page.number_input(key="sweep_epochs").value == session.epochs
    plan = " ".join(c.value for c in page.caption)
    assert f"3 runs × {session.epochs} epochs" in plan
    assert "No sweep yet" in page.info[0].value
    assert not page.button(key="sweep_start").disabled


def test_one_level_is_not_a_sweep(app) -> None:
    page = app(PAGE)
    page.multiselect(key="sweep_levels").set_value([0.5]).run()
    assert not page.exception
    assert page.button(key="sweep_start").disabled
    assert any("at least two levels" in c.value for c in page.caption)


def test_a_sweep_runs_shows_its_points_and_a_point_becomes_the_current_run(app) -> None:
    page = app(PAGE)
    page.multiselect(key="sweep_levels").set_value([0.0, 1.0])
    page.number_input(key="sweep_epochs").set_value(1)
    # One worker: the points train in the job's thread, with no worker processes to start.
    page.number_input(key="sweep_workers").set_value(1)
    page.button(key="sweep_start").click().run()
    assert not page.exception
    session = page.session_state[SESSION_KEY]
    job = session.sweep
    assert job is not None
    assert job.levels == (0.0, 1.0)

    job.join(TIMEOUT)
    snapshot = job.snapshot()
    assert snapshot.state is JobState.COMPLETED, snapshot.error
    assert all(p.status == "completed" for p in snapshot.points), snapshot.points
    page.run()
    assert not page.exception
    charts = page.get("plotly_chart")
    assert len(charts) == 1
    spec = charts[0].proto.spec
    # Each point carries its run id, which is how a click in the chart picks the run.
    assert all(p.run_id in spec for p in snapshot.points)
    assert "membership-inference AUC" in spec
    table = page.dataframe[0].value
    assert list(table["strictness"]) == ["0.00 lenient", "1.00 strict"]
    assert table["TSTR AUC"].between(0, 1).all()
    assert table["MIA AUC"].between(0, 1).all()
    for point in snapshot.points:
        assert session.store.entry(point.run_id).status is RunStatus.COMPLETED

    strict = next(p.run_id for p in snapshot.points if p.strictness == 1.0)
    page.selectbox(key="sweep_pick").set_value(strict)
    page.button(key="sweep_pick_make_current").click().run()
    assert not page.exception
    assert page.session_state[SESSION_KEY].current_run == strict
    assert "1.00 strict" in page.success[0].value

    # Coming back later: the finished sweep is still on the page.
    page.switch_page("views/data.py").run()
    page.switch_page(PAGE).run()
    assert not page.exception
    assert len(page.dataframe[0].value) == 2


def test_a_running_sweep_shows_progress_and_stops_after_the_running_point(
    app, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, release = threading.Event(), threading.Event()
    real_fit = sweep.fit

    def held_fit(*args, **options):
        entered.set()
        release.wait(TIMEOUT)
        return real_fit(*args, **options)

    # One worker runs the points in this process, where the patched fit holds the first one.
    monkeypatch.setattr(sweep, "fit", held_fit)
    page = app(PAGE)
    page.number_input(key="sweep_epochs").set_value(1)
    page.number_input(key="sweep_workers").set_value(1)
    page.button(key="sweep_start").click().run()
    assert entered.wait(TIMEOUT)
    page.run()
    assert not page.exception
    assert page.button(key="sweep_start").disabled
    assert page.multiselect(key="sweep_levels").disabled
    progress = page.get("progress")
    assert len(progress) == 1
    assert "0 of 3 points done" in progress[0].proto.text
    page.button(key="sweep_stop").click().run()
    assert not page.exception
    assert page.button(key="sweep_stop").disabled
    assert any("Stopping" in c.value for c in page.caption)

    release.set()
    job = page.session_state[SESSION_KEY].sweep
    job.join(TIMEOUT)
    page.run()
    assert not page.exception
    assert "Stopped after 1 of 3 points" in page.info[0].value
    assert len(page.dataframe[0].value) == 1
    assert not page.button(key="sweep_start").disabled
