"""The release filter: the last line of defence before a synthetic table leaves the tool.

Rows that break a record-level rule (an exact copy of a training row; a row inside the
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
from psygentab_core.distances import distance_coordinates
from psygentab_core.errors import ReleaseError
from psygentab_core.privacy import PrivacyReference, SampleAudit, audit_sample, row_keys
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
    kept_features, kept_targets, kept_frames = [], [], []
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
        audit = audit_sample(
            reference,
            distance_coordinates(reference.space, features, target),
            row_keys(frame, encoder.schema),
        )
        flags = {c.key: c.flagged(audit, reference) for c in filters}
        classes = target.argmax(dim=1).numpy() if target.shape[1] else np.zeros(batch, dtype=int)
        accept = np.zeros(batch, dtype=bool)
        for row in range(batch):
            if quota[classes[row]] == 0:
                continue  # a surplus draw for a class already complete: not examined
            drawn += 1
            broken = [k for k, f in flags.items() if f[row] and used[k] >= allowance[k]]
            if broken:
                rejected += 1
                for key in broken:
                    rejected_by[key] += 1
                continue
            for key, flagged in flags.items():
                used[key] += int(flagged[row])
            quota[classes[row]] -= 1
            accept[row] = True
        kept = torch.from_numpy(accept)
        kept_features.append(features[kept])
        kept_targets.append(target[kept])
        kept_frames.append(frame[accept])
    features = torch.cat(kept_features)
    target = torch.cat(kept_targets)
    table = pd.concat(kept_frames, ignore_index=True)
    order = torch.randperm(rows, generator=generator)
    features, target = features[order], target[order]
    table = table.iloc[order.numpy()].reset_index(drop=True)
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


def _too_many_rejections(drawn: int, rejected: int, rows: int, by: dict[str, int]) -> str:
    reasons = ", ".join(f"{count} by {key}" for key, count in by.items() if count)
    return (
        f"The release filter rejected {rejected} of {drawn} generated rows ({reasons}) before "
        f"reaching {rows} acceptable ones: the generator keeps producing copies of, or rows too "
        "close to, training patients. Train with the constraints switched on (or stricter), or "
        "allow a larger share of close rows."
    )
