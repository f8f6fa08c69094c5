"""Training in the background, watched and stopped by a user interface.

The worker only drains the training iterator and writes to the run store; it never touches a
user interface. Readers poll :meth:`TrainingJob.snapshot`, which returns immutable data, so a
page can redraw its curves about once a second while the run goes on.

The worker is a thread of this process, or (``process=True``) a process of its own: a server
where several people train at once wants the latter, because training in threads competes with
the pages for the interpreter lock and the pages stall.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import torch

from psygentab_core.config import TrainConfig
from psygentab_core.errors import PsygentabError
from psygentab_core.pipeline import FitResult, finish
from psygentab_core.runs import dataset_fingerprint
from psygentab_core.store import RunStore
from psygentab_core.training import EpochRecord, PreparedData, StopReason, TrainingRun


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
        process: bool = False,
    ) -> None:
        """``threads`` caps PyTorch's intra-op threads of the worker (for a thread, of the whole
        process: PyTorch has no per-thread setting); a user interface sets 1 so that several
        jobs share the cores instead of oversubscribing them. ``process`` trains in a process
        of its own; then :attr:`result` stays None (the run is in the store)."""
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be at least 1; got {threads!r}")
        if threads is not None and not process:
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
        self._stop_process: multiprocessing.synchronize.Event | None = None
        if process:
            self._stop_process = _CONTEXT.Event()
            messages = _CONTEXT.Queue()
            worker = _CONTEXT.Process(
                target=_train_in_process,
                args=(run.data, run.config, rows, dataset_name, store, self._run_id),
                kwargs={"threads": threads, "messages": messages, "stop": self._stop_process},
                name=f"training-{name}",
                daemon=True,
            )
            worker.start()
            target, arguments = self._read, (worker, messages)
        else:
            target, arguments = self._work, ()
        self._thread = threading.Thread(
            target=target, args=arguments, name=f"training-{name}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Ask the run to stop after the current optimiser step (the model so far is kept)."""
        if self._stop_process is not None:
            self._stop_process.set()
        else:
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
        state, error, result = _train(
            self._run,
            rows=self._rows,
            dataset_name=self._dataset_name,
            store=self._store,
            run_id=self._run_id,
            on_record=self._add,
        )
        self._end(state, error, result)

    def _read(self, worker: multiprocessing.Process, messages: multiprocessing.Queue) -> None:
        """Follow a worker process through its messages until it says it has ended."""
        while True:
            try:
                kind, payload = messages.get(timeout=1.0)
            except queue.Empty:
                if worker.is_alive():
                    continue
                # Killed without a word (out of memory, a signal): say so, and fail the run.
                message = (
                    f"The training process stopped unexpectedly (exit code {worker.exitcode}); "
                    "the computer may have run out of memory."
                )
                if self._store is not None and self._run_id is not None:
                    self._store.fail(self._run_id, message)
                self._end(JobState.FAILED, message, None)
                return
            if kind == "epoch":
                self._add(payload)
            else:
                state, error = payload
                self._end(state, error, None)
                worker.join(10)
                return

    def _add(self, record: EpochRecord) -> None:
        with self._lock:
            self._records.append(record)

    def _end(self, state: JobState, error: str | None, result: FitResult | None) -> None:
        with self._lock:
            self._state = state
            self._error = error
            self._result = result
            self._finished = time.perf_counter()


# A fork server started from a clean interpreter, with the training code imported once: forking a
# server full of threads is unsafe, and starting a fresh interpreter per run costs seconds.
_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["psygentab_core.jobs"])


def _train(
    run: TrainingRun,
    *,
    rows: int,
    dataset_name: str,
    store: RunStore | None,
    run_id: str | None,
    on_record: Callable[[EpochRecord], None],
) -> tuple[JobState, str | None, FitResult | None]:
    """Train, release and save one run; failures are returned in words, never raised."""
    try:
        started = time.perf_counter()
        for record in run.epochs():
            on_record(record)
        # A run stopped by the user is still released and saved: the model so far is usable,
        # and its history says where it stopped.
        stopped = bool(run.history) and run.history[-1].stop is StopReason.STOPPED
        result = finish(
            run, rows=rows, fit_seconds=time.perf_counter() - started, dataset_name=dataset_name
        )
        if store is not None and run_id is not None:
            store.complete(run_id, result)
        return (JobState.STOPPED if stopped else JobState.COMPLETED), None, result
    except Exception as error:  # surfaced to the reader, never lost in the worker
        message = failure_message(error)
        if store is not None and run_id is not None:
            store.fail(run_id, message)
        return JobState.FAILED, message, None


def _train_in_process(
    data: PreparedData,
    config: TrainConfig,
    rows: int,
    dataset_name: str,
    store: RunStore | None,
    run_id: str | None,
    *,
    threads: int | None,
    messages: multiprocessing.Queue,
    stop: multiprocessing.synchronize.Event,
) -> None:
    """The worker process: train, sending every epoch record and then the outcome."""
    # The lowest priority: pages stay quick while runs use whatever the server leaves, and a
    # run on an otherwise idle machine is no slower for it.
    os.setpriority(os.PRIO_PROCESS, 0, 19)
    torch.set_num_threads(threads or 1)
    run = TrainingRun(data, config)

    def relay_stop() -> None:
        stop.wait()
        run.request_stop()

    threading.Thread(target=relay_stop, daemon=True).start()
    state, error, _ = _train(
        run,
        rows=rows,
        dataset_name=dataset_name,
        store=store,
        run_id=run_id,
        on_record=lambda record: messages.put(("epoch", record)),
    )
    messages.put(("end", (state, error)))
