"""The evaluation report: one self-contained HTML file (opens offline) and one JSON file.

Written for a data steward or an ethics board: every figure with what it means, its ideal, its
baseline and (where random) its interval; every attack with the attacker it assumes; the data
fingerprint, schema, split, configuration, seed, versions and training history needed to
reproduce it.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from psygentab_core.evaluation.evaluate import Evaluation
from psygentab_core.evaluation.figures import REAL, SYNTHETIC
from psygentab_core.evaluation.figures.catalogue import (
    dp_figures,
    report_figures,
    training_figures,
)
from psygentab_core.evaluation.result import Family, MetricResult
from psygentab_core.schema import ColumnKind, TableSchema

FAMILY_INTRODUCTIONS = {
    Family.FIDELITY: (
        "Does the synthetic table look like the real one? Column by column, pair by pair, and "
        "to a classifier trying to tell them apart."
    ),
    Family.MINORITY: (
        "Is the rare class kept, in the right share and with the right profile? Rare classes "
        "and rare categories are the first casualties of synthetic data."
    ),
    Family.UTILITY: (
        "Can the synthetic table replace the real one for modelling? Models are trained on "
        "synthetic rows (TSTR) or real rows (TRTR) and always tested on the holdout: real "
        "patients the generator never saw."
    ),
    Family.PRIVACY: (
        "Does the synthetic table give away the training patients? Each figure is compared "
        "with unseen real patients (the holdout), and each attack is scored on training "
        "patients against unseen ones, so 0.5 means the attacker learns nothing."
    ),
    Family.FAIRNESS: (
        "Does the synthetic table treat subgroups alike? Per subgroup of each sensitive "
        "attribute, models trained on real and on synthetic data are compared on the holdout."
    ),
}

PRIVACY_SCOPE = (
    "This evaluation reads the real training rows and the holdout by design; it is an audit, not "
    "a private computation, and its report should be handled like the real data."
)

# A builder returns (family, caption, figure); family None puts the figure under Training.
FigureBuilder = Callable[[Evaluation], list[tuple[Family | None, str, go.Figure]]]


@dataclass(frozen=True, slots=True)
class RunInfo:
    """What the report says about where the synthetic table came from (all optional)."""

    dataset_name: str = "table"
    fingerprint: str | None = None
    split: Mapping[str, Any] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)
    seed: int | None = None
    history: Sequence[Mapping[str, Any]] = ()
    constraints: Sequence[Mapping[str, Any]] = ()
    versions: Mapping[str, str] = field(default_factory=dict)
    notes: Sequence[str] = ()
    # A DP run's ledger (``RunSummary.privacy``); None for a run without DP, or an unknown one.
    privacy: Mapping[str, Any] | None = None


def kept_identifiers(schema: TableSchema) -> list[str]:
    """Columns flagged as likely direct identifiers that the user chose to model anyway."""
    return [c.name for c in schema.columns if c.identifier and c.kind is not ColumnKind.EXCLUDED]


def report_data(evaluation: Evaluation, info: RunInfo) -> dict[str, Any]:
    """Everything in the report as JSON-ready data."""
    context = evaluation.context
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "dataset": {
            "name": info.dataset_name,
            "fingerprint": info.fingerprint,
            "members": len(context.members),
            "holdout": len(context.holdout),
            "synthetic": len(context.synthetic),
            "columns": len(context.schema.columns),
            "target": context.target,
            "sensitive": list(context.data.sensitive),
        },
        "schema": context.schema.to_dict(),
        "split": dict(info.split),
        "config": dict(info.config),
        "seed": info.seed,
        "evaluation_seed": context.seed,
        "versions": dict(info.versions),
        "constraints": list(info.constraints),
        "history": list(info.history),
        "notes": list(info.notes),
        "kept_identifiers": kept_identifiers(context.schema),
        "guarantee": guarantee_text(info),
        "privacy": None if info.privacy is None else dict(info.privacy),
        "scope": PRIVACY_SCOPE,
        "timings_seconds": evaluation.seconds,
        "metrics": [r.to_dict() for r in evaluation.results],
    }


def build_report(
    evaluation: Evaluation,
    html_path: str | Path,
    *,
    info: RunInfo | None = None,
    figure_builders: Sequence[FigureBuilder] | None = None,
) -> tuple[Path, Path]:
    """Write ``report.html`` and ``report.json`` (same stem); returns both paths."""
    info = info or RunInfo()
    html_path = Path(html_path)
    json_path = html_path.with_suffix(".json")
    html_path.parent.mkdir(parents=True, exist_ok=True)
    data = report_data(evaluation, info)
    json_path.write_text(json.dumps(data, indent=1, default=_json_default))
    builders = [report_figures] if figure_builders is None else figure_builders
    figures = [entry for builder in builders for entry in builder(evaluation)]
    figures += dp_figures(evaluation, info.privacy)
    target = None if info.privacy is None else info.privacy.get("target_epsilon")
    figures += training_figures(info.history, target_epsilon=target)
    html_path.write_text(_render(data, evaluation, info, figures))
    return html_path, json_path


def _render(
    data: dict[str, Any],
    evaluation: Evaluation,
    info: RunInfo,
    figures: list[tuple[Family | None, str, go.Figure]],
) -> str:
    dataset = data["dataset"]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>PSyGenTAB report: {_e(dataset['name'])}</title>",
        f"<style>{_CSS}</style>",
        f"<script>{get_plotlyjs()}</script>",
        "</head><body><main>",
        "<h1>Synthetic data report</h1>",
        f"<p class='lead'>{_e(dataset['name'])}: {dataset['members']:,} training rows, "
        f"{dataset['holdout']:,} holdout rows (never seen by the generator), "
        f"{dataset['synthetic']:,} synthetic rows, {dataset['columns']} columns; "
        f"target <b>{_e(dataset['target'] or 'none')}</b>.</p>",
        f"<p class='meta'>Generated {data['generated_at']} · dataset fingerprint "
        f"<code>{_e(dataset['fingerprint'] or 'not given')}</code> · evaluation seed "
        f"{data['evaluation_seed']}</p>",
        f"<p class='scope'>{_e(PRIVACY_SCOPE)}</p>",
        *(
            f"<p class='warning'>Column <b>{_e(name)}</b> looks like a direct identifier and was "
            "kept in training at the user's request: the generator learned it, and synthetic "
            "rows may carry values of it.</p>"
            for name in data["kept_identifiers"]
        ),
        _legend(),
        "<h2>Formal privacy guarantee</h2>",
        f"<p class='guarantee'>{_e(data['guarantee'])}</p>",
    ]
    if info.privacy is not None:
        parts.append(_privacy_section(info.privacy, evaluation.results))
    parts += [
        "<h2>Summary</h2>",
        _summary_table(evaluation.results),
    ]
    if info.constraints:
        title = (
            "Privacy constraints set for training"
            if info.privacy is None
            else "Privacy constraints (measured on the release only: not enforced with DP)"
        )
        parts += [f"<h2>{title}</h2>", _constraint_table(info)]
    for note in info.notes:
        parts.append(f"<p class='note'>{_e(note)}</p>")
    for family in Family:
        results = [r for r in evaluation.results if r.family is family]
        family_figures = [f for f in figures if f[0] is family]
        if not results and not family_figures:
            continue
        parts.append(f"<h2>{_e(family.value.capitalize())}</h2>")
        parts.append(f"<p>{_e(FAMILY_INTRODUCTIONS[family])}</p>")
        for result in results:
            parts.append(_metric_block(result))
        for _, caption, figure in family_figures:
            parts.append(_figure_html(caption, figure))
    training = [f for f in figures if f[0] is None]
    if training:
        parts.append("<h2>Training</h2>")
    for _, caption, figure in training:
        parts.append(_figure_html(caption, figure))
    parts += ["<h2>Appendix</h2>", _appendix(data)]
    parts.append("</main></body></html>")
    return "\n".join(parts)


def guarantee_text(info: RunInfo) -> str:
    """What the report can truthfully say about the generator's privacy guarantee."""
    if info.privacy is not None:
        return str(info.privacy["statement"])
    if info.config:
        return (
            "None: this run was trained without differential privacy. Its privacy rests on the "
            "empirical constraints it was trained under and on the audit below, which measure "
            "what these particular attacks achieve on these rows, not what any attacker could."
        )
    return (
        "Not known to this report: no run record came with the synthetic table, so nothing is "
        "claimed beyond the audit below."
    )


