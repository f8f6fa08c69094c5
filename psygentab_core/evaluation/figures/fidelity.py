"""Figures of the fidelity metrics, drawn from their ``details`` only.

Each function takes a :class:`MetricResult` or its ``to_dict()`` form (a saved JSON report), so
a report can be redrawn without the data.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from psygentab_core.evaluation.figures import (
    DIVERGING,
    HOLDOUT,
    NEUTRAL,
    REAL,
    SYNTHETIC,
    details_of,
    styled,
)
from psygentab_core.evaluation.result import MetricResult

# Associations run from -1 to 1 (Spearman) or 0 to 1 (Cramér's V, η): one scale for real and
# synthetic, a diverging one that is not the red-blue of the difference map.
ASSOCIATION_SCALE = "PRGn"
_EPOCH = pd.Timestamp("1970-01-01")


def _value(x: Any) -> float:
    """A number from details (None, from a NaN saved as JSON, becomes NaN)."""
    return float("nan") if x is None else float(x)


def association_heatmaps(result: MetricResult | Mapping[str, Any]) -> go.Figure:
    """Association matrices side by side: real | synthetic | synthetic − real."""
    details = details_of(result)
    columns = list(details["columns"])
    real = np.asarray(details["real"], dtype=float).reshape(len(columns), len(columns))
    synthetic = np.asarray(details["synthetic"], dtype=float).reshape(real.shape)
    difference = np.asarray(details["difference"], dtype=float).reshape(real.shape)
    measures = details.get("measures") or [[""] * len(columns) for _ in columns]
    biggest = float(np.nanmax(np.abs(difference))) if difference.size else 0.0
    # At least ±0.2, so that sampling noise stays pale instead of filling the scale.
    limit = max(0.2, min(1.0, np.ceil(biggest * 10) / 10))
    figure = make_subplots(
        rows=1,
        cols=3,
        shared_yaxes=True,
        horizontal_spacing=0.02,
        subplot_titles=("Real (training rows)", "Synthetic", "Difference (synthetic − real)"),
    )
    panels = (
        (real, "coloraxis", "real"),
        (synthetic, "coloraxis", "synthetic"),
        (difference, "coloraxis2", "synthetic − real"),
    )
    for col, (matrix, axis, label) in enumerate(panels, start=1):
        figure.add_trace(
            go.Heatmap(
                z=matrix,
                x=columns,
                y=columns,
                coloraxis=axis,
                customdata=measures,
                hovertemplate=(
                    "%{y} × %{x}<br>%{customdata}: %{z:.3f}" + f"<extra>{label}</extra>"
                ),
                xgap=1,
                ygap=1,
            ),
            row=1,
            col=col,
        )
    size = len(columns)
    font = max(7, min(12, int(520 / max(size, 1))))
    # Every column named (plotly would otherwise skip labels on wide tables).
    ticks = {
        "tickmode": "array",
        "tickvals": columns,
        "ticktext": columns,
        "tickfont": {"size": font},
    }
    figure.update_xaxes(tickangle=-60, **ticks)
    figure.update_yaxes(autorange="reversed", **ticks)
    figure.update_layout(
        coloraxis={
            "colorscale": ASSOCIATION_SCALE,
            "cmin": -1.0,
            "cmax": 1.0,
            "colorbar": {
                "title": {"text": "association", "side": "top"},
                "orientation": "h",
                "x": 0.33,
                "len": 0.5,
                "y": -0.22,
                "yanchor": "top",
                "thickness": 12,
            },
        },
        coloraxis2={
            "colorscale": DIVERGING,
            "cmid": 0.0,
            "cmin": -limit,
            "cmax": limit,
            "colorbar": {
                "title": {"text": "difference", "side": "top"},
                "orientation": "h",
                "x": 0.84,
                "len": 0.3,
                "y": -0.22,
                "yanchor": "top",
                "thickness": 12,
            },
        },
    )
    height = int(min(1100, max(480, 230 + 16 * size)))
    figure = styled(
        figure,
        title="Associations between columns: real | synthetic | difference",
        height=height,
    )
    figure.update_layout(margin={"l": 120, "r": 20, "t": 80, "b": 170})
    return figure


def _day_labels(values: list[float]) -> list[str]:
    stamps = _EPOCH + pd.to_timedelta(np.asarray(values, dtype=float), unit="D")
    return [s.strftime("%Y-%m-%d") for s in stamps]


def column_distribution(result: MetricResult | Mapping[str, Any], column: str) -> go.Figure:
    """One column, real vs synthetic, on the bins (or levels) both share."""
    details = details_of(result)
    distributions = details["distributions"]
    if column not in distributions:
        known = ", ".join(list(distributions)[:8])
        raise KeyError(f"No distribution for column {column!r} (columns: {known}, …).")
    plot = distributions[column]
    row = next((r for r in details.get("columns", []) if r["column"] == column), None)
    figure = go.Figure()
    if plot["type"] == "levels":
        for name, colour, key in (("real", REAL, "real"), ("synthetic", SYNTHETIC, "synthetic")):
            figure.add_trace(
                go.Bar(
                    x=plot["levels"],
                    y=plot[key],
                    name=name,
                    marker_color=colour,
                    hovertemplate="%{x}: %{y:.1%}" + f"<extra>{name}</extra>",
                )
            )
        figure.update_layout(barmode="group", bargap=0.2)
        figure.update_xaxes(title=column, type="category")
        figure.update_yaxes(title="share of rows", tickformat=".0%")
    else:
        edges = [float(e) for e in plot["edges"]]
        centres = [(a + b) / 2 for a, b in pairwise(edges)]
        widths = [b - a for a, b in pairwise(edges)]
        is_date = plot.get("kind") == "datetime"
        x = _day_labels(centres) if is_date else centres
        missing = {
            "real": plot.get("real_missing", 0.0),
            "synthetic": plot.get("synthetic_missing"),
        }
        for name, colour in (("real", REAL), ("synthetic", SYNTHETIC)):
            share = missing[name] or 0.0
            label = f"{name} ({share:.1%} missing)" if share else name
            figure.add_trace(
                go.Bar(
                    x=x,
                    y=plot[name],
                    width=None if is_date else widths,
                    name=label,
                    marker_color=colour,
                    opacity=0.6,
                    hovertemplate="%{x}: %{y:.1%}" + f"<extra>{name}</extra>",
                )
            )
        figure.update_layout(barmode="overlay", bargap=0.0)
        figure.update_xaxes(title=column)
        figure.update_yaxes(title="share of present values", tickformat=".0%")
    title = f"{column}: real vs synthetic"
    if row is not None:
        title += f" ({row['statistic']} distance {_value(row['value']):.3f})"
    return styled(figure, title=title)


def marginal_similarity_bars(result: MetricResult | Mapping[str, Any]) -> go.Figure:
    """Per-column similarity (1 − distance), worst columns first, with the real-vs-real mark."""
    details = details_of(result)
    rows = sorted(details["columns"], key=lambda r: _value(r["similarity"]))
    names = [r["column"] for r in rows]
    figure = go.Figure(
        [
            go.Bar(
                y=names,
                x=[_value(r["similarity"]) for r in rows],
                orientation="h",
                name="synthetic vs real",
                marker_color=SYNTHETIC,
                customdata=[[r["statistic"], r["kind"]] for r in rows],
                hovertemplate="%{y} (%{customdata[1]}): %{x:.3f}<br>1 − %{customdata[0]}"
                "<extra>synthetic vs real</extra>",
            ),
            go.Scatter(
                y=names,
                x=[_value(r.get("baseline_similarity")) for r in rows],
                mode="markers",
                name="holdout vs real (sampling noise)",
                marker={
                    "color": HOLDOUT,
                    "symbol": "line-ns-open",
                    "size": 14,
                    "line": {"width": 3},
                },
                hovertemplate="%{y}: %{x:.3f}<extra>holdout vs real</extra>",
            ),
        ]
    )
    low = min([_value(r["similarity"]) for r in rows] + [1.0])
    figure.update_xaxes(
        title="similarity (1 = identical distribution)", range=[min(low, 0.8) - 0.02, 1.01]
    )
    figure.update_yaxes(autorange="reversed", tickfont={"size": 11})
    return styled(
        figure,
        title="Marginal similarity per column (worst first)",
        height=int(min(1400, max(380, 120 + 22 * len(rows)))),
    )


def detection_roc(result: MetricResult | Mapping[str, Any]) -> go.Figure:
    """ROC curve of the real-vs-synthetic classifier, with the chance diagonal."""
    details = details_of(result)
    roc = details["roc"]
    value = result.value if isinstance(result, MetricResult) else result.get("value")
    label = "classifier" if value is None else f"classifier: AUC {_value(value):.3f}"
    figure = go.Figure(
        [
            go.Scatter(
                x=roc["fpr"],
                y=roc["tpr"],
                mode="lines",
                name=label,
                line={"color": SYNTHETIC, "width": 2.5},
            ),
            go.Scatter(
                x=[0, 1],
                y=[0, 1],
                mode="lines",
                name="cannot tell them apart (0.5)",
                line={"color": NEUTRAL, "dash": "dash"},
            ),
        ]
    )
    figure.update_xaxes(title="real rows flagged as synthetic", range=[0, 1])
    figure.update_yaxes(title="synthetic rows recognised", range=[0, 1.02])
    return styled(figure, title="Detection test: can a classifier tell real from synthetic?")


def quality_components(result: MetricResult | Mapping[str, Any]) -> go.Figure:
    """The four parts of the paper's Q, synthetic vs the holdout's (real vs real) values."""
    details = details_of(result)
    names = {
        "distribution": "distribution",
        "association": "association",
        "rare_events": "rare events",
        "coverage": "coverage",
    }
    parts = details["components"]
    reference = details.get("baseline_components", {})
    figure = go.Figure(
        [
            go.Bar(
                x=[names.get(k, k) for k in parts],
                y=[_value(v) for v in parts.values()],
                name="synthetic vs real",
                marker_color=SYNTHETIC,
            ),
            go.Bar(
                x=[names.get(k, k) for k in parts],
                y=[_value(reference.get(k)) for k in parts],
                name="holdout vs real",
                marker_color=HOLDOUT,
            ),
        ]
    )
    figure.update_layout(barmode="group")
    figure.update_yaxes(title="score (1 = identical)", range=[0, 1.02])
    return styled(figure, title="Quality score Q: its four parts")
