"""The run configuration: validation, dict and TOML round trips."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from psygentab_core.alm import AlmConfig
from psygentab_core.config import TrainConfig, config_to_toml, dp_train_config, load_config
from psygentab_core.constraints import CloseRecordConstraint, ExactMatchConstraint
from psygentab_core.dp import DpConfig
from psygentab_core.errors import ConfigError
from psygentab_core.model import ModelConfig
from psygentab_core.split import SplitConfig


def test_toml_round_trip(tmp_path: Path) -> None:
    config = TrainConfig(
        epochs=7,
        seed=3,
        model=ModelConfig(hidden_dim=64),
        alm=AlmConfig(max_penalty=50.0),
        split=SplitConfig(holdout_fraction=0.2),
        constraints=(ExactMatchConstraint(), CloseRecordConstraint(max_share=0.02, quantile=0.1)),
    )
    path = tmp_path / "run.toml"
    path.write_text(config_to_toml(config))
    assert load_config(path) == config


def test_default_config_round_trips_through_toml(tmp_path: Path) -> None:
    # The defaults include unset options (the hidden width, sized from the rows at training).
    config = TrainConfig()
    assert config.model.hidden_dim is None
    path = tmp_path / "run.toml"
    path.write_text(config_to_toml(config))
    assert "hidden_dim" not in path.read_text()
    assert load_config(path) == config


def test_partial_toml_keeps_defaults(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text('epochs = 5\n[model]\nlatent_dim = 8\n[[constraints]]\ntype = "exact_match"\n')
    config = load_config(path)
    assert config.epochs == 5
    assert config.model == ModelConfig(latent_dim=8)
    assert config.constraints == (ExactMatchConstraint(),)
    assert config.batch_size == TrainConfig().batch_size


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("epochs = 0\n", "epochs must be at least 1"),
        ("epoch = 3\n", "Unknown setting.*epoch"),
        ("[model]\nwidth = 3\n", r"Unknown setting\(s\) in \[model\]: width"),
        ("[alm]\ninitial_penalty = 0\n", "initial_penalty must be > 0"),
        ("learning_rate = 5\n", "learning_rate"),
        ("knob_learning_rate = 0\n", "knob_learning_rate must be between 0 and 1"),
        ("passes_per_epoch = 0\n", "passes_per_epoch must be > 0"),
        ("max_row_draws = 0\n", "max_row_draws must be > 0"),
        ("generated_rows = 0\n", "generated_rows must be at least 1"),
        ("class_balance = 1.5\n", "class_balance must be between 0 and 1; got 1.5"),
        (
            "min_steps_per_epoch = 20\nmax_steps_per_epoch = 10\n",
            r"max_steps_per_epoch \(10\) must be at least min_steps_per_epoch \(20\)",
        ),
        ("epochs = [\n", "not valid TOML"),
        ("[split]\nholdout_fraction = 0.8\nreference_fraction = 0.15\n", "at least 10%"),
    ],
)
def test_bad_settings_are_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "run.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")


def test_dict_round_trip() -> None:
    config = TrainConfig(seed=11)
    assert TrainConfig.from_dict(config.to_dict()) == config


# --- differential privacy ----------------------------------------------------------------------


def test_dp_section_round_trips_through_toml(tmp_path: Path) -> None:
    config = dp_train_config(
        DpConfig(
            epsilon=3.0,
            delta=1e-6,
            accountant="rdp",
            public_bounds=(("age", 0.0, 120.0), ("bmi level", 10.0, 60.0)),
            public_categories=True,
        ),
        seed=4,
    )
    path = tmp_path / "dp.toml"
    path.write_text(config_to_toml(config))
    assert "[dp]" in path.read_text()
    assert load_config(path) == config
    assert TrainConfig.from_dict(config.to_dict()) == config
    # Unset options are left out of the file (TOML has no null) and come back unset.
    plain = dp_train_config(DpConfig(epsilon=1.0))
    path.write_text(config_to_toml(plain))
    assert "delta" not in path.read_text()
    assert load_config(path) == plain


def test_a_partial_dp_section_keeps_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text('[dp]\nepsilon = 2\n[dp.public_bounds]\n"age" = [0, 120]\n')
    config = load_config(path)
    assert config.dp == DpConfig(epsilon=2.0, public_bounds=(("age", 0.0, 120.0),))
    # The model's defaults, but for the stages: DP-SGD draws every column at once.
    assert config.model == replace(TrainConfig().model, dependency_stages=1)
    assert TrainConfig().dp is None


def test_dp_draws_every_column_at_once() -> None:
    # The stages are read from the training rows outside the DP mechanism.
    assert TrainConfig().model.dependency_stages == 3
    config = TrainConfig(dp=DpConfig(epsilon=1.0), model=ModelConfig(dependency_stages=3))
    assert config.model.dependency_stages == 1
    assert dp_train_config(DpConfig(epsilon=1.0)).model.dependency_stages == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[dp]\ndelta = 1e-5\n", r"\[dp\] needs epsilon"),
        ("[dp]\nepsilon = -1\n", "dp.epsilon must be a positive"),
        ("[dp]\nepsilon = 1\nsigma = 2\n", r"Unknown setting\(s\) in \[dp\]: sigma"),
        ("[dp]\nepsilon = 1\n[dp.public_bounds]\nage = [0]\n", r"public_bounds.age must be"),
        ("dp = 3\n", r"\[dp\] must be a table"),
    ],
)
def test_bad_dp_settings_are_named_in_toml(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "run.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)
