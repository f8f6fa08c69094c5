"""The outcome inference attack: copies of members give their outcomes away, fresh rows do not."""

from __future__ import annotations

import math

import pytest

from psygentab_core.evaluation import inference
from psygentab_core.evaluation.data import EvaluationContext, EvaluationData, prepare
from psygentab_core.evaluation.inference import outcome_inference, outcome_inference_scores
from psygentab_core.evaluation.result import MetricResult
from psygentab_core.schema import infer_schema


def the_result(ctx: EvaluationContext) -> MetricResult:
    (result,) = outcome_inference(ctx)
    return result


def test_copies_of_members_tell_their_outcomes(copy_context) -> None:
    result = the_result(copy_context)
    # The model learned the members' own outcomes: near perfect on them, as good as the
    # population allows on unseen patients.
    assert result.details["members_auc"] > 0.95
    assert result.details["control_auc"] < result.details["members_auc"] - 0.1
    assert result.value == pytest.approx(
        result.details["members_auc"] - result.details["control_auc"]
    )
    assert result.interval.low > 0.05


def test_fresh_population_rows_tell_nothing_more_about_members(fresh_context) -> None:
    result = the_result(fresh_context)
    assert result.interval.low <= 0.0 <= result.interval.high
    assert abs(result.value) < 0.1
    # It is a real attack nonetheless: the population's outcome can be told from its columns.
    assert result.details["control_auc"] > 0.6


def test_the_figure_names_its_attacker_baseline_and_rare_outcome(fresh_context) -> None:
    result = the_result(fresh_context)
    assert result.threat_model == inference.INFERENCE_ATTACKER
    assert result.baseline == 0.0
    assert "unseen" in result.baseline_meaning
    assert result.details["rare_outcome"] == "'yes'"
    assert result.details["members_scored"] == len(fresh_context.members)
    assert result.details["control_scored"] == len(fresh_context.holdout)
    assert 0 < result.details["members_rare"] < result.details["members_scored"]


def test_large_tables_are_attacked_on_a_random_subset(
    fresh_context, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inference, "ATTACKED_ROWS", 300)
    monkeypatch.setattr(inference, "TRAINING_ROWS", 500)
    scores = outcome_inference_scores(fresh_context)
    assert scores is not None
    assert len(scores.members_score) == len(scores.control_score) == 300
    result = the_result(fresh_context)
    assert result.details["trained_on_synthetic_rows"] == 500
    assert result.details["members_scored"] == 300
    assert result.interval.low <= 0.0 <= result.interval.high


def test_a_release_without_the_rare_outcome_gives_no_figure(fresh_context) -> None:
    data = fresh_context.data
    synthetic = data.synthetic[data.synthetic["outcome"] == "no"].reset_index(drop=True)
    ctx = prepare(
        EvaluationData(
            schema=data.schema, members=data.members, holdout=data.holdout, synthetic=synthetic
        )
    )
    result = the_result(ctx)
    assert math.isnan(result.value)
    assert result.interval is None
    assert "no model" in result.details["note"]


def test_no_target_no_attack(fresh_context) -> None:
    data = fresh_context.data
    schema = infer_schema(data.members, target=None)
    ctx = prepare(
        EvaluationData(
            schema=schema, members=data.members, holdout=data.holdout, synthetic=data.synthetic
        )
    )
    assert outcome_inference(ctx) == []
