"""The privacy constraints a user sets, each as ``measured <= threshold`` (or ``>=``).

Every constraint has three faces: a plain-language sentence for the user, an exact measurement
on a full synthetic sample (which drives the multipliers and penalties), and a differentiable
surrogate on a generated batch (which drives the gradient). Both faces estimate the same quantity,
so ``surrogate - threshold`` and ``measured - threshold`` are the same violation seen two ways.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, ClassVar

import numpy as np
import torch

from psygentab_core.errors import ConfigError
from psygentab_core.privacy import (
    PrivacyReference,
    SampleAudit,
    closer_to_members_share,
    composite_privacy_score,
    equal_size_share,
)


class Sense(StrEnum):
    """Direction of a constraint."""

    AT_MOST = "at most"
    AT_LEAST = "at least"


@dataclass(frozen=True, slots=True)
class BatchDistances:
    """Differentiable nearest distances of a generated batch to the real rows."""

    to_members: torch.Tensor  # to a random pool of members
    to_reference: torch.Tensor  # to a pool of reference rows
    member_pool: int  # rows in each pool, for the equal-size correction
    reference_pool: int


def soft_below(distances: torch.Tensor, threshold: float, temperature: float) -> torch.Tensor:
    """Smooth indicator of ``distance < threshold``: 1/2 at the threshold, sharper as T → 0."""
    return torch.sigmoid((threshold - distances) / temperature)


def _check_fraction(name: str, value: float, *, low: float = 0.0, high: float = 1.0) -> None:
    if not (low <= value <= high) or not np.isfinite(value):
        raise ConfigError(f"{name} must be between {low:g} and {high:g}; got {value!r}.")


@dataclass(frozen=True, slots=True, kw_only=True)
class ExactMatchConstraint:
    """1. Synthetic rows identical to a real patient's row (a training member or a reference
    row held back to measure privacy): at most ``max_share`` (default none)."""

    max_share: float = 0.0
    key: ClassVar[str] = "exact_match"
    label: ClassVar[str] = "Exact copies of real patients"
    sense: ClassVar[Sense] = Sense.AT_MOST

    def __post_init__(self) -> None:
        _check_fraction("exact_match.max_share", self.max_share)

    @property
    def threshold(self) -> float:
        """Largest allowed share of copies."""
        return self.max_share

    def describe(self, reference: PrivacyReference | None = None) -> str:
        """The rule in plain words."""
        if self.max_share == 0:
            return (
                "No synthetic patient may be an exact copy of a real patient the tool read "
                "(training or privacy reference)."
            )
        return (
            f"At most {self.max_share:.1%} of synthetic patients may be exact copies of a real "
            "patient the tool read (training or privacy reference)."
        )

    def flagged(self, audit: SampleAudit, reference: PrivacyReference) -> np.ndarray:
        """Rows that count against the constraint."""
        return audit.exact_match

    def measure(self, audit: SampleAudit, reference: PrivacyReference) -> float:
        """Share of synthetic rows identical to a member or reference row."""
        return float(np.mean(self.flagged(audit, reference)))

    def surrogate(self, batch: BatchDistances, reference: PrivacyReference) -> torch.Tensor:
        """Soft share of generated rows sitting (almost) on a training row."""
        scale = reference.scale
        return soft_below(batch.to_members, 0.05 * scale, 0.02 * scale).mean()


@dataclass(frozen=True, slots=True, kw_only=True)
class CloseRecordConstraint:
    """2. At most ``max_share`` of synthetic rows closer to a training row than the
    ``quantile``-quantile of real non-member→training nearest-neighbour distances."""

    max_share: float = 0.05
    quantile: float = 0.05
    key: ClassVar[str] = "close_records"
    label: ClassVar[str] = "Synthetic patients unusually close to a training patient"
    sense: ClassVar[Sense] = Sense.AT_MOST

    def __post_init__(self) -> None:
        _check_fraction("close_records.max_share", self.max_share)
        _check_fraction("close_records.quantile", self.quantile, low=0.001, high=0.5)

    @property
    def threshold(self) -> float:
        """Largest allowed share of too-close rows."""
        return self.max_share

    def radius(self, reference: PrivacyReference) -> float:
        """The distance under which a synthetic row counts as too close."""
        return reference.distance_quantile(self.quantile)

    def describe(self, reference: PrivacyReference | None = None) -> str:
        """The rule in plain words."""
        return (
            f"At most {self.max_share:.1%} of synthetic patients may sit closer to a real "
            f"training patient than the closest {self.quantile:.0%} of real, unseen patients do."
        )

    def flagged(self, audit: SampleAudit, reference: PrivacyReference) -> np.ndarray:
        """Rows that count against the constraint."""
        return audit.to_members < self.radius(reference)

    def measure(self, audit: SampleAudit, reference: PrivacyReference) -> float:
        """Share of synthetic rows inside the radius of some training row."""
        return float(np.mean(self.flagged(audit, reference)))

    def surrogate(self, batch: BatchDistances, reference: PrivacyReference) -> torch.Tensor:
        """Soft share of generated rows inside the radius."""
        temperature = 0.1 * reference.scale
        return soft_below(batch.to_members, self.radius(reference), temperature).mean()


@dataclass(frozen=True, slots=True, kw_only=True)
class MembershipShareConstraint:
    """3. Share of synthetic rows closer to the training rows than to as many unseen real rows:
    at most ``0.5 + max_excess`` (the sizes of the two sets are corrected for, not subsampled)."""

    max_excess: float = 0.05
    key: ClassVar[str] = "closer_to_training"
    label: ClassVar[str] = "Synthetic patients closer to training than to unseen patients"
    sense: ClassVar[Sense] = Sense.AT_MOST

    def __post_init__(self) -> None:
        _check_fraction("closer_to_training.max_excess", self.max_excess, high=0.5)

    @property
    def threshold(self) -> float:
        """Largest allowed share (0.5 is what a generator that never saw the rows gets)."""
        return 0.5 + self.max_excess

    def describe(self, reference: PrivacyReference | None = None) -> str:
        """The rule in plain words."""
        return (
            f"At most {self.threshold:.0%} of synthetic patients may resemble the training "
            "patients more than they resemble as many real patients the generator never saw "
            "(50% means the training patients leave no trace)."
        )

    def measure(self, audit: SampleAudit, reference: PrivacyReference) -> float:
        """Share of synthetic rows nearer the members than the reference rows (ties count half)."""
        return closer_to_members_share(
            audit.to_members,
            audit.to_reference,
            members=len(reference.member_coordinates),
            non_members=len(reference.reference_coordinates),
        )

    def surrogate(self, batch: BatchDistances, reference: PrivacyReference) -> torch.Tensor:
        """Soft share; the reference side is detached so that no gradient pulls rows toward it."""
        temperature = 0.1 * reference.scale
        margin = batch.to_reference.detach() - batch.to_members
        raw = torch.sigmoid(margin / temperature).mean()
        return equal_size_share(raw, members=batch.member_pool, non_members=batch.reference_pool)


@dataclass(frozen=True, slots=True, kw_only=True)
class CompositePrivacyConstraint:
    """4. The source paper's composite privacy score: P at least ``min_score``."""

    min_score: float = 0.8
    key: ClassVar[str] = "composite_privacy"
    label: ClassVar[str] = "Composite privacy score P (source paper)"
    sense: ClassVar[Sense] = Sense.AT_LEAST

    def __post_init__(self) -> None:
        _check_fraction("composite_privacy.min_score", self.min_score)

    @property
    def threshold(self) -> float:
        """Smallest allowed score."""
        return self.min_score

    def describe(self, reference: PrivacyReference | None = None) -> str:
        """The rule in plain words."""
        return (
            f"The paper's composite privacy score P must be at least {self.min_score:.2f} "
            "(1 = synthetic patients sit as far from training patients as unseen real ones do)."
        )

    def measure(self, audit: SampleAudit, reference: PrivacyReference) -> float:
        """P on the full sample."""
        flagged = audit.exact_match | audit.duplicated
        return composite_privacy_score(audit.to_members, flagged, reference.reference_to_members)

    def surrogate(self, batch: BatchDistances, reference: PrivacyReference) -> torch.Tensor:
        """Differentiable P: medians and quantiles of the batch, soft copies."""
        distances = batch.to_members
        median_ref = float(np.median(reference.reference_to_members))
        tail_ref = float(np.quantile(reference.reference_to_members, 0.05))
        dcr = _soft_capped_ratio(torch.quantile(distances, 0.5), median_ref)
        tail = _soft_capped_ratio(torch.quantile(distances, 0.05), tail_ref)
        scale = reference.scale
        copies = soft_below(distances, 0.05 * scale, 0.02 * scale).mean()
        return 0.5 * dcr + 0.3 * tail + 0.2 * (1.0 - copies)


