"""Named sets of privacy thresholds, and the path between them that a sweep walks.

``balanced`` is the default of every run. The three presets are points on one path of
strictness (0 lenient, 0.5 balanced, 1 strict), so a sweep over strictness passes through them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from psygentab_core.constraints import (
    CloseRecordConstraint,
    CompositePrivacyConstraint,
    Constraint,
    ExactMatchConstraint,
    MembershipShareConstraint,
)
from psygentab_core.errors import ConfigError

# (too-close share, closer-to-training excess over 0.5, minimum composite P) at each preset.
_LENIENT = (0.10, 0.10, 0.60)
_BALANCED = (0.05, 0.05, 0.80)
_STRICT = (0.02, 0.02, 0.90)
STRICTNESS = {"lenient": 0.0, "balanced": 0.5, "strict": 1.0}
PRESET_DESCRIPTIONS = {
    "lenient": "Closest to the real data; allows twice the default share of near neighbours.",
    "balanced": "The default: small, audited margins over what unseen real patients show.",
    "strict": "Furthest from any training patient; costs some fidelity on small tables.",
}


def constraints_at(strictness: float) -> tuple[Constraint, ...]:
    """The four default constraints at ``strictness`` in [0, 1], linear between the presets."""
    if not 0.0 <= strictness <= 1.0 or not np.isfinite(strictness):
        raise ConfigError(f"strictness must be between 0 and 1; got {strictness!r}.")
    low, high, t = (
        (_LENIENT, _BALANCED, strictness / 0.5)
        if strictness <= 0.5
        else (_BALANCED, _STRICT, (strictness - 0.5) / 0.5)
    )
    close, excess, score = (round(a + (b - a) * t, 4) for a, b in zip(low, high, strict=True))
    return (
        ExactMatchConstraint(max_share=0.0),
        CloseRecordConstraint(max_share=close, quantile=0.05),
        MembershipShareConstraint(max_excess=excess),
        CompositePrivacyConstraint(min_score=score),
    )


def preset(name: str) -> tuple[Constraint, ...]:
    """The constraints of a named preset (lenient, balanced or strict)."""
    if name not in STRICTNESS:
        raise ConfigError(f"Unknown preset {name!r}; choose one of {', '.join(STRICTNESS)}.")
    return constraints_at(STRICTNESS[name])


def matching_preset(constraints: Sequence[Constraint]) -> str | None:
    """The preset whose thresholds these are, or None for a custom set."""
    for name in STRICTNESS:
        if tuple(constraints) == preset(name):
            return name
    return None
