"""Live training curves: objective, each constraint against its threshold, multipliers, and the
privacy budget spent by a differentially private run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from psygentab_core.evaluation.figures import NEUTRAL, REAL, SYNTHETIC, styled

CONSTRAINT_COLOURS = ("#b2182b", "#5e3c99", "#1b7837", "#8c510a", "#01665e")
# Panel titles short enough for four panels side by side.
SHORT_LABELS = {
    "exact_match": "Exact copies",
    "close_records": "Too-close share",
    "closer_to_training": "Closer to training",
    "composite_privacy": "Composite P",
}
LEGEND_BELOW = {"orientation": "h", "yanchor": "top", "y": -0.22, "xanchor": "left", "x": 0}


def training_curves(history: Sequence[Mapping[str, Any]]) -> go.Figure:
    """The ALM at a glance, from ``EpochRecord.to_dict()`` rows (works mid-run)."""
    keys = [c["key"] for c in history[0]["constraints"]] if history else []
    figure = make_subplots(
        rows=2,
        cols=2,
        subplot_titles=(
            "Objective (per column) and fidelity proxy",
            "Constraints: measured value / threshold (≤ 1 is met)",
            "Multipliers λ",
            "Penalties ρ and privacy knobs",
        ),
        specs=[[{"secondary_y": True}, {}], [{}, {"secondary_y": True}]],
        vertical_spacing=0.16,
    )
    epochs = [h["epoch"] for h in history]
    figure.add_trace(
        go.Scatter(
            x=epochs, y=[h["objective"] for h in history], name="objective", line={"color": REAL}
        ),
        row=1,
        col=1,
    )
    figure.add_trace(
        go.Scatter(
            x=epochs,
            y=[h["fidelity"] for h in history],
            name="fidelity proxy",
            line={"color": SYNTHETIC, "dash": "dot"},
        ),
        row=1,
        col=1,
        secondary_y=True,
    )
    for key, colour in zip(keys, CONSTRAINT_COLOURS, strict=False):
        rows = [next(c for c in h["constraints"] if c["key"] == key) for h in history]
        figure.add_trace(
            go.Scatter(
                x=epochs,
                y=[_relative(c) for c in rows],
                name=key.replace("_", " "),
                line={"color": colour},
                legendgroup=key,
            ),
            row=1,
            col=2,
        )
        figure.add_trace(
            go.Scatter(
                x=epochs,
                y=[c["multiplier"] for c in rows],
                name=f"λ {key}",
                line={"color": colour},
                legendgroup=key,
                showlegend=False,
            ),
            row=2,
            col=1,
        )
        figure.add_trace(
            go.Scatter(
                x=epochs,
                y=[c["penalty"] for c in rows],
                name=f"ρ {key}",
                line={"color": colour, "dash": "dot"},
                legendgroup=key,
                showlegend=False,
            ),
            row=2,
            col=2,
        )
    figure.add_hline(y=1.0, line={"color": NEUTRAL, "dash": "dash"}, row=1, col=2)
    if history and history[0].get("privacy_spread"):
        for index, label in enumerate(("latent spread", "output noise", "level temperature")):
            figure.add_trace(
                go.Scatter(
                    x=epochs,
                    y=[h["privacy_spread"][index] for h in history],
                    name=label,
                    line={"color": NEUTRAL, "dash": ("solid", "dash", "dot")[index]},
                ),
                row=2,
                col=2,
                secondary_y=True,
            )
    figure.update_yaxes(type="log", row=2, col=2, secondary_y=False)
    figure.update_xaxes(title="epoch", row=2)
    styled(figure, title="Training with the Augmented Lagrangian", height=680)
    return figure.update_layout(legend={**LEGEND_BELOW, "y": -0.12}, margin={"b": 110})


def objective_curve(history: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Objective and fidelity proxy per epoch: what is left of the ALM curves under DP-SGD,
    which trains on no constraint (so there are no multipliers or penalties to draw)."""
    epochs = [h["epoch"] for h in history]
    figure = go.Figure(
        [
            go.Scatter(
                x=epochs,
                y=[h["objective"] for h in history],
                name="objective (negative ELBO per column)",
                line={"color": REAL},
            ),
            go.Scatter(
                x=epochs,
                y=[h["fidelity"] for h in history],
                name="fidelity proxy",
                line={"color": SYNTHETIC, "dash": "dot"},
                yaxis="y2",
            ),
        ]
    )
    figure.update_layout(
        yaxis={"title": "objective"},
        yaxis2={"title": "fidelity proxy", "overlaying": "y", "side": "right", "range": [0, 1]},
    )
    figure.update_xaxes(title="epoch")
    return styled(figure, title="Objective and fidelity proxy", height=340)


