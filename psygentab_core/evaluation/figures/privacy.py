"""Figures of the privacy audit: attack ROC curves, distance histograms, outcome inference,
subgroup exposure."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import plotly.graph_objects as go

from psygentab_core.dp import AttackBound
from psygentab_core.evaluation.figures import HOLDOUT, NEUTRAL, SYNTHETIC, styled
from psygentab_core.evaluation.result import MetricResult

ATTACK_COLOURS = ("#b2182b", "#5e3c99", "#1b7837")


def attack_roc(attacks: Sequence[MetricResult], *, bound: AttackBound | None = None) -> go.Figure:
    """ROC curves of the membership attacks on log-scaled false-positive rates, with chance and,
    for a differentially private run, the most any attack could reach (:func:`attack_bound`)."""
    figure = go.Figure()
    if bound is not None:
        figure.add_trace(
            go.Scatter(
                x=[max(a, 1e-4) for a in bound.fpr],
                y=bound.tpr,
                mode="lines",
                name=(
                    f"most any attack can reach under (ε = {bound.epsilon:.3g}, "
                    f"δ = {bound.delta:.2g}): AUC ≤ {bound.max_auc:.3f}"
                ),
                line={"color": NEUTRAL, "width": 1.5},
                fill="tozeroy",
                fillcolor="rgba(127,127,127,0.08)",
            )
        )
    for result, colour in zip(attacks, ATTACK_COLOURS, strict=False):
        roc = result.details["roc"]
        interval = result.interval
        band = f" [{interval.low:.3f}, {interval.high:.3f}]" if interval else ""
        figure.add_trace(
            go.Scatter(
                x=roc["fpr"],
                y=roc["tpr"],
                mode="lines",
                name=f"{result.name.split(': ')[-1]}: AUC {result.value:.3f}{band}",
                line={"color": colour, "width": 2.5},
            )
        )
    chance = [1e-4, 1.0]
    figure.add_trace(
        go.Scatter(
            x=chance,
            y=chance,
            mode="lines",
            name="random guessing",
            line={"color": NEUTRAL, "dash": "dash"},
        )
    )
    figure.update_xaxes(type="log", title="false-positive rate (unseen patients flagged)")
    figure.update_yaxes(title="true-positive rate (training patients found)", range=[0, 1.02])
    return styled(figure, title="Membership inference attacks: ROC (members vs holdout)")


def distance_histograms(dcr: MetricResult) -> go.Figure:
    """Nearest-training-patient distance of synthetic rows against that of unseen patients."""
    details = dcr.details
    edges = details["edges"]
    centres = [(a + b) / 2 for a, b in pairwise(edges)]
    width = edges[1] - edges[0]

    def shares(counts: list[int]) -> list[float]:
        total = sum(counts) or 1
        return [c / total for c in counts]

    figure = go.Figure(
        [
            go.Bar(
                x=centres,
                y=shares(details["synthetic_counts"]),
                width=width,
                name="synthetic → training",
                marker_color=SYNTHETIC,
                opacity=0.7,
            ),
            go.Bar(
                x=centres,
                y=shares(details["holdout_counts"]),
                width=width,
                name="unseen real → training",
                marker_color=HOLDOUT,
                opacity=0.7,
            ),
        ]
    )
    figure.add_vline(
        x=details["holdout_q05"],
        line={"color": NEUTRAL, "dash": "dot"},
        annotation_text="closest 5 % of unseen patients",
    )
    figure.update_layout(barmode="overlay")
    figure.update_xaxes(title="distance to the nearest training patient")
    figure.update_yaxes(title="share of rows", tickformat=".0%")
    return styled(figure, title="Distance to closest record")


def subgroup_exposure(result: MetricResult) -> go.Figure:
    """Attack AUC per subgroup with its interval; small groups drawn hollow."""
    rows = result.details["groups"]
    figure = go.Figure(
        go.Scatter(
            x=[r["attack_auc"] for r in rows],
            y=[f"{r['group']} (n={r['members']}+{r['holdout']})" for r in rows],
            mode="markers",
            marker={
                "size": 12,
                "color": SYNTHETIC,
                "symbol": ["circle-open" if r["too_small"] else "circle" for r in rows],
            },
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [r["high"] - r["attack_auc"] for r in rows],
                "arrayminus": [r["attack_auc"] - r["low"] for r in rows],
                "color": SYNTHETIC,
            },
            name="attack AUC",
        )
    )
    figure.add_vline(x=0.5, line={"color": NEUTRAL, "dash": "dash"}, annotation_text="chance")
    figure.update_xaxes(title="membership attack AUC within the subgroup", range=[0.3, 1.0])
    return styled(
        figure,
        title=result.name + " (hollow: too small to judge)",
        height=max(260, 80 + 40 * len(rows)),
    )


def outcome_inference_aucs(result: MetricResult) -> go.Figure:
    """The outcome inference model's AUC on training patients and on unseen ones, each with
    its interval: the gap between the two points is the disclosure."""
    details = result.details
    sides = (("training patients", "members", SYNTHETIC), ("unseen patients", "control", HOLDOUT))
    figure = go.Figure()
    for label, side, colour in sides:
        if f"{side}_auc" not in details:
            continue
        value = details[f"{side}_auc"]
        low, high = details[f"{side}_auc_interval"]
        figure.add_trace(
            go.Scatter(
                x=[value],
                y=[f"{label} (n={details[f'{side}_scored']:,})"],
                mode="markers",
                marker={"size": 12, "color": colour},
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": [high - value],
                    "arrayminus": [value - low],
                    "color": colour,
                },
                name=label,
                showlegend=False,
            )
        )
    figure.add_vline(x=0.5, line={"color": NEUTRAL, "dash": "dash"}, annotation_text="chance")
    figure.update_xaxes(
        title=f"AUC for {details.get('rare_outcome', 'the rare outcome')}", range=[0.3, 1.0]
    )
    return styled(figure, title=result.name, height=240)
