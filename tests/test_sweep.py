"""The trade-off sweep: the Pareto front, real sweeps in one and two processes, failures, jobs."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from psygentab_core import sweep
from psygentab_core.constraints import constraint_to_dict
from psygentab_core.errors import ConfigError
from psygentab_core.jobs import JobState
from psygentab_core.presets import constraints_at
from psygentab_core.schema import infer_schema
from psygentab_core.store import RunStatus, RunStore
from psygentab_core.sweep import (
    PointStatus,
    SweepJob,
    SweepPoint,
    dominates,
    pareto_front,
    parse_levels,
    points_to_json,
    strictness_label,
    sweep_points,
)
from tests.tables import mixed_table, quick_config

TIMEOUT = 120


def point(utility: float | None, risk: float | None, *, failed: bool = False) -> SweepPoint:
    return SweepPoint(
        strictness=0.5,
        constraints=(),
        run_id=f"run-{utility}-{risk}",
        status=PointStatus.FAILED if failed else PointStatus.COMPLETED,
        error="boom" if failed else None,
        tstr_auc=utility,
        attack_auc=risk,
    )


def run_sweep(store: RunStore, *, levels=(0.0, 1.0), **options) -> list[SweepPoint]:
    frame = mixed_table()
    return list(
        sweep_points(
            frame,
            schema=infer_schema(frame, target="outcome"),
            config=quick_config(),
            levels=levels,
            store=store,
            dataset_name="mixed",
            **options,
        )
    )


# --- The Pareto front -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pairs", "front"),
    [
        # (TSTR AUC, attack AUC): higher utility and lower attack AUC are better.
        ([(0.8, 0.6), (0.7, 0.5)], (1, 0)),  # a genuine trade-off: both, safest first
        ([(0.8, 0.5), (0.7, 0.6)], (0,)),  # the first is better on both
        ([(0.7, 0.5), (0.7, 0.6)], (0,)),  # same utility, less risk
        ([(0.7, 0.5), (0.8, 0.5)], (1,)),  # same risk, more utility
        ([(0.7, 0.5), (0.7, 0.5)], (0, 1)),  # ties are both kept
        ([(0.9, 0.7), (0.6, 0.52), (0.8, 0.6), (0.7, 0.65), (0.5, 0.55)], (1, 2, 0)),
        ([(0.6, 0.55)], (0,)),
        ([], ()),
    ],
)
def test_pareto_front_known_answers(pairs, front) -> None:
    assert pareto_front([point(u, r) for u, r in pairs]) == front


def test_failed_and_unscored_points_are_never_on_the_front() -> None:
    points = [point(0.99, 0.3, failed=True), point(None, 0.5), point(0.6, 0.6), point(0.7, None)]
    assert pareto_front(points) == (2,)
    with pytest.raises(ValueError, match="no utility"):
        dominates(points[1], points[2])


values = st.sampled_from([0.4, 0.5, 0.55, 0.6, 0.7, 0.9])  # few values, so that ties happen


@given(
    st.lists(
        st.tuples(values, values, st.sampled_from([False, False, False, True])),
        max_size=12,
    )
)
def test_front_is_undominated_and_dominates_the_rest(rows) -> None:
    points = [point(u, r, failed=failed) for u, r, failed in rows]
    front = pareto_front(points)
    scored = [i for i, p in enumerate(points) if p.scored]
    assert set(front) <= set(scored)
    assert len(set(front)) == len(front)
    for i in front:
        assert not any(dominates(points[j], points[i]) for j in scored)
    for i in set(scored) - set(front):
        assert any(dominates(points[f], points[i]) for f in front)
    risks = [points[i].attack_auc for i in front]
    assert risks == sorted(risks)
    assert bool(front) == bool(scored)


# --- Inputs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0.5", "at least 2"),
        ("0,1.5", "between 0 and 1"),
        ("0,-0.1", "between 0 and 1"),
        ("0,nan", "between 0 and 1"),
        ("0,half", "'half' is not a number"),
        ("0.5,0.5", "all be different"),
    ],
)
def test_bad_levels_are_config_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_levels(text)


def test_levels_and_labels() -> None:
    assert parse_levels(" 0, 0.25 ,1") == (0.0, 0.25, 1.0)
    assert strictness_label(0.5) == "0.50 balanced"
    assert strictness_label(0.25) == "0.25"
    assert point(0.7, 0.5).preset == "balanced"


def test_inputs_are_checked_before_any_run_starts(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    frame = mixed_table()
    schema = infer_schema(frame, target="outcome")
    common = {"schema": schema, "config": quick_config(), "store": store, "dataset_name": "m"}
    with pytest.raises(ConfigError, match="at least 1 worker"):
        sweep_points(frame, levels=(0, 1), n_jobs=0, **common)
    with pytest.raises(ConfigError, match="at least 2"):
        sweep_points(frame, levels=(0,), **common)
    with pytest.raises(ConfigError, match="backend"):
        sweep_points(frame, levels=(0, 1), backend="no such backend", **common)
    with pytest.raises(ConfigError, match="outcome column"):
        sweep_points(frame, levels=(0, 1), **common | {"schema": infer_schema(frame)})
    assert store.runs() == []


# --- Real sweeps ------------------------------------------------------------------------------


def check_completed(points: list[SweepPoint], store: RunStore) -> None:
    assert sorted(p.strictness for p in points) == [0.0, 1.0]
    for p in points:
        assert p.status is PointStatus.COMPLETED, p.error
        assert p.error is None
        for value in (p.tstr_auc, p.trtr_auc, p.attack_auc, p.closer_share, p.detection_auc):
            assert value is not None
            assert 0.0 <= value <= 1.0
        assert p.attack_interval[0] <= p.attack_auc <= p.attack_interval[1]
        assert p.fit_seconds > 0
        assert p.seconds >= p.fit_seconds
        assert isinstance(p.constraints_met, bool)
        assert p.constraints == tuple(constraint_to_dict(c) for c in constraints_at(p.strictness))
        entry = store.entry(p.run_id)
        assert entry.status is RunStatus.COMPLETED
        assert entry.name == f"sweep {p.strictness:.2f}"
        assert entry.dataset == "mixed"
        assert len(store.synthetic(p.run_id)) == len(mixed_table())
        threshold = {c["key"]: c["threshold"] for c in entry.summary["constraints"]}
        assert threshold["close_records"] == constraints_at(p.strictness)[1].max_share
    assert len(store.runs()) == 2
    # The same split for every point, so the real-data baseline is the same too.
    assert points[0].trtr_auc == points[1].trtr_auc
    assert pareto_front(points)


def test_a_sequential_and_a_two_process_sweep_save_the_same_points(tmp_path: Path) -> None:
    one_store, two_store = RunStore(tmp_path / "one"), RunStore(tmp_path / "two")
    sequential = run_sweep(one_store, n_jobs=1)
    check_completed(sequential, one_store)
    parallel = run_sweep(two_store, n_jobs=2, backend="loky")
    check_completed(parallel, two_store)

    def scores(points):
        return sorted((p.strictness, p.tstr_auc, p.attack_auc, p.closer_share) for p in points)

    # Seeded runs: where they run does not change what they produce.
    assert scores(sequential) == scores(parallel)
    document = points_to_json(sequential)
    assert [p["on_front"] for p in document["points"]] == [i in document["front"] for i in range(2)]


def test_a_failing_point_is_reported_and_the_sweep_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fit = sweep.fit

    def fit_or_fail(frame, *, config, **options):
        if config.constraints == constraints_at(1.0):
            raise FloatingPointError("the loss became NaN")
        return real_fit(frame, config=config, **options)

    monkeypatch.setattr(sweep, "fit", fit_or_fail)
    store = RunStore(tmp_path)
    points = {p.strictness: p for p in run_sweep(store, n_jobs=1)}
    failed, completed = points[1.0], points[0.0]
    assert failed.status is PointStatus.FAILED
    assert failed.error == "FloatingPointError: the loss became NaN"
    assert failed.tstr_auc is None
    assert not failed.scored
    entry = store.entry(failed.run_id)
    assert entry.status is RunStatus.FAILED
    assert "NaN" in entry.message
    assert completed.status is PointStatus.COMPLETED
    assert store.entry(completed.run_id).status is RunStatus.COMPLETED
    assert pareto_front([failed, completed]) == (1,)


def test_an_abandoned_sweep_leaves_no_run_marked_running(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    frame = mixed_table()
    points = sweep_points(
        frame,
        schema=infer_schema(frame, target="outcome"),
        config=quick_config(),
        levels=(0.0, 0.5, 1.0),
        store=store,
        dataset_name="mixed",
        n_jobs=1,
    )
    first = next(points)
    points.close()
    statuses = {e.run_id: e.status for e in store.runs()}
    assert statuses.pop(first.run_id) is RunStatus.COMPLETED
    assert set(statuses.values()) == {RunStatus.INTERRUPTED}
    assert len(statuses) == 2


# --- The background job -----------------------------------------------------------------------


def new_job(store: RunStore, levels) -> SweepJob:
    frame = mixed_table()
    return SweepJob(
        frame,
        schema=infer_schema(frame, target="outcome"),
        config=quick_config(),
        levels=levels,
        store=store,
        dataset_name="mixed",
        n_jobs=1,
    )


def test_a_job_runs_the_sweep_in_the_background(tmp_path: Path) -> None:
    job = new_job(RunStore(tmp_path), (0.0, 0.5))
    first = job.snapshot()
    assert first.total == 2
    assert first.running or first.state is JobState.COMPLETED
    job.join(TIMEOUT)
    end = job.snapshot()
    assert end.state is JobState.COMPLETED, end.error
    assert end.progress == 1.0
    assert len(end.points) == 2
    assert end.front
    assert not end.stopping
    # Frozen: a reader cannot change what the job reports.
    with pytest.raises(AttributeError):
        end.points = ()


def test_a_stopped_job_finishes_the_running_point_and_starts_no_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, release = threading.Event(), threading.Event()
    real_fit = sweep.fit

    def held_fit(*args, **options):
        entered.set()
        release.wait(TIMEOUT)
        return real_fit(*args, **options)

    monkeypatch.setattr(sweep, "fit", held_fit)
    store = RunStore(tmp_path)
    job = new_job(store, (0.0, 0.5, 1.0))
    assert entered.wait(TIMEOUT)
    job.stop()
    middle = job.snapshot()
    assert middle.running
    assert middle.stopping
    assert middle.progress == 0.0
    release.set()
    job.join(TIMEOUT)
    end = job.snapshot()
    assert end.state is JobState.STOPPED, end.error
    assert [p.strictness for p in end.points] == [0.0]
    assert end.progress == pytest.approx(1 / 3)
    statuses = sorted(e.status.value for e in store.runs())
    assert statuses == ["completed", "interrupted", "interrupted"]


def test_a_job_with_bad_levels_fails_in_the_caller(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        new_job(RunStore(tmp_path), (0.0, 2.0))
