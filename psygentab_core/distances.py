"""Record-to-record distances on a scaled, mixed-type space, and batched nearest-neighbour search.

Every column contributes at most about one unit, so no single wide column decides the distance
(the trap of Euclidean distance on raw numbers): a number enters as its empirical quantile in
[0, 1]; a categorical or binary level as a one-hot block scaled by 1/√2, so two different levels
are exactly 1 apart; an ordinal level as its rank scaled to [0, 1]; a missing value as a flag, one
unit away from any observed value. The map is differentiable, so the same distances serve as exact
measurements on real and released rows and as surrogates on generated (soft) rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from psygentab_core.encoding import ChoiceEncoder, NumericEncoder, TableEncoder
from psygentab_core.schema import ColumnKind

_INV_SQRT2 = 1.0 / math.sqrt(2.0)
# Pairs per block when searching neighbours: a 4 MB float32 block stays in cache; larger
# blocks ran at half the speed (memory traffic and page faults), smaller ones pay call overhead.
_PAIRS_PER_CHUNK = 1 << 20
# Pool rows per block (fewer when the pool is smaller): wide enough for an efficient matrix
# product, narrow enough that a block still spans a few hundred query rows.
_POOL_ROWS_PER_CHUNK = 4096
# Query rows whose exact float64 distances are recomputed at once (bounds (rows, k, d) float64).
_EXACT_ROWS_PER_CHUNK = 1 << 16


@dataclass(frozen=True, slots=True)
class DistanceSpace:
    """Index plan that maps encoded rows (features, target) to distance coordinates."""

    numeric_index: torch.Tensor  # positions of gaussian scores in the feature block
    flag_index: torch.Tensor  # positions of missing flags in the feature block
    flag_owner: torch.Tensor  # for each flag, its column's slot within numeric_index
    choice_index: torch.Tensor  # positions of unordered one-hot slots
    ordinal_ranks: torch.Tensor  # (feature_width, n_ordinal) rank weight per slot
    ordinal_missing_index: torch.Tensor  # positions of ordinal "missing" slots
    has_target: bool

    @property
    def dimension(self) -> int:
        """Number of distance coordinates of the feature block (target excluded)."""
        return (
            self.numeric_index.numel()
            + self.flag_index.numel()
            + self.choice_index.numel()
            + self.ordinal_ranks.shape[1]
            + self.ordinal_missing_index.numel()
        )


def distance_space(encoder: TableEncoder) -> DistanceSpace:
    """Build the distance plan for an encoder's layout."""
    numeric, flags, owners, choices, ordinal_missing = [], [], [], [], []
    rank_columns: list[list[tuple[int, float]]] = []
    position = 0
    for column in encoder.features:
        if isinstance(column, NumericEncoder):
            if column.has_missing:
                flags.append(position + 1)
                owners.append(len(numeric))
            numeric.append(position)
        elif isinstance(column, ChoiceEncoder) and column.kind is ColumnKind.ORDINAL:
            span = max(len(column.levels) - 1, 1)
            rank_columns.append([(position + k, k / span) for k in range(len(column.levels))])
            if column.has_missing:
                ordinal_missing.append(position + len(column.levels))
        else:
            choices.extend(range(position, position + column.width))
        position += column.width
    ranks = torch.zeros(position, len(rank_columns), dtype=torch.float64)
    for j, entries in enumerate(rank_columns):
        for slot, weight in entries:
            ranks[slot, j] = weight

    def index(values: list[int]) -> torch.Tensor:
        return torch.tensor(values, dtype=torch.long)

    return DistanceSpace(
        numeric_index=index(numeric),
        flag_index=index(flags),
        flag_owner=index(owners),
        choice_index=index(choices),
        ordinal_ranks=ranks,
        ordinal_missing_index=index(ordinal_missing),
        has_target=encoder.target is not None,
    )