def _privacy_section(privacy: Mapping[str, Any], results: Sequence[MetricResult]) -> str:
    """The DP ledger (every read of the real rows) and the attack bound against the measured
    attacks."""
    bound = privacy["attack_bound"]
    rows = [
        "<table class='summary'><tr><th>Step</th><th>Reads</th><th>Coverage</th><th>ε</th>"
        "<th>δ</th><th>How</th></tr>"
    ]
    for entry in privacy["entries"]:
        rows.append(
            f"<tr><td>{_e(entry['step'])}</td><td>{_e(entry['reads'])}</td>"
            f"<td>{_e(entry['coverage'])}</td><td class='num'>{_number(entry['epsilon'])}</td>"
            f"<td class='num'>{entry['delta']:.2g}</td><td>{_e(entry['mechanism'])}</td></tr>"
        )
    rows.append("</table>")
    attacks = [r for r in results if r.key.startswith("privacy.mia_")]
    measured = "; ".join(f"{r.name}: AUC {_number(r.value)}" for r in attacks)
    parts = [
        f"<p>By Kairouz et al. (2015), no membership attack on a training row can exceed "
        f"TPR ≤ e^ε·FPR + δ: at most ROC AUC {_number(bound['max_auc'])}, TPR − FPR "
        f"{_number(bound['max_advantage'])}, accuracy {_number(bound['max_accuracy'])} on "
        "balanced members and non-members."
        + (f" Measured here: {_e(measured)}." if measured else "")
        + "</p>",
        "<h3>Ledger: every read of the real rows</h3>",
        "\n".join(rows),
    ]
    if privacy.get("disabled"):
        items = "".join(f"<li>{_e(item)}</li>" for item in privacy["disabled"])
        parts.append(f"<h3>Switched off in DP mode</h3><ul>{items}</ul>")
    if privacy.get("caveats"):
        items = "".join(f"<li>{_e(item)}</li>" for item in privacy["caveats"])
        parts.append(f"<h3>Caveats</h3><ul>{items}</ul>")
    return "\n".join(parts)


