"""Privacy yardsticks read from real rows, and exact record-level measurements on a sample.

The yardsticks come from the *reference* rows: real patients the generator never trains on, kept
apart from both the training rows (members) and the evaluation holdout. Measuring the training
constraints against the holdout would tune the generator on the very rows that later judge it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from psygentab_core.distances import (
    DistanceSpace,
    distance_coordinates,
    distance_space,
    nearest_distances,
)
from psygentab_core.encoding import TableEncoder, as_numbers, canonical_value
from psygentab_core.schema import TableSchema

# Distances within this are equal: the float64 search is exact to about 1e-7 on unit-scale rows.
TIE_TOLERANCE = 1e-6
# Rows whose nearest-neighbour distances are measured when a distribution of them is all that
# is needed (the spacing of reference rows, the share of released rows nearer the members than
# the holdout). Every row of the set searched in still counts; a random subset of this many
# rows searched from estimates a share to within about a percentage point (95 %), and keeps a
# million-row table from needing a million full searches. Smaller sets are measured whole.
DISTANCE_ROWS = 20_000


def measured_subset(size: int, *, seed: int, limit: int | None = None) -> np.ndarray | None:
    """Sorted positions of a random subset of ``limit`` (default ``DISTANCE_ROWS``) rows out of
    ``size``; None (every row) when there are no more than ``limit``."""
    limit = DISTANCE_ROWS if limit is None else limit
    if size <= limit:
        return None
    return np.sort(np.random.default_rng(seed).choice(size, limit, replace=False))


def canonical_columns(
    frame: pd.DataFrame | Mapping[str, pd.Series], schema: TableSchema
) -> dict[str, np.ndarray]:
    """Modelled columns with values normalised so that equal values compare equal.

    Numbers (and dates, as days) become floats, so 1, 1.0 and "1" read from a CSV meet; levels
    become a typed text key; missing becomes one sentinel. ``frame`` may be a table or the
    columns of one by name (:meth:`TableEncoder.decode_columns`).
    """
    columns = {}
    for spec in schema.modelled:
        values = frame[spec.name]
        if spec.kind.is_numeric:
            numbers = as_numbers(values, spec.kind, spec.datetime_format)
            columns[spec.name] = np.where(np.isnan(numbers), np.inf, np.round(numbers, 9))
        else:
            # Canonicalise each distinct value once, not every cell.
            codes, uniques = pd.factorize(values, use_na_sentinel=True)
            keys = np.array(
                [repr(canonical_value(v)) for v in uniques] + ["\x00missing"], dtype=object
            )
            columns[spec.name] = keys[codes]
    return columns


# Mixing of the column hashes into a row key (the constants of Python's former tuple hash).
_KEY_SEED = np.uint64(0x345678)
_KEY_MULTIPLIER = np.uint64(1_000_003)


def row_keys(frame: pd.DataFrame | Mapping[str, pd.Series], schema: TableSchema) -> np.ndarray:
    """A 64-bit hash of every row's canonical values (equal rows, equal keys).

    Each column is hashed as an array and the hashes mixed in order, with no frame built of
    them: pandas would first convert the text keys to its string type, which was most of the
    cost of an epoch's measurement on a small table.
    """
    keys = None
    for values in canonical_columns(frame, schema).values():
        hashed = pd.util.hash_array(values)
        keys = (np.full_like(hashed, _KEY_SEED) if keys is None else keys) ^ hashed
        keys *= _KEY_MULTIPLIER
    if keys is None:
        raise ValueError("the schema models no columns: rows have no values to key")
    return keys


@dataclass(frozen=True, slots=True)
class PrivacyReference:
    """Everything the constraints need to know about the real rows, computed once per run."""

    space: DistanceSpace
    member_coordinates: torch.Tensor
    reference_coordinates: torch.Tensor
    member_keys: np.ndarray  # sorted unique row keys of the members
    # Sorted unique row keys of the members and the reference rows. A released row identical to
    # a reference patient discloses that patient's whole record just as a copy of a member
    # would, so the exact-copy rule checks both.
    real_keys: np.ndarray
    # Nearest-member distance of every reference row (of DISTANCE_ROWS of them, drawn at
    # random, when there are more), sorted.
    reference_to_members: np.ndarray
    # Typical distance between a real patient and the nearest training patient: the median of
    # the positive reference_to_members (1 if none). Every surrogate of every step reads it.
    scale: float = field(init=False)
    # Quantiles asked for so far: a radius is read by every surrogate of every step.
    _quantiles: dict[float, float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        positive = self.reference_to_members[self.reference_to_members > 0]
        object.__setattr__(self, "scale", float(np.median(positive)) if positive.size else 1.0)
        object.__setattr__(self, "_quantiles", {})

    def distance_quantile(self, q: float) -> float:
        """The q-quantile of reference→members nearest-neighbour distances."""
        if q not in self._quantiles:
            self._quantiles[q] = float(np.quantile(self.reference_to_members, q))
        return self._quantiles[q]


def build_reference(
    encoder: TableEncoder,
    members: pd.DataFrame,
    reference: pd.DataFrame,
) -> PrivacyReference:
    """Encode members and reference rows into the distance space and measure their spacing."""
    space = distance_space(encoder)
    member_coordinates = coordinates_of(encoder, space, members)
    reference_coordinates = coordinates_of(encoder, space, reference)
    # Only the distribution of these distances is used (a median, low quantiles).
    subset = measured_subset(len(reference_coordinates), seed=0)
    queries = reference_coordinates if subset is None else reference_coordinates[subset]
    distances = nearest_distances(queries, member_coordinates).numpy()
    member_keys = row_keys(members, encoder.schema)
    return PrivacyReference(
        space=space,
        member_coordinates=member_coordinates,
        reference_coordinates=reference_coordinates,
        member_keys=np.unique(member_keys),
        real_keys=np.unique(np.concatenate([member_keys, row_keys(reference, encoder.schema)])),
        reference_to_members=np.sort(distances),
    )


def coordinates_of(
    encoder: TableEncoder, space: DistanceSpace, frame: pd.DataFrame
) -> torch.Tensor:
    """Distance coordinates of real or released rows."""
    features, target = encoder.encode(frame)
    return distance_coordinates(space, torch.from_numpy(features), torch.from_numpy(target))


@dataclass(frozen=True, slots=True)
class SampleAudit:
    """Per-row privacy facts about a synthetic sample, against members and reference rows."""

    to_members: np.ndarray  # distance to the nearest member
    to_reference: np.ndarray  # distance to the nearest reference row
    exact_match: np.ndarray  # identical to a member or reference row after normalisation
    duplicated: np.ndarray  # identical to another synthetic row
    # Positions of the rows the two distance arrays describe, when they cover a random subset
    # of a large sample (see DISTANCE_ROWS); None when they cover every row. The exact-match and
    # duplicate flags always cover every row.
    distance_rows: np.ndarray | None = None

    @property
    def size(self) -> int:
        """Number of synthetic rows audited."""
        return int(self.exact_match.size)


def audit_sample(
    reference: PrivacyReference, coordinates: torch.Tensor, keys: np.ndarray
) -> SampleAudit:
    """Measure a synthetic sample, given its distance coordinates and row keys."""
    to_members = nearest_distances(coordinates, reference.member_coordinates).numpy()
    return SampleAudit(
        to_members=to_members,
        to_reference=nearest_distances(coordinates, reference.reference_coordinates).numpy(),
        exact_match=np.isin(keys, reference.real_keys),
        duplicated=pd.Series(keys).duplicated(keep=False).to_numpy(),
    )


def closer_to_members_share(
    to_members: np.ndarray, to_non_members: np.ndarray, *, members: int, non_members: int
) -> float:
    """Share of synthetic rows nearer the members than the non-members, as for equal-size sets.

    The raw share (ties count half) depends on the sizes: with more members than non-members a
    fresh real patient is more often nearest a member. See :func:`equal_size_share`.
    """
    ties = np.abs(to_members - to_non_members) <= TIE_TOLERANCE
    raw = float(((to_members < to_non_members) & ~ties).mean() + 0.5 * ties.mean())
    return float(equal_size_share(raw, members=members, non_members=non_members))


def equal_size_share(raw: Any, *, members: int, non_members: int) -> Any:
    """Map the raw nearer-a-member share to the share equal-size sets would give.

    For a row unrelated to the training rows, the nearest of the N + M real rows is a member
    with probability π = N / (N + M) (all are draws from one population). If a fraction c of
    synthetic rows instead sit nearest their training row, the raw share is c + (1 − c)·π, and
    with equal sets it would be c + (1 − c)/2. This map recovers the latter: 0.5 for rows that
    leave no trace, 1 for copies. Subsampling members to M rows instead would hide all copies of
    the members left out, diluting the signal by M / N. Works on floats and tensors alike.
    """
    chance = members / (members + non_members)
    above = 0.5 + 0.5 * (raw - chance) / (1.0 - chance)
    below = 0.5 * raw / chance
    if isinstance(raw, torch.Tensor):
        return torch.where(raw >= chance, above, below)
    return above if raw >= chance else below


def composite_privacy_score(
    to_members: np.ndarray,
    flagged: np.ndarray,
    reference_to_members: np.ndarray,
    *,
    weights: tuple[float, float, float] = (0.5, 0.3, 0.2),
) -> float:
    """The source paper's composite privacy score P in [0, 1] (1 = as private as fresh patients).

    P = 0.5·DCR + 0.3·tail + 0.2·uniqueness, where DCR = min(1, median synthetic→member distance /
    median reference→member distance), tail = the same ratio at the 5 % quantile (how close the
    closest synthetic rows come), and uniqueness = 1 − the share of synthetic rows that copy a
    member or another synthetic row.
    """
    dcr = _capped_ratio(np.median(to_members), np.median(reference_to_members))
    tail = _capped_ratio(np.quantile(to_members, 0.05), np.quantile(reference_to_members, 0.05))
    uniqueness = 1.0 - float(np.mean(flagged))
    w_dcr, w_tail, w_unique = weights
    return float(w_dcr * dcr + w_tail * tail + w_unique * uniqueness)


def _capped_ratio(value: float, baseline: float) -> float:
    if baseline <= 0:
        return 1.0
    return float(min(1.0, value / baseline))


def closer_share_against(
    coordinates: torch.Tensor,
    member_coordinates: torch.Tensor,
    non_member_coordinates: torch.Tensor,
    *,
    seed: int = 0,
) -> float:
    """Equal-size closer-to-members share of synthetic rows against any set of non-members
    (of ``DISTANCE_ROWS`` synthetic rows drawn at random, when there are more)."""
    subset = measured_subset(len(coordinates), seed=seed)
    if subset is not None:
        coordinates = coordinates[torch.from_numpy(subset)]
    return closer_to_members_share(
        nearest_distances(coordinates, member_coordinates).numpy(),
        nearest_distances(coordinates, non_member_coordinates).numpy(),
        members=len(member_coordinates),
        non_members=len(non_member_coordinates),
    )
