"""The privacy audit's sanity ends: copies of members, and fresh rows from the population."""

from __future__ import annotations

import numpy as np
import pytest

from psygentab_core.evaluation.audit import (
    compute_distances,
    density_attack,
    distance_attack,
    privacy_metrics,
)
from psygentab_core.evaluation.data import EvaluationContext
from psygentab_core.evaluation.result import MetricResult


def by_key(results: list[MetricResult]) -> dict[str, MetricResult]:
    return {r.key: r for r in results}


@pytest.fixture(scope="module")
def copy_audit(copy_context: EvaluationContext) -> dict[str, MetricResult]:
    return by_key(privacy_metrics(copy_context))


@pytest.fixture(scope="module")
def fresh_audit(fresh_context: EvaluationContext) -> dict[str, MetricResult]:
    return by_key(privacy_metrics(fresh_context))


def test_copies_of_members_max_out_every_risk(copy_audit) -> None:
    assert copy_audit["privacy.exact_match_rate"].value == 1.0
    assert copy_audit["privacy.closer_to_training_share"].value == pytest.approx(1.0)
    assert copy_audit["privacy.mia_distance_auc"].value > 0.99
    assert copy_audit["privacy.mia_density_ratio_auc"].value > 0.95
    assert copy_audit["privacy.dcr_ratio"].value == 0.0
    assert copy_audit["privacy.composite_p"].value == pytest.approx(0.0)
    tpr = copy_audit["privacy.mia_distance_auc"].details["tpr_at_fpr"]["0.01"]["tpr"]
    assert tpr == 1.0


def test_fresh_population_rows_look_like_unseen_patients(fresh_audit) -> None:
    assert fresh_audit["privacy.exact_match_rate"].value == 0.0
    share = fresh_audit["privacy.closer_to_training_share"]
    assert share.interval.low <= 0.5 <= share.interval.high
    for key in ("privacy.mia_distance_auc", "privacy.mia_density_ratio_auc"):
        attack = fresh_audit[key]
        assert attack.interval.low <= 0.5 <= attack.interval.high, key
        assert abs(attack.value - 0.5) < 0.05
    dcr = fresh_audit["privacy.dcr_ratio"]
    assert dcr.interval.low <= 1.0 <= dcr.interval.high
    assert fresh_audit["privacy.composite_p"].value > 0.9


def test_every_risk_figure_names_attacker_baseline_and_interval(fresh_audit) -> None:
    for result in fresh_audit.values():
        assert result.baseline is not None, result.key
        assert result.baseline_meaning, result.key
        if "mia" in result.key or "subgroup" in result.key or "inference" in result.key:
            assert result.threat_model, result.key
            assert result.interval is not None, result.key


def test_attack_curves_and_low_fpr(fresh_audit) -> None:
    attack = fresh_audit["privacy.mia_distance_auc"]
    roc = attack.details["roc"]
    assert roc["fpr"][0] == 0.0
    assert roc["tpr"][-1] == pytest.approx(1.0)
    assert np.all(np.diff(roc["tpr"]) >= -1e-12)
    low = attack.details["tpr_at_fpr"]
    assert low["0.01"]["resolvable"]
    assert not low["0.001"]["resolvable"]  # 600 holdout rows cannot resolve 0.1 %
    assert low["0.01"]["low"] <= low["0.01"]["tpr"] <= low["0.01"]["high"]


def test_density_attack_scores_every_row_once(fresh_context) -> None:
    scores = density_attack(fresh_context, compute_distances(fresh_context))
    assert sorted(scores.non_member_rows.tolist()) == list(range(len(fresh_context.holdout)))
    assert sorted(scores.member_rows.tolist()) == list(range(len(fresh_context.members)))
    assert len(scores.members) == len(fresh_context.members)


def test_subgroups_are_reported_with_sizes(fresh_audit, fresh_context) -> None:
    by_sex = fresh_audit["privacy.subgroup_attack_auc.sex"]
    groups = {row["group"]: row for row in by_sex.details["groups"]}
    assert set(groups) == {"female", "male"}
    assert sum(g["members"] for g in groups.values()) == len(fresh_context.members)
    assert all(not g["too_small"] for g in groups.values())


def test_literal_equal_size_share_is_diluted_for_copies(copy_audit, copy_context) -> None:
    literal = copy_audit["privacy.closer_to_training_share"].details["equal_size_subsample_share"]
    expected = 0.5 + 0.5 * len(copy_context.holdout) / len(copy_context.members)
    assert literal == pytest.approx(expected, abs=0.03)


def test_distance_attack_is_minus_the_distance(fresh_context) -> None:
    distances = compute_distances(fresh_context)
    scores = distance_attack(fresh_context, distances)
    assert np.array_equal(scores.members, -distances.members_to_synthetic)


def test_large_tables_are_measured_on_a_random_subset_of_queries(
    fresh_context, copy_context, monkeypatch: pytest.MonkeyPatch
) -> None:
    from psygentab_core.evaluation import audit

    monkeypatch.setattr(audit, "QUERY_ROWS", 300)
    distances = compute_distances(fresh_context)
    assert len(distances.member_rows) == len(distances.synthetic_to_members) == 300
    assert len(set(distances.member_rows.tolist())) == 300
    results = by_key(privacy_metrics(fresh_context))
    attack = results["privacy.mia_distance_auc"]
    assert attack.details["members_scored"] == 300
    assert attack.interval.low <= 0.5 <= attack.interval.high
    copied = by_key(privacy_metrics(copy_context))
    assert copied["privacy.mia_distance_auc"].value > 0.99
    assert copied["privacy.closer_to_training_share"].value == pytest.approx(1.0)
    # Each result read from a subset says so, with the sizes.
    for key in ("privacy.dcr_ratio", "privacy.closer_to_training_share", "privacy.nndr"):
        assert "drawn at random" in results[key].meaning
        assert results[key].details["synthetic_rows_measured"] == 300
        assert results[key].details["synthetic_rows"] == len(fresh_context.synthetic)
    assert "drawn at random" in attack.meaning


def test_small_tables_are_measured_whole(fresh_audit, fresh_context) -> None:
    closer = fresh_audit["privacy.closer_to_training_share"]
    assert "drawn at random" not in closer.meaning
    assert closer.details["synthetic_rows_measured"] == len(fresh_context.synthetic)
