"""Privacy thresholds page: presets, sliders that write the session, real-patient hints."""

from __future__ import annotations

import pytest

from psygentab_app.session import SESSION_KEY
from psygentab_core.config import dp_train_config
from psygentab_core.dp import DpConfig
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


def test_the_dp_option_round_trips_into_the_training_config(app) -> None:
    page = app("views/thresholds.py")
    session = page.session_state[SESSION_KEY]
    assert session.train_config().dp is None  # off by default: the constraints are trained on
    page.toggle(key="dp_enabled").set_value(True).run()
    assert not page.exception
    # The page says what DP mode switches off and what the guarantee is about.
    text = " ".join(m.value for m in [*page.markdown, *page.warning])
    assert "training split* (n = 896 of the 1,629 rows)" in text
    assert "privacy rules below are **not enforced**" in text
    page.number_input(key="dp_epsilon").set_value(2.5).run()
    page.selectbox(key="dp_delta").set_value(1e-6).run()
    page.checkbox(key="dp_public_categories").set_value(False).run()
    page.text_area(key="dp_public_bounds").input("age = 20 : 90\nwt71 = 30 : 250").run()
    assert not page.exception
    config = session.train_config()
    assert config.dp == DpConfig(
        epsilon=2.5,
        delta=1e-6,
        public_categories=False,
        public_bounds=(("age", 20.0, 90.0), ("wt71", 30.0, 250.0)),
    )
    # The DP-suited model, with the session's epochs, seed and thresholds (measured only).
    assert config == dp_train_config(
        config.dp, epochs=session.epochs, seed=session.seed, constraints=session.constraints
    )
    # The outcome's classes are declared public in the schema a run trains on.
    assert session.training_schema().column("death").levels == (0, 1)
    captions = " ".join(c.value for c in page.caption)
    assert "Estimated under DP from the budget (range and quantiles): income, school" in captions

    # A line that cannot be read is named, and the ranges in force stay as they were.
    page.text_area(key="dp_public_bounds").input("age = 90 : 20\nheight = 1 : 2").run()
    errors = " ".join(e.value for e in page.error)
    assert "Line 1: the low limit of 'age' must be below the high one." in errors
    assert "Line 2: 'height' is not a numeric column of this table" in errors
    assert session.train_config().dp.public_bounds == (("age", 20.0, 90.0), ("wt71", 30.0, 250.0))

    page.toggle(key="dp_enabled").set_value(False).run()
    assert session.train_config().dp is None
