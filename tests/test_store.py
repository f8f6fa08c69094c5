"""The run store: runs survive restarts, crashes never leave half a run, others' files are safe."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from psygentab_core import runs
from psygentab_core.errors import ModelFileError
from psygentab_core.pipeline import fit
from psygentab_core.store import RunStatus, RunStore, current_owner, owner_alive
from tests.tables import mixed_table, quick_config


@pytest.fixture(scope="module")
def result():
    return fit(mixed_table(), target="outcome", config=quick_config(), rows=120)


def test_a_completed_run_reopens_after_a_restart(result, tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    run_id = store.start(name="first", dataset="mixed")
    store.complete(run_id, result)
    reopened = RunStore(tmp_path)
    entry = reopened.entry(run_id)
    assert entry.status is RunStatus.COMPLETED
    assert entry.summary["release"]["rows"] == 120
    table = reopened.synthetic(run_id)
    assert table.shape == result.synthetic.shape
    assert table["age"].tolist() == result.synthetic["age"].tolist()
    assert table["ward"].tolist() == result.synthetic["ward"].tolist()
    assert len(reopened.synthesizer(run_id).sample(5)) == 5


def _start_in_a_process_that_exits(folder: Path) -> str:
    script = (
        "import sys; from psygentab_core.store import RunStore; "
        f"print(RunStore({str(folder)!r}).start(name='killed', dataset='mixed'))"
    )
    root = str(Path(__file__).resolve().parent.parent)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=root
    )
    return done.stdout.strip()


def test_runs_left_running_by_a_dead_process_are_marked_interrupted(tmp_path: Path) -> None:
    run_id = _start_in_a_process_that_exits(tmp_path)
    entry = RunStore(tmp_path).entry(run_id)
    assert entry.status is RunStatus.INTERRUPTED
    assert "interrupted" in entry.message
    with pytest.raises(ModelFileError, match="interrupted"):
        RunStore(tmp_path).synthesizer(run_id)


def test_failed_runs_keep_their_message_and_list_newest_first(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    first = store.start(name="a", dataset="d")
    time.sleep(1.1)
    second = store.start(name="b", dataset="d")
    store.fail(second, "Training stopped: the loss became NaN.")
    listed = store.runs()
    assert [e.run_id for e in listed] == [second, first]
    assert listed[0].status is RunStatus.FAILED
    assert listed[0].message == "Training stopped: the loss became NaN."
    with pytest.raises(KeyError):
        store.fail("nope", "x")


def test_a_crash_mid_save_leaves_no_visible_run(
    result, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RunStore(tmp_path)
    run_id = store.start(name="crash", dataset="mixed")

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(runs, "write_table", crash)
    with pytest.raises(OSError, match="disk full"):
        store.complete(run_id, result)
    assert store.entry(run_id).status is RunStatus.RUNNING
    assert not (tmp_path / run_id).exists()
    assert not [p for p in tmp_path.iterdir() if p.is_dir()]


def test_runs_of_a_live_process_are_left_running_when_another_session_opens_the_store(
    tmp_path: Path,
) -> None:
    store = RunStore(tmp_path)
    run_id = store.start(name="training", dataset="mixed")
    staging = tmp_path / f".{run_id}.abc123"
    staging.mkdir()  # a save in progress
    assert RunStore(tmp_path).entry(run_id).status is RunStatus.RUNNING
    assert staging.is_dir()


def test_kill_9_during_a_save_leaves_the_store_consistent(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})
        from psygentab_core import runs
        from psygentab_core.pipeline import fit
        from psygentab_core.store import RunStore
        from tests.tables import mixed_table, quick_config
        result = fit(mixed_table(), target="outcome", config=quick_config(), rows=50)
        store = RunStore({str(tmp_path)!r})
        run_id = store.start(name="victim", dataset="mixed")
        real_write = runs.write_table
        def slow_write(*args, **kwargs):
            real_write(*args, **kwargs)
            print("WRITING", flush=True)
            import time; time.sleep(60)
        runs.write_table = slow_write
        store.complete(run_id, result)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "WRITING"  # inside the save, files half written
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    staging = [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert staging  # the half-written run exists only under its staging name
    store = RunStore(tmp_path)
    (entry,) = store.runs()
    assert entry.status is RunStatus.INTERRUPTED
    assert not [p for p in tmp_path.iterdir() if p.is_dir()]  # leftovers removed


def test_other_files_in_the_folder_are_left_alone(tmp_path: Path) -> None:
    (tmp_path / "my notes").mkdir()
    (tmp_path / "data.csv").write_text("a\n1\n")
    RunStore(tmp_path)
    assert (tmp_path / "my notes").is_dir()
    assert (tmp_path / "data.csv").exists()


def test_a_process_id_reused_by_a_new_process_does_not_count_as_the_old_owner() -> None:
    assert owner_alive(current_owner())
    assert not owner_alive(f"{os.getpid()}:not-when-this-process-started")
    assert not owner_alive("999999999:1")
    assert not owner_alive(None)


def test_runs_can_be_listed_for_one_table_only(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    mine = store.start(name="mine", dataset="a", fingerprint="f1")
    store.start(name="theirs", dataset="b", fingerprint="f2")
    assert [e.run_id for e in store.runs(fingerprint="f1")] == [mine]
    assert store.entry(mine).fingerprint == "f1"
    assert len(store.runs()) == 2
