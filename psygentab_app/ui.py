"""Small building blocks the pages share: metric cards and figures with their captions."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
import streamlit as st

from psygentab_core.evaluation.figures.catalogue import Entry
from psygentab_core.evaluation.result import MetricResult


def format_value(value: float) -> str:
    """Three significant decimals, or n/a for a value that could not be computed."""
    if value is None or value != value:
        return "n/a"
    return f"{value:.3f}"


def metric_card(result: MetricResult) -> None:
    """A metric with its interval, baseline, ideal and (for attacks) the attacker it assumes."""
    interval = (
        f"95 % interval {result.interval.low:.3f} to {result.interval.high:.3f}"
        if result.interval
        else None
    )
    with st.container(border=True):
        st.metric(result.name, format_value(result.value), help=result.meaning)
        lines = [f"Ideal {format_value(result.ideal)}; {result.direction.value}."]
        if interval:
            lines.append(interval + ".")
        if result.baseline is not None:
            baseline = f"Baseline {format_value(result.baseline)}"
            if result.baseline_meaning:
                baseline += f": {result.baseline_meaning}"
            lines.append(baseline + ".")
        if result.threat_model:
            lines.append(f"Attacker: {result.threat_model}")
        st.caption(" ".join(lines))


def metric_cards(results: Sequence[MetricResult], *, per_row: int = 3) -> None:
    """Cards in rows of ``per_row``."""
    for start in range(0, len(results), per_row):
        row = results[start : start + per_row]
        for column, result in zip(st.columns(per_row)[: len(row)], row, strict=True):
            with column:
                metric_card(result)


def figure(fig: go.Figure, caption: str | None = None, *, key: str | None = None) -> None:
    """A Plotly figure across the page, with what it shows underneath."""
    st.plotly_chart(fig, width="stretch", key=key, config={"displaylogo": False})
    if caption:
        st.caption(caption)


def figures(entries: Sequence[Entry], *, key_prefix: str) -> None:
    """Figures from the evaluation catalogue, each with its caption."""
    for index, (_, caption, fig) in enumerate(entries):
        figure(fig, caption, key=f"{key_prefix}-{index}")
