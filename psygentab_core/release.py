"""The release filter: the last line of defence before a synthetic table leaves the tool.

Rows that break a record-level rule (an exact copy of a real patient's row; a row inside the
too-close radius once the allowed share of such rows is used up) are dropped and replaced by
fresh draws. Class quotas are kept exactly, so filtering never shifts the class balance.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from psygentab_core.constraints import (
    CloseRecordConstraint,
    Constraint,
    ExactMatchConstraint,
    violation,
)
from psygentab_core.distances import (
    distance_coordinates,
    nearest_distances,
    separated_groups,
    within_radius,
)
from psygentab_core.errors import ReleaseError
from psygentab_core.privacy import (
    DISTANCE_ROWS,
    PrivacyReference,
    SampleAudit,
    audit_sample,
    measured_subset,
    row_keys,
)
from psygentab_core.synthesizer import Synthesizer, class_counts, stratified_conditions

FILTERED = (ExactMatchConstraint, CloseRecordConstraint)
# Give up when this many rows have been drawn per requested row: the model is the problem then.
MAX_DRAWS_PER_ROW = 20


@dataclass(frozen=True, slots=True)
class ReleaseResult:
    """The released table, what the filter did, and every constraint measured on the release."""

    table: pd.DataFrame
    drawn: int
    rejected: int
    rejected_by: dict[str, int]
    measured: dict[str, float]
    satisfied: dict[str, bool]
    audit: SampleAudit = field(repr=False)

    @property
    def rejection_rate(self) -> float:
        """Share of generated rows the filter dropped."""
        return self.rejected / self.drawn if self.drawn else 0.0


def release(
    synthesizer: Synthesizer,
    reference: PrivacyReference,
    constraints: tuple[Constraint, ...],
    rows: int,
    *,
    seed: int,
    tolerance: float = 0.0,
    filtering: bool = True,
) -> ReleaseResult:
    """Draw ``rows`` rows that pass the record-level rules, and measure all constraints on them.

    With ``filtering=False`` (differential privacy) nothing is rejected: the filter reads the
    training rows outside the DP mechanism. The constraints are still measured, as an audit.

    Above ``DISTANCE_ROWS`` rows the filter checks each row against the training rows of its
    own group only (:func:`psygentab_core.distances.within_radius`, exact), and the measures that
    need every row's nearest-neighbour distances (closer-to-training share, composite score) are
    taken on ``DISTANCE_ROWS`` released rows drawn at random (``audit.distance_rows``); the
    exact-match and too-close shares are still counted on every row.
    """
    if rows < 1:
        raise ReleaseError(f"The number of rows to release must be at least 1; got {rows}.")
    generator = torch.Generator().manual_seed(seed)
    model = synthesizer.build_model()
    encoder = synthesizer.encoder
    filters = [c for c in constraints if isinstance(c, FILTERED)] if filtering else []
    allowance = {c.key: int(np.floor(c.threshold * rows)) for c in filters}
    used = dict.fromkeys(allowance, 0)
    rejected_by = dict.fromkeys(allowance, 0)
    shares = synthesizer.class_shares or (1.0,)
    quota = class_counts(shares, rows)
    large = rows > DISTANCE_ROWS
    # Large releases: flags of every record-level rule, kept for the accepted rows.
    flagging = [c for c in constraints if isinstance(c, FILTERED)] if large else []
    member_groups = (
        separated_groups(reference.space, reference.member_coordinates) if large else None
    )
    kept_features, kept_targets, kept_frames = [], [], []
    kept_flags: dict[str, list[np.ndarray]] = {c.key: [] for c in flagging}
    drawn = rejected = generated = 0
    while quota.sum() > 0:
        if generated >= MAX_DRAWS_PER_ROW * rows:
            raise ReleaseError(_too_many_rejections(drawn, rejected, rows, rejected_by))
        batch = int(min(max(256, 1.3 * quota.sum()), 200_000))
        target = stratified_conditions(
            encoder, tuple(quota / quota.sum()), batch, generator=generator
        )
        with torch.no_grad():
            features = model.sample(target, generator=generator, relaxed=False)
        generated += batch
        frame = encoder.decode(features.numpy(), target.numpy())
        coordinates = distance_coordinates(reference.space, features, target)
        keys = row_keys(frame, encoder.schema)
        if large:
            all_flags = {
                c.key: _record_flags(c, reference, coordinates, keys, member_groups)
                for c in flagging
            }
            flags = {c.key: all_flags[c.key] for c in filters}
        else:
            audit = audit_sample(reference, coordinates, keys)
            all_flags = {}
            flags = {c.key: c.flagged(audit, reference) for c in filters}
        classes = target.argmax(dim=1).numpy() if target.shape[1] else np.zeros(batch, dtype=int)
        accept, examined, broken_by = _accept_rows(classes, flags, quota, used, allowance)
        drawn += examined
        rejected += broken_by.pop("any")
        for key, count in broken_by.items():
            rejected_by[key] += count
        kept = torch.from_numpy(accept)
        kept_features.append(features[kept])
        kept_targets.append(target[kept])
        kept_frames.append(frame[accept])
        for key, values in all_flags.items():
            kept_flags[key].append(values[accept])
    features = torch.cat(kept_features)
    target = torch.cat(kept_targets)
    table = pd.concat(kept_frames, ignore_index=True)
    order = torch.randperm(rows, generator=generator)
    features, target = features[order], target[order]
    table = table.iloc[order.numpy()].reset_index(drop=True)
    if large:
        audit = _sampled_audit(reference, features, target, row_keys(table, encoder.schema), seed)
        measured = {c.key: c.measure(audit, reference) for c in constraints}
        # The record-level shares are counted on every released row, not the subset.
        for key, parts in kept_flags.items():
            measured[key] = float(np.concatenate(parts).mean())
    else:
        audit = audit_sample(
            reference,
            distance_coordinates(reference.space, features, target),
            row_keys(table, encoder.schema),
        )
        measured = {c.key: c.measure(audit, reference) for c in constraints}
    return ReleaseResult(
        table=table,
        drawn=drawn,
        rejected=rejected,
        rejected_by=rejected_by,
        measured=measured,
        satisfied={c.key: violation(c, measured[c.key]) <= tolerance for c in constraints},
        audit=audit,
    )


def _accept_rows(
    classes: np.ndarray,
    flags: dict[str, np.ndarray],
    quota: np.ndarray,
    used: dict[str, int],
    allowance: dict[str, int],
) -> tuple[np.ndarray, int, dict[str, int]]:
    """Walk a batch in order: a row of a class still short of its quota is examined, and kept
    unless it breaks a rule whose allowance is used up. Updates ``quota`` and ``used`` in place;
    returns the kept rows, the number examined and the rejections (``"any"``: rows rejected)."""
    accept = np.zeros(classes.size, dtype=bool)
    rejections = dict.fromkeys(flags, 0)
    rejections["any"] = 0
    examined = 0
    # Plain Python lists: indexing NumPy arrays one element at a time is several times slower,
    # and a million-row release walks over a million rows here.
    class_list = classes.tolist()
    flagged_rows = {key: np.flatnonzero(values).tolist() for key, values in flags.items()}
    flagged = {key: set(rows) for key, rows in flagged_rows.items()}
    any_flag = set().union(*flagged.values()) if flagged else set()
    remaining = quota.tolist()
    for row, label in enumerate(class_list):
        if remaining[label] == 0:
            continue  # a surplus draw for a class already complete: not examined
        examined += 1
        if row in any_flag:
            broken = [k for k in flagged if row in flagged[k] and used[k] >= allowance[k]]
            if broken:
                rejections["any"] += 1
                for key in broken:
                    rejections[key] += 1
                continue
            for key in flagged:
                used[key] += int(row in flagged[key])
        remaining[label] -= 1
        accept[row] = True
    quota[:] = remaining
    return accept, examined, rejections


def _record_flags(
    constraint: Constraint,
    reference: PrivacyReference,
    coordinates: torch.Tensor,
    keys: np.ndarray,
    member_groups: np.ndarray | None,
) -> np.ndarray:
    """Rows breaking one record-level rule, without a full nearest-neighbour search."""
    if isinstance(constraint, ExactMatchConstraint):
        return np.isin(keys, reference.real_keys)
    assert isinstance(constraint, CloseRecordConstraint)
    return within_radius(
        coordinates,
        reference.member_coordinates,
        constraint.radius(reference),
        query_groups=separated_groups(reference.space, coordinates),
        pool_groups=member_groups,
    )


def _sampled_audit(
    reference: PrivacyReference,
    features: torch.Tensor,
    target: torch.Tensor,
    keys: np.ndarray,
    seed: int,
) -> SampleAudit:
    """Copies and duplicates of every row; nearest-neighbour distances of a random subset."""
    subset = measured_subset(len(keys), seed=seed)
    chosen = np.arange(len(keys)) if subset is None else subset
    rows = torch.from_numpy(chosen)
    coordinates = distance_coordinates(reference.space, features[rows], target[rows])
    return SampleAudit(
        to_members=nearest_distances(coordinates, reference.member_coordinates).numpy(),
        to_reference=nearest_distances(coordinates, reference.reference_coordinates).numpy(),
        exact_match=np.isin(keys, reference.real_keys),
        duplicated=pd.Series(keys).duplicated(keep=False).to_numpy(),
        distance_rows=subset,
    )


def _too_many_rejections(drawn: int, rejected: int, rows: int, by: dict[str, int]) -> str:
    reasons = ", ".join(f"{count} by {key}" for key, count in by.items() if count)
    return (
        f"The release filter rejected {rejected} of {drawn} generated rows ({reasons}) before "
        f"reaching {rows} acceptable ones: the generator keeps producing copies of, or rows too "
        "close to, training patients. Train with the constraints switched on (or stricter), or "
        "allow a larger share of close rows."
    )
