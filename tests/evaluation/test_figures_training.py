"""Training figures: drawn from a real run's history, mid-run or finished."""

from __future__ import annotations

import pytest

from psygentab_core.evaluation.figures.catalogue import training_figures
from psygentab_core.evaluation.figures.training import (
    constraint_panels,
    objective_curve,
    training_curves,
)
from psygentab_core.schema import infer_schema
from psygentab_core.training import TrainingRun, prepare_data
from tests.tables import mixed_table, quick_config


@pytest.fixture(scope="module")
def history() -> list[dict]:
    frame = mixed_table()
    config = quick_config()
    run = TrainingRun(prepare_data(frame, infer_schema(frame, target="outcome"), config), config)
    return [record.to_dict() for record in run.epochs()]


def test_each_constraint_is_drawn_against_its_own_threshold(history) -> None:
    figure = constraint_panels(history)
    constraints = history[0]["constraints"]
    measured = [t for t in figure.data if t.name == "measured"]
    assert len(measured) == len(constraints)
    for trace, constraint in zip(measured, constraints, strict=True):
        values = [
            next(c for c in h["constraints"] if c["key"] == constraint["key"]) for h in history
        ]
        assert list(trace.y) == [c["measured"] for c in values]
    lines = sorted(shape.y0 for shape in figure.layout.shapes)
    assert lines == sorted(c["threshold"] for c in constraints)


def test_figures_draw_mid_run_and_without_history(history) -> None:
    assert len(constraint_panels(history[:1]).data) == 2 * len(history[0]["constraints"])
    assert training_curves(history[:1]).data
    assert not constraint_panels([]).data


def test_a_dp_history_gets_the_objective_and_epsilon_not_empty_constraint_panels(history) -> None:
    private = [{**h, "constraints": [], "epsilon": 0.5 * h["epoch"]} for h in history]
    figures = [figure for _, _, figure in training_figures(private, target_epsilon=3.0)]
    assert len(figures) == 2
    assert [t.name for t in figures[0].data] == [t.name for t in objective_curve(private).data]
    assert list(figures[0].data[0].y) == [h["objective"] for h in history]
    assert list(figures[1].data[0].y) == [h["epsilon"] for h in private]
    plain = [figure for _, _, figure in training_figures(history, target_epsilon=None)]
    assert len(plain) == 1
    assert len(plain[0].data) == len(training_curves(history).data)
