"""The run configuration: one frozen object, readable from and writable to TOML."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from psygentab_core.alm import AlmConfig
from psygentab_core.constraints import (
    Constraint,
    constraint_to_dict,
    constraints_from_config,
    default_constraints,
)
from psygentab_core.dp import DpConfig
from psygentab_core.errors import ConfigError
from psygentab_core.model import ModelConfig
from psygentab_core.split import SplitConfig


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainConfig:
    """Everything that decides a run, apart from the data and the schema."""

    # Each epoch ends with a dual update from an exact measurement of a full sample, which
    # costs as much as 5 to 25 steps. With 8 the bundled tables met the privacy bars of the
    # benchmark as often as with 20 (three seeds each).
    epochs: int = 8
    batch_size: int = 256
    # Optimiser steps between two dual updates: passes_per_epoch passes over the training rows,
    # but at least min_steps_per_epoch (a small table still needs that many to fit) and at most
    # max_steps_per_epoch (a large one is fitted long before it has been seen five times).
    # A step costs about the same whatever the table's size, so this puts the work where a
    # table needs it: 160 steps in all on births14 (550 training rows) and on NHEFS, 248 on
    # AIDS2 and 640 on the COVID-19 tests (8,372 rows). Seven passes, the setting until the
    # generator drew its columns in stages, fitted AIDS2 in 3.3 s against TVAE's 11.8 s; five
    # in 2.1 to 2.2 s, with TSTR AUC, association difference and detection AUC within the
    # spread of seeds (benchmark of 6 December).
    passes_per_epoch: float = 5.0
    min_steps_per_epoch: int = 20
    max_steps_per_epoch: int = 80
    # High for Adam on purpose: in 200 steps 2e-3 left births14 under-fitted (objective 1.33
    # against 0.74 at 1e-2).
    learning_rate: float = 1e-2
    # Adam moves each of the three privacy knobs by about this much per step whenever the
    # constraint terms outweigh the fidelity terms, however small the multiplier: 0.05 let a
    # barely violated constraint push the output noise to 25 times its fitted level within a
    # few epochs (births14), for no gain in the measured value.
    knob_learning_rate: float = 0.02
    seed: int = 0
    # Rows generated for each epoch's exact measurement, at most: enough that sampling noise in
    # a share stays near one percentage point; fewer on small tables, whose few reference rows
    # decide the measurement's precision (training.measurement_size).
    measurement_rows: int = 4000
    # Training rows each surrogate batch is compared with (a random pool, for speed).
    surrogate_pool: int = 2048
    # Rows generated at each step for the MMD term and the privacy surrogates (at most the
    # batch size): the MMD's cost grows with the square of this number. 64 fitted the bundled
    # tables as well as 128 (NHEFS associations a little closer), at a sixteenth of the MMD
    # cost of the whole batch, which was used before.
    generated_rows: int = 64
    # Batches drawn with weight count(class) ** -class_balance (0: as in the data, 1: classes
    # equally often), capped so that no row is drawn more often than max_row_draws times in
    # the whole fit (psygentab_core.sampling). 0.5 raised the COVID-19 tests' TSTR AUC from
    # 0.630 to 0.669 (benchmark of 4 December); the cap keeps a small table's rare rows from
    # being shown much more often than all its rows already are (at 1.0 without a cap,
    # births14's too-close share rose to 0.56).
    class_balance: float = 0.5
    # As often as every row of a small table was drawn with seven passes in each of 8 epochs.
    # 40 (five passes times 8) took the COVID-19 tests' TSTR AUC from 0.678 to 0.656; 56 lets
    # NHEFS and AIDS2 (46 and 41 draws per row) rebalance their outcome a little, within the
    # spread of seeds (benchmark of 6 December).
    max_row_draws: float = 56.0
    model: ModelConfig = field(default_factory=ModelConfig)
    alm: AlmConfig = field(default_factory=AlmConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    constraints: tuple[Constraint, ...] = field(default_factory=default_constraints)
    # Differentially private training (DP-SGD) when set. The constraints are then measured on
    # the release as an audit but neither trained on nor filtered by: they read real rows
    # outside the DP mechanism (see psygentab_core.dp_training).
    dp: DpConfig | None = None

    def __post_init__(self) -> None:
        for name in (
            "epochs",
            "batch_size",
            "min_steps_per_epoch",
            "max_steps_per_epoch",
            "measurement_rows",
            "generated_rows",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1; got {getattr(self, name)!r}.")
        if self.max_steps_per_epoch < self.min_steps_per_epoch:
            raise ConfigError(
                f"max_steps_per_epoch ({self.max_steps_per_epoch}) must be at least "
                f"min_steps_per_epoch ({self.min_steps_per_epoch})."
            )
        if not self.max_row_draws > 0:
            raise ConfigError(f"max_row_draws must be > 0; got {self.max_row_draws!r}.")
        if not self.passes_per_epoch > 0:
            raise ConfigError(f"passes_per_epoch must be > 0; got {self.passes_per_epoch!r}.")
        if self.surrogate_pool < 16:
            raise ConfigError(f"surrogate_pool must be at least 16; got {self.surrogate_pool!r}.")
        if not 0 < self.learning_rate < 1:
            raise ConfigError(f"learning_rate must be between 0 and 1; got {self.learning_rate!r}.")
        if not 0 < self.knob_learning_rate < 1:
            raise ConfigError(
                f"knob_learning_rate must be between 0 and 1; got {self.knob_learning_rate!r}."
            )
        if not 0 <= self.class_balance <= 1:
            raise ConfigError(f"class_balance must be between 0 and 1; got {self.class_balance!r}.")
        if self.seed < 0:
            raise ConfigError(f"seed must be >= 0; got {self.seed!r}.")
        if self.dp is not None and not isinstance(self.dp, DpConfig):
            raise ConfigError("dp must be a DpConfig (or a [dp] table in the TOML file).")
        if self.dp is not None and self.model.dependency_stages != 1:
            # The stages are chosen from the training rows' mutual information, a read outside
            # the DP mechanism: DP-SGD draws every column at once.
            object.__setattr__(self, "model", replace(self.model, dependency_stages=1))

    def to_dict(self) -> dict[str, Any]:
        """A JSON/TOML-ready form."""
        plain = {f.name: getattr(self, f.name) for f in fields(self)}
        plain["model"] = asdict(self.model)
        plain["alm"] = asdict(self.alm)
        plain["split"] = asdict(self.split)
        plain["constraints"] = [constraint_to_dict(c) for c in self.constraints]
        plain["dp"] = None if self.dp is None else self.dp.to_dict()
        return plain

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Build from a (possibly partial) mapping; unknown keys are errors, not silence."""
        data = dict(data)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"Unknown setting(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})."
            )
        nested = {
            "model": ModelConfig,
            "alm": AlmConfig,
            "split": SplitConfig,
        }
        for key, kind in nested.items():
            if key in data:
                data[key] = _build(kind, data[key], key)
        if "constraints" in data:
            data["constraints"] = constraints_from_config(data["constraints"])
        if data.get("dp") is not None:
            data["dp"] = DpConfig.from_dict(data["dp"])
        try:
            return cls(**data)
        except TypeError as error:
            raise ConfigError(str(error)) from None


