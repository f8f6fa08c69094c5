"""A run on disk: configuration, schema, split, per-epoch history, model and release summary.

A run folder is written under a temporary name and renamed into place at the end, so a crash
mid-save never leaves a half-written run where a complete one is expected.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from psygentab_core.config import TrainConfig, config_to_toml
from psygentab_core.dp import PrivacyLedger
from psygentab_core.io import write_table
from psygentab_core.privacy import (
    DISTANCE_ROWS,
    PrivacyReference,
    closer_share_against,
    coordinates_of,
)
from psygentab_core.release import ReleaseResult
from psygentab_core.synthesizer import Synthesizer
from psygentab_core.training import EpochRecord, PreparedData

MODEL_FOLDER = "model"


@dataclass(frozen=True, slots=True)
class RunSummary:
    """The facts a person reads first about a finished run (also written as result.json)."""

    dataset: dict[str, Any]
    fit_seconds: float
    release_seconds: float
    epochs_run: int
    stop: str | None
    constraints: list[dict[str, Any]]
    release: dict[str, Any]
    holdout_check: dict[str, Any]
    notes: list[str]
    versions: dict[str, str]
    # Differential privacy: ``PrivacyLedger.to_dict()`` (the guarantee, every read of the real
    # rows, the bound on attacks); None for a run trained without DP.
    privacy: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return asdict(self)


def dataset_fingerprint(frame: pd.DataFrame) -> str:
    """SHA-256 of the table's values and column names (stable across file formats)."""
    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def package_versions() -> dict[str, str]:
    """Versions that decide whether a run can be reproduced bit for bit.

    Read from the installed packages' metadata rather than by importing them: importing
    scikit-learn only to read its version took over a second of every fit.
    """
    from psygentab_core import __version__

    return {
        "psygentab": __version__,
        "python": platform.python_version(),
        "torch": _installed("torch"),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "scikit-learn": _installed("scikit-learn"),
        "platform": platform.platform(),
    }


def _installed(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def summarise(
    *,
    data: PreparedData,
    config: TrainConfig,
    history: Sequence[EpochRecord],
    reference: PrivacyReference,
    released: ReleaseResult,
    notes: Sequence[str],
    fit_seconds: float,
    release_seconds: float,
    dataset_name: str,
    ledger: PrivacyLedger | None = None,
) -> RunSummary:
    """Collect the result of a run, including a check of the release against the holdout."""
    released_coordinates = coordinates_of(data.encoder, reference.space, released.table)
    holdout_coordinates = coordinates_of(data.encoder, reference.space, data.holdout)
    holdout_share = closer_share_against(
        released_coordinates, reference.member_coordinates, holdout_coordinates
    )
    last = history[-1] if history else None
    constraints = []
    for constraint in config.constraints:
        # DP runs train on no constraint, so their records carry none.
        record = (
            next((c for c in last.constraints if c.key == constraint.key), None) if last else None
        )
        constraints.append(
            {
                "key": constraint.key,
                "label": constraint.label,
                "rule": constraint.describe(),
                "sense": constraint.sense.value,
                "threshold": constraint.threshold,
                "measured_on_release": released.measured[constraint.key],
                "satisfied_on_release": released.satisfied[constraint.key],
                "last_epoch_measured": None if record is None else record.measured,
                "multiplier": None if record is None else record.multiplier,
                "penalty": None if record is None else record.penalty,
                "unreachable": False if record is None else record.unreachable,
                # In DP mode the constraints are measured on the release but never trained on
                # or filtered by.
                "enforced": config.dp is None,
            }
        )
    return RunSummary(
        dataset={
            "name": dataset_name,
            "fingerprint": dataset_fingerprint(data.frame),
            "rows": len(data.frame),
            "columns": len(data.frame.columns),
            "members": len(data.members),
            "reference": len(data.reference),
            "holdout": len(data.holdout),
            "target": data.schema.target,
        },
        fit_seconds=fit_seconds,
        release_seconds=release_seconds,
        epochs_run=len(history),
        stop=None if last is None or last.stop is None else last.stop.value,
        constraints=constraints,
        release={
            "rows": len(released.table),
            "drawn": released.drawn,
            "rejected": released.rejected,
            "rejection_rate": released.rejection_rate,
            "rejected_by": released.rejected_by,
            # Large releases: rows whose nearest-neighbour distances were measured (at random).
            "distance_rows": (
                len(released.table)
                if released.audit.distance_rows is None
                else int(released.audit.distance_rows.size)
            ),
        },
        holdout_check={
            "closer_to_training_vs_holdout": holdout_share,
            "rows_measured": min(len(released.table), DISTANCE_ROWS),
            "meaning": (
                "Share of released rows nearer the training rows than the holdout rows (never "
                "read in training), corrected to equal-size sets; 0.5 means the training rows "
                "leave no trace, 1 that every released row copies one. Measured on every "
                f"released row, or on {DISTANCE_ROWS:,} drawn at random from a larger release."
            ),
        },
        notes=list(notes),
        versions=package_versions(),
        privacy=None if ledger is None else ledger.to_dict(),
    )


def save_run(
    folder: str | Path,
    *,
    data: PreparedData,
    config: TrainConfig,
    history: Sequence[EpochRecord],
    synthesizer: Synthesizer,
    summary: RunSummary,
    extra_tables: Mapping[str, pd.DataFrame] | None = None,
) -> Path:
    """Write the run folder atomically (temporary folder, then rename); returns its path."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        (staging / "config.toml").write_text(config_to_toml(config))
        _write_json(staging / "schema.json", data.schema.to_dict())
        _write_json(staging / "split.json", data.split.to_dict())
        write_table(data.members, staging / "members.csv")
        write_table(data.reference, staging / "reference.csv")
        write_table(data.holdout, staging / "holdout.csv")
        for name, table in (extra_tables or {}).items():
            write_table(table, staging / name)
        with (staging / "history.jsonl").open("w") as handle:
            for record in history:
                handle.write(json.dumps(record.to_dict()) + "\n")
        synthesizer.save(staging / MODEL_FOLDER)
        _write_json(staging / "result.json", summary.to_dict())
        if folder.exists():
            retired = folder.with_name(f".{folder.name}.replaced")
            shutil.rmtree(retired, ignore_errors=True)
            os.replace(folder, retired)
            os.replace(staging, folder)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
