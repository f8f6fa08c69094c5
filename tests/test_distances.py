"""Distances: scaled so no column dominates, exact nearest neighbours in bounded memory."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from psygentab_core import distances
from psygentab_core.distances import (
    GROUP_SEPARATION,
    distance_coordinates,
    distance_space,
    k_nearest_distances,
    mmd_squared,
    nearest_distances,
    separated_groups,
    soft_nearest_distances,
    within_radius,
)
from psygentab_core.encoding import fit_encoder
from psygentab_core.privacy import coordinates_of
from psygentab_core.schema import infer_schema
from tests.tables import mixed_table


def coordinates(frame: pd.DataFrame, target: str | None = None) -> torch.Tensor:
    schema = infer_schema(frame, target=target)
    encoder = fit_encoder(schema, frame)
    return coordinates_of(encoder, distance_space(encoder), frame)


def test_a_wide_numeric_column_does_not_decide_the_distance() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "income": rng.normal(50_000, 20_000, 300).round(2),
            "age": rng.normal(50, 10, 300).round(1),
            "sex": rng.choice(["f", "m"], 300),
        }
    )
    points = coordinates(frame).numpy()
    # Each numeric coordinate is a quantile in [0, 1], whatever the column's unit.
    assert points[:, :2].min() >= 0
    assert points[:, :2].max() <= 1
    spread = points.max(axis=0) - points.min(axis=0)
    assert spread[0] == pytest.approx(spread[1], abs=0.02)


def test_two_different_levels_are_one_unit_apart() -> None:
    frame = pd.DataFrame({"ward": ["a", "b", "c", "a"], "x": [1.0, 1.0, 1.0, 1.0]})
    points = coordinates(frame)
    assert float(torch.dist(points[0], points[1])) == pytest.approx(1.0)
    assert float(torch.dist(points[0], points[3])) == pytest.approx(0.0)


def test_missing_is_a_unit_away_from_any_value() -> None:
    frame = pd.DataFrame({"bmi": [20.5, np.nan, 30.1, 25.2]})
    points = coordinates(frame)
    assert float(torch.dist(points[0], points[1])) >= 1.0
    assert float(torch.dist(points[0], points[2])) < 1.0


def test_ordinal_levels_are_ranked() -> None:
    frame = pd.DataFrame({"stage": [1, 2, 3, 4, 1, 2]})
    points = coordinates(frame)
    assert float(torch.dist(points[0], points[1])) < float(torch.dist(points[0], points[3]))


def test_target_counts_in_the_distance() -> None:
    frame = pd.DataFrame({"y": ["a", "b"] * 10, "x": [1.0] * 20})
    points = coordinates(frame, target="y")
    assert float(torch.dist(points[0], points[1])) == pytest.approx(1.0)


@settings(max_examples=30, deadline=None)
@given(
    queries=st.integers(1, 40),
    pool=st.integers(1, 60),
    dim=st.integers(1, 6),
    seed=st.integers(0, 10_000),
)
def test_chunked_search_equals_brute_force(queries: int, pool: int, dim: int, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    q = torch.rand(queries, dim, generator=generator)
    p = torch.rand(pool, dim, generator=generator)
    brute = torch.cdist(q.double(), p.double()).min(dim=1).values
    torch.testing.assert_close(nearest_distances(q, p), brute)
    # float32 with the expanded square: near-zero distances are exact to about sqrt(1e-7).
    torch.testing.assert_close(soft_nearest_distances(q, p).double(), brute, atol=1e-3, rtol=0)


def test_search_in_small_chunks_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    generator = torch.Generator().manual_seed(0)
    q, p = torch.rand(300, 4, generator=generator), torch.rand(5000, 4, generator=generator)
    expected = nearest_distances(q, p)
    monkeypatch.setattr(distances, "_PAIRS_PER_CHUNK", 4096)  # forces many pool and query chunks
    torch.testing.assert_close(nearest_distances(q, p), expected)


def test_identical_rows_are_at_distance_zero_within_rounding() -> None:
    points = torch.rand(500, 60, generator=torch.Generator().manual_seed(0))
    assert float(nearest_distances(points, points).max()) < 1e-6


def test_soft_coordinates_are_differentiable() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.5], "c": ["a", "b", "a"]})
    encoder = fit_encoder(infer_schema(frame), frame)
    space = distance_space(encoder)
    features = torch.from_numpy(encoder.encode(frame)[0]).requires_grad_(True)
    distance_coordinates(space, features, torch.zeros(3, 0)).sum().backward()
    assert features.grad is not None
    assert torch.isfinite(features.grad).all()


def test_k_nearest_with_a_last_pool_block_smaller_than_k(monkeypatch: pytest.MonkeyPatch) -> None:
    generator = torch.Generator().manual_seed(3)
    q, p = torch.rand(50, 3, generator=generator), torch.rand(2 * 16 + 2, 3, generator=generator)
    monkeypatch.setattr(distances, "_POOL_ROWS_PER_CHUNK", 16)  # blocks of 16, 16 and 2 rows
    monkeypatch.setattr(distances, "_PAIRS_PER_CHUNK", 64)
    brute = torch.cdist(q.double(), p.double()).topk(5, dim=1, largest=False).values
    torch.testing.assert_close(k_nearest_distances(q, p, 5), brute)


def test_soft_nearest_distances_have_the_gradient_of_the_minimum() -> None:
    generator = torch.Generator().manual_seed(4)
    q = torch.rand(30, 5, generator=generator, dtype=torch.float64).requires_grad_(True)
    p = torch.rand(200, 5, generator=generator, dtype=torch.float64)
    (grad,) = torch.autograd.grad(soft_nearest_distances(q, p).sum(), q)
    (expected,) = torch.autograd.grad(torch.cdist(q, p).min(dim=1).values.sum(), q)
    torch.testing.assert_close(grad, expected)


@pytest.mark.parametrize("bandwidth", [0.2, 1.0, 5.0])
def test_mmd_equals_the_textbook_estimate(bandwidth: float) -> None:
    generator = torch.Generator().manual_seed(5)
    x = torch.rand(40, 6, generator=generator, dtype=torch.float64).requires_grad_(True)
    y = torch.rand(30, 6, generator=generator, dtype=torch.float64)

    def kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        squared = torch.cdist(a, b).pow(2)
        return sum(torch.exp(-squared / (2 * (f * bandwidth) ** 2)) for f in (0.5, 1.0, 2.0))

    k_xx, k_yy = kernel(x, x), kernel(y, y)
    expected = (
        (k_xx.sum() - k_xx.diagonal().sum()) / (40 * 39)
        + (k_yy.sum() - k_yy.diagonal().sum()) / (30 * 29)
        - 2 * kernel(x, y).mean()
    )
    value = mmd_squared(x, y, bandwidth)
    torch.testing.assert_close(value, expected)
    (grad,) = torch.autograd.grad(value, x)
    (expected_grad,) = torch.autograd.grad(expected, x)
    torch.testing.assert_close(grad, expected_grad)


def test_mmd_of_two_samples_of_one_distribution_is_near_zero() -> None:
    generator = torch.Generator().manual_seed(6)
    same = mmd_squared(
        torch.randn(300, 4, generator=generator), torch.randn(300, 4, generator=generator), 1.0
    )
    shifted = mmd_squared(
        torch.randn(300, 4, generator=generator),
        torch.randn(300, 4, generator=generator) + 1.0,
        1.0,
    )
    assert abs(float(same)) < 0.02 < float(shifted)


def hard_rows(rows: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, object]:
    """Coordinates of two real samples of the mixed table (every kind, missing values)."""
    frame = mixed_table(rows * 2, seed=seed)
    schema = infer_schema(frame, target="outcome")
    encoder = fit_encoder(schema, frame)
    space = distance_space(encoder)
    first, second = frame.iloc[:rows], frame.iloc[rows:]
    return coordinates_of(encoder, space, first), coordinates_of(encoder, space, second), space


def test_rows_of_different_groups_are_at_least_the_separation_apart() -> None:
    queries, pool, space = hard_rows(150, seed=1)
    query_groups = separated_groups(space, queries)
    pool_groups = separated_groups(space, pool)
    apart = query_groups[:, None] != pool_groups[None, :]
    distances_between = torch.cdist(queries.double(), pool.double()).numpy()
    assert apart.any()
    assert (~apart).any()
    assert distances_between[apart].min() >= GROUP_SEPARATION - 1e-9


@pytest.mark.parametrize("direct_pairs", [0, 8192])  # blocked search in each group, or direct
@pytest.mark.parametrize("quantile", [0.05, 0.3, 0.9])
def test_grouped_radius_search_equals_the_full_search(
    quantile: float, direct_pairs: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(distances, "_DIRECT_PAIRS", direct_pairs)
    queries, pool, space = hard_rows(200, seed=2)
    # A copied row must be found too: it sits at distance 0.
    queries = torch.cat([queries, pool[:5]])
    full = nearest_distances(queries, pool).numpy()
    radius = float(np.quantile(full, quantile))
    assert radius <= GROUP_SEPARATION
    grouped = within_radius(
        queries,
        pool,
        radius,
        query_groups=separated_groups(space, queries),
        pool_groups=separated_groups(space, pool),
    )
    np.testing.assert_array_equal(grouped, full < radius)
    assert grouped[-5:].all() or radius == 0


def test_radius_search_without_groups_or_beyond_the_separation_is_a_full_search() -> None:
    queries, pool, space = hard_rows(80, seed=3)
    full = nearest_distances(queries, pool).numpy()
    groups = {
        "query_groups": separated_groups(space, queries),
        "pool_groups": separated_groups(space, pool),
    }
    np.testing.assert_array_equal(within_radius(queries, pool, 1.5, **groups), full < 1.5)
    np.testing.assert_array_equal(within_radius(queries, pool, 0.4), full < 0.4)
