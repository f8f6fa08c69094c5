"""The report: self-contained HTML (no network), JSON with every metric, the CLI around it."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from psygentab_core.cli import main
from psygentab_core.evaluation.evaluate import Evaluation, evaluate
from psygentab_core.evaluation.report import RunInfo, build_report
from psygentab_core.evaluation.result import Family
from tests.evaluation.conftest import context


@pytest.fixture(scope="module")
def evaluation() -> Evaluation:
    ctx = context("fresh")
    return evaluate(ctx.data)


def test_evaluation_covers_every_family_and_times_each_part(evaluation: Evaluation) -> None:
    families = {r.family for r in evaluation.results}
    assert families == set(Family)
    assert set(evaluation.seconds) >= {"fidelity", "privacy", "fairness", "total"}
    assert evaluation.seconds["total"] == pytest.approx(
        sum(v for k, v in evaluation.seconds.items() if k != "total")
    )
    keys = [r.key for r in evaluation.results]
    assert len(keys) == len(set(keys))


def test_report_is_self_contained_and_complete(evaluation: Evaluation, tmp_path: Path) -> None:
    history = [
        {
            "epoch": 1,
            "objective": 1.0,
            "fidelity": 0.9,
            "privacy_spread": [1.0, 1.0, 1.0],
            "constraints": [
                {
                    "key": "close_records",
                    "measured": 0.02,
                    "threshold": 0.05,
                    "sense": "at most",
                    "multiplier": 0.0,
                    "penalty": 1.0,
                }
            ],
        }
    ]
    info = RunInfo(dataset_name="demo.csv", fingerprint="abc123", seed=4, history=history)
    html_path, json_path = build_report(evaluation, tmp_path / "out" / "report.html", info=info)
    page = html_path.read_text()
    # Opens offline: no external scripts, styles or fonts.
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']https?://", page)
    assert "@import" not in page
    assert "plotly" in page.lower()
    assert page.count("class='metric'") == len(evaluation.results)
    for result in evaluation.results:
        assert result.name.replace("'", "&#x27;") in page or result.name in page
    assert "Attacker:" in page
    assert "Training with the Augmented Lagrangian" in page
    data = json.loads(json_path.read_text())
    assert data["dataset"]["fingerprint"] == "abc123"
    assert {m["key"] for m in data["metrics"]} == {r.key for r in evaluation.results}
    assert data["history"] == history
    assert "timings_seconds" in data


def test_cli_evaluate_writes_the_report(tmp_path: Path) -> None:
    ctx = context("fresh")
    paths = {}
    for role in ("members", "holdout", "synthetic"):
        paths[role] = tmp_path / f"{role}.csv"
        getattr(ctx.data, role).to_csv(paths[role], index=False)
    stderr = io.StringIO()
    status = main(
        [
            "evaluate",
            "--members", str(paths["members"]),
            "--holdout", str(paths["holdout"]),
            "--synthetic", str(paths["synthetic"]),
            "--target", "outcome",
            "--sensitive", "sex",
            "--report", str(tmp_path / "report.html"),
        ],
        stderr=stderr,
    )  # fmt: skip
    assert status == 0, stderr.getvalue()
    assert (tmp_path / "report.html").stat().st_size > 100_000
    assert "Membership inference: distance attack (AUC)" in stderr.getvalue()
    data = json.loads((tmp_path / "report.json").read_text())
    assert any(m["key"] == "fairness.equalized_odds_gap.sex" for m in data["metrics"])


def test_cli_evaluate_names_a_bad_column(tmp_path: Path) -> None:
    ctx = context("fresh")
    ctx.data.members.to_csv(tmp_path / "m.csv", index=False)
    ctx.data.holdout.to_csv(tmp_path / "h.csv", index=False)
    broken = ctx.data.synthetic.copy()
    broken["age"] = "unknown"
    broken.to_csv(tmp_path / "s.csv", index=False)
    stderr = io.StringIO()
    status = main(
        ["evaluate", "--members", str(tmp_path / "m.csv"), "--holdout", str(tmp_path / "h.csv"),
         "--synthetic", str(tmp_path / "s.csv"), "--target", "outcome",
         "--report", str(tmp_path / "r.html")],
        stderr=stderr,
    )  # fmt: skip
    assert status == 2
    assert "Synthetic table" in stderr.getvalue()
    assert "'age'" in stderr.getvalue()


def test_an_identifier_kept_by_the_user_is_warned_about_in_the_report(
    evaluation: Evaluation, tmp_path: Path
) -> None:
    from dataclasses import replace

    from psygentab_core.schema import ColumnKind

    schema = evaluation.context.schema
    name = next(c.name for c in schema.columns if c.kind is ColumnKind.CATEGORICAL)
    flagged = schema.with_kind(name, ColumnKind.CATEGORICAL, reason="kept by the user")
    flagged = type(schema)(
        tuple(replace(c, identifier=True) if c.name == name else c for c in flagged.columns),
        target=schema.target,
    )
    data = replace(evaluation.context.data, schema=flagged)
    kept = replace(evaluation, context=replace(evaluation.context, data=data))
    html_path, json_path = build_report(kept, tmp_path / "report.html")
    assert json.loads(json_path.read_text())["kept_identifiers"] == [name]
    assert f"Column <b>{name}</b> looks like a direct identifier" in html_path.read_text()
    plain_html, _ = build_report(evaluation, tmp_path / "plain.html")
    assert "looks like a direct identifier" not in plain_html.read_text()
