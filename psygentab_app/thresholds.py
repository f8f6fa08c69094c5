"""What real patients the generator never sees score on each constraint, for the hints on the
thresholds page; the expensive part (the distances) is computed once per table and schema."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from psygentab_app.session import Session
from psygentab_core import TableSchema, validate_schema
from psygentab_core.encoding import TableEncoder
from psygentab_core.privacy import PrivacyReference, build_reference
from psygentab_core.split import SplitConfig
from psygentab_core.training import (
    prepare_data,
    stricter_than_unseen,
    unseen_patient_levels,
)


@dataclass(frozen=True, slots=True)
class ReferenceDistances:
    """Training rows, unseen reference rows and their distances for one table and schema."""

    fingerprint: str
    schema: TableSchema
    split: SplitConfig
    reference: PrivacyReference
    encoder: TableEncoder
    reference_rows: pd.DataFrame


def unseen_levels(session: Session) -> dict[str, tuple[float, bool]]:
    """Per constraint key, the level unseen real patients reach with today's thresholds, and
    whether the threshold is stricter than that."""
    config = session.constraint_config()
    cached = session.reference_distances
    if not (
        isinstance(cached, ReferenceDistances)
        and cached.fingerprint == session.dataset.fingerprint
        and cached.schema == session.schema
        and cached.split == config.split
    ):
        validate_schema(session.schema, session.dataset.frame)
        data = prepare_data(session.dataset.frame, session.schema, config)
        cached = ReferenceDistances(
            fingerprint=session.dataset.fingerprint,
            schema=session.schema,
            split=config.split,
            reference=build_reference(data.encoder, data.members, data.reference),
            encoder=data.encoder,
            reference_rows=data.reference,
        )
        session.reference_distances = cached
    levels = unseen_patient_levels(
        session.constraints, cached.reference, cached.encoder, cached.reference_rows
    )
    rows = len(cached.reference_rows)
    return {
        c.key: (levels[c.key], stricter_than_unseen(c, levels[c.key], reference_rows=rows))
        for c in session.constraints
        if c.key in levels
    }
