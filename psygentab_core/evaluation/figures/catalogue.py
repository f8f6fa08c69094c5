"""Which figures the report (and the dashboard) show for an evaluation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from psygentab_core.dp import attack_bound
from psygentab_core.evaluation.evaluate import Evaluation
from psygentab_core.evaluation.figures import (
    fairness,
    fidelity,
    minority,
    privacy,
    training,
    utility,
)
from psygentab_core.evaluation.result import Family

Entry = tuple[Family | None, str, go.Figure]


# Per-column distribution plots in the report; wider tables show the least similar columns.
MAX_COLUMN_PLOTS = 40


def report_figures(evaluation: Evaluation) -> list[Entry]:
    """Every family's figures, in reading order."""
    return (
        fidelity_figures(evaluation)
        + minority_figures(evaluation)
        + utility_figures(evaluation)
        + privacy_figures(evaluation)
        + fairness_figures(evaluation)
    )


def _results(evaluation: Evaluation, family: Family) -> dict[str, Any]:
    return {r.key: r for r in evaluation.by_family(family)}


def fidelity_figures(evaluation: Evaluation) -> list[Entry]:
    """Association heat maps, per-column similarity and distributions, detection, Q."""
    results = _results(evaluation, Family.FIDELITY)
    entries: list[Entry] = []
    if "fidelity.association_difference" in results:
        entries.append(
            (
                Family.FIDELITY,
                "Associations between every pair of columns in the real and the synthetic "
                "data, and their difference (synthetic minus real; white is no difference).",
                fidelity.association_heatmaps(results["fidelity.association_difference"]),
            )
        )
    marginal = results.get("fidelity.marginal_similarity")
    if marginal is not None:
        entries.append(
            (
                Family.FIDELITY,
                "How similar each column's distribution is (1 = identical).",
                fidelity.marginal_similarity_bars(marginal),
            )
        )
        ranked = sorted(marginal.details["columns"], key=lambda c: c["similarity"])
        for column in ranked[:MAX_COLUMN_PLOTS]:
            entries.append(
                (
                    Family.FIDELITY,
                    f"{column['column']}: real and synthetic on the same bins.",
                    fidelity.column_distribution(marginal, column["column"]),
                )
            )
    if "fidelity.detection_auc" in results:
        entries.append(
            (
                Family.FIDELITY,
                "A classifier trying to tell real from synthetic rows; the diagonal is chance.",
                fidelity.detection_roc(results["fidelity.detection_auc"]),
            )
        )
    if "fidelity.quality_score" in results:
        entries.append(
            (
                Family.FIDELITY,
                "The four components of the source paper's quality score Q.",
                fidelity.quality_components(results["fidelity.quality_score"]),
            )
        )
    return entries


def minority_figures(evaluation: Evaluation) -> list[Entry]:
    """Class balance, per-class fidelity, per-class recall, rare categories."""
    results = _results(evaluation, Family.MINORITY)
    builders = {
        "minority.class_balance": (minority.class_balance_bars, "Class shares, real vs synthetic."),
        "minority.per_class_fidelity": (
            minority.per_class_fidelity_bars,
            "Distribution similarity within each class.",
        ),
        "minority.downstream_per_class": (
            utility.per_class_figure,
            "Recall of each class for models trained on real and on synthetic data.",
        ),
        "minority.rare_category_coverage": (
            minority.rare_category_bars,
            "Categories rarer than 1 % among real patients, and how often they appear.",
        ),
    }
    return [
        (Family.MINORITY, caption, build(results[key]))
        for key, (build, caption) in builders.items()
        if key in results
    ]


def utility_figures(evaluation: Evaluation) -> list[Entry]:
    """Downstream performance of each model family, trained on real vs synthetic."""
    results = _results(evaluation, Family.UTILITY)
    if "utility.tstr_auc" not in results:
        return []
    return [
        (
            Family.UTILITY,
            "Models trained on real (TRTR) or synthetic (TSTR) rows, tested on the holdout, "
            "with 95 % bootstrap intervals.",
            utility.performance_figure(results["utility.tstr_auc"]),
        )
    ]


