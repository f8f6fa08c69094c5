"""The pure parts of the SDV comparison harness (bench/compare.py): figures, bars, Markdown.

None of these needs SDV: the harness's judgement of a run must be checkable without running one.
"""

from __future__ import annotations

from typing import Any

import pytest

from bench.compare import (
    OWN_MEMBERS,
    Bar,
    check_bars,
    figures,
    fit_time_ratios,
    judge,
    markdown_table,
    minority_f1_key,
    worse_privacy,
)
from psygentab_core.evaluation.result import Direction, Family, Interval, MetricResult


def _system(**overrides: Any) -> dict[str, Any]:
    """A completed system row that passes every bar when it is ours and the SDV rows are worse."""
    row: dict[str, Any] = {
        "status": "completed",
        "fit_seconds": 10.0,
        "fit_cpu_seconds": 9.0,
        "sample_seconds": 1.0,
        "peak_rss_mib": 500.0,
        "tstr_auc": {"value": 0.80, "low": 0.75, "high": 0.85},
        "trtr_auc": {"value": 0.81, "low": 0.77, "high": 0.85},
        "minority_f1": {"value": 0.4, "low": None, "high": None},
        "trtr_minority_f1": {"value": 0.45, "low": None, "high": None},
        "association_difference": {"value": 0.03, "low": None, "high": None},
        "marginal_similarity": {"value": 0.95, "low": None, "high": None},
        "detection_auc": {"value": 0.60, "low": None, "high": None},
        "minority_share": 0.10,
        "minority_share_real": 0.11,
        "exact_match_rate": 0.0,
        "closer_to_training_share": {"value": 0.52, "low": 0.5, "high": 0.54},
        "mia_auc": {"value": 0.51, "low": 0.48, "high": 0.54},
        "mia_tpr_at_1pct_fpr": {"value": 0.01, "low": 0.0, "high": 0.02},
        "mia_density_auc": {"value": 0.5, "low": 0.47, "high": 0.53},
    }
    return row | overrides


def _systems(**ours: Any) -> dict[str, dict[str, Any]]:
    sdv = {
        "tstr_auc": {"value": 0.795},
        "association_difference": {"value": 0.05},
        "detection_auc": {"value": 0.70},
    }
    return {
        "psygentab": _system(**ours),
        "gaussian_copula": _system(fit_seconds=2.0, fit_cpu_seconds=1.8, **sdv),
        "ctgan": _system(fit_seconds=400.0, fit_cpu_seconds=360.0, **sdv),
        "tvae": _system(fit_seconds=100.0, fit_cpu_seconds=90.0, **sdv),
    }


def _failed(bars: list[Bar]) -> list[str]:
    return [bar.name for bar in bars if bar.passed is not True]


def test_every_bar_passes_for_a_clearly_better_faster_private_system() -> None:
    bars = check_bars(_systems(), None)
    assert len(bars) == 10
    assert _failed(bars) == []


@pytest.mark.parametrize(
    ("ours", "failing"),
    [
        ({"exact_match_rate": 0.001}, "exact-match rate = 0"),
        ({"closer_to_training_share": {"value": 0.56}}, "closer-to-training share ≤ 0.55"),
        ({"mia_auc": {"value": 0.551}}, "distance MIA AUC ≤ 0.55"),
        ({"tstr_auc": {"value": 0.79}}, "TSTR AUC ≥ best SDV"),
        ({"trtr_auc": {"value": 0.84}}, "TSTR AUC within 0.03 of TRTR"),
        ({"association_difference": {"value": 0.05}}, "association difference < best SDV"),
        ({"detection_auc": {"value": 0.30}}, "detection AUC nearer 0.5 than best SDV"),
        ({"minority_share": 0.135}, "minority share within 2 pp of real"),
        ({"fit_seconds": 21.0}, "fit time ≤ 1/5 of TVAE"),
    ],
)
def test_each_bar_fails_on_its_own_figure(ours: dict[str, Any], failing: str) -> None:
    assert _failed(check_bars(_systems(**ours), None)) == [failing]


def test_speed_bars_use_the_ratio_within_the_run() -> None:
    systems = _systems(fit_seconds=15.0)  # 15/100 passes TVAE's 1/5, 15/400 passes CTGAN's 1/10
    assert _failed(check_bars(systems, None)) == []
    systems["ctgan"]["fit_seconds"] = 140.0  # 15/140 > 1/10
    assert _failed(check_bars(systems, None)) == ["fit time ≤ 1/10 of CTGAN"]
    assert fit_time_ratios(systems)["ctgan"] == pytest.approx(15.0 / 140.0)


def test_privacy_bars_take_the_worse_of_the_two_member_sets() -> None:
    own = {"exact_match_rate": 0.0, "closer_to_training_share": 0.50, "mia_auc": {"value": 0.58}}
    assert _failed(check_bars(_systems(), own)) == ["distance MIA AUC ≤ 0.55"]
    assert worse_privacy(_system(), own)["mia_auc"] == pytest.approx(0.58)
    assert worse_privacy(_system(), own)["closer_to_training_share"] == pytest.approx(0.52)


def test_sdv_systems_that_did_not_complete_are_not_compared() -> None:
    systems = _systems()
    for name in ("gaussian_copula", "ctgan", "tvae"):
        systems[name] = {"status": "failed"}
    bars = {bar.name: bar.passed for bar in check_bars(systems, None)}
    assert bars["TSTR AUC ≥ best SDV"] is None
    assert bars["fit time ≤ 1/10 of CTGAN"] is None
    assert bars["exact-match rate = 0"] is True


