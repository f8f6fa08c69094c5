"""Privacy thresholds page: presets, sliders that write the session, real-patient hints."""

from __future__ import annotations

import pytest

from psygentab_app.session import SESSION_KEY
from psygentab_core.presets import preset


def test_sliders_show_the_balanced_defaults_with_their_meaning(app) -> None:
    page = app("views/thresholds.py")
    assert not page.exception
    values = {s.key: s.value for s in page.slider}
    assert values["threshold_close_records_max_share"] == pytest.approx(0.05)
    assert values["threshold_composite_privacy_min_score"] == pytest.approx(0.8)
    text = " ".join(m.value for m in page.markdown)
    assert "At most 5.0% of synthetic patients may sit closer" in text
    captions = " ".join(c.value for c in page.caption)
    assert "Real patients the generator never saw reach" in captions


def test_a_preset_sets_every_slider(app) -> None:
    page = app("views/thresholds.py")
    page.segmented_control(key="thresholds_preset").set_value("strict").run()
    assert not page.exception
    assert page.session_state[SESSION_KEY].constraints == preset("strict")
    assert page.slider(key="threshold_close_records_max_share").value == pytest.approx(0.02)


def test_moving_a_slider_makes_the_thresholds_custom(app) -> None:
    page = app("views/thresholds.py")
    page.slider(key="threshold_close_records_max_share").set_value(0.01).run()
    session = page.session_state[SESSION_KEY]
    assert session.constraints[1].max_share == pytest.approx(0.01)
    assert session.preset_name is None
    assert page.segmented_control(key="thresholds_preset").value is None
    # 1 % is stricter than the ~5 % that unseen real patients reach: the page says so.
    assert any("stricter than real data" in w.value for w in page.warning)
