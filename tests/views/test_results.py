"""The evaluation behind the evaluation pages: none without a run, computed once per run."""

from __future__ import annotations

import pytest

from psygentab_app.session import SESSION_KEY

EVALUATION_PAGES = {
    "views/fidelity.py": "Fidelity",
    "views/minority.py": "Minority class",
    "views/privacy.py": "Privacy audit",
    "views/fairness.py": "Fairness",
}


@pytest.mark.parametrize(("path", "title"), EVALUATION_PAGES.items())
def test_without_a_run_each_evaluation_page_says_so(app, path: str, title: str) -> None:
    page = app(path)
    assert not page.exception
    assert page.title[0].value == title
    assert page.info[0].value.startswith("No run yet")
    assert not page.get("plotly_chart")


def test_the_evaluation_is_computed_once_and_shared_by_the_pages(app_with_run) -> None:
    page = app_with_run("views/fidelity.py")
    session = page.session_state[SESSION_KEY]
    (evaluation,) = session.evaluations.values()
    for path in EVALUATION_PAGES:
        page.switch_page(path).run()
        assert not page.exception
    assert list(session.evaluations.values()) == [evaluation]
