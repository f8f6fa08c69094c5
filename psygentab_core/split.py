"""The one split of the real rows, fixed before training and stored with the run.

* **members**: the rows the generator trains on;
* **reference**: real rows the generator never trains on, read only by the training-time privacy
  constraints as the yardstick of how close unseen patients sit to the members;
* **holdout**: real rows nothing in training ever reads; the evaluation's test set and the
  non-members of the membership attacks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from psygentab_core.errors import ConfigError, SchemaError


@dataclass(frozen=True, slots=True, kw_only=True)
class SplitConfig:
    """Shares of the real rows given to the holdout and to the reference set."""

    holdout_fraction: float = 0.3
    reference_fraction: float = 0.15

    def __post_init__(self) -> None:
        if not 0 < self.holdout_fraction < 1:
            raise ConfigError("split.holdout_fraction must be between 0 and 1.")
        if not 0 < self.reference_fraction < 1:
            raise ConfigError("split.reference_fraction must be between 0 and 1.")
        # The tolerance keeps 0.5 + 0.4 (0.9000000000000001 in floating point) allowed.
        if self.holdout_fraction + self.reference_fraction > 0.9 + 1e-9:
            raise ConfigError(
                "split.holdout_fraction + split.reference_fraction must leave at least 10% of "
                "the rows for training."
            )


@dataclass(frozen=True, slots=True)
class Split:
    """Row positions (0-based, in the original table) of each part."""

    members: np.ndarray
    reference: np.ndarray
    holdout: np.ndarray
    stratified_on: str | None

    def parts(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """(members, reference, holdout) tables with a fresh 0-based index."""
        return tuple(
            frame.iloc[rows].reset_index(drop=True)
            for rows in (self.members, self.reference, self.holdout)
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "stratified_on": self.stratified_on,
            "members": self.members.tolist(),
            "reference": self.reference.tolist(),
            "holdout": self.holdout.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Split:
        """Inverse of :meth:`to_dict`."""
        return cls(
            members=np.asarray(data["members"], dtype=np.int64),
            reference=np.asarray(data["reference"], dtype=np.int64),
            holdout=np.asarray(data["holdout"], dtype=np.int64),
            stratified_on=data.get("stratified_on"),
        )


MIN_ROWS = 20


def split_rows(frame: pd.DataFrame, config: SplitConfig, *, target: str | None, seed: int) -> Split:
    """Split the rows at random, within each target class when a target is given.

    Every class with three rows or more keeps at least one row in each part, so even a rare
    diagnosis can be trained on, measured against and evaluated.
    """
    if len(frame) < MIN_ROWS:
        rows = f"{len(frame)} row" if len(frame) == 1 else f"{len(frame)} rows"
        raise SchemaError(
            f"The table has {rows}; at least {MIN_ROWS} are needed to split it into training, "
            f"reference and holdout rows. Use a table with at least {MIN_ROWS} rows (one per "
            "patient)."
        )
    rng = np.random.default_rng(seed)
    if target is None:
        groups = [np.arange(len(frame))]
    else:
        codes = pd.factorize(frame[target], sort=True)[0]
        groups = [np.flatnonzero(codes == c) for c in np.unique(codes)]
    members, reference, holdout = [], [], []
    for rows in groups:
        rows = rng.permutation(rows)
        n_holdout, n_reference = _part_sizes(len(rows), config)
        holdout.append(rows[:n_holdout])
        reference.append(rows[n_holdout : n_holdout + n_reference])
        members.append(rows[n_holdout + n_reference :])
    return Split(
        members=np.sort(np.concatenate(members)),
        reference=np.sort(np.concatenate(reference)),
        holdout=np.sort(np.concatenate(holdout)),
        stratified_on=target,
    )


def _part_sizes(n: int, config: SplitConfig) -> tuple[int, int]:
    if n < 3:
        # Too small to give every part a row: keep what there is for training.
        return 0, 0
    n_holdout = min(max(1, round(n * config.holdout_fraction)), n - 2)
    n_reference = min(max(1, round(n * config.reference_fraction)), n - n_holdout - 1)
    return n_holdout, n_reference