def epsilon_curve(
    history: Sequence[Mapping[str, Any]], *, target: float | None = None
) -> go.Figure:
    """ε spent after each epoch of a DP run (``EpochRecord.epsilon``; works mid-run), with the
    target as a dashed line. Epochs without an ε (a run without DP) are left out."""
    points = [(h["epoch"], h["epsilon"]) for h in history if h.get("epsilon") is not None]
    figure = go.Figure(
        go.Scatter(
            x=[epoch for epoch, _ in points],
            y=[epsilon for _, epsilon in points],
            mode="lines+markers",
            name="ε spent",
            line={"color": SYNTHETIC},
            hovertemplate="epoch %{x}: ε = %{y:.3f}<extra></extra>",
        )
    )
    if target is not None:
        figure.add_hline(
            y=target,
            line={"color": NEUTRAL, "dash": "dash"},
            annotation_text=f"target ε = {target:g}",
            annotation_position="top left",
        )
    top = max([target or 0.0, *(epsilon for _, epsilon in points)], default=1.0)
    figure.update_yaxes(title="ε spent (preprocessing and DP-SGD)", range=[0, 1.1 * top or 1.0])
    figure.update_xaxes(title="epoch")
    return styled(figure, title="Differential privacy: budget spent", height=340)


def _relative(constraint: Mapping[str, Any]) -> float:
    """Measured value over threshold, oriented so that ≤ 1 always means 'met'."""
    measured, threshold = constraint["measured"], constraint["threshold"]
    if constraint["sense"] == "at most":
        return measured / threshold if threshold > 0 else (1.0 + measured * 100)
    return threshold / measured if measured > 0 else float("inf")


def threshold_line(
    column: int, threshold: float, text: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A dashed horizontal line across panel ``column`` of a one-row grid, and its label above
    the line's left end (what ``add_hline(row=1, col=column)`` draws)."""
    suffix = "" if column == 1 else str(column)
    shape = {
        "type": "line",
        "xref": f"x{suffix} domain",
        "x0": 0,
        "x1": 1,
        "yref": f"y{suffix}",
        "y0": threshold,
        "y1": threshold,
        "line": {"color": NEUTRAL, "dash": "dash"},
    }
    label = {
        "text": text,
        "xref": f"x{suffix} domain",
        "x": 0,
        "xanchor": "left",
        "yref": f"y{suffix}",
        "y": threshold,
        "yanchor": "bottom",
        "showarrow": False,
    }
    return shape, label


def constraint_panels(history: Sequence[Mapping[str, Any]]) -> go.Figure:
    """One panel per constraint: its exact measurement per epoch against its threshold line,
    and the smooth surrogate the optimiser follows (works mid-run)."""
    constraints = history[0]["constraints"] if history else []
    figure = make_subplots(
        rows=1,
        cols=max(len(constraints), 1),
        subplot_titles=[SHORT_LABELS.get(c["key"], c["label"]) for c in constraints] or [""],
        horizontal_spacing=0.06,
    )
    epochs = [h["epoch"] for h in history]
    lines: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for column, (first, colour) in enumerate(
        zip(constraints, CONSTRAINT_COLOURS, strict=False), start=1
    ):
        rows = [next(c for c in h["constraints"] if c["key"] == first["key"]) for h in history]
        figure.add_trace(
            go.Scatter(
                x=epochs,
                y=[c["measured"] for c in rows],
                name="measured",
                mode="lines+markers",
                line={"color": colour},
                showlegend=column == 1,
                legendgroup="measured",
                hovertemplate="epoch %{x}: %{y:.3f}<extra>measured</extra>",
            ),
            row=1,
            col=column,
        )
        figure.add_trace(
            go.Scatter(
                x=epochs,
                y=[c["surrogate"] for c in rows],
                name="surrogate (what the optimiser sees)",
                line={"color": colour, "dash": "dot", "width": 1},
                opacity=0.6,
                showlegend=column == 1,
                legendgroup="surrogate",
            ),
            row=1,
            col=column,
        )
        sense = "at most" if first["sense"] == "at most" else "at least"
        label = f"{sense} {first['threshold']:.3g}"
        lines.append(threshold_line(column, first["threshold"], label))
    # Shapes and labels set in one go: add_hline per panel costs plotly ~40 ms each, and the
    # dashboard redraws this figure after every epoch of every session's run.
    figure.update_layout(
        shapes=[shape for shape, _ in lines],
        annotations=[*figure.layout.annotations, *(label for _, label in lines)],
    )
    figure.update_xaxes(title="epoch")
    styled(figure, title="Each constraint against its threshold", height=380)
    return figure.update_layout(legend=LEGEND_BELOW, margin={"b": 90})
