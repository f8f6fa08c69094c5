"""Training in a background thread that a user interface can watch and stop.

The worker only drains the training iterator and writes to the run store; it never touches a
user interface. Readers poll :meth:`TrainingJob.snapshot`, which returns immutable data, so a
page can redraw its curves about once a second while the run goes on.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from enum import StrEnum

import torch

from psygentab_core.errors import PsygentabError
from psygentab_core.pipeline import FitResult, finish
from psygentab_core.runs import dataset_fingerprint
from psygentab_core.store import RunStore
from psygentab_core.training import EpochRecord, StopReason, TrainingRun


class JobState(StrEnum):
    """Where a job stands."""

    RUNNING = "running"
    COMPLETED = "completed"
    STOPPED = "stopped"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class JobSnapshot:
    """What a reader sees at one moment."""

    state: JobState
    records: tuple[EpochRecord, ...]
    elapsed: float
    error: str | None
    run_id: str | None

    @property
    def progress(self) -> float:
        """Share of the planned epochs done, in [0, 1]."""
        if not self.records:
            return 0.0
        last = self.records[-1]
        return min(1.0, last.epoch / last.total_epochs)

    @property
    def remaining_seconds(self) -> float | None:
        """A plain estimate from the mean epoch time so far (None before the first epoch)."""
        if not self.records or self.state is not JobState.RUNNING:
            return None
        last = self.records[-1]
        return last.elapsed / last.epoch * (last.total_epochs - last.epoch)


def failure_message(error: BaseException) -> str:
    """What a person reads when a run fails: our own errors as they are, memory exhaustion in
    plain words with what to try, anything else named as unexpected."""
    if isinstance(error, PsygentabError):
        return str(error)
    if isinstance(error, MemoryError) or "out of memory" in str(error).lower():
        return (
            "Training ran out of memory. Train on fewer rows or columns, or lower the batch "
            "size, then try again."
        )
    return f"Training failed unexpectedly ({type(error).__name__}: {error})."


class TrainingJob:
    """Runs ``run.epochs()`` then the release in a daemon thread, saving to ``store``."""

    def __init__(
        self,
        run: TrainingRun,
        *,
        rows: int,
        dataset_name: str,
        store: RunStore | None = None,
        name: str = "run",
        threads: int | None = None,
    ) -> None:
        """``threads`` caps PyTorch's intra-op threads for the whole process (PyTorch has no
        per-thread setting); a user interface sets 1 so that it stays responsive and several
        jobs share the cores instead of oversubscribing them."""
        if threads is not None:
            if threads < 1:
                raise ValueError(f"threads must be at least 1; got {threads!r}")
            torch.set_num_threads(threads)
        self._run = run
        self._rows = rows
        self._dataset_name = dataset_name
        self._store = store
        self._name = name
        self._lock = threading.Lock()
        self._records: list[EpochRecord] = []
        self._state = JobState.RUNNING
        self._error: str | None = None
        self._result: FitResult | None = None
        self._started = time.perf_counter()
        self._finished: float | None = None
        self._run_id = (
            store.start(
                name=name, dataset=dataset_name, fingerprint=dataset_fingerprint(run.data.frame)
            )
            if store
            else None
        )
        self._thread = threading.Thread(target=self._work, name=f"training-{name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the run to stop after the current optimiser step (the model so far is kept)."""
        self._run.request_stop()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the worker to end."""
        self._thread.join(timeout)

    @property
    def result(self) -> FitResult | None:
        """The finished run (None until completed)."""
        with self._lock:
            return self._result

    def snapshot(self) -> JobSnapshot:
        """An immutable view for readers on other threads."""
        with self._lock:
            end = self._finished or time.perf_counter()
            return JobSnapshot(
                state=self._state,
                records=tuple(self._records),
                elapsed=end - self._started,
                error=self._error,
                run_id=self._run_id,
            )

    def _work(self) -> None:
        try:
            started = time.perf_counter()
            for record in self._run.epochs():
                with self._lock:
                    self._records.append(record)
            # A run stopped by the user is still released and saved: the model so far is
            # usable, and its history says where it stopped.
            stopped = bool(self._records) and self._records[-1].stop is StopReason.STOPPED
            result = finish(
                self._run,
                rows=self._rows,
                fit_seconds=time.perf_counter() - started,
                dataset_name=self._dataset_name,
            )
            if self._store is not None and self._run_id is not None:
                self._store.complete(self._run_id, result)
            self._end(JobState.STOPPED if stopped else JobState.COMPLETED, None, result)
        except Exception as error:  # surfaced to the reader, never lost in the thread
            message = failure_message(error)
            if self._store is not None and self._run_id is not None:
                self._store.fail(self._run_id, message)
            self._end(JobState.FAILED, message, None)

    def _end(self, state: JobState, error: str | None, result: FitResult | None) -> None:
        with self._lock:
            self._state = state
            self._error = error
            self._result = result
            self._finished = time.perf_counter()
