"""Evaluation inputs from a finished run, in memory or on disk."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Sequence
from pathlib import Path

from psygentab_core.evaluation.data import EvaluationData
from psygentab_core.evaluation.report import RunInfo
from psygentab_core.io import read_table
from psygentab_core.pipeline import FitResult
from psygentab_core.schema import TableSchema


def data_from_fit(result: FitResult, *, sensitive: Sequence[str] = ()) -> EvaluationData:
    """The bundle of a run: its schema, its members and holdout, its released table."""
    return EvaluationData(
        schema=result.data.schema,
        members=result.data.members,
        holdout=result.data.holdout,
        synthetic=result.synthetic,
        sensitive=tuple(sensitive),
        seed=result.config.seed,
    )


def info_from_fit(result: FitResult) -> RunInfo:
    """What the report says about a run held in memory."""
    summary = result.summary
    return RunInfo(
        dataset_name=summary.dataset["name"],
        fingerprint=summary.dataset["fingerprint"],
        split={k: summary.dataset[k] for k in ("members", "reference", "holdout")},
        config=result.config.to_dict(),
        seed=result.config.seed,
        history=[r.to_dict() for r in result.history],
        constraints=summary.constraints,
        versions=summary.versions,
        notes=summary.notes,
        privacy=summary.privacy,
    )


def schema_from_run_dir(folder: str | Path) -> TableSchema:
    """The schema a saved run was trained with (one small file, no history)."""
    return TableSchema.from_dict(json.loads((Path(folder) / "schema.json").read_text()))


def info_from_run_dir(folder: str | Path) -> tuple[RunInfo, TableSchema]:
    """What the report says about a run saved by ``psygentab fit`` (and its schema)."""
    folder = Path(folder)
    summary = json.loads((folder / "result.json").read_text())
    schema = schema_from_run_dir(folder)
    history_path = folder / "history.jsonl"
    history = (
        [json.loads(line) for line in history_path.read_text().splitlines() if line.strip()]
        if history_path.exists()
        else []
    )
    config = tomllib.loads((folder / "config.toml").read_text())
    dataset = summary["dataset"]
    return (
        RunInfo(
            dataset_name=dataset["name"],
            fingerprint=dataset["fingerprint"],
            split={k: dataset[k] for k in ("members", "reference", "holdout")},
            config=config,
            seed=config.get("seed"),
            history=history,
            constraints=summary["constraints"],
            versions=summary["versions"],
            notes=summary.get("notes", []),
            privacy=summary.get("privacy"),
        ),
        schema,
    )


def data_from_run_dir(
    folder: str | Path, *, sensitive: Sequence[str] = (), synthetic_file: str = "synthetic.csv"
) -> EvaluationData:
    """The bundle of a saved run: its schema, members, holdout and released table."""
    folder = Path(folder)
    info, schema = info_from_run_dir(folder)
    return EvaluationData(
        schema=schema,
        members=read_table(folder / "members.csv"),
        holdout=read_table(folder / "holdout.csv"),
        synthetic=read_table(folder / synthetic_file),
        sensitive=tuple(sensitive),
        seed=info.seed or 0,
    )
