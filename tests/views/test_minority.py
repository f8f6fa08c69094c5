"""Minority-class page: the minority scores with their figures, the utility summary, the rest of
the per-model results in a table, nothing without a run."""

from __future__ import annotations

from psygentab_app.session import SESSION_KEY
from psygentab_core.evaluation.result import Family

PAGE = "views/minority.py"
CHARTS = {
    "minority-balance",
    "minority-per-class",
    "minority-recall",
    "minority-utility",
    "minority-rare",
}


def chart_keys(page) -> set[str]:
    """Keys of the page's Plotly charts (the element id ends with the key)."""
    return {chart.proto.id.split("-", 2)[-1] for chart in page.get("plotly_chart")}


def evaluation_of(page):
    """The one evaluation the page computed."""
    (evaluation,) = page.session_state[SESSION_KEY].evaluations.values()
    return evaluation


def test_scores_and_figures_show_and_returning_reuses_them(app_with_run) -> None:
    page = app_with_run(PAGE)
    assert not page.exception
    assert page.title[0].value == "Minority class"
    evaluation = evaluation_of(page)
    labels = {m.label for m in page.metric}
    assert {r.name for r in evaluation.by_family(Family.MINORITY)} <= labels
    assert evaluation.get("utility.tstr_auc").name in labels
    per_model = [
        r for r in evaluation.by_family(Family.UTILITY) if r.key.startswith("utility.tstr.")
    ]
    f1 = {r.name for r in per_model if ".minority_class_f1." in r.key}
    assert f1
    assert f1 <= labels
    # Every other per-model result is in the table, not in a card.
    rest = {r.name for r in per_model} - f1
    assert not rest & labels
    (expander,) = [e for e in page.expander if e.label.startswith("Every model")]
    table = expander.dataframe[0].value
    assert set(table["metric"]) == rest
    assert chart_keys(page) == CHARTS

    # Coming back reuses the evaluation (in this test, to compute one evaluation less).
    page.switch_page("views/fidelity.py").run()
    page.switch_page(PAGE).run()
    assert not page.exception
    assert evaluation_of(page) is evaluation
