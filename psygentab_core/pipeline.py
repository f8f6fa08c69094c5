"""The whole job in one call: validate, split, train under constraints, release, summarise."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from psygentab_core.config import TrainConfig
from psygentab_core.dp import PrivacyLedger
from psygentab_core.privacy import PrivacyReference
from psygentab_core.release import ReleaseResult, release
from psygentab_core.runs import RunSummary, summarise
from psygentab_core.schema import TableSchema, infer_schema
from psygentab_core.synthesizer import Synthesizer
from psygentab_core.training import EpochRecord, PreparedData, TrainingRun, prepare_data


@dataclass(frozen=True, slots=True)
class FitResult:
    """Everything a finished run produced."""

    data: PreparedData
    config: TrainConfig
    history: tuple[EpochRecord, ...]
    synthesizer: Synthesizer
    reference: PrivacyReference
    release: ReleaseResult
    summary: RunSummary
    # Differential privacy: every read of the real rows and the (ε, δ) spent; None without DP.
    ledger: PrivacyLedger | None = None

    @property
    def synthetic(self) -> pd.DataFrame:
        """The released synthetic table."""
        return self.release.table


def fit(
    frame: pd.DataFrame,
    *,
    target: str | None = None,
    schema: TableSchema | None = None,
    config: TrainConfig | None = None,
    rows: int | None = None,
    dataset_name: str = "table",
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> FitResult:
    """Train on ``frame`` with the configured constraints and release ``rows`` synthetic rows.

    ``schema`` defaults to the inferred one (with ``target``); ``rows`` defaults to the number
    of rows of ``frame``. ``on_epoch`` sees every record as it is produced.
    """
    config = config or TrainConfig()
    schema = schema or infer_schema(frame, target=target)
    data = prepare_data(frame, schema, config)
    run = TrainingRun(data, config)
    started = time.perf_counter()
    for record in run.epochs():
        if on_epoch is not None:
            on_epoch(record)
    return finish(
        run,
        rows=rows or len(frame),
        fit_seconds=time.perf_counter() - started,
        dataset_name=dataset_name,
    )


def finish(run: TrainingRun, *, rows: int, fit_seconds: float, dataset_name: str) -> FitResult:
    """Release and summarise a run whose epochs have been iterated (fully or until stopped)."""
    if run.reference is None:
        raise RuntimeError("the run has not trained yet; iterate run.epochs() first")
    synthesizer = run.synthesizer()
    started = time.perf_counter()
    released = release(
        synthesizer,
        run.reference,
        run.config.constraints,
        rows,
        seed=run.config.seed,
        tolerance=run.config.alm.tolerance,
        # In DP mode the filter is off: it reads the training rows outside the mechanism.
        filtering=run.config.dp is None,
    )
    release_seconds = time.perf_counter() - started
    ledger = run.ledger()
    summary = summarise(
        data=run.data,
        config=run.config,
        history=run.history,
        reference=run.reference,
        released=released,
        notes=run.notes,
        fit_seconds=fit_seconds,
        release_seconds=release_seconds,
        dataset_name=dataset_name,
        ledger=ledger,
    )
    return FitResult(
        data=run.data,
        config=run.config,
        history=tuple(run.history),
        synthesizer=synthesizer,
        reference=run.reference,
        release=released,
        summary=summary,
        ledger=ledger,
    )