def test_a_failed_psygentab_run_fails_the_table() -> None:
    systems = _systems()
    systems["psygentab"] = {"status": "failed"}
    assert [(b.name, b.passed) for b in check_bars(systems, None)] == [("PSyGenTAB ran", False)]


def _metric(key: str, value: float, **extra: Any) -> MetricResult:
    return MetricResult(
        key=key,
        name=key,
        family=Family.FIDELITY,
        value=value,
        ideal=0.0,
        direction=Direction.LOWER,
        meaning="",
        **extra,
    )


def test_figures_read_the_evaluation_keys_with_their_intervals_and_references() -> None:
    results = {
        "utility.tstr_auc": _metric(
            "utility.tstr_auc",
            0.8,
            baseline=0.82,
            interval=Interval(0.7, 0.9),
            details={
                "summary": {
                    "TRTR": {"best": {"value": 0.82, "low": 0.8, "high": 0.84}},
                    "TSTR": {"best_model": "random forest"},
                }
            },
        ),
        minority_f1_key(): _metric(
            minority_f1_key(),
            0.3,
            details={"trtr": {"value": 0.4, "low": 0.35, "high": float("nan")}},
        ),
        "fidelity.association_difference": _metric("a", 0.05, baseline=0.02),
        "fidelity.marginal_similarity": _metric("m", 0.9, baseline=0.95),
        "fidelity.detection_auc": _metric("d", 0.6),
        "minority.class_balance": _metric(
            "minority.class_balance",
            0.01,
            details={
                "minority": "low",
                "minority_code": 1,
                "real": [0.9, 0.1],
                "synthetic": [0.89, 0.11],
                "holdout": [0.91, 0.09],
            },
        ),
        "privacy.exact_match_rate": _metric("e", 0.0, baseline=0.06),
        "privacy.closer_to_training_share": _metric("c", 0.51, interval=Interval(0.49, 0.53)),
        "privacy.mia_distance_auc": _metric(
            "privacy.mia_distance_auc",
            0.52,
            details={"tpr_at_fpr": {"0.01": {"tpr": 0.02, "low": 0.0, "high": 0.05}}},
        ),
    }
    got = figures(results)
    assert got["tstr_auc"] == {"value": 0.8, "low": 0.7, "high": 0.9}
    assert got["trtr_auc"] == {"value": 0.82, "low": 0.8, "high": 0.84}
    assert got["tstr_best_model"] == "random forest"
    assert got["trtr_minority_f1"] == {"value": 0.4, "low": 0.35, "high": None}  # NaN → None
    assert got["minority_share"] == pytest.approx(0.11)
    assert got["minority_share_real"] == pytest.approx(0.1)
    assert got["mia_tpr_at_1pct_fpr"]["value"] == pytest.approx(0.02)
    assert got["mia_density_auc"] is None
    assert got["exact_match_rate_holdout"] == pytest.approx(0.06)
    assert minority_f1_key() == "utility.tstr.minority_class_f1.gradient_boosting"


def test_markdown_table_has_one_row_per_system_and_the_own_members_privacy_row() -> None:
    systems = _systems()
    systems["ctgan"] = {"status": "timed out"}
    tables = {
        "nhefs": {
            "systems": systems,
            "fit_time_ratios": fit_time_ratios(systems),
            "fit_cpu_ratios": fit_time_ratios(systems, "fit_cpu_seconds"),
            "own_members": {
                "exact_match_rate": 0.0,
                "exact_match_rate_holdout": 0.05,
                "closer_to_training_share": {"value": 0.49},
                "mia_auc": {"value": 0.5},
                "mia_tpr_at_1pct_fpr": {"value": 0.01},
                "outcome_inference_gain": {"value": 0.02, "low": -0.01, "high": 0.05},
            },
        }
    }
    lines = markdown_table(tables).splitlines()
    widths = {line.count("|") for line in lines}
    assert widths == {19}  # 18 columns on every line, header and separator included
    assert len(lines) == 2 + 4 + 1
    assert lines[2].startswith("| nhefs | psygentab | 10.0 | 9.0 | 1.0 | 500 | – | 0.800 (0.810) |")
    assert lines[3].startswith(f"| nhefs | {OWN_MEMBERS} |")
    assert lines[3].endswith("| 0.0000 (0.0500) | 0.490 | 0.500 | 0.010 | 0.020 |")
    # No unseen rate: no brackets; no outcome inference figure: a dash.
    assert lines[2].endswith("| 0.0000 | 0.520 | 0.510 | 0.010 | – |")
    assert "| nhefs | ctgan | timed out |" in lines[5]
    # Fit ours/theirs, wall (CPU): 10 s over GaussianCopula's 2 s (9 over 1.8), TVAE's 100 (90).
    assert "| 5.000 (5.000) |" in lines[4]
    assert "| 0.100 (0.100) |" in lines[6]


def test_judge_recomputes_ratios_and_bars_from_the_rows_alone() -> None:
    stale = {"systems": _systems(fit_seconds=30.0), "own_members": None, "bars": []}
    judged = judge(stale)
    assert judged["fit_time_ratios"]["tvae"] == pytest.approx(0.3)
    assert judged["fit_cpu_ratios"]["tvae"] == pytest.approx(0.1)
    failed = [bar["name"] for bar in judged["bars"] if not bar["passed"]]
    assert failed == ["fit time ≤ 1/5 of TVAE"]
    assert stale["bars"] == []  # the saved result is not changed in place
