"""Fidelity page: scores and figures of a run, one column at a time, nothing without a run."""

from __future__ import annotations

import json

from psygentab_app.session import SESSION_KEY
from psygentab_core.evaluation.result import Family

PAGE = "views/fidelity.py"
CHARTS = {
    "fidelity-associations",
    "fidelity-distribution",
    "fidelity-similarity",
    "fidelity-detection",
    "fidelity-quality",
}
# Generous for a shared test machine; the point is that the evaluation is not recomputed.


def charts(page) -> dict[str, dict]:
    """The page's Plotly figures by key (the element id ends with the key)."""
    return {
        chart.proto.id.split("-", 2)[-1]: json.loads(chart.proto.spec)
        for chart in page.get("plotly_chart")
    }


def evaluation_of(page):
    """The one evaluation the page computed."""
    (evaluation,) = page.session_state[SESSION_KEY].evaluations.values()
    return evaluation


def test_every_score_and_figure_shows_and_returning_reuses_them(app_with_run) -> None:
    page = app_with_run(PAGE)
    assert not page.exception
    assert page.title[0].value == "Fidelity"
    expected = [r.name for r in evaluation_of(page).by_family(Family.FIDELITY)]
    assert [m.label for m in page.metric] == expected
    assert set(charts(page)) == CHARTS

    # Coming back reuses the evaluation (in this test, to compute one evaluation less).
    evaluation = evaluation_of(page)
    page.switch_page("views/data.py").run()
    page.switch_page(PAGE).run()
    assert not page.exception
    assert evaluation_of(page) is evaluation


def test_the_least_similar_column_comes_first_and_another_can_be_chosen(app_with_run) -> None:
    page = app_with_run(PAGE)
    marginal = evaluation_of(page).get("fidelity.marginal_similarity")
    ranked = [
        c["column"] for c in sorted(marginal.details["columns"], key=lambda c: c["similarity"])
    ]
    picker = page.selectbox(key="fidelity_column")
    assert picker.value == ranked[0]
    title = charts(page)["fidelity-distribution"]["layout"]["title"]["text"]
    assert title.startswith(f"{ranked[0]}: real vs synthetic")

    picker.set_value(ranked[-1]).run()
    assert not page.exception
    assert page.selectbox(key="fidelity_column").value == ranked[-1]
    title = charts(page)["fidelity-distribution"]["layout"]["title"]["text"]
    assert title.startswith(f"{ranked[-1]}: real vs synthetic")