# Settings for DP-SGD. The noise added to each step grows with the number of weights while the
# clipped signal does not, so a DP generator is smaller than the default (on the COVID-19 table
# at ε = 3, 64 hidden units matched 128 and 256 in utility at a third of the time); larger
# batches raise the signal against the noise; no MMD term (DP-SGD cannot use it, see
# dp_training). A 10,000-row table then trains in well under a minute on one thread.
DP_MODEL = ModelConfig(hidden_dim=64, latent_dim=8, mmd_weight=0.0, dependency_stages=1)
DP_BATCH_SIZE = 512
DP_EPOCHS = 30
DP_LEARNING_RATE = 5e-3


def dp_train_config(dp: DpConfig, **overrides: Any) -> TrainConfig:
    """A configuration for DP training: ``dp`` with the DP-suited model, batch size, epochs and
    learning rate (``overrides`` replace any setting, e.g. ``seed=3``)."""
    settings: dict[str, Any] = {
        "dp": dp,
        "model": DP_MODEL,
        "batch_size": DP_BATCH_SIZE,
        "epochs": DP_EPOCHS,
        "learning_rate": DP_LEARNING_RATE,
    }
    settings.update(overrides)
    return TrainConfig(**settings)


def _build(kind: type, values: Any, section: str) -> Any:
    if not isinstance(values, Mapping):
        raise ConfigError(f"[{section}] must be a table of settings.")
    allowed = {f.name for f in fields(kind)}
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise ConfigError(
            f"Unknown setting(s) in [{section}]: {', '.join(unknown)} "
            f"(known: {', '.join(sorted(allowed))})."
        )
    return kind(**values)


def load_config(path: str | Path) -> TrainConfig:
    """Read a TOML run configuration (as written by :func:`config_to_toml`)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"Configuration file not found: {path}.")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path} is not valid TOML: {error}.") from None
    data.pop("schema", None)
    data.pop("target", None)
    return TrainConfig.from_dict(data)


def config_to_toml(config: TrainConfig) -> str:
    """TOML text of a configuration; scalars first, then one table per section."""
    data = config.to_dict()
    lines = [f"{key} = {_toml_value(value)}" for key, value in data.items() if _is_scalar(value)]
    # TOML has no null: unset options (model.hidden_dim, dp.delta, ...) are left out, and read
    # back as their default, None.
    for section in ("model", "alm", "split"):
        lines += ["", f"[{section}]"]
        lines += [
            f"{key} = {_toml_value(value)}"
            for key, value in data[section].items()
            if value is not None
        ]
    if data["dp"] is not None:
        dp = {k: v for k, v in data["dp"].items() if v is not None}
        bounds = dp.pop("public_bounds")
        lines += ["", "[dp]"]
        lines += [f"{key} = {_toml_value(value)}" for key, value in dp.items()]
        if bounds:
            lines += ["", "[dp.public_bounds]"]
            lines += [f"{_toml_value(key)} = {_toml_value(pair)}" for key, pair in bounds.items()]
    for constraint in data["constraints"]:
        lines += ["", "[[constraints]]"]
        lines += [f"{key} = {_toml_value(value)}" for key, value in constraint.items()]
    return "\n".join(lines) + "\n"


def _is_scalar(value: Any) -> bool:
    return isinstance(value, bool | int | float | str)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise ConfigError(f"Cannot write {value!r} to TOML.")
