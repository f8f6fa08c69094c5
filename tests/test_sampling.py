"""Class-rebalanced batches: the weights, their cap, and the stream of indices."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from psygentab_core.sampling import BatchOrder, class_weights, oversampling


def test_full_balance_draws_every_class_equally_often() -> None:
    counts = np.array([900, 100])
    weights = class_weights(counts, balance=1.0, cap=100.0)
    np.testing.assert_allclose(weights, [1.0, 9.0])
    # Half the draws each: the rare class 5 times as often as uniform, the common 5/9 as often.
    np.testing.assert_allclose(oversampling(counts, weights), [5 / 9, 5.0])


def test_square_root_balance() -> None:
    counts = np.array([900, 100])
    np.testing.assert_allclose(class_weights(counts, balance=0.5, cap=100.0), [1.0, 3.0])


def test_the_cap_stops_the_rebalancing_where_a_rare_row_reaches_it() -> None:
    counts = np.array([900, 100])
    weights = class_weights(counts, balance=1.0, cap=2.0)
    assert oversampling(counts, weights).max() == pytest.approx(2.0, abs=1e-6)
    # Mixing t of the way to weights (1, 9): 1000 (1 + 8t) / (1000 + 800t) = 2 gives t = 5/32.
    np.testing.assert_allclose(weights, [1.0, 1.0 + 8.0 * 5.0 / 32.0], rtol=1e-6)


@pytest.mark.parametrize(("balance", "cap"), [(0.0, 10.0), (1.0, 1.0), (1.0, 0.5)])
def test_no_rebalancing_without_balance_or_room_under_the_cap(balance: float, cap: float) -> None:
    np.testing.assert_array_equal(class_weights(np.array([90, 10]), balance=balance, cap=cap), 1)


def test_classes_without_rows_get_no_weight_and_one_class_is_left_alone() -> None:
    np.testing.assert_allclose(class_weights(np.array([90, 0, 10]), balance=1.0, cap=50), [1, 0, 9])
    np.testing.assert_array_equal(class_weights(np.array([0, 40]), balance=1.0, cap=50), [0, 1])


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.integers(1, 5000), min_size=2, max_size=5),
    balance=st.floats(0.0, 1.0),
    cap=st.floats(1.0, 50.0),
)
def test_no_class_is_ever_oversampled_past_the_cap(
    counts: list[int], balance: float, cap: float
) -> None:
    counts_array = np.array(counts)
    weights = class_weights(counts_array, balance=balance, cap=cap)
    assert oversampling(counts_array, weights).max() <= cap + 1e-6
    # Rarer classes never get less weight than commoner ones.
    order = np.argsort(counts_array, kind="stable")
    assert np.all(np.diff(weights[order]) <= 1e-9)


def test_without_rebalancing_each_pass_is_a_permutation() -> None:
    batches = BatchOrder(
        10, None, balance=0.5, max_passes=56, planned_draws=100, generator=torch.Generator()
    )
    assert batches.row_weights is None
    seen = torch.cat([batches.next_batch(5) for _ in range(2)])
    assert sorted(seen.tolist()) == list(range(10))


def test_a_small_table_is_not_rebalanced() -> None:
    labels = torch.tensor([0] * 95 + [1] * 5)
    # 60 passes planned, more than the cap of 56: no room to oversample.
    batches = BatchOrder(
        100, labels, balance=1.0, max_passes=56, planned_draws=6000, generator=torch.Generator()
    )
    assert batches.row_weights is None


def test_a_large_table_shows_its_rare_class_more_often_within_the_cap() -> None:
    labels = torch.tensor([0] * 9000 + [1] * 1000)
    generator = torch.Generator().manual_seed(0)
    # 10 passes planned, cap 40: the rare rows may be drawn 4 times as often.
    batches = BatchOrder(
        10_000, labels, balance=1.0, max_passes=40, planned_draws=100_000, generator=generator
    )
    drawn = torch.cat([batches.next_batch(500) for _ in range(200)])
    rare_share = float((labels[drawn] == 1).float().mean())
    assert rare_share == pytest.approx(0.4, abs=0.01)  # 4 × 10 %, not the data's 10 %
