"""The Chow-Liu stages: mutual information, the maximum spanning tree, the root and the stages."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import minimum_spanning_tree

from psygentab_core.dependencies import (
    column_codes,
    column_stages,
    entropy,
    maximum_spanning_tree,
    mutual_information_matrix,
    tree_depths,
)
from psygentab_core.encoding import Span, SpanKind


def test_mutual_information_known_answers() -> None:
    # Every pair of levels of a and b once: independent, so exactly 0. c copies a: MI = H(a).
    a, b = (np.array(v) for v in zip(*itertools.product(range(4), range(3)), strict=True))
    matrix = mutual_information_matrix(np.stack([a, b, a], axis=1))
    np.testing.assert_allclose(matrix[0, 1], 0.0, atol=1e-12)
    np.testing.assert_allclose(matrix[0, 2], np.log(4.0))
    np.testing.assert_allclose(matrix, matrix.T)
    assert entropy(np.array([0, 0, 1, 1])) == np.log(2.0)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 7), st.integers(0, 2**32 - 1))
def test_spanning_tree_has_the_maximum_weight(count: int, seed: int) -> None:
    weights = np.random.default_rng(seed).random((count, count))
    weights = (weights + weights.T) / 2
    np.fill_diagonal(weights, 0.0)
    edges = maximum_spanning_tree(weights)
    assert len(edges) == count - 1
    assert len({j for _, j in edges} | {0}) == count  # reaches every node
    # Every spanning tree has count - 1 edges, so the cheapest tree under (2 - w) is the heaviest.
    cost = np.where(np.eye(count, dtype=bool), 0.0, 2.0 - weights)
    cheapest = minimum_spanning_tree(cost).toarray()
    expected = (2.0 * (count - 1)) - cheapest.sum()
    np.testing.assert_allclose(sum(weights[i, j] for i, j in edges), expected)


def chain_rows(rows: int, links: int, seed: int) -> tuple[tuple[Span, ...], np.ndarray]:
    """One-hot rows of a Markov chain c0 -> c1 -> ... of three-level columns, each copying the
    one before with probability 0.9."""
    rng = np.random.default_rng(seed)
    codes = [rng.integers(0, 3, rows)]
    for _ in range(links):
        keep = rng.random(rows) < 0.9
        codes.append(np.where(keep, codes[-1], rng.integers(0, 3, rows)))
    spans = tuple(Span(f"c{k}", SpanKind.CHOICE, 3 * k, 3) for k in range(links + 1))
    features = np.zeros((rows, 3 * (links + 1)), dtype=np.float32)
    for k, code in enumerate(codes):
        features[np.arange(rows), 3 * k + code] = 1.0
    return spans, features


def test_a_chain_is_drawn_from_its_middle() -> None:
    spans, features = chain_rows(4000, links=4, seed=0)
    # Five columns in a chain, three stages: only the middle root loses no link.
    stages = column_stages(spans, features, stages=3, seed=0)
    assert stages == {"c0": 2, "c1": 1, "c2": 0, "c3": 1, "c4": 2}
    assert set(column_stages(spans, features, stages=1, seed=0).values()) == {0}
    # A longer chain than the stages allow: its ends share the last stage with their parents.
    spans, features = chain_rows(4000, links=6, seed=1)
    # Any root loses at least two links; one in the middle loses no more than that.
    stages = list(column_stages(spans, features, stages=3, seed=0).values())
    root = stages.index(0)
    assert stages.count(0) == 1
    assert 2 <= root <= 4
    assert stages[root - 1] == stages[root + 1] == 1
    assert stages.count(2) == 4


def test_depths_follow_the_tree() -> None:
    edges = [(0, 1), (1, 2), (1, 3)]
    np.testing.assert_array_equal(tree_depths(4, edges, root=1), [1, 0, 1, 1])
    np.testing.assert_array_equal(tree_depths(4, edges, root=2), [2, 1, 0, 2])


def test_numbers_are_binned_and_missing_gets_a_code_of_its_own() -> None:
    spans = (Span("x", SpanKind.GAUSSIAN, 0, 1), Span("x", SpanKind.FLAG, 1, 1))
    scores = np.linspace(-2, 2, 1000)
    missing = np.arange(1000) % 10 == 0
    features = np.stack([np.where(missing, 0.0, scores), missing.astype(float)], axis=1)
    columns, codes = column_codes(spans, features, rng=np.random.default_rng(0))
    assert columns == ("x",)
    assert set(codes[missing, 0]) == {16}
    present = codes[~missing, 0]
    assert present.min() == 0
    assert present.max() == 15
    assert np.all(np.diff(present) >= 0)  # bins follow the order of the scores
