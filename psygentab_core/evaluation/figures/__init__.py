"""Plotly figures of evaluation results, shared by the HTML report and the dashboard.

One palette everywhere: real data is always ``REAL`` and synthetic data always ``SYNTHETIC``.
Figures are built from ``MetricResult.details`` only, so a saved JSON report can be redrawn.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

from psygentab_core.evaluation.result import MetricResult

REAL = "#1f5f8b"  # deep blue
SYNTHETIC = "#e07b39"  # orange
HOLDOUT = "#6a9f58"  # green: real rows the generator never saw
NEUTRAL = "#7f7f7f"
DIVERGING = "RdBu_r"  # differences: red = synthetic higher, blue = synthetic lower
SEQUENTIAL = "Blues"

# Looked up once: assigning the template by name makes plotly copy it on every figure (~30 ms).
WHITE = pio.templates["plotly_white"]
FONT = {"family": "Inter, Segoe UI, Helvetica, Arial, sans-serif", "size": 13}


def styled(figure: go.Figure, *, title: str, height: int = 420) -> go.Figure:
    """The house style: a plain white layout, readable fonts, legend on top."""
    figure.update_layout(
        title={"text": title, "x": 0.0, "xanchor": "left"},
        template=WHITE,
        font=FONT,
        height=height,
        margin={"l": 60, "r": 20, "t": 70, "b": 50},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "right", "x": 1},
    )
    return figure


def details_of(result: MetricResult | Mapping[str, Any]) -> Mapping[str, Any]:
    """The ``details`` of a result, of its JSON form, or the details mapping itself."""
    if isinstance(result, MetricResult):
        return result.details
    if "details" in result and "key" in result:
        return result["details"]
    return result
