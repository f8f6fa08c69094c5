"""Small building blocks the pages share: metric cards and figures with their captions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from psygentab_core.evaluation.evaluate import Evaluation
from psygentab_core.evaluation.figures.catalogue import Entry
from psygentab_core.evaluation.result import Family, MetricResult


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
            lines.append(baseline.rstrip(".") + ".")
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


# Membership attacks score training patients against unseen ones: 0.5 is a coin flip.
CHANCE_AUC = 0.5


def results_by_key(evaluation: Evaluation, family: Family) -> dict[str, MetricResult]:
    """One family's results by key, so that a page picks what it shows by name."""
    return {result.key: result for result in evaluation.by_family(family)}


def interval_text(result: MetricResult) -> str:
    """The 95 % interval as "low to high", or an empty string where there is none."""
    interval = result.interval
    if interval is None or interval.low != interval.low or interval.high != interval.high:
        return ""
    return f"{interval.low:.3f} to {interval.high:.3f}"


def results_table(results: Sequence[MetricResult]) -> None:
    """Results as one compact table (value, interval, baseline, meaning) instead of cards."""
    rows = [
        {
            "metric": r.name,
            "value": format_value(r.value),
            "95 % interval": interval_text(r),
            "baseline": "" if r.baseline is None else format_value(r.baseline),
            "baseline is": r.baseline_meaning or "",
            "meaning": r.meaning,
        }
        for r in results
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def membership_verdict(attacks: Sequence[tuple[str, MetricResult]]) -> tuple[bool, str]:
    """A plain-language verdict on membership attacks, given as (label, result) pairs.

    Returns whether some attack beats chance and the sentence that says so. An attack counts
    only when its whole 95 % interval lies above 0.5; otherwise the verdict says how large an
    advantage the intervals still allow, so that "no signal" never reads as "proven private".
    """
    judged = [(label, r) for label, r in attacks if interval_text(r)]
    if not judged:
        return False, "No attack has a confidence interval, so no verdict is drawn."
    above = [(label, r) for label, r in judged if r.interval.low > CHANCE_AUC]
    if above:
        label, worst = max(above, key=lambda pair: pair[1].interval.low)
        low, high = worst.interval.low, worst.interval.high
        return True, (
            f"Measurable membership signal: the {label} tells training patients from unseen "
            f"ones better than chance, AUC {worst.value:.3f} (95 % interval {low:.3f} to "
            f"{high:.3f}), that is {low - CHANCE_AUC:.3f} to {high - CHANCE_AUC:.3f} above a "
            "coin flip."
        )
    below = [r.interval.high < CHANCE_AUC for _, r in judged]
    where = "lies below" if all(below) else "includes or lies below" if any(below) else "includes"
    text = f"No measurable membership signal: every attack's 95 % interval {where} 0.5 (chance)"
    reach = max(r.interval.high for _, r in judged)
    if reach > CHANCE_AUC:
        # The upper bound is what the data cannot rule out; say it rather than claim safety.
        text += (
            f", though an advantage of up to {reach - CHANCE_AUC:.3f} AUC above chance cannot "
            "be ruled out with this many patients"
        )
    return False, text + "."


def verdict(signal: bool, text: str) -> None:
    """A verdict line: a warning when there is a signal, plain information otherwise."""
    if signal:
        st.warning(text, icon=":material/warning:")
    else:
        st.info(text, icon=":material/info:")


def next_page(page: str, label: str) -> None:
    """The link to the next page in the walk through the evaluation."""
    st.divider()
    st.page_link(page, label=f"Next: {label}", icon=":material/arrow_forward:")


def subgroup_exposure(results: Sequence[MetricResult], *, key_prefix: str) -> None:
    """Per sensitive attribute, the attack's success within each subgroup: card and figure."""
    from psygentab_core.evaluation.figures import privacy

    for result in results:
        left, right = st.columns([1, 2])
        with left:
            metric_card(result)
        with right:
            figure(
                privacy.subgroup_exposure(result),
                "Attack AUC within each subgroup with its 95 % interval; hollow markers are "
                "groups too small to judge.",
                key=f"{key_prefix}-{result.key.rsplit('.', 1)[-1]}",
            )


def ledger(privacy: Mapping[str, Any]) -> None:
    """A DP run's ledger (``result.json``'s ``privacy``) in an expander: every read of the real
    rows with its coverage and cost, what DP mode switched off, and the caveats."""
    with st.expander("Ledger: every read of the real rows", icon=":material/receipt_long:"):
        rows = [
            {
                "step": e["step"],
                "reads": e["reads"],
                "coverage": e["coverage"],
                "ε": e["epsilon"],
                "δ": e["delta"],
                "how": e["mechanism"],
            }
            for e in privacy.get("entries", [])
        ]
        st.dataframe(
            pd.DataFrame(rows),
            hide_index=True,
            width="stretch",
            column_config={
                "ε": st.column_config.NumberColumn(format="%.4g"),
                "δ": st.column_config.NumberColumn(format="%.2g"),
                "how": st.column_config.TextColumn(width="large"),
            },
        )
        st.caption(
            "charged: a DP mechanism, its (ε, δ) part of the total; public: declared public, or "
            "no row values; audit: reads real rows but only reports to you, never shapes the "
            "generator or the release."
        )
        for item in privacy.get("disabled", []):
            st.markdown(f"- **Off in DP mode:** {item}")
        for item in privacy.get("caveats", []):
            st.markdown(f"- **Caveat:** {item}")
