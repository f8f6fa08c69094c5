"""Background training: watched through snapshots, stoppable, failures reported and stored."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from psygentab_core.jobs import JobState, TrainingJob, failure_message
from psygentab_core.schema import infer_schema
from psygentab_core.store import RunStatus, RunStore
from psygentab_core.training import TrainingRun, prepare_data
from tests.tables import mixed_table, quick_config


def new_run(frame: pd.DataFrame, **overrides: object) -> TrainingRun:
    config = quick_config(**overrides)
    return TrainingRun(prepare_data(frame, infer_schema(frame, target="outcome"), config), config)


def test_a_job_trains_in_the_background_and_saves_the_run(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    job = TrainingJob(new_run(mixed_table()), rows=80, dataset_name="mixed", store=store)
    job.join(120)
    snapshot = job.snapshot()
    assert snapshot.state is JobState.COMPLETED, snapshot.error
    assert [r.epoch for r in snapshot.records] == [1, 2, 3]
    assert snapshot.progress == 1.0
    assert snapshot.remaining_seconds is None
    assert store.entry(snapshot.run_id).status is RunStatus.COMPLETED
    assert len(store.synthetic(snapshot.run_id)) == 80
    assert len(job.result.synthetic) == 80


def test_a_stopped_job_keeps_what_it_trained(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    run = new_run(mixed_table(), epochs=500)
    job = TrainingJob(run, rows=50, dataset_name="mixed", store=store)
    while not job.snapshot().records:
        job.join(0.05)
    mid = job.snapshot()
    assert mid.state is JobState.RUNNING
    assert 0 < mid.progress < 1
    assert mid.remaining_seconds > 0
    job.stop()
    job.join(120)
    end = job.snapshot()
    assert end.state is JobState.STOPPED
    assert end.records[-1].epoch < 500
    assert store.entry(end.run_id).status is RunStatus.COMPLETED


def test_a_failing_run_is_reported_and_marked_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RunStore(tmp_path)
    run = new_run(mixed_table())

    def explode(*args, **kwargs):
        raise FloatingPointError("the loss became NaN")

    monkeypatch.setattr(run, "_step", explode)
    job = TrainingJob(run, rows=50, dataset_name="mixed", store=store)
    job.join(60)
    snapshot = job.snapshot()
    assert snapshot.state is JobState.FAILED
    assert "the loss became NaN" in snapshot.error
    entry = store.entry(snapshot.run_id)
    assert entry.status is RunStatus.FAILED
    assert "NaN" in entry.message


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (MemoryError(), "ran out of memory"),
        (RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"), "ran out of memory"),
        (KeyError("x"), "failed unexpectedly (KeyError"),
    ],
)
def test_failures_are_told_in_words_a_person_can_act_on(error, expected) -> None:
    assert expected in failure_message(error)


def test_a_server_killed_mid_run_leaves_the_run_marked_interrupted(tmp_path: Path) -> None:
    """The dashboard's process dies while a job trains (a restart, kill -9): the next process
    to open the store finds the run interrupted, with no files half written."""
    script = textwrap.dedent(
        f"""
        import time
        from psygentab_core.jobs import TrainingJob
        from psygentab_core.store import RunStore
        from tests.test_jobs import new_run
        from tests.tables import mixed_table
        job = TrainingJob(
            new_run(mixed_table(), epochs=10_000), rows=80, dataset_name="mixed",
            store=RunStore({str(tmp_path)!r}),
        )
        while not job.snapshot().records:
            time.sleep(0.05)
        print(job.snapshot().run_id, flush=True)
        time.sleep(120)
        """
    )
    root = Path(__file__).resolve().parent.parent
    server = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=root
    )
    run_id = server.stdout.readline().strip()
    assert RunStore(tmp_path).entry(run_id).status is RunStatus.RUNNING  # its owner is alive
    os.kill(server.pid, signal.SIGKILL)
    server.wait()
    entry = RunStore(tmp_path).entry(run_id)
    assert entry.status is RunStatus.INTERRUPTED
    assert "interrupted" in entry.message
    assert not [p for p in tmp_path.iterdir() if p.is_dir()]


def test_a_job_in_its_own_process_reports_epochs_saves_and_stops(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    job = TrainingJob(
        new_run(mixed_table()), rows=80, dataset_name="mixed", store=store, process=True
    )
    job.join(120)
    done = job.snapshot()
    assert done.state is JobState.COMPLETED, done.error
    assert [r.epoch for r in done.records] == [1, 2, 3]
    assert store.entry(done.run_id).status is RunStatus.COMPLETED
    assert len(store.synthetic(done.run_id)) == 80
    assert job.result is None  # the run lives in the store, not in this process

    endless = TrainingJob(
        new_run(mixed_table(), epochs=10_000),
        rows=80,
        dataset_name="mixed",
        store=store,
        process=True,
    )
    while not endless.snapshot().records:
        endless.join(0.05)
    endless.stop()
    endless.join(120)
    stopped = endless.snapshot()
    assert stopped.state is JobState.STOPPED
    assert stopped.records[-1].epoch < 10_000
    assert store.entry(stopped.run_id).status is RunStatus.COMPLETED
