"""Page tests: the app in AppTest, on the demo data, with a run store in a temporary folder.

``app`` opens the dashboard on a fresh session; ``app_with_run`` does the same with a short
completed NHEFS run already in the store and chosen as the current run, so that the evaluation
pages have something to show. ``app_dp`` and ``app_with_dp_run`` are the same on a small table
with differential privacy turned on (and a short DP run, stopped by its budget, as the current
run). Switch pages with ``app.switch_page("views/<name>.py").run()``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from psygentab_app.privacy_mode import DpChoice
from psygentab_app.session import SESSION_KEY, Dataset, Session
from psygentab_core import infer_schema, load_demo
from psygentab_core.config import dp_train_config
from psygentab_core.pipeline import fit
from psygentab_core.runs import dataset_fingerprint
from psygentab_core.store import RunStore
from tests.tables import MIXED_PUBLIC_BOUNDS, mixed_table, quick_config

APP = str(Path(__file__).resolve().parent.parent.parent / "app.py")
TIMEOUT = 120


@pytest.fixture(scope="session")
def saved_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A runs folder holding one short, completed NHEFS run (built once per test session)."""
    folder = tmp_path_factory.mktemp("runs")
    frame = load_demo("nhefs")
    result = fit(frame, target="death", config=quick_config(), dataset_name="nhefs")
    store = RunStore(folder)
    run_id = store.start(name="test run", dataset="nhefs", fingerprint=dataset_fingerprint(frame))
    store.complete(run_id, result)
    return folder, run_id


# σ set by hand below what the three planned steps need for the target: the budget allows two
# of them, so the saved DP run ends with "privacy budget spent".
BUDGET_NOISE = 2.1


def dp_session() -> Session:
    """A session on a small table (132 training rows: quick for DP-SGD and its accountant)
    with differential privacy on, its numeric ranges and category lists declared public."""
    frame = mixed_table()
    return Session(
        dataset=Dataset(name="mixed", frame=frame, source="upload"),
        schema=infer_schema(frame, target="outcome"),
        sensitive=("sex",),
        dp=DpChoice(enabled=True, public_categories=True, public_bounds=MIXED_PUBLIC_BOUNDS),
    )


@pytest.fixture(scope="session")
def saved_dp_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A runs folder holding one short DP run of the small table, stopped by its budget."""
    folder = tmp_path_factory.mktemp("dp-runs")
    session = dp_session()
    dp = replace(
        session.dp.dp_config(session.schema), noise_multiplier=BUDGET_NOISE, reproducible=True
    )
    config = dp_train_config(dp, epochs=3, measurement_rows=1000, constraints=session.constraints)
    frame = session.dataset.frame
    result = fit(frame, schema=session.training_schema(), config=config, dataset_name="mixed")
    assert result.summary.stop == "privacy budget spent"  # what the tests rely on
    store = RunStore(folder)
    run_id = store.start(name="dp run", dataset="mixed", fingerprint=dataset_fingerprint(frame))
    store.complete(run_id, result)
    return folder, run_id


def _open(session: Session, page: str | None) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=TIMEOUT)
    app.session_state[SESSION_KEY] = session
    app.run()
    if page is not None:
        app.switch_page(page).run()
    return app


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., AppTest]:
    """``app(page=None)``: the dashboard on the default demo table and an empty runs folder."""
    monkeypatch.setenv("PSYGENTAB_RUNS", str(tmp_path / "runs"))

    def open_page(page: str | None = None) -> AppTest:
        return _open(Session.on_demo(), page)

    return open_page


@pytest.fixture
def app_with_run(
    saved_run: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., AppTest]:
    """``app_with_run(page=None)``: as ``app``, with a completed run as the current run.

    The runs folder is a private copy, so a test may add or change runs freely.
    """
    folder, run_id = saved_run
    runs = tmp_path / "runs"
    shutil.copytree(folder, runs)
    monkeypatch.setenv("PSYGENTAB_RUNS", str(runs))

    def open_page(page: str | None = None) -> AppTest:
        session = Session.on_demo()
        session.current_run = run_id
        return _open(session, page)

    return open_page


@pytest.fixture
def app_dp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., AppTest]:
    """``app_dp(page=None)``: the dashboard on the small table with DP on, no runs yet."""
    monkeypatch.setenv("PSYGENTAB_RUNS", str(tmp_path / "runs"))

    def open_page(page: str | None = None) -> AppTest:
        return _open(dp_session(), page)

    return open_page


@pytest.fixture
def app_with_dp_run(
    saved_dp_run: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., AppTest]:
    """``app_with_dp_run(page=None)``: as ``app_dp``, with the saved DP run as the current run."""
    folder, run_id = saved_dp_run
    runs = tmp_path / "runs"
    shutil.copytree(folder, runs)
    monkeypatch.setenv("PSYGENTAB_RUNS", str(runs))

    def open_page(page: str | None = None) -> AppTest:
        session = dp_session()
        session.current_run = run_id
        return _open(session, page)

    return open_page