def _legend() -> str:
    return (
        "<p class='legend'><span class='swatch' style='background:"
        f"{REAL}'></span> real data <span class='swatch' style='background:{SYNTHETIC}'></span>"
        " synthetic data — the same two colours in every figure.</p>"
    )


def _summary_table(results: Sequence[MetricResult]) -> str:
    rows = [
        "<table class='summary'><tr><th>Family</th><th>Measure</th><th>Value</th>"
        "<th>95% interval</th><th>Ideal</th><th>Baseline</th></tr>"
    ]
    for result in results:
        rows.append(
            f"<tr><td>{_e(result.family.value)}</td><td>{_e(result.name)}</td>"
            f"<td class='num'>{_number(result.value)}</td><td class='num'>{_interval(result)}</td>"
            f"<td class='num'>{_number(result.ideal)}</td>"
            f"<td>{_number(result.baseline)} {_e(result.baseline_meaning or '')}</td></tr>"
        )
    rows.append("</table>")
    return "\n".join(rows)


def _constraint_table(info: RunInfo) -> str:
    rows = [
        "<table class='summary'><tr><th>Rule</th><th>Threshold</th><th>Measured on the "
        "release</th><th>Met</th></tr>"
    ]
    for item in info.constraints:
        met = item.get("satisfied_on_release")
        rows.append(
            f"<tr><td>{_e(item.get('rule', item.get('label', '')))}</td>"
            f"<td class='num'>{_e(item.get('sense', ''))} {_number(item.get('threshold'))}</td>"
            f"<td class='num'>{_number(item.get('measured_on_release'))}</td>"
            f"<td>{'yes' if met else 'no' if met is not None else ''}</td></tr>"
        )
    rows.append("</table>")
    return "\n".join(rows)


