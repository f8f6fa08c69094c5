"""Which columns the generator draws first: a Chow-Liu tree of the columns, cut into stages.

A variational autoencoder couples two columns only through its latent code, and it encodes a
column there only when that pays for the code's KL cost. Sharp pairwise structure then blurs:
on the COVID-19 tests each of 88 clinics has a nearly fixed order set and patient class, and a
code that used 3 of its 32 dimensions kept little of it. The generator therefore also draws its
columns in a few stages, each column's output depending directly on the columns of earlier stages
(:class:`psygentab_core.model.ConditionalVAE`). Which column comes before which follows the
maximum spanning tree of the pairwise mutual information (Chow & Liu, 1968), the tree that best
approximates the joint distribution by pairwise terms: a column's tree parent, its strongest
partner, always comes in an earlier stage unless the tree is deeper than the stages allow.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from psygentab_core.encoding import Span, SpanKind, span_columns

# Rows used to estimate the mutual information: enough for its ranking, cheap at a million rows.
MAX_ROWS = 5000
# Numbers are cut at their quantiles into this many bins.
NUMBER_BINS = 16


def column_codes(
    spans: tuple[Span, ...], features: np.ndarray, *, rng: np.random.Generator
) -> tuple[tuple[str, ...], np.ndarray]:
    """One integer code per row and column of encoded rows: the level of a one-hot block, the
    quantile bin of a number (missing as a bin of its own). Rows beyond ``MAX_ROWS`` are
    subsampled at random."""
    if features.shape[0] > MAX_ROWS:
        features = features[rng.choice(features.shape[0], MAX_ROWS, replace=False)]
    columns = span_columns(spans)
    codes = np.zeros((features.shape[0], len(columns)), dtype=np.int64)
    for span in spans:
        index = columns.index(span.column)
        block = features[:, span.start : span.stop]
        if span.kind is SpanKind.CHOICE:
            codes[:, index] = block.argmax(axis=1)
        elif span.kind is SpanKind.GAUSSIAN:
            edges = np.unique(np.quantile(block[:, 0], np.linspace(0, 1, NUMBER_BINS + 1)[1:-1]))
            codes[:, index] = np.searchsorted(edges, block[:, 0], side="right")
        else:  # the missing flag of the number before it: a bin past the number's bins
            codes[:, index] = np.where(block[:, 0] > 0.5, NUMBER_BINS, codes[:, index])
    return columns, codes


# Joint codes up to this many cells are counted with bincount, beyond it by sorting.
_BINCOUNT_CELLS = 1 << 16


def entropy(codes: np.ndarray, cells: int | None = None) -> float:
    """Plug-in entropy (nats) of non-negative integer codes, all below ``cells`` if given."""
    if cells is not None and cells <= _BINCOUNT_CELLS:
        counts = np.bincount(codes, minlength=cells)
    else:
        counts = np.unique(codes, return_counts=True)[1]
    shares = counts[counts > 0] / max(codes.size, 1)
    return float(-np.sum(shares * np.log(shares)))


def mutual_information_matrix(codes: np.ndarray) -> np.ndarray:
    """Symmetric matrix of the plug-in mutual information (nats) of the columns of ``codes``
    (non-negative integers), as H(a) + H(b) - H(a, b)."""
    count = codes.shape[1]
    levels = codes.max(axis=0) + 1 if codes.size else np.ones(count, dtype=np.int64)
    single = [entropy(codes[:, i], int(levels[i])) for i in range(count)]
    matrix = np.zeros((count, count))
    for i in range(count):
        for j in range(i + 1, count):
            cells = int(levels[i] * levels[j])
            joint = entropy(codes[:, i] * levels[j] + codes[:, j], cells)
            matrix[i, j] = matrix[j, i] = max(single[i] + single[j] - joint, 0.0)
    return matrix


def maximum_spanning_tree(weights: np.ndarray) -> list[tuple[int, int]]:
    """Edges (i, j) of a maximum spanning tree of a dense symmetric weight matrix (Prim)."""
    count = weights.shape[0]
    if count < 2:
        return []
    in_tree = np.zeros(count, dtype=bool)
    in_tree[0] = True
    best = weights[0].astype(float).copy()
    link = np.zeros(count, dtype=int)
    edges = []
    for _ in range(count - 1):
        candidates = np.where(in_tree, -np.inf, best)
        new = int(np.argmax(candidates))
        edges.append((int(link[new]), new))
        in_tree[new] = True
        closer = weights[new] > best
        best = np.where(closer, weights[new], best)
        link = np.where(closer, new, link)
    return edges


def tree_depths(count: int, edges: list[tuple[int, int]], root: int) -> np.ndarray:
    """Depth of every node of a tree below ``root`` (breadth first)."""
    neighbours: list[list[int]] = [[] for _ in range(count)]
    for i, j in edges:
        neighbours[i].append(j)
        neighbours[j].append(i)
    depth = np.full(count, -1)
    depth[root] = 0
    queue = deque([root])
    while queue:
        node = queue.popleft()
        for other in neighbours[node]:
            if depth[other] < 0:
                depth[other] = depth[node] + 1
                queue.append(other)
    return depth


def best_root(count: int, edges: list[tuple[int, int]], weights: np.ndarray, stages: int) -> int:
    """The root that keeps the most tree weight across stages: an edge whose child lies deeper
    than the last stage joins its parent there, and that dependency is left to the latent code.
    Ties go to the node whose edges carry the most weight (the hub)."""
    strength = np.zeros(count)
    for i, j in edges:
        strength[i] += weights[i, j]
        strength[j] += weights[i, j]
    best, best_key = 0, (-np.inf, -np.inf)
    for root in range(count):
        depth = tree_depths(count, edges, root)
        lost = sum(weights[i, j] for i, j in edges if max(depth[i], depth[j]) >= stages)
        key = (-lost, strength[root])
        if key > best_key:
            best, best_key = root, key
    return best


def column_stages(
    spans: tuple[Span, ...], features: np.ndarray, *, stages: int, seed: int
) -> dict[str, int]:
    """The stage (0 first) of every column of the encoded rows ``features``: its depth in the
    Chow-Liu tree, capped at ``stages - 1``. One stage puts every column in stage 0."""
    columns = span_columns(spans)
    if stages <= 1 or len(columns) < 2:
        return dict.fromkeys(columns, 0)
    _, codes = column_codes(spans, features, rng=np.random.default_rng(seed))
    weights = mutual_information_matrix(codes)
    edges = maximum_spanning_tree(weights)
    depths = tree_depths(len(columns), edges, best_root(len(columns), edges, weights, stages))
    return {column: int(min(d, stages - 1)) for column, d in zip(columns, depths, strict=True)}
