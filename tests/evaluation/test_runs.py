"""A run evaluates the same whether it is held in memory or reopened from the run store."""

from __future__ import annotations

from pathlib import Path

from psygentab_core.evaluation.runs import (
    data_from_fit,
    data_from_run_dir,
    info_from_fit,
    info_from_run_dir,
)
from psygentab_core.pipeline import fit
from psygentab_core.store import RunStore
from tests.tables import mixed_table, quick_config


def test_a_saved_run_gives_back_the_bundle_and_the_info_it_was_saved_with(tmp_path: Path) -> None:
    result = fit(mixed_table(), target="outcome", config=quick_config(seed=3), rows=150)
    store = RunStore(tmp_path)
    run_id = store.start(name="r", dataset="mixed")
    store.complete(run_id, result)
    in_memory = data_from_fit(result, sensitive=["sex"])
    reopened = data_from_run_dir(store.folder_of(run_id), sensitive=["sex"])
    assert reopened.schema == in_memory.schema
    assert reopened.sensitive == ("sex",)
    assert reopened.seed == 3
    for part in ("members", "holdout", "synthetic"):
        a, b = getattr(in_memory, part), getattr(reopened, part)
        assert a.shape == b.shape
        assert a["ward"].astype(str).tolist() == b["ward"].astype(str).tolist()
    info, _ = info_from_run_dir(store.folder_of(run_id))
    assert info.fingerprint == info_from_fit(result).fingerprint
    assert len(info.history) == len(result.history)
