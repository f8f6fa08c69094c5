"""Tests for psygentab_core.split: one fixed, stratified split into members, reference, holdout."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from psygentab_core.errors import ConfigError, SchemaError
from psygentab_core.split import MIN_ROWS, Split, SplitConfig, split_rows

PARTS = ("members", "reference", "holdout")


def labelled(counts: dict[str, int], seed: int = 0) -> pd.DataFrame:
    """A shuffled table with ``counts[label]`` rows of each class and a row number column."""
    labels = np.repeat(list(counts), list(counts.values()))
    labels = np.random.default_rng(seed).permutation(labels)
    return pd.DataFrame({"row": np.arange(len(labels)), "outcome": labels})


def shares(config: SplitConfig) -> dict[str, float]:
    holdout, reference = config.holdout_fraction, config.reference_fraction
    return {"members": 1 - holdout - reference, "reference": reference, "holdout": holdout}


def assert_partition(split: Split, n: int) -> None:
    """Disjoint parts, sorted, covering every row exactly once."""
    rows = np.concatenate([getattr(split, part) for part in PARTS])
    assert np.array_equal(np.sort(rows), np.arange(n))
    for part in PARTS:
        assert np.all(np.diff(getattr(split, part)) > 0)


@pytest.fixture
def frame() -> pd.DataFrame:
    return labelled({"alive": 160, "dead": 37, "transferred": 3})


@pytest.mark.parametrize("target", [None, "outcome"])
@pytest.mark.parametrize("seed", [0, 1, 2024])
def test_parts_are_disjoint_and_cover_all_rows(
    frame: pd.DataFrame, target: str | None, seed: int
) -> None:
    split = split_rows(frame, SplitConfig(), target=target, seed=seed)
    assert_partition(split, len(frame))
    assert split.stratified_on == target


@pytest.mark.parametrize(
    "config",
    [
        SplitConfig(),
        SplitConfig(holdout_fraction=0.2, reference_fraction=0.2),
        SplitConfig(holdout_fraction=0.5, reference_fraction=0.05),
        SplitConfig(holdout_fraction=0.05, reference_fraction=0.5),
    ],
    ids=str,
)
@pytest.mark.parametrize(
    "counts",
    [
        {"alive": 160, "dead": 37, "transferred": 3},
        {"0": 805, "1": 195},
        {"a": 50, "b": 50, "c": 21, "d": 9},
    ],
    ids=lambda c: "-".join(map(str, c.values())),
)
def test_stratification_keeps_class_shares(config: SplitConfig, counts: dict[str, int]) -> None:
    frame = labelled(counts)
    split = split_rows(frame, config, target="outcome", seed=3)
    labels = frame["outcome"].to_numpy()
    for part, share in shares(config).items():
        in_part = pd.Series(labels[getattr(split, part)]).value_counts()
        for label, n in counts.items():
            # Within one row of the class's exact share of this part.
            assert abs(in_part.get(label, 0) - n * share) <= 1, (part, label)


@pytest.mark.parametrize("n_rare", [3, 4, 5, 7])
def test_rare_class_reaches_every_part(n_rare: int) -> None:
    frame = labelled({"common": 200, "rare": n_rare})
    for seed in range(5):
        split = split_rows(frame, SplitConfig(), target="outcome", seed=seed)
        for part in PARTS:
            assert "rare" in set(frame["outcome"].iloc[getattr(split, part)]), (seed, part)


@pytest.mark.parametrize("n_rare", [1, 2])
def test_class_too_small_to_split_is_kept_for_training(n_rare: int) -> None:
    frame = labelled({"common": 60, "rare": n_rare})
    split = split_rows(frame, SplitConfig(), target="outcome", seed=0)
    rare = set(np.flatnonzero(frame["outcome"] == "rare"))
    assert rare <= set(split.members)
    assert_partition(split, len(frame))


def test_unstratified_part_sizes() -> None:
    frame = pd.DataFrame({"x": np.arange(100)})
    split = split_rows(frame, SplitConfig(), target=None, seed=0)
    assert (len(split.members), len(split.reference), len(split.holdout)) == (55, 15, 30)


def test_missing_target_values_form_their_own_group() -> None:
    frame = labelled({"a": 40, "b": 40})
    frame.loc[:9, "outcome"] = None
    split = split_rows(frame, SplitConfig(), target="outcome", seed=0)
    assert_partition(split, len(frame))
    missing_in = {p: int(frame["outcome"].iloc[getattr(split, p)].isna().sum()) for p in PARTS}
    assert missing_in == {"members": 5, "reference": 2, "holdout": 3}


def test_same_seed_same_split(frame: pd.DataFrame) -> None:
    first = split_rows(frame, SplitConfig(), target="outcome", seed=42)
    second = split_rows(frame, SplitConfig(), target="outcome", seed=42)
    for part in PARTS:
        np.testing.assert_array_equal(getattr(first, part), getattr(second, part))


@pytest.mark.parametrize("target", [None, "outcome"])
def test_different_seed_different_split(frame: pd.DataFrame, target: str | None) -> None:
    first = split_rows(frame, SplitConfig(), target=target, seed=1)
    second = split_rows(frame, SplitConfig(), target=target, seed=2)
    assert not np.array_equal(first.holdout, second.holdout)
    assert not np.array_equal(first.members, second.members)
    assert len(first.holdout) == len(second.holdout)  # sizes depend on the data only


def test_split_does_not_depend_on_row_order_of_other_columns(frame: pd.DataFrame) -> None:
    # Only the target is read: other columns cannot move rows between parts.
    noisy = frame.assign(row=np.random.default_rng(9).normal(size=len(frame)))
    first = split_rows(frame, SplitConfig(), target="outcome", seed=5)
    second = split_rows(noisy, SplitConfig(), target="outcome", seed=5)
    np.testing.assert_array_equal(first.holdout, second.holdout)


@pytest.mark.parametrize("n", [0, 1, MIN_ROWS - 1])
def test_too_few_rows(n: int) -> None:
    frame = pd.DataFrame({"x": np.arange(n)})
    rows = "1 row" if n == 1 else f"{n} rows"
    with pytest.raises(SchemaError, match=f"The table has {rows}; at least {MIN_ROWS}"):
        split_rows(frame, SplitConfig(), target=None, seed=0)


def test_minimum_rows_is_enough() -> None:
    frame = pd.DataFrame({"x": np.arange(MIN_ROWS)})
    split = split_rows(frame, SplitConfig(), target=None, seed=0)
    assert_partition(split, MIN_ROWS)
    assert min(len(split.members), len(split.reference), len(split.holdout)) >= 1


def test_parts_returns_tables(frame: pd.DataFrame) -> None:
    split = split_rows(frame, SplitConfig(), target="outcome", seed=0)
    members, reference, holdout = split.parts(frame.set_index(frame.index + 1000))
    for table, part in zip((members, reference, holdout), PARTS, strict=True):
        assert table.index.equals(pd.RangeIndex(len(getattr(split, part))))
        assert table["row"].tolist() == getattr(split, part).tolist()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"holdout_fraction": 0}, "holdout_fraction must be between 0 and 1"),
        ({"holdout_fraction": 1}, "holdout_fraction must be between 0 and 1"),
        ({"holdout_fraction": -0.1}, "holdout_fraction must be between 0 and 1"),
        ({"reference_fraction": 0}, "reference_fraction must be between 0 and 1"),
        ({"reference_fraction": 1.5}, "reference_fraction must be between 0 and 1"),
        ({"holdout_fraction": 0.6, "reference_fraction": 0.35}, "at least 10%"),
        ({"holdout_fraction": 0.5, "reference_fraction": 0.45}, "at least 10%"),
    ],
)
def test_config_validation(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SplitConfig(**kwargs)


def test_config_defaults() -> None:
    config = SplitConfig()
    assert (config.holdout_fraction, config.reference_fraction) == (0.3, 0.15)
    with pytest.raises(TypeError):
        SplitConfig(0.3, 0.1)  # keyword-only


def test_split_dict_round_trip(frame: pd.DataFrame) -> None:
    split = split_rows(frame, SplitConfig(), target="outcome", seed=7)
    data = json.loads(json.dumps(split.to_dict()))
    assert data["stratified_on"] == "outcome"
    restored = Split.from_dict(data)
    assert restored.stratified_on == "outcome"
    for part in PARTS:
        np.testing.assert_array_equal(getattr(restored, part), getattr(split, part))
        assert getattr(restored, part).dtype == np.int64
    assert restored.to_dict() == split.to_dict()


@settings(max_examples=50, deadline=None)
@given(
    counts=st.lists(st.integers(1, 60), min_size=1, max_size=5).filter(lambda c: sum(c) >= 20),
    holdout=st.floats(0.05, 0.5),
    reference=st.floats(0.05, 0.35),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_split_is_a_partition(
    counts: list[int], holdout: float, reference: float, seed: int
) -> None:
    frame = labelled({f"class{i}": n for i, n in enumerate(counts)}, seed=seed)
    config = SplitConfig(holdout_fraction=holdout, reference_fraction=reference)
    split = split_rows(frame, config, target="outcome", seed=seed)
    assert_partition(split, len(frame))
    for label, n in frame["outcome"].value_counts().items():
        rows = set(np.flatnonzero(frame["outcome"] == label))
        in_parts = [len(rows & set(getattr(split, p))) for p in PARTS]
        if n >= 3:
            assert min(in_parts) >= 1  # every class with three rows reaches every part
        else:
            assert in_parts == [n, 0, 0]


def test_ten_percent_left_for_training_is_allowed() -> None:
    config = SplitConfig(holdout_fraction=0.5, reference_fraction=0.4)
    assert config.holdout_fraction + config.reference_fraction == pytest.approx(0.9)


def test_too_few_rows_says_what_to_do() -> None:
    with pytest.raises(SchemaError) as caught:
        split_rows(pd.DataFrame({"x": [1]}), SplitConfig(), target=None, seed=0)
    assert str(caught.value) == (
        f"The table has 1 row; at least {MIN_ROWS} are needed to split it into training, "
        f"reference and holdout rows. Use a table with at least {MIN_ROWS} rows (one per "
        "patient)."
    )
