"""Saving and loading a generator: weights plus JSON, never arbitrary code."""

from __future__ import annotations

import json
import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from psygentab_core.errors import ModelFileError
from psygentab_core.model import ModelConfig
from psygentab_core.schema import infer_schema
from psygentab_core.synthesizer import Synthesizer, class_counts
from psygentab_core.training import TrainingRun, prepare_data
from tests.tables import mixed_table, quick_config


@pytest.fixture(scope="module")
def synthesizer() -> Synthesizer:
    frame = mixed_table()
    config = quick_config(epochs=2)
    run = TrainingRun(prepare_data(frame, infer_schema(frame, target="outcome"), config), config)
    list(run.epochs())
    return run.synthesizer()


def test_save_and_load_reproduce_the_samples(synthesizer: Synthesizer, tmp_path: Path) -> None:
    synthesizer.save(tmp_path / "model")
    loaded = Synthesizer.load(tmp_path / "model")
    pd.testing.assert_frame_equal(synthesizer.sample(200, seed=4), loaded.sample(200, seed=4))
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == ["model.json", "model.pt"]


def test_samples_keep_columns_order_and_types(synthesizer: Synthesizer) -> None:
    sample = synthesizer.sample(300, seed=0)
    frame = mixed_table()
    assert list(sample.columns) == list(frame.columns)
    assert str(sample["age"].dtype) == "Int64"
    assert sample["age"].min() >= frame["age"].min()
    assert sample["age"].max() <= frame["age"].max()
    assert pd.to_datetime(sample["admitted"].dropna(), format="%Y-%m-%d").notna().all()
    assert set(sample["ward"].dropna()) <= set(frame["ward"])


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_a_pickle_in_place_of_the_weights_is_refused(
    synthesizer: Synthesizer, tmp_path: Path
) -> None:
    synthesizer.save(tmp_path / "model")

    class Payload:
        def __reduce__(self):  # would run code if unpickled without weights_only
            return (Path("/tmp/psygentab-pwned").touch, ())

    (tmp_path / "model" / "model.pt").write_bytes(pickle.dumps({"x": Payload()}))
    with pytest.raises(ModelFileError, match="not a valid weights file"):
        Synthesizer.load(tmp_path / "model")
    assert not Path("/tmp/psygentab-pwned").exists()


def test_tampered_description_is_refused(synthesizer: Synthesizer, tmp_path: Path) -> None:
    synthesizer.save(tmp_path / "model")
    description = json.loads((tmp_path / "model" / "model.json").read_text())
    description["model_config"]["hidden_dim"] = 999
    (tmp_path / "model" / "model.json").write_text(json.dumps(description))
    with pytest.raises(ModelFileError, match="does not match its description"):
        Synthesizer.load(tmp_path / "model")


@pytest.mark.parametrize(
    ("content", "message"),
    [("not json", "not valid JSON"), ('{"format_version": 99}', "format 1")],
)
def test_broken_description_is_refused(
    synthesizer: Synthesizer, tmp_path: Path, content: str, message: str
) -> None:
    synthesizer.save(tmp_path / "model")
    (tmp_path / "model" / "model.json").write_text(content)
    with pytest.raises(ModelFileError, match=message):
        Synthesizer.load(tmp_path / "model")


def test_missing_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="No model description"):
        Synthesizer.load(tmp_path)


def test_weights_that_are_not_tensors_are_refused(synthesizer: Synthesizer, tmp_path: Path) -> None:
    synthesizer.save(tmp_path / "model")
    torch.save({"encoder.0.weight": [1, 2, 3]}, tmp_path / "model" / "model.pt")
    with pytest.raises(ModelFileError):
        Synthesizer.load(tmp_path / "model")


def test_class_counts_follow_shares_exactly() -> None:
    assert class_counts((0.057, 0.943), 1000).tolist() == [57, 943]
    counts = class_counts((1 / 3, 1 / 3, 1 / 3), 10)
    assert counts.sum() == 10
    assert counts.max() - counts.min() == 1
    assert np.array_equal(class_counts((1.0,), 5), [5])


def test_a_model_saved_before_dependency_stages_still_loads(synthesizer: Synthesizer) -> None:
    assert "dependency" in synthesizer.weights
    older = {
        k: v for k, v in synthesizer.weights.items() if k not in ("dependency", "column_stage")
    }
    loaded = replace(synthesizer, weights=older)
    model = loaded.build_model()
    assert model.dependency is None
    assert len(loaded.sample(50, seed=1)) == 50


def test_a_generator_sized_from_its_rows_records_its_hidden_width(tmp_path: Path) -> None:
    frame = mixed_table()
    config = quick_config(epochs=1, model=ModelConfig(latent_dim=8))
    run = TrainingRun(prepare_data(frame, infer_schema(frame, target="outcome"), config), config)
    list(run.epochs())
    trained = run.synthesizer()
    assert trained.model_config.hidden_dim == ModelConfig().hidden_width(len(run.data.members))
    trained.save(tmp_path / "model")
    saved = json.loads((tmp_path / "model" / "model.json").read_text())
    assert saved["model_config"]["hidden_dim"] == trained.model_config.hidden_dim
    reloaded = Synthesizer.load(tmp_path / "model")
    pd.testing.assert_frame_equal(reloaded.sample(50, seed=3), trained.sample(50, seed=3))
