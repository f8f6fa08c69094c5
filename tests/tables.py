"""Seeded tables and configurations shared by the tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from psygentab_core.config import TrainConfig
from psygentab_core.dp import DpConfig
from psygentab_core.model import ModelConfig
from psygentab_core.split import SplitConfig


def mixed_table(rows: int = 240, seed: int = 0) -> pd.DataFrame:
    """A small clinical-looking table: every kind, missing values, a 20 % minority class."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 90, rows)
    outcome = np.where(rng.random(rows) < 0.1 + 0.2 * (age > 65), "yes", "no")
    bmi = np.round(rng.lognormal(3.2, 0.15, rows), 1)
    bmi[rng.random(rows) < 0.1] = np.nan
    visits = pd.array(rng.poisson(3, rows), dtype="Int64")
    visits[rng.random(rows) < 0.05] = pd.NA
    admitted = pd.to_datetime("2020-01-01") + pd.to_timedelta(rng.integers(0, 700, rows), "D")
    return pd.DataFrame(
        {
            "outcome": outcome,
            "age": age,
            "sex": rng.choice(["female", "male"], rows),
            "bmi": bmi,
            "visits": visits,
            "stage": rng.choice([1, 2, 3, 4], rows, p=[0.4, 0.3, 0.2, 0.1]),
            "ward": rng.choice(["A", "B", "C", "D", "rare"], rows, p=[0.3, 0.3, 0.2, 0.18, 0.02]),
            "admitted": admitted.strftime("%Y-%m-%d"),
        }
    )


def memorising_table(rows: int = 80, seed: int = 0) -> pd.DataFrame:
    """Few rows of continuous values: a generator trained long on them copies them."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "y": rng.choice(["a", "b"], rows, p=[0.7, 0.3]),
            "x1": rng.normal(size=rows).round(3),
            "x2": rng.gamma(2.0, size=rows).round(3),
            "x3": rng.normal(size=rows).round(3),
            "c": rng.choice(list("pqrs"), rows),
        }
    )


def quick_config(**overrides: object) -> TrainConfig:
    """A configuration small enough for unit tests (a few seconds)."""
    settings: dict[str, object] = {
        "epochs": 3,
        # One pass, at least five steps: the step count of each epoch is then known exactly.
        "passes_per_epoch": 1.0,
        "min_steps_per_epoch": 5,
        "batch_size": 64,
        "model": ModelConfig(hidden_dim=32, latent_dim=8),
    }
    settings.update(overrides)
    return TrainConfig(**settings)


MEMORISING_SPLIT = SplitConfig(holdout_fraction=0.25, reference_fraction=0.25)


# Public ranges of mixed_table's numeric columns (dates as days since 1970), as a user would
# declare clinical limits: a table this small has too few rows to find them privately.
MIXED_PUBLIC_BOUNDS = (("age", 0.0, 120.0), ("bmi", 10.0, 60.0), ("admitted", 18000.0, 19500.0))


def dp_quick_config(**overrides: object) -> TrainConfig:
    """A differentially private configuration for mixed_table, small enough for unit tests.

    Reproducible (noise drawn from the seed) so that runs can be compared; ``dp`` overrides
    replace individual DpConfig settings, e.g. ``dp={"epsilon": 1.0}``.
    """
    dp_settings: dict[str, object] = {
        "epsilon": 5.0,
        "public_bounds": MIXED_PUBLIC_BOUNDS,
        "public_categories": True,
        "reproducible": True,
        # RDP answers faster than PRV; small batches keep the sampling rate low, which is
        # where both accountants are quick.
        "accountant": "rdp",
    }
    dp_settings.update(overrides.pop("dp", {}))  # type: ignore[arg-type]
    settings: dict[str, object] = {"batch_size": 16, "measurement_rows": 1000}
    settings.update(overrides)
    return quick_config(dp=DpConfig(**dp_settings), **settings)
