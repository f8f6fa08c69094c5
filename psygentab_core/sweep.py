"""The trade-off sweep: one run per privacy strictness level, each scored for utility and risk.

Every point trains with :func:`psygentab_core.presets.constraints_at` at its level and otherwise
the same configuration (same seed, hence the same split of members, reference and holdout), so
the points differ only in how strict the privacy constraints are. Each point is saved in the run
store and evaluated: utility is the TSTR AUC of the best downstream model, risk the AUC of the
distance membership-inference attack on the holdout. :func:`pareto_front` picks the points no
other point beats on both.

The points run through ``joblib.Parallel`` (loky processes by default), so a joblib backend for
Ray or Dask runs the same code on a cluster. :class:`SweepJob` runs a sweep in a background
thread that a user interface watches through immutable snapshots, like
:class:`psygentab_core.jobs.TrainingJob`.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import pandas as pd
import torch
from joblib import Parallel, delayed
from threadpoolctl import threadpool_limits

from psygentab_core.config import TrainConfig
from psygentab_core.constraints import constraint_to_dict
from psygentab_core.errors import ConfigError
from psygentab_core.jobs import JobState
from psygentab_core.pipeline import FitResult, fit
from psygentab_core.presets import STRICTNESS, constraints_at
from psygentab_core.runs import dataset_fingerprint
from psygentab_core.schema import TableSchema, validate_schema
from psygentab_core.store import RunStatus, RunStore

if TYPE_CHECKING:
    from psygentab_core.evaluation.evaluate import Evaluation
    from psygentab_core.evaluation.result import MetricResult

DEFAULT_LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)
UTILITY_KEY = "utility.tstr_auc"
ATTACK_KEY = "privacy.mia_distance_auc"
CLOSER_KEY = "privacy.closer_to_training_share"
DETECTION_KEY = "fidelity.detection_auc"


class PointStatus(StrEnum):
    """How one point of a sweep ended."""

    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepPoint:
    """One strictness level: its run, what it cost and what it scored.

    Scores are None where the point failed or a figure could not be computed (NaN).
    """

    strictness: float
    """Position on the lenient (0) → balanced (0.5) → strict (1) path of the presets."""
    constraints: tuple[dict[str, Any], ...]
    """The training constraints of the run, as ``constraint_to_dict`` writes them."""
    run_id: str
    """The run in the store (completed, or failed with ``error``)."""
    status: PointStatus
    error: str | None = None
    """Why the point failed (``Type: message``); None when it completed."""
    tstr_auc: float | None = None
    """Utility: ROC AUC on the real holdout of the best model trained on the synthetic table
    (train on synthetic, test on real; 0.5 = chance, 1 = perfect). Higher is better."""
    tstr_interval: tuple[float, float] | None = None
    """95 % bootstrap interval of ``tstr_auc`` (resampled holdout rows)."""
    trtr_auc: float | None = None
    """Baseline of ``tstr_auc``: the best of the same models trained on the real training rows
    (train on real, test on real). The same for every point of a sweep, as the split is."""
    attack_auc: float | None = None
    """Risk: AUC of the distance membership-inference attack, training patients against the
    holdout. The attacker holds the synthetic table and a candidate's record and says "member"
    when the record sits close to some synthetic row. 0.5 = the attacker learns nothing (random
    guessing); 1 = a perfect attack. Lower is better."""
    attack_interval: tuple[float, float] | None = None
    """95 % DeLong interval of ``attack_auc``."""
    closer_share: float | None = None
    """Share of synthetic rows nearer a training patient than an unseen (holdout) one, corrected
    to equal-size sets. Baseline 0.5: a generator that never saw the training patients."""
    detection_auc: float | None = None
    """AUC of a classifier telling real from synthetic rows (fidelity, not an attack): 0.5 = it
    cannot tell them apart, 1 = it always can."""
    fit_seconds: float | None = None
    """Training time of the run (without release and evaluation)."""
    seconds: float = 0.0
    """Wall-clock time of the whole point: training, release, evaluation and saving."""
    constraints_met: bool | None = None
    """Whether the released table met every training constraint (from the run summary)."""

    @property
    def preset(self) -> str | None:
        """lenient, balanced or strict where the level is a preset's; None between them."""
        return preset_at(self.strictness)

    @property
    def label(self) -> str:
        """``0.50 balanced``: the level and, where it has one, its preset's name."""
        return strictness_label(self.strictness)

    @property
    def scored(self) -> bool:
        """Completed with both a utility and an attack AUC, so it can be placed on the chart."""
        return (
            self.status is PointStatus.COMPLETED
            and self.tstr_auc is not None
            and self.attack_auc is not None
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (tuples as lists, the status as text)."""
        return {
            "strictness": self.strictness,
            "preset": self.preset,
            "constraints": [dict(c) for c in self.constraints],
            "run_id": self.run_id,
            "status": self.status.value,
            "error": self.error,
            "tstr_auc": self.tstr_auc,
            "tstr_interval": None if self.tstr_interval is None else list(self.tstr_interval),
            "trtr_auc": self.trtr_auc,
            "attack_auc": self.attack_auc,
            "attack_interval": None if self.attack_interval is None else list(self.attack_interval),
            "closer_share": self.closer_share,
            "detection_auc": self.detection_auc,
            "fit_seconds": self.fit_seconds,
            "seconds": self.seconds,
            "constraints_met": self.constraints_met,
        }


def preset_at(strictness: float) -> str | None:
    """The preset at exactly this strictness, if any."""
    for name, level in STRICTNESS.items():
        if math.isclose(strictness, level, abs_tol=1e-9):
            return name
    return None


def strictness_label(strictness: float) -> str:
    """``0.50 balanced`` at a preset, ``0.25`` between presets."""
    name = preset_at(strictness)
    return f"{strictness:.2f}" if name is None else f"{strictness:.2f} {name}"


def dominates(a: SweepPoint, b: SweepPoint) -> bool:
    """Whether ``a`` is at least as useful and as private as ``b``, and strictly one of them.

    Both must be scored. Utility is the TSTR AUC (higher is better), risk the attack AUC (lower
    is better; an attack below 0.5 only means the attacker does worse than guessing).
    """
    (utility_a, risk_a), (utility_b, risk_b) = _scores(a), _scores(b)
    at_least = utility_a >= utility_b and risk_a <= risk_b
    better = utility_a > utility_b or risk_a < risk_b
    return at_least and better


def _scores(point: SweepPoint) -> tuple[float, float]:
    """(utility, risk) of a scored point."""
    if point.tstr_auc is None or point.attack_auc is None or not point.scored:
        raise ValueError(f"the point at {point.label} has no utility and attack AUC to compare")
    return point.tstr_auc, point.attack_auc


def pareto_front(points: Sequence[SweepPoint]) -> tuple[int, ...]:
    """Indices of the scored points that no other scored point dominates.

    Ordered by attack AUC (then index), so that the front can be drawn as a line. Points that
    tie on both figures are all on the front. Failed and unscored points are never on it.
    """
    scored = [i for i, p in enumerate(points) if p.scored]
    front = [i for i in scored if not any(dominates(points[j], points[i]) for j in scored)]
    return tuple(sorted(front, key=lambda i: (_scores(points[i])[1], i)))


def parse_levels(text: str) -> tuple[float, ...]:
    """``"0,0.5,1"`` → ``(0.0, 0.5, 1.0)``, checked as :func:`validate_levels` does."""
    levels = []
    for part in text.split(","):
        part = part.strip()
        try:
            levels.append(float(part))
        except ValueError:
            raise ConfigError(
                f"Strictness levels are numbers between 0 and 1, separated by commas; "
                f"{part!r} is not a number."
            ) from None
    return validate_levels(levels)


def validate_levels(levels: Iterable[float]) -> tuple[float, ...]:
    """The levels as floats: at least two, different, each in [0, 1]."""
    levels = tuple(float(level) for level in levels)
    if len(levels) < 2:
        raise ConfigError(f"A sweep needs at least 2 strictness levels; got {len(levels)}.")
    for level in levels:
        if not (math.isfinite(level) and 0.0 <= level <= 1.0):
            raise ConfigError(f"Strictness levels must be between 0 and 1; got {level!r}.")
    if len(set(levels)) != len(levels):
        raise ConfigError("Strictness levels must all be different (each one is a run).")
    return levels


def default_workers(points: int) -> int:
    """One process per point, at most one per CPU core."""
    return max(1, min(points, os.cpu_count() or 1))


def sweep_points(
    frame: pd.DataFrame,
    *,
    schema: TableSchema,
    config: TrainConfig,
    levels: Iterable[float],
    store: RunStore,
    dataset_name: str,
    n_jobs: int | None = None,
    backend: str = "loky",
    sensitive: Sequence[str] = (),
    stop: threading.Event | None = None,
) -> Iterator[SweepPoint]:
    """Train, save and evaluate one run per strictness level; yield points as they finish.

    The inputs are checked at once (a :class:`ConfigError` or :class:`SchemaError` before any
    work). Iterating then registers every point's run in ``store`` as running, and hands the
    points to ``joblib.Parallel(n_jobs, backend)``; they are yielded in the order they finish.
    ``n_jobs`` defaults to one worker per level, at most one per CPU core; every worker trains
    on one thread. A point whose training or evaluation raises is yielded as a failed point and
    its run marked failed; the other points go on. Once ``stop`` is set, no further point is
    started; those never started are marked interrupted in the store and not yielded.
    """
    levels = validate_levels(levels)
    workers = default_workers(len(levels)) if n_jobs is None else n_jobs
    if workers < 1:
        raise ConfigError(f"A sweep needs at least 1 worker; got {workers!r}.")
    if schema.target is None:
        raise ConfigError(
            "A sweep scores downstream utility, so it needs an outcome column; choose a target."
        )
    # Fail here, not once in every worker, when the table does not fit the schema.
    validate_schema(schema, frame)
    try:
        parallel = Parallel(
            n_jobs=workers,
            backend=backend,
            return_as="generator_unordered",
            # One point per task and no queue beyond the free workers: a stop then skips every
            # point not yet running.
            batch_size=1,
            pre_dispatch="n_jobs",
        )
    except ValueError as error:  # an unknown backend name
        raise ConfigError(str(error)) from None
    plan = _Plan(
        frame=frame,
        schema=schema,
        config=config,
        store=store,
        dataset_name=dataset_name,
        sensitive=tuple(sensitive),
    )
    return _run(plan, levels, parallel=parallel, stop=stop or threading.Event())


@dataclass(frozen=True, slots=True)
class _Plan:
    """What every point shares; pickled once per task to the worker processes."""

    frame: pd.DataFrame
    schema: TableSchema
    config: TrainConfig
    store: RunStore
    dataset_name: str
    sensitive: tuple[str, ...]


def _run(
    plan: _Plan, levels: tuple[float, ...], *, parallel: Parallel, stop: threading.Event
) -> Iterator[SweepPoint]:
    fingerprint = dataset_fingerprint(plan.frame)
    run_ids = [
        plan.store.start(
            name=f"sweep {level:.2f}",
            dataset=plan.dataset_name,
            fingerprint=fingerprint,
        )
        for level in levels
    ]
    unreported = set(run_ids)
    dispatched: set[str] = set()

    def tasks() -> Iterator[Any]:
        # joblib pulls from this generator lazily, as workers free up (pre_dispatch below), so
        # checking ``stop`` here is what keeps further points from starting.
        for run_id, level in zip(run_ids, levels, strict=True):
            if stop.is_set():
                return
            dispatched.add(run_id)
            yield delayed(_fit_point)(plan, level=level, run_id=run_id)

    outputs: Iterator[SweepPoint] | None = None
    try:
        # Starts the first points at once; the rest start as workers free up.
        outputs = parallel(tasks())
        for point in outputs:
            unreported.discard(point.run_id)
            yield point
    except GeneratorExit:
        # The reader let go of the sweep: joblib ends the workers on close, so the points they
        # were running never finish.
        _close(outputs)
        _close_unfinished(
            plan.store, unreported & dispatched, "The sweep was abandoned before it finished."
        )
        raise
    except BaseException as error:
        # The sweep itself broke (a worker died, Ctrl-C): runs still marked running never end.
        _close(outputs)
        _close_unfinished(
            plan.store,
            unreported & dispatched,
            f"The sweep ended early ({type(error).__name__}: {error}).",
        )
        raise
    finally:
        _close_unfinished(
            plan.store,
            unreported - dispatched,
            "The sweep was stopped before this point started.",
        )


def _close(outputs: Iterator[SweepPoint] | None) -> None:
    """Close joblib's generator, which stops its workers (a no-op once it has ended)."""
    close = getattr(outputs, "close", None)
    if close is not None:
        close()


def _close_unfinished(store: RunStore, run_ids: set[str], message: str) -> None:
    for run_id in run_ids:
        # A worker may have saved its run just before the sweep ended: leave that one alone.
        with suppress(KeyError):
            if store.entry(run_id).status is RunStatus.RUNNING:
                store.interrupt(run_id, message)


@contextmanager
def _one_thread() -> Iterator[None]:
    """Torch and the BLAS/OpenMP pools on one thread while a point runs.

    Two CPU-heavy processes with default thread pools on two cores slow each other down 10-50
    times; one thread per worker and one worker per core is what parallelism needs. With one
    worker the point runs in the calling process, so the previous torch setting is restored.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(previous)


def _fit_point(plan: _Plan, *, level: float, run_id: str) -> SweepPoint:
    """One point, in a worker: train, evaluate, save; any error becomes a failed point."""
    started = time.perf_counter()
    constraints = constraints_at(level)
    plain = tuple(constraint_to_dict(c) for c in constraints)
    try:
        with _one_thread():
            # Imported here: scikit-learn and plotly take seconds to import, which only the
            # workers (and not every user of this module) need to pay.
            from psygentab_core.evaluation.evaluate import evaluate
            from psygentab_core.evaluation.runs import data_from_fit

            result = fit(
                plan.frame,
                schema=plan.schema,
                config=replace(plan.config, constraints=constraints),
                dataset_name=plan.dataset_name,
            )
            evaluation = evaluate(data_from_fit(result, sensitive=plan.sensitive))
            # Saved last, so that a run marked completed always has a scored point.
            plan.store.complete(run_id, result)
    except Exception as error:  # reported as a failed point, never lost in a worker
        message = f"{type(error).__name__}: {error}"
        with suppress(Exception):
            plan.store.fail(run_id, message)
        return SweepPoint(
            strictness=level,
            constraints=plain,
            run_id=run_id,
            status=PointStatus.FAILED,
            error=message,
            seconds=time.perf_counter() - started,
        )
    return point_from_evaluation(
        evaluation,
        result,
        strictness=level,
        run_id=run_id,
        seconds=time.perf_counter() - started,
    )


def point_from_evaluation(
    evaluation: Evaluation,
    result: FitResult,
    *,
    strictness: float,
    run_id: str,
    seconds: float,
) -> SweepPoint:
    """The completed point of a run and its evaluation."""
    utility = _metric(evaluation, UTILITY_KEY)
    attack = _metric(evaluation, ATTACK_KEY)
    closer = _metric(evaluation, CLOSER_KEY)
    detection = _metric(evaluation, DETECTION_KEY)
    return SweepPoint(
        strictness=strictness,
        constraints=tuple(constraint_to_dict(c) for c in result.config.constraints),
        run_id=run_id,
        status=PointStatus.COMPLETED,
        tstr_auc=_value(utility),
        tstr_interval=_interval(utility),
        trtr_auc=None if utility is None else _finite(utility.baseline),
        attack_auc=_value(attack),
        attack_interval=_interval(attack),
        closer_share=_value(closer),
        detection_auc=_value(detection),
        fit_seconds=result.summary.fit_seconds,
        seconds=seconds,
        constraints_met=all(c["satisfied_on_release"] for c in result.summary.constraints),
    )


def _metric(evaluation: Evaluation, key: str) -> MetricResult | None:
    # A figure that could not be computed at all (e.g. no utility without a target) is missing.
    try:
        return evaluation.get(key)
    except KeyError:
        return None


def _finite(value: float | None) -> float | None:
    """A plain float, or None for a missing or undefined (NaN) value."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _value(result: MetricResult | None) -> float | None:
    return None if result is None else _finite(result.value)


def _interval(result: MetricResult | None) -> tuple[float, float] | None:
    if result is None or result.interval is None:
        return None
    low, high = _finite(result.interval.low), _finite(result.interval.high)
    return None if low is None or high is None else (low, high)


@dataclass(frozen=True, slots=True)
class SweepSnapshot:
    """What a reader sees of a sweep at one moment."""

    state: JobState
    points: tuple[SweepPoint, ...]
    """Finished points (completed or failed), in the order they finished."""
    total: int
    """Points planned."""
    elapsed: float
    error: str | None
    """Why the sweep as a whole failed (a failed point does not fail the sweep)."""
    stopping: bool = False
    """A stop was asked for: the points already running finish, no new ones start."""

    @property
    def progress(self) -> float:
        """Share of the planned points finished, in [0, 1]."""
        return min(1.0, len(self.points) / self.total) if self.total else 1.0

    @property
    def front(self) -> tuple[int, ...]:
        """Indices into ``points`` of the Pareto front so far."""
        return pareto_front(self.points)

    @property
    def running(self) -> bool:
        """Whether the sweep is still going."""
        return self.state is JobState.RUNNING


class SweepJob:
    """Runs :func:`sweep_points` in a daemon thread; readers poll :meth:`snapshot`.

    The thread only drains the sweep's points; it never touches a user interface. The inputs
    are checked in the constructor, so a bad level or schema raises there, in the caller.
    """

    def __init__(
        self,
        frame: pd.DataFrame,
        *,
        schema: TableSchema,
        config: TrainConfig,
        levels: Iterable[float],
        store: RunStore,
        dataset_name: str,
        n_jobs: int | None = None,
        backend: str = "loky",
        sensitive: Sequence[str] = (),
    ) -> None:
        self.levels = validate_levels(levels)
        self._stop = threading.Event()
        self._points_iterator = sweep_points(
            frame,
            schema=schema,
            config=config,
            levels=self.levels,
            store=store,
            dataset_name=dataset_name,
            n_jobs=n_jobs,
            backend=backend,
            sensitive=sensitive,
            stop=self._stop,
        )
        self._lock = threading.Lock()
        self._points: list[SweepPoint] = []
        self._state = JobState.RUNNING
        self._error: str | None = None
        self._started = time.perf_counter()
        self._finished: float | None = None
        self._thread = threading.Thread(target=self._work, name="sweep", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Start no further points; those already running finish, are saved and are reported.

        A point cannot be stopped halfway (it runs in a worker process), so the sweep ends when
        the points running now end; the snapshot's state is then STOPPED.
        """
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the worker thread to end."""
        self._thread.join(timeout)

    def snapshot(self) -> SweepSnapshot:
        """An immutable view for readers on other threads."""
        with self._lock:
            end = self._finished or time.perf_counter()
            return SweepSnapshot(
                state=self._state,
                points=tuple(self._points),
                total=len(self.levels),
                elapsed=end - self._started,
                error=self._error,
                stopping=self._stop.is_set() and self._state is JobState.RUNNING,
            )

    def _work(self) -> None:
        try:
            for point in self._points_iterator:
                with self._lock:
                    self._points.append(point)
            with self._lock:
                skipped = len(self._points) < len(self.levels)
            self._end(JobState.STOPPED if skipped else JobState.COMPLETED, None)
        except Exception as error:  # surfaced to the reader, never lost in the thread
            self._end(JobState.FAILED, f"{type(error).__name__}: {error}")

    def _end(self, state: JobState, error: str | None) -> None:
        with self._lock:
            self._state = state
            self._error = error
            self._finished = time.perf_counter()


def points_to_json(points: Sequence[SweepPoint]) -> dict[str, Any]:
    """Every point and the Pareto front (indices into ``points``), ready for ``json.dumps``."""
    front = pareto_front(points)
    return {
        "points": [p.to_dict() | {"on_front": i in front} for i, p in enumerate(points)],
        "front": list(front),
        "utility": "TSTR AUC of the best downstream model (higher is better)",
        "risk": "distance membership-inference AUC on the holdout (0.5 = guessing)",
    }


def sorted_points(points: Iterable[SweepPoint]) -> tuple[SweepPoint, ...]:
    """Points by strictness, as a table reads them."""
    return tuple(sorted(points, key=lambda p: p.strictness))
