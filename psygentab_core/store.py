"""A local store of runs: a SQLite index plus one folder per run, in a folder the user chooses.

A run's folder is written completely under a temporary name and renamed into place before the
index row says "completed", so a crash at any moment leaves either no trace or a whole run,
never a half-written one that looks finished. Runs left "running" by a process that has died
(a crash, a restart, ``kill -9``) are marked "interrupted" when the store is opened again; runs of
processes still alive (another dashboard session, a sweep worker) are left alone.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import pandas as pd

from psygentab_core.errors import ModelFileError
from psygentab_core.io import read_table
from psygentab_core.pipeline import FitResult
from psygentab_core.runs import save_run
from psygentab_core.synthesizer import Synthesizer

INDEX_FILE = "runs.sqlite"
# A run folder (20261122-093000-1a2b3c) or its staging copy (.20261122-093000-1a2b3c.xyz).
_RUN_FOLDER = re.compile(r"^(?P<staging>\.)?(?P<run_id>\d{8}-\d{6}-[0-9a-f]{6})(\..+)?$")
SYNTHETIC_FILE = "synthetic.csv"


def _process_start(pid: int) -> str:
    """When a process started (Linux clock ticks since boot; empty elsewhere), so that a new
    process that happens to reuse a dead one's id is not mistaken for it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # Field 22 counts after the command name, which is in parentheses and may hold spaces.
    return stat.rsplit(")", 1)[1].split()[19]


def current_owner() -> str:
    """This process, as written in the index next to the runs it starts."""
    return f"{os.getpid()}:{_process_start(os.getpid())}"


def owner_alive(owner: str | None) -> bool:
    """Whether the process that started a run is still running."""
    if not owner:
        return False
    pid_text, _, started = owner.partition(":")
    try:
        pid = int(pid_text)
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:  # alive, but someone else's
        return True
    return _process_start(pid) == started


class RunStatus(StrEnum):
    """Where a run stands."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True, slots=True)
class RunEntry:
    """One row of the index."""

    run_id: str
    name: str
    dataset: str
    status: RunStatus
    created: str
    message: str | None
    summary: dict[str, Any] | None
    fingerprint: str | None = None  # of the table it was trained on (None: not recorded)

    @property
    def finished(self) -> bool:
        """Whether the run's files are complete and can be opened."""
        return self.status is RunStatus.COMPLETED


