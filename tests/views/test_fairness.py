"""Fairness page: the sensitive attributes chosen here drive the evaluation; per-subgroup rates,
equalized-odds gaps and subgroup privacy risk follow the choice; nothing without a run."""

from __future__ import annotations

from psygentab_app.session import SESSION_KEY

PAGE = "views/fairness.py"
PICKER = "fairness_sensitive"
DEMO_SENSITIVE = ["sex", "race", "age"]  # the NHEFS demo's default choice


def chart_keys(page) -> set[str]:
    """Keys of the page's Plotly charts (the element id ends with the key)."""
    return {chart.proto.id.split("-", 2)[-1] for chart in page.get("plotly_chart")}


def expected_charts(attributes: list[str]) -> set[str]:
    """The charts the page draws for these sensitive attributes."""
    return (
        {"fairness-gaps"}
        | {f"fairness-rates-{a}" for a in attributes}
        | {f"fairness-exposure-{a}" for a in attributes}
    )


def gap_labels(page) -> list[str]:
    """Names of the equalized-odds cards shown, without the model they name."""
    return [m.label.split(" (")[0] for m in page.metric if m.label.startswith("Equalized-odds gap")]


def test_the_page_shows_the_chosen_subgroups_and_reuses_the_evaluation(app_with_run) -> None:
    page = app_with_run(PAGE)
    assert not page.exception
    assert page.title[0].value == "Fairness"
    picker = page.multiselect(key=PICKER)
    assert picker.value == DEMO_SENSITIVE
    assert "death" not in picker.options  # the outcome is never a sensitive attribute
    assert gap_labels(page) == [f"Equalized-odds gap across {a} groups" for a in DEMO_SENSITIVE]
    subgroup_cards = [m.label for m in page.metric if m.label.startswith("Membership inference")]
    assert subgroup_cards == [f"Membership inference by subgroup of {a}" for a in DEMO_SENSITIVE]
    assert chart_keys(page) == expected_charts(DEMO_SENSITIVE)

    # Coming back reuses the evaluation (one test, to compute one evaluation less).
    (evaluation,) = page.session_state[SESSION_KEY].evaluations.values()
    page.switch_page("views/privacy.py").run()
    page.switch_page(PAGE).run()
    assert not page.exception
    assert list(page.session_state[SESSION_KEY].evaluations.values()) == [evaluation]
    assert chart_keys(page) == expected_charts(DEMO_SENSITIVE)


def test_choosing_attributes_updates_the_session_and_the_results(app_with_run) -> None:
    page = app_with_run(PAGE)
    page.multiselect(key=PICKER).set_value(["sex"]).run()
    assert not page.exception
    session = page.session_state[SESSION_KEY]
    assert session.sensitive == ("sex",)
    assert gap_labels(page) == ["Equalized-odds gap across sex groups"]
    assert chart_keys(page) == expected_charts(["sex"])
    assert {key.sensitive for key in session.evaluations} == {tuple(DEMO_SENSITIVE), ("sex",)}


def test_with_no_attribute_the_page_says_what_choosing_one_does(app_with_run) -> None:
    page = app_with_run()
    # As after an upload: no attribute chosen yet (set before the page evaluates, to save one).
    page.session_state[SESSION_KEY].sensitive = ()
    page.switch_page(PAGE).run()
    assert not page.exception
    assert page.multiselect(key=PICKER).value == []
    assert page.info[0].value.startswith("No sensitive attribute is chosen")
    assert not gap_labels(page)
    assert not page.get("plotly_chart")
