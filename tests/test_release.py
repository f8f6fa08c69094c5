"""The release filter: no copies, the close-row allowance, exact class quotas."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from psygentab_core import privacy
from psygentab_core.constraints import (
    CloseRecordConstraint,
    CompositePrivacyConstraint,
    ExactMatchConstraint,
    MembershipShareConstraint,
)
from psygentab_core.distances import nearest_distances
from psygentab_core.errors import ReleaseError
from psygentab_core.privacy import coordinates_of, row_keys
from psygentab_core.release import _accept_rows, release
from psygentab_core.schema import infer_schema
from psygentab_core.training import TrainingRun, prepare_data
from tests.tables import quick_config

# The module, not the function that psygentab_core exports under the same name.
release_module = importlib.import_module("psygentab_core.release")


@pytest.fixture(scope="module")
def trained() -> TrainingRun:
    rng = np.random.default_rng(1)
    rows = 300
    # Coarse columns: an untrained or lightly trained generator often repeats real rows.
    frame = pd.DataFrame(
        {
            "y": rng.choice(["a", "b"], rows, p=[0.8, 0.2]),
            "x": rng.choice([1, 2, 3], rows),
            "c": rng.choice(["p", "q"], rows),
            "z": rng.integers(0, 30, rows),
        }
    )
    config = quick_config(epochs=2, constraints=())
    run = TrainingRun(prepare_data(frame, infer_schema(frame, target="y"), config), config)
    list(run.epochs())
    return run


def test_release_never_contains_a_copy_of_a_training_or_reference_row(
    trained: TrainingRun,
) -> None:
    schema = trained.data.schema
    raw = row_keys(trained.synthesizer().sample(400, seed=0), schema)
    member_keys = row_keys(trained.data.members, schema)
    # Reference patients who are not also (value for value) a member.
    reference_only = np.setdiff1d(row_keys(trained.data.reference, schema), member_keys)
    # The setting makes copies common, so the filter has work to do on both sets.
    assert np.isin(raw, member_keys).mean() > 0.3
    assert np.isin(raw, reference_only).any()

    result = release(
        trained.synthesizer(), trained.reference, (ExactMatchConstraint(),), 400, seed=0
    )
    released = row_keys(result.table, schema)
    assert not np.isin(released, member_keys).any()
    assert not np.isin(released, reference_only).any()
    assert result.measured["exact_match"] == 0.0
    assert result.rejected > 0
    assert result.rejected_by["exact_match"] == result.rejected
    assert result.rejection_rate == pytest.approx(result.rejected / result.drawn)
    assert result.drawn == 400 + result.rejected


def test_release_keeps_the_class_shares_exactly(trained: TrainingRun) -> None:
    result = release(
        trained.synthesizer(), trained.reference, (ExactMatchConstraint(),), 500, seed=1
    )
    shares = trained.synthesizer().class_shares
    counts = result.table["y"].value_counts()
    assert counts["b"] == round(500 * shares[1])
    assert len(result.table) == 500


def test_close_row_allowance_is_respected(trained: TrainingRun) -> None:
    constraint = CloseRecordConstraint(max_share=0.1, quantile=0.5)
    result = release(trained.synthesizer(), trained.reference, (constraint,), 300, seed=2)
    assert result.measured["close_records"] <= 0.1
    assert result.satisfied["close_records"]


def test_impossible_release_fails_with_a_message() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"y": rng.choice([0, 1], 100), "x": rng.choice(["a", "b"], 100)})
    config = quick_config(epochs=1, constraints=())
    run = TrainingRun(prepare_data(frame, infer_schema(frame, target="y"), config), config)
    list(run.epochs())
    with pytest.raises(ReleaseError, match=r"rejected \d+ of \d+ generated rows"):
        release(run.synthesizer(), run.reference, (ExactMatchConstraint(),), 20, seed=0)


def test_release_is_reproducible(trained: TrainingRun) -> None:
    args = (trained.synthesizer(), trained.reference, (ExactMatchConstraint(),), 100)
    first = release(*args, seed=5).table
    pd.testing.assert_frame_equal(first, release(*args, seed=5).table)


def test_rows_must_be_positive(trained: TrainingRun) -> None:
    with pytest.raises(ReleaseError, match="at least 1"):
        release(trained.synthesizer(), trained.reference, (), 0, seed=0)


ALL_RULES = (
    ExactMatchConstraint(),
    CloseRecordConstraint(max_share=0.1, quantile=0.5),
    MembershipShareConstraint(),
    CompositePrivacyConstraint(),
)


def test_large_release_is_the_same_release_measured_on_a_subset(
    trained: TrainingRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = (trained.synthesizer(), trained.reference, ALL_RULES, 400)
    small = release(*args, seed=3)
    # Above DISTANCE_ROWS rows the filter searches within groups and the distances are measured
    # on a random subset: the same rows pass the same rules.
    monkeypatch.setattr(privacy, "DISTANCE_ROWS", 150)
    monkeypatch.setattr(release_module, "DISTANCE_ROWS", 150)
    large = release(*args, seed=3)
    pd.testing.assert_frame_equal(large.table, small.table)
    assert (large.drawn, large.rejected, large.rejected_by) == (
        small.drawn,
        small.rejected,
        small.rejected_by,
    )
    assert small.audit.distance_rows is None
    assert large.audit.distance_rows is not None
    assert large.audit.distance_rows.size == 150
    assert large.audit.to_members.size == 150
    assert large.audit.exact_match.size == 400
    # Counted on every row, so equal to the full measurement.
    assert large.measured["exact_match"] == small.measured["exact_match"]
    assert large.measured["close_records"] == small.measured["close_records"]
    assert large.measured["close_records"] <= 0.1
    full = nearest_distances(
        coordinates_of(trained.data.encoder, trained.reference.space, large.table),
        trained.reference.member_coordinates,
    ).numpy()
    radius = ALL_RULES[1].radius(trained.reference)
    assert large.measured["close_records"] == pytest.approx(float((full < radius).mean()))
    subset = small.audit.to_members[large.audit.distance_rows]
    np.testing.assert_allclose(large.audit.to_members, subset)


def accept_one_by_one(
    classes: np.ndarray,
    flags: dict[str, np.ndarray],
    quota: np.ndarray,
    used: dict[str, int],
    allowance: dict[str, int],
) -> tuple[np.ndarray, int, dict[str, int]]:
    """The filter's walk as first written: one row at a time over NumPy arrays."""
    accept = np.zeros(classes.size, dtype=bool)
    by = dict.fromkeys(flags, 0)
    by["any"] = examined = 0
    for row in range(classes.size):
        if quota[classes[row]] == 0:
            continue
        examined += 1
        broken = [k for k, f in flags.items() if f[row] and used[k] >= allowance[k]]
        if broken:
            by["any"] += 1
            for key in broken:
                by[key] += 1
            continue
        for key, flagged in flags.items():
            used[key] += int(flagged[row])
        quota[classes[row]] -= 1
        accept[row] = True
    return accept, examined, by


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    size=st.integers(0, 80),
    allowances=st.tuples(st.integers(0, 5), st.integers(0, 5)),
)
def test_accepting_rows_follows_the_row_by_row_walk(
    seed: int, size: int, allowances: tuple[int, int]
) -> None:
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, 3, size)
    flags = {"a": rng.random(size) < 0.3, "b": rng.random(size) < 0.2}
    quota = rng.integers(0, 30, 3)
    allowance = dict(zip(("a", "b"), allowances, strict=True))
    expected_quota, expected_used = quota.copy(), {"a": 1, "b": 0}
    expected = accept_one_by_one(classes, flags, expected_quota, expected_used, allowance)
    used = {"a": 1, "b": 0}
    accept, examined, by = _accept_rows(classes, flags, quota, used, allowance)
    np.testing.assert_array_equal(accept, expected[0])
    assert (examined, by) == expected[1:]
    np.testing.assert_array_equal(quota, expected_quota)
    assert used == expected_used