def _metric_block(result: MetricResult) -> str:
    lines = [
        f"<div class='metric'><h3>{_e(result.name)}: <span class='value'>"
        f"{_number(result.value)}</span> <span class='interval'>{_interval(result)}</span></h3>",
        f"<p>{_e(result.meaning)}</p>",
        f"<p class='facts'>Ideal {_number(result.ideal)} ({_e(result.direction.value)})",
    ]
    if result.baseline is not None:
        lines.append(f" · baseline {_number(result.baseline)}: {_e(result.baseline_meaning or '')}")
    if result.interval is not None:
        lines.append(
            f" · {int(result.interval.level * 100)} % interval by {_e(result.interval.method)}"
        )
    lines.append("</p>")
    if result.threat_model:
        lines.append(f"<p class='threat'><b>Attacker:</b> {_e(result.threat_model)}</p>")
    lines.append("</div>")
    return "".join(lines)


def _figure_html(caption: str, figure: go.Figure) -> str:
    body = figure.to_html(
        full_html=False, include_plotlyjs=False, config={"displaylogo": False, "responsive": True}
    )
    return f"<figure>{body}<figcaption>{_e(caption)}</figcaption></figure>"


def _appendix(data: dict[str, Any]) -> str:
    schema_rows = "".join(
        f"<tr><td>{_e(c['name'])}</td><td>{_e(c['kind'])}</td><td>{_e(c['reason'])}</td></tr>"
        for c in data["schema"]["columns"]
    )
    sections = [
        "<h3>Schema</h3><table class='summary'><tr><th>Column</th><th>Kind</th><th>Why</th></tr>"
        f"{schema_rows}</table>",
        "<h3>Split, configuration, versions and timings</h3>",
        "<pre>"
        + _e(
            json.dumps(
                {
                    "split": data["split"],
                    "config": data["config"],
                    "seed": data["seed"],
                    "versions": data["versions"],
                    "timings_seconds": data["timings_seconds"],
                },
                indent=1,
                default=_json_default,
            )
        )
        + "</pre>",
        "<p>The JSON file next to this report holds every figure above, with its details.</p>",
    ]
    return "\n".join(sections)


def _interval(result: MetricResult) -> str:
    if result.interval is None or not math.isfinite(result.interval.low):
        return ""
    return f"[{_number(result.interval.low)}, {_number(result.interval.high)}]"


def _number(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "–"
        return f"{value:.3f}" if abs(value) < 1000 else f"{value:,.0f}"
    return _e(str(value))


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


_CSS = """
.warning { background: #fdecea; border-left: 4px solid #b2182b; padding: 8px 12px; }
body { font-family: Inter, 'Segoe UI', Helvetica, Arial, sans-serif; color: #1d2733;
       background: #f6f7f9; margin: 0; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 32px 64px; background: #fff; }
h1 { font-size: 28px; margin-bottom: 4px; }
h2 { border-bottom: 2px solid #e3e6ea; padding-bottom: 4px; margin-top: 40px; }
h3 { font-size: 16px; margin: 18px 0 4px; }
.lead { font-size: 16px; } .meta, .facts { color: #5b6773; font-size: 13px; }
.scope { background: #fff6e5; border-left: 4px solid #e0a030; padding: 8px 12px; }
.guarantee { background: #eef7ee; border-left: 4px solid #1b7837; padding: 8px 12px; }
.note { background: #eef4fa; border-left: 4px solid #1f5f8b; padding: 8px 12px; }
.threat { background: #f7eef0; border-left: 4px solid #b2182b; padding: 6px 12px; font-size: 14px; }
.value { color: #1f5f8b; } .interval { color: #5b6773; font-weight: normal; font-size: 14px; }
table.summary { border-collapse: collapse; width: 100%; font-size: 13px; }
table.summary th, table.summary td { border-bottom: 1px solid #e3e6ea; padding: 5px 8px;
       text-align: left; vertical-align: top; }
td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
figure { margin: 16px 0 28px; } figcaption { color: #5b6773; font-size: 13px; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px;
          vertical-align: middle; margin: 0 4px 0 8px; }
pre { background: #f3f4f6; padding: 12px; overflow-x: auto; font-size: 12px; }
"""