def _soft_capped_ratio(value: torch.Tensor, baseline: float) -> torch.Tensor:
    if baseline <= 0:
        return torch.ones((), dtype=value.dtype)
    return torch.clamp(value / baseline, max=1.0)


Constraint = (
    ExactMatchConstraint
    | CloseRecordConstraint
    | MembershipShareConstraint
    | CompositePrivacyConstraint
)
CONSTRAINT_TYPES: dict[str, type] = {
    c.key: c
    for c in (
        ExactMatchConstraint,
        CloseRecordConstraint,
        MembershipShareConstraint,
        CompositePrivacyConstraint,
    )
}


def violation(constraint: Constraint, value: float | torch.Tensor) -> Any:
    """g = value − threshold ("at most") or threshold − value ("at least"); g <= 0 is met."""
    if constraint.sense is Sense.AT_MOST:
        return value - constraint.threshold
    return constraint.threshold - value


def default_constraints() -> tuple[Constraint, ...]:
    """The defaults shown in the dashboard and used by ``psygentab fit``."""
    return (
        ExactMatchConstraint(),
        CloseRecordConstraint(),
        MembershipShareConstraint(),
        CompositePrivacyConstraint(),
    )


def constraint_to_dict(constraint: Constraint) -> dict[str, Any]:
    """``{"type": key, **parameters}``."""
    return {"type": constraint.key, **asdict(constraint)}


def constraints_from_config(entries: Sequence[Mapping[str, Any]]) -> tuple[Constraint, ...]:
    """Build constraints from ``[{"type": "close_records", "max_share": 0.02}, ...]``."""
    built = []
    for entry in entries:
        parameters = dict(entry)
        key = parameters.pop("type", None)
        if key not in CONSTRAINT_TYPES:
            known = ", ".join(CONSTRAINT_TYPES)
            raise ConfigError(f"Unknown constraint type {key!r} (known: {known}).")
        try:
            built.append(CONSTRAINT_TYPES[key](**parameters))
        except TypeError as error:
            raise ConfigError(f"Constraint {key!r}: {error}.") from None
    keys = [c.key for c in built]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise ConfigError(f"Each constraint may appear once; repeated: {', '.join(repeated)}.")
    return tuple(built)