def fairness_figures(evaluation: Evaluation) -> list[Entry]:
    """Per-subgroup rates and equalized-odds gaps."""
    results = list(evaluation.by_family(Family.FAIRNESS))
    entries: list[Entry] = [
        (
            Family.FAIRNESS,
            f"True- and false-positive rates per subgroup of {r.details['attribute']}, "
            "for models trained on real and on synthetic data (faded: too few rows to judge).",
            fairness.subgroup_rates_figure(r),
        )
        for r in results
    ]
    if results:
        entries.append(
            (
                Family.FAIRNESS,
                "Equalized-odds gap (largest difference in TPR or FPR between subgroups).",
                fairness.equalized_odds_figure(results),
            )
        )
    return entries


OUTCOME_INFERENCE_CAPTION = (
    "A model trained on the synthetic table to recognise the rare outcome, scored on training "
    "patients and on unseen ones: the release should tell no more about its own patients, so "
    "the two points should overlap."
)


def privacy_figures(evaluation: Evaluation) -> list[Entry]:
    """ROC curves of the attacks, distance histograms, outcome inference, subgroup exposure."""
    results = {r.key: r for r in evaluation.by_family(Family.PRIVACY)}
    attacks = [r for k, r in results.items() if k.startswith("privacy.mia_")]
    entries: list[Entry] = []
    if attacks:
        entries.append(
            (
                Family.PRIVACY,
                "Each curve is an attack scored on training patients against unseen ones; "
                "the dashed diagonal is guessing. The low false-positive end (left) is where a "
                "few exposed patients would show.",
                privacy.attack_roc(attacks),
            )
        )
    if "privacy.dcr_ratio" in results:
        entries.append(
            (
                Family.PRIVACY,
                "Synthetic rows should sit no closer to training patients than unseen real "
                "patients do: the orange histogram should not lean left of the green one.",
                privacy.distance_histograms(results["privacy.dcr_ratio"]),
            )
        )
    if "privacy.outcome_inference_gain" in results:
        entries.append(
            (
                Family.PRIVACY,
                OUTCOME_INFERENCE_CAPTION,
                privacy.outcome_inference_aucs(results["privacy.outcome_inference_gain"]),
            )
        )
    for key, result in results.items():
        if key.startswith("privacy.subgroup_attack_auc."):
            entries.append(
                (
                    Family.PRIVACY,
                    "Attack success within each subgroup, with its interval.",
                    privacy.subgroup_exposure(result),
                )
            )
    return entries


def training_figures(
    history: Sequence[Mapping[str, Any]], *, target_epsilon: float | None = None
) -> list[Entry]:
    """The training curves of the run, if a history is known; for a DP run also ε spent."""
    if not history:
        return []
    if not any(h.get("constraints") for h in history):
        # DP-SGD trains on no constraint: no multipliers, penalties or knobs to draw.
        entries: list[Entry] = [
            (
                None,
                "Objective and fidelity proxy per epoch (DP-SGD trains on no privacy constraint).",
                training.objective_curve(history),
            )
        ]
    else:
        entries = [
            (
                None,
                "Objective, each constraint's measured value relative to its threshold (at or "
                "below the dashed line is met), multipliers, penalties and privacy knobs, per "
                "epoch.",
                training.training_curves(history),
            )
        ]
    if any(h.get("epsilon") is not None for h in history):
        entries.append(
            (
                None,
                "Differential privacy: ε spent after each epoch (the encoder's statistics, then "
                "DP-SGD as counted by Opacus's accountant); it never passes the target.",
                training.epsilon_curve(history, target=target_epsilon),
            )
        )
    return entries


def dp_figures(evaluation: Evaluation, ledger: Mapping[str, Any] | None) -> list[Entry]:
    """For a DP run (``ledger``: ``result.json``'s ``privacy``), the attacks' ROC curves against
    the bound its (ε, δ) sets."""
    attacks = [r for r in evaluation.by_family(Family.PRIVACY) if r.key.startswith("privacy.mia_")]
    if not ledger or not attacks:
        return []
    bound = attack_bound(ledger["epsilon"], ledger["delta"])
    return [
        (
            Family.PRIVACY,
            "The measured attacks against the most any attack could reach under the run's "
            "differential-privacy guarantee (grey area: TPR ≤ e^ε·FPR + δ and its mirror). A "
            "measured curve above the grey line would contradict the guarantee.",
            privacy.attack_roc(attacks, bound=bound),
        )
    ]
