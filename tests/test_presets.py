"""Presets are points on one strictness path; balanced is the default."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from psygentab_core.constraints import default_constraints
from psygentab_core.errors import ConfigError
from psygentab_core.presets import constraints_at, matching_preset, preset


def test_balanced_is_the_default_and_presets_order_by_strictness() -> None:
    assert preset("balanced") == default_constraints()
    lenient, balanced, strict = (preset(n) for n in ("lenient", "balanced", "strict"))
    for a, b in ((lenient, balanced), (balanced, strict)):
        assert a[1].max_share > b[1].max_share
        assert a[2].max_excess > b[2].max_excess
        assert a[3].min_score < b[3].min_score
    assert all(p[0].max_share == 0 for p in (lenient, balanced, strict))


@given(st.floats(0, 1), st.floats(0, 1))
def test_stricter_never_loosens_a_threshold(a: float, b: float) -> None:
    low, high = constraints_at(min(a, b)), constraints_at(max(a, b))
    assert high[1].max_share <= low[1].max_share
    assert high[2].max_excess <= low[2].max_excess
    assert high[3].min_score >= low[3].min_score


def test_matching_preset_recognises_presets_only() -> None:
    assert matching_preset(preset("strict")) == "strict"
    assert matching_preset(constraints_at(0.3)) is None


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_strictness_outside_the_path_is_refused(bad: float) -> None:
    with pytest.raises(ConfigError, match="strictness"):
        constraints_at(bad)
    with pytest.raises(ConfigError, match="Unknown preset"):
        preset("paranoid")