class RunStore:
    """Runs under ``folder``: ``runs.sqlite`` and ``<run id>/`` per completed run."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._connection() as connection:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, name TEXT NOT NULL,"
                " dataset TEXT NOT NULL, status TEXT NOT NULL, created TEXT NOT NULL,"
                " message TEXT, summary TEXT, owner TEXT, fingerprint TEXT)"
            )
            columns = {row[1] for row in connection.execute("PRAGMA table_info(runs)")}
            for added in ("owner", "fingerprint"):  # an index written by an earlier version
                if added not in columns:
                    connection.execute(f"ALTER TABLE runs ADD COLUMN {added} TEXT")
            # Whatever was running in a process that has since died will never finish.
            running = connection.execute(
                "SELECT run_id, owner FROM runs WHERE status = ?", (RunStatus.RUNNING.value,)
            ).fetchall()
            for run_id, owner in running:
                if not owner_alive(owner):
                    connection.execute(
                        "UPDATE runs SET status = ?, message = ? WHERE run_id = ?",
                        (
                            RunStatus.INTERRUPTED.value,
                            "The run was interrupted (the application stopped while it trained).",
                            run_id,
                        ),
                    )
        self._remove_orphans()

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        # closing() closes the file; the inner `with connection` is one transaction, committed
        # on success and rolled back on error.
        with (
            closing(sqlite3.connect(self.folder / INDEX_FILE, timeout=30)) as connection,
            connection,
        ):
            yield connection

    def start(self, *, name: str, dataset: str, fingerprint: str | None = None) -> str:
        """Register a new run as running; returns its id. ``fingerprint`` identifies the table
        (runs.dataset_fingerprint), so that a session can list only the runs of its own table."""
        run_id = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        with self._connection() as connection:
            connection.execute(
                "INSERT INTO runs (run_id, name, dataset, status, created, owner, fingerprint)"
                " VALUES (?,?,?,?,?,?,?)",
                (
                    run_id,
                    name,
                    dataset,
                    RunStatus.RUNNING.value,
                    datetime.now(UTC).isoformat(timespec="seconds"),
                    current_owner(),
                    fingerprint,
                ),
            )
        return run_id

    def complete(self, run_id: str, result: FitResult) -> Path:
        """Write the run's files atomically, then mark it completed in one transaction."""
        folder = save_run(
            self.folder / run_id,
            data=result.data,
            config=result.config,
            history=result.history,
            synthesizer=result.synthesizer,
            summary=result.summary,
            extra_tables={SYNTHETIC_FILE: result.synthetic},
        )
        self._set(run_id, RunStatus.COMPLETED, None, result.summary.to_dict())
        return folder

    def fail(self, run_id: str, message: str) -> None:
        """Mark a run failed, with the message the user will read."""
        self._set(run_id, RunStatus.FAILED, message, None)

    def interrupt(self, run_id: str, message: str = "Stopped before it finished.") -> None:
        """Mark a run interrupted (stopped, closed, or abandoned)."""
        self._set(run_id, RunStatus.INTERRUPTED, message, None)

    def _set(
        self, run_id: str, status: RunStatus, message: str | None, summary: dict | None
    ) -> None:
        with self._connection() as connection:
            updated = connection.execute(
                "UPDATE runs SET status = ?, message = ?, summary = ? WHERE run_id = ?",
                (status.value, message, None if summary is None else json.dumps(summary), run_id),
            ).rowcount
        if updated != 1:
            raise KeyError(f"no run {run_id!r} in {self.folder}")

    def runs(self, *, fingerprint: str | None = None) -> list[RunEntry]:
        """Every run, newest first; with ``fingerprint``, only the runs of that table."""
        query = "SELECT run_id, name, dataset, status, created, message, summary, fingerprint"
        query += " FROM runs"
        parameters: tuple[str, ...] = ()
        if fingerprint is not None:
            query += " WHERE fingerprint = ?"
            parameters = (fingerprint,)
        with self._connection() as connection:
            rows = connection.execute(
                query + " ORDER BY created DESC, run_id DESC", parameters
            ).fetchall()
        return [
            RunEntry(
                run_id=row[0],
                name=row[1],
                dataset=row[2],
                status=RunStatus(row[3]),
                created=row[4],
                message=row[5],
                summary=None if row[6] is None else json.loads(row[6]),
                fingerprint=row[7],
            )
            for row in rows
        ]

    def entry(self, run_id: str) -> RunEntry:
        """One run's index entry."""
        for entry in self.runs():
            if entry.run_id == run_id:
                return entry
        raise KeyError(f"no run {run_id!r} in {self.folder}")

    def synthesizer(self, run_id: str) -> Synthesizer:
        """The trained model of a completed run (never unpickled: weights plus JSON)."""
        return Synthesizer.load(self._completed_folder(run_id) / "model")

    def synthetic(self, run_id: str) -> pd.DataFrame:
        """The released synthetic table of a completed run."""
        return read_table(self._completed_folder(run_id) / SYNTHETIC_FILE)

    def folder_of(self, run_id: str) -> Path:
        """The files of a completed run."""
        return self._completed_folder(run_id)

    def _completed_folder(self, run_id: str) -> Path:
        entry = self.entry(run_id)
        if not entry.finished:
            raise ModelFileError(f"Run {run_id} is {entry.status.value}; it has no saved files.")
        folder = self.folder / run_id
        if not folder.is_dir():
            raise ModelFileError(f"The files of run {run_id} are missing from {self.folder}.")
        return folder

    def _remove_orphans(self) -> None:
        """Delete our own leftovers only: staging folders of interrupted saves and run folders
        the index does not list as completed. Runs still being saved by a live process, and
        anything else in the folder, are left alone."""
        status = {e.run_id: e.status for e in self.runs()}
        for path in self.folder.iterdir():
            match = _RUN_FOLDER.match(path.name)
            if not (path.is_dir() and match) or status.get(match["run_id"]) is RunStatus.RUNNING:
                continue
            if match["staging"] or status.get(match["run_id"]) is not RunStatus.COMPLETED:
                shutil.rmtree(path, ignore_errors=True)
