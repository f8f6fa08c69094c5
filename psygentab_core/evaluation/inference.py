"""Outcome inference: does the release tell an attacker a training patient's outcome better than
an unseen patient's?

The attacker trains a model on the released table to predict the outcome (the target) from every
other column, and uses it on patients whose other columns it knows. Scored on the training
patients (members) and, as the control, on unseen patients (the holdout): what the model gets
right on the control is what the release teaches about the population, which is its purpose;
only what it does better on the training patients is a disclosure about them (the attribute
inference game of Stadler, Oprisanu & Troncoso, 2022, with the holdout as the patients out of
the training set). The figure is the model's AUC for the rare outcome on members minus its AUC
on the control.

The membership attacks and the distance measures do not see this. A generator that repeated the
COVID-19 tests' rare (day, age) pairs class by class passed the exact-match, closer-to-training
and distance-attack rules while it told a training patient's result from its columns far better
than an unseen patient's (``bench/results/profile.md``, fifth round). A nearest-row guess on the
other columns (anonymeter's inference attack) barely saw it there: the nearest row on all
columns is decided by the categories, not by the two numbers that carried the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from psygentab_core.evaluation.data import EvaluationContext, Table
from psygentab_core.evaluation.result import Direction, Family, MetricResult
from psygentab_core.evaluation.stats import auc_difference_with_interval, auc_with_interval
from psygentab_core.evaluation.utility import BOOSTING, MODEL_FACTORIES
from psygentab_core.privacy import measured_subset

# Patients scored on each side (members and control), drawn at random when there are more.
ATTACKED_ROWS = 20_000
# Synthetic rows the attack model trains on, drawn at random when there are more: a gradient
# boosting gains little past this, and its fit grows with the rows (20 s at 200,000).
TRAINING_ROWS = 100_000

INFERENCE_ATTACKER = (
    "An attacker who holds the released synthetic table, trains a gradient boosting on it to "
    "predict the outcome from the other columns, and applies it to patients whose other "
    "columns it knows."
)


@dataclass(frozen=True, slots=True)
class InferenceScores:
    """The attack model's score for the rare outcome and whether each patient has it, for the
    attacked members and the attacked control patients."""

    members_score: np.ndarray
    members_rare: np.ndarray
    control_score: np.ndarray
    control_rare: np.ndarray

    def members(self) -> tuple[np.ndarray, np.ndarray]:
        """Scores of the members with the rare outcome, and of those without."""
        return self.members_score[self.members_rare], self.members_score[~self.members_rare]

    def control(self) -> tuple[np.ndarray, np.ndarray]:
        """Scores of the control patients with the rare outcome, and of those without."""
        return self.control_score[self.control_rare], self.control_score[~self.control_rare]


def outcome_inference_scores(ctx: EvaluationContext) -> InferenceScores | None:
    """The attack, trained on up to ``TRAINING_ROWS`` synthetic rows, on up to
    ``ATTACKED_ROWS`` members and holdout patients; None without a target, or when those
    synthetic rows hold only one side of the rare outcome (nothing to learn)."""
    if ctx.target is None or ctx.minority is None or ctx.synthetic.labels is None:
        return None
    # The seeds of the audit's distance searches (audit.compute_distances): the attack scores
    # the same members and holdout patients as the membership attacks.
    rows = _positions(len(ctx.synthetic), seed=ctx.seed + 2, limit=TRAINING_ROWS)
    rare = ctx.synthetic.labels[rows] == ctx.minority
    if rare.all() or not rare.any():
        return None
    model = MODEL_FACTORIES[BOOSTING](ctx.seed, "balanced")
    # One native thread, as for the downstream models (see utility.fit_downstream).
    with threadpool_limits(limits=1):
        model.fit(ctx.synthetic.features[rows], rare)
        members = _scored(model, ctx.members, ctx.minority, seed=ctx.seed)
        control = _scored(model, ctx.holdout, ctx.minority, seed=ctx.seed + 1)
    return InferenceScores(*members, *control)


def _scored(model: Any, table: Table, minority: int, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The model's scores on up to ``ATTACKED_ROWS`` rows of ``table`` and which have the rare
    outcome."""
    assert table.labels is not None
    rows = _positions(len(table), seed=seed, limit=ATTACKED_ROWS)
    score = model.predict_proba(table.features[rows])[:, 1]
    return score, table.labels[rows] == minority


def _positions(size: int, *, seed: int, limit: int) -> np.ndarray:
    """Every row position, or ``limit`` of them drawn at random (:func:`measured_subset`)."""
    subset = measured_subset(size, seed=seed, limit=limit)
    return np.arange(size) if subset is None else subset


def outcome_inference(ctx: EvaluationContext) -> list[MetricResult]:
    """The attack's AUC gain on training patients over unseen ones, with its interval and both
    AUCs (empty without a target)."""
    if ctx.target is None or ctx.minority is None:
        return []
    rare = repr(str(ctx.classes[ctx.minority]))
    scores = outcome_inference_scores(ctx)
    details: dict[str, object] = {
        "rare_outcome": rare,
        "model": BOOSTING,
        "trained_on_synthetic_rows": min(len(ctx.synthetic), TRAINING_ROWS),
    }
    if scores is None:
        value, interval = float("nan"), None
        details["note"] = f"The synthetic table has no rows of {rare} or only those: no model."
    else:
        sides = {"members": scores.members(), "control": scores.control()}
        value, interval = auc_difference_with_interval(sides["members"], sides["control"])
        for side, (positive, negative) in sides.items():
            auc, bounds = auc_with_interval(positive, negative)
            details[f"{side}_auc"] = auc
            details[f"{side}_auc_interval"] = [bounds.low, bounds.high]
            details[f"{side}_scored"] = len(positive) + len(negative)
            details[f"{side}_rare"] = len(positive)
    return [
        MetricResult(
            key="privacy.outcome_inference_gain",
            name=f"Outcome inference: {ctx.target} from the other columns (AUC gain)",
            family=Family.PRIVACY,
            value=value,
            ideal=0.0,
            direction=Direction.LOWER,
            meaning=(
                f"A model trained on the synthetic table to recognise {ctx.target} = {rare} "
                "from the other columns: its AUC on the training patients minus its AUC on "
                "unseen ones. 0 means the release tells no more about its own patients than "
                "about the population; the real training rows themselves, used the same way, "
                "would give the in-sample gain of the model."
            ),
            baseline=0.0,
            baseline_meaning="the same model on unseen patients (the control)",
            interval=interval,
            threat_model=INFERENCE_ATTACKER,
            details={**details, "members": len(ctx.members), "holdout": len(ctx.holdout)},
        )
    ]