def distance_coordinates(
    space: DistanceSpace, features: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """Map encoded rows (hard or soft) to distance coordinates; differentiable in ``features``."""
    scores = features[:, space.numeric_index]
    quantiles = 0.5 * (1.0 + torch.erf(scores * _INV_SQRT2))
    flags = features[:, space.flag_index]
    if flags.shape[1]:
        present = torch.ones_like(quantiles)
        present = present.index_copy(1, space.flag_owner, 1.0 - flags)
        quantiles = quantiles * present
    parts = [quantiles, flags, features[:, space.choice_index] * _INV_SQRT2]
    if space.ordinal_ranks.shape[1]:
        parts.append(features @ space.ordinal_ranks.to(features.dtype))
        parts.append(features[:, space.ordinal_missing_index])
    if space.has_target:
        parts.append(target * _INV_SQRT2)
    return torch.cat(parts, dim=1)


def nearest_distances(queries: torch.Tensor, pool: torch.Tensor) -> torch.Tensor:
    """Distance from every query row to its nearest row of ``pool`` (exact; see below)."""
    return k_nearest_distances(queries, pool, 1)[:, 0]


def k_nearest_distances(queries: torch.Tensor, pool: torch.Tensor, k: int) -> torch.Tensor:
    """Distances from every query row to its ``k`` nearest rows of ``pool``, ascending (n, k).

    The search runs in float32 over bounded blocks of pairs, so it scales to pools of millions
    of rows without an n×n matrix; the distances to the neighbours found are then recomputed
    exactly in float64, so a copied row is at distance 0, not at float32 rounding noise.
    """
    if pool.shape[0] < max(k, 1):
        raise ValueError(f"the nearest-neighbour search needs a pool of at least {max(k, 1)} rows")
    with torch.no_grad():
        index = _nearest_indices(queries.to(torch.float32), pool.to(torch.float32), k)
        exact = torch.empty(queries.shape[0], k, dtype=torch.float64)
        # In slices of rows: the neighbours' coordinates in float64 are (rows, k, d).
        for start in range(0, queries.shape[0], _EXACT_ROWS_PER_CHUNK):
            rows = slice(start, start + _EXACT_ROWS_PER_CHUNK)
            neighbours = pool[index[rows]].to(torch.float64)
            difference = queries[rows].to(torch.float64)[:, None, :] - neighbours
            exact[rows] = difference.pow(2).sum(dim=2).sqrt()
        return exact.sort(dim=1).values


def _nearest_indices(queries: torch.Tensor, pool: torch.Tensor, k: int) -> torch.Tensor:
    """Positions in ``pool`` of the ``k`` nearest rows of every query (float32 search).

    The selection runs in NumPy: its argmin along a row is vectorised, while torch's min and
    topk with indices took twenty times longer than the matrix product that fills the block.
    """
    n = queries.shape[0]
    pool_chunk = max(k, min(pool.shape[0], _POOL_ROWS_PER_CHUNK))
    query_chunk = max(1, _PAIRS_PER_CHUNK // pool_chunk)
    best = np.full((n, k), np.inf, dtype=np.float32)
    index = np.zeros((n, k), dtype=np.int64)
    for p0 in range(0, pool.shape[0], pool_chunk):
        part = pool[p0 : p0 + pool_chunk]
        part_sq = (part * part).sum(dim=1)
        part_t = part.T
        # One block buffer per pool chunk, reused for every query chunk: a fresh block per step
        # costs a page fault every 4 kB, which dominated the search on small tables.
        buffer = torch.empty(min(query_chunk, n), part.shape[0])
        for q0 in range(0, n, query_chunk):
            q = queries[q0 : q0 + query_chunk]
            block = buffer[: q.shape[0]]
            # |q|² is the same for every candidate of a query row, so ranking by |p|² − 2·q·p
            # finds the same neighbours with one pass less over the block.
            torch.addmm(part_sq, q, part_t, alpha=-2.0, out=block)
            values = block.numpy()
            rows = np.arange(q.shape[0])
            # The block's own best first (k argmin passes, each taking the winner out), then a
            # merge of at most 2k candidates per row.
            found = min(k, part.shape[0])
            local = np.empty((q.shape[0], found), dtype=np.float32)
            positions = np.empty((q.shape[0], found), dtype=np.int64)
            for j in range(found):
                position = values.argmin(axis=1)
                positions[:, j] = position
                local[:, j] = values[rows, position]
                if j + 1 < found:
                    values[rows, position] = np.inf
            span = slice(q0, q0 + q.shape[0])
            if k == 1:
                better = local[:, 0] < best[span, 0]
                best[span, 0] = np.where(better, local[:, 0], best[span, 0])
                index[span, 0] = np.where(better, positions[:, 0] + p0, index[span, 0])
            else:
                candidates = np.concatenate([best[span], local], axis=1)
                owners = np.concatenate([index[span], positions + p0], axis=1)
                order = np.argsort(candidates, axis=1, kind="stable")[:, :k]
                best[span] = np.take_along_axis(candidates, order, axis=1)
                index[span] = np.take_along_axis(owners, order, axis=1)
    return torch.from_numpy(index)


# Rows whose unit coordinates differ (see separated_groups) are at least this far apart.
GROUP_SEPARATION = 1.0
# Pairs of one group compared directly in float64 rather than through the blocked search.
_DIRECT_PAIRS = 8192


def separated_groups(space: DistanceSpace, coordinates: torch.Tensor) -> np.ndarray:
    """A label per hard row such that rows with different labels are at least
    ``GROUP_SEPARATION`` apart.

    The label hashes the unit coordinates: categorical and binary levels, missing flags, the
    ordinal "missing" slot and the target. Two hard rows that differ in any of them are at
    least one unit apart (two levels are exactly 1 apart, a flag adds 1), whatever their
    numbers. Rows with equal labels may still be far apart, and a hash collision only merges
    groups, so a search within groups never misses a neighbour closer than the separation.
    Soft (relaxed) rows have no such guarantee: this is for real and released rows only.
    """
    numeric = space.numeric_index.numel()
    flags_and_choices = space.flag_index.numel() + space.choice_index.numel()
    ordinal = space.ordinal_ranks.shape[1]
    width = coordinates.shape[1]
    unit = [
        *range(numeric, numeric + flags_and_choices),
        *range(numeric + flags_and_choices + ordinal, width),
    ]
    bits = (coordinates[:, unit] > 0).numpy()
    if bits.shape[1] == 0:
        return np.zeros(coordinates.shape[0], dtype=np.uint64)
    packed = np.packbits(bits, axis=1)
    return pd.util.hash_pandas_object(pd.DataFrame(packed), index=False).to_numpy()


def within_radius(
    queries: torch.Tensor,
    pool: torch.Tensor,
    radius: float,
    *,
    query_groups: np.ndarray | None = None,
    pool_groups: np.ndarray | None = None,
) -> np.ndarray:
    """Whether each query row has a row of ``pool`` strictly closer than ``radius``.

    With labels from :func:`separated_groups` and a radius within ``GROUP_SEPARATION``, only
    rows of the same group can qualify, so each query is compared with its own group only:
    exact, and at a million released rows thousands of times less work than a full search
    (which is what runs without labels, or for a wider radius).
    """
    if query_groups is None or pool_groups is None or radius > GROUP_SEPARATION:
        return nearest_distances(queries, pool).numpy() < radius
    flags = np.zeros(queries.shape[0], dtype=bool)
    query_order = np.argsort(query_groups, kind="stable")
    pool_order = np.argsort(pool_groups, kind="stable")
    query_sorted, pool_sorted = query_groups[query_order], pool_groups[pool_order]
    shared = np.intersect1d(query_sorted, pool_sorted)
    query_bounds = (
        np.searchsorted(query_sorted, shared, "left"),
        np.searchsorted(query_sorted, shared, "right"),
    )
    pool_bounds = (
        np.searchsorted(pool_sorted, shared, "left"),
        np.searchsorted(pool_sorted, shared, "right"),
    )
    with torch.no_grad():
        for group in range(shared.size):
            rows = query_order[query_bounds[0][group] : query_bounds[1][group]]
            members = pool_order[pool_bounds[0][group] : pool_bounds[1][group]]
            q, p = queries[torch.from_numpy(rows)], pool[torch.from_numpy(members)]
            if rows.size * members.size <= _DIRECT_PAIRS:
                difference = q.to(torch.float64)[:, None, :] - p.to(torch.float64)[None, :, :]
                nearest = difference.pow(2).sum(dim=2).amin(dim=1).sqrt()
            else:
                nearest = nearest_distances(q, p)
            flags[rows] = (nearest < radius).numpy()
    return flags


def soft_nearest_distances(queries: torch.Tensor, pool: torch.Tensor) -> torch.Tensor:
    """Differentiable nearest distance from each (generated) query row to a small pool.

    The nearest row is found without a graph (NumPy's argmin: torch's min with indices was the
    slowest part of a training step), then its distance is recomputed from the difference, which
    has the same gradient as the minimum and none of the expanded square's cancellation.
    """
    pool = pool.to(queries.dtype)
    with torch.no_grad():
        scores = torch.addmm((pool * pool).sum(dim=1), queries.detach(), pool.T, alpha=-2.0)
        nearest = torch.from_numpy(scores.numpy().argmin(axis=1))
    difference = queries - pool[nearest]
    # The epsilon keeps the gradient of sqrt finite when a generated row sits on a real one.
    return ((difference * difference).sum(dim=1) + 1e-12).sqrt()


def median_pairwise_distance(points: torch.Tensor, *, limit: int = 1000, seed: int = 0) -> float:
    """Median distance between two rows (on a random subset): the natural kernel bandwidth."""
    generator = torch.Generator().manual_seed(seed)
    if points.shape[0] > limit:
        points = points[torch.randperm(points.shape[0], generator=generator)[:limit]]
    distances = torch.cdist(points.double(), points.double())
    upper = distances[torch.triu(torch.ones_like(distances, dtype=torch.bool), diagonal=1)]
    median = float(upper.median()) if upper.numel() else 1.0
    return median if median > 0 else 1.0


def mmd_squared(x: torch.Tensor, y: torch.Tensor, bandwidth: float) -> torch.Tensor:
    """Unbiased squared maximum mean discrepancy between two samples (Gretton et al., 2012),
    with a sum of Gaussian kernels at 0.5, 1 and 2 times ``bandwidth``.

    Written for speed, as it is the largest single cost of a training step: squared distances
    come straight from one matrix product (no square root and square, whose backward pass was
    slow), the three kernels from one exponential (with u = exp(−s / 8b²) they are u, u⁴ and
    u¹⁶), and the y–y block, which no gradient reaches when ``y`` is data, is computed without
    building a graph.
    """
    y = y.to(x.dtype)
    n, m = x.shape[0], y.shape[0]
    scale = -1.0 / (8.0 * bandwidth**2)
    k_xx = _kernel_sum(_squared_distances(x, x), scale)
    k_xy = _kernel_sum(_squared_distances(x, y), scale)
    with torch.set_grad_enabled(torch.is_grad_enabled() and y.requires_grad):
        k_yy = _kernel_sum(_squared_distances(y, y), scale)
    within_x = (k_xx.sum() - k_xx.diagonal().sum()) / max(n * (n - 1), 1)
    within_y = (k_yy.sum() - k_yy.diagonal().sum()) / max(m * (m - 1), 1)
    return within_x + within_y - 2.0 * k_xy.mean()


def _squared_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """All squared distances between rows of ``a`` and ``b`` (clamped at 0 against rounding)."""
    squared = (a * a).sum(dim=1, keepdim=True) + (b * b).sum(dim=1) - 2.0 * a @ b.T
    return squared.clamp_min(0.0)


def _kernel_sum(squared: torch.Tensor, scale: float) -> torch.Tensor:
    """exp(s·scale) + its 4th power + its 16th power: Gaussian kernels at 2, 1 and 0.5 times
    the bandwidth when ``scale = −1 / 8b²``."""
    u = torch.exp(squared * scale)
    u4 = (u * u).square()
    return u + u4 + (u4 * u4).square()
