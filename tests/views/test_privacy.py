"""Privacy audit page: an honest verdict first, every privacy score with its attacker and
baseline, the attack and distance figures, subgroup exposure; nothing without a run."""

from __future__ import annotations

import json

import pytest

from psygentab_app.session import SESSION_KEY
from psygentab_app.ui import membership_verdict
from psygentab_core.dp import attack_bound
from psygentab_core.evaluation.result import Direction, Family, Interval, MetricResult

PAGE = "views/privacy.py"


def chart_keys(page) -> set[str]:
    """Keys of the page's Plotly charts (the element id ends with the key)."""
    return {chart.proto.id.split("-", 2)[-1] for chart in page.get("plotly_chart")}


def evaluation_of(page):
    """The one evaluation the page computed."""
    (evaluation,) = page.session_state[SESSION_KEY].evaluations.values()
    return evaluation


def attack(low: float, high: float, value: float | None = None) -> MetricResult:
    """A membership attack result with the given AUC interval."""
    return MetricResult(
        key="privacy.mia_test_auc",
        name="Membership inference: test attack (AUC)",
        family=Family.PRIVACY,
        value=(low + high) / 2 if value is None else value,
        ideal=0.5,
        direction=Direction.TOWARD_IDEAL,
        meaning="test",
        interval=Interval(low, high),
    )


def test_verdict_scores_and_figures_show_and_returning_reuses_them(app_with_run) -> None:
    page = app_with_run(PAGE)
    assert not page.exception
    assert page.title[0].value == "Privacy audit"
    evaluation = evaluation_of(page)
    results = evaluation.by_family(Family.PRIVACY)
    attacks = [r for r in results if r.key.startswith("privacy.mia_")]
    signal, _ = membership_verdict([(r.name, r) for r in attacks])
    opening = "Measurable membership signal" if signal else "No measurable membership signal"
    assert any(a.value.startswith(opening) for a in [*page.info, *page.warning])
    # Trained without differential privacy: the page claims no formal guarantee.
    assert any(
        i.value.startswith("None: this run was trained without differential privacy")
        for i in page.info
    )
    assert not page.success
    assert {m.label for m in page.metric} == {r.name for r in results}
    # Each attack card names its attacker.
    captions = " ".join(c.value for c in page.caption)
    assert all(r.threat_model in captions for r in attacks)
    prefix = "privacy.subgroup_attack_auc."
    subgroups = {r.key.removeprefix(prefix) for r in results if r.key.startswith(prefix)}
    assert subgroups == {"sex", "race", "age"}
    assert chart_keys(page) == {
        "privacy-attack-roc",
        "privacy-distances",
        "privacy-outcome-inference",
    } | {f"privacy-subgroup-{s}" for s in subgroups}
    inference = next(r for r in results if r.key == "privacy.outcome_inference_gain")
    assert inference.threat_model in captions

    # Coming back reuses the evaluation (in this test, to compute one evaluation less).
    evaluation = evaluation_of(page)
    page.switch_page("views/minority.py").run()
    page.switch_page(PAGE).run()
    assert not page.exception
    assert evaluation_of(page) is evaluation


def test_an_interval_around_chance_is_no_signal_but_says_what_it_cannot_rule_out() -> None:
    signal, text = membership_verdict([("test attack", attack(0.46, 0.54))])
    assert not signal
    assert text.startswith("No measurable membership signal")
    assert "up to 0.040 AUC above chance cannot be ruled out" in text


def test_an_interval_above_chance_is_a_signal_with_its_size() -> None:
    weak, strong = attack(0.46, 0.54), attack(0.55, 0.65, value=0.6)
    signal, text = membership_verdict([("weak attack", weak), ("strong attack", strong)])
    assert signal
    assert "strong attack" in text
    assert "AUC 0.600" in text
    assert "0.050 to 0.150 above a coin flip" in text


@pytest.mark.parametrize(
    ("low", "high"), [(float("nan"), float("nan")), (0.40, 0.45)], ids=["no interval", "below"]
)
def test_no_interval_or_one_below_chance_claims_no_signal(low: float, high: float) -> None:
    signal, text = membership_verdict([("test attack", attack(low, high, value=0.43))])
    assert not signal
    assert "cannot be ruled out" not in text


def trace_names(page, key: str) -> list[str]:
    """Names of the traces of one Plotly chart."""
    (chart,) = [c for c in page.get("plotly_chart") if c.proto.id.endswith(key)]
    return [trace.get("name", "") for trace in json.loads(chart.proto.spec)["data"]]


def test_a_dp_run_shows_its_guarantee_and_the_attacks_against_its_bound(app_with_dp_run) -> None:
    page = app_with_dp_run(PAGE)
    assert not page.exception
    ledger = page.session_state[SESSION_KEY].run_entry().summary["privacy"]
    bound = attack_bound(ledger["epsilon"], ledger["delta"])
    # The guarantee as the ledger states it, with what it implies for any attacker.
    assert any(s.value == ledger["statement"] for s in page.success)
    assert "It does not cover the run folder" in ledger["statement"]
    shown = {m.label: m.value for m in page.metric}
    assert shown["Largest attack AUC the guarantee allows"] == f"{bound.max_auc:.3f}"
    assert shown["ε spent (δ = 1e-04)"] == f"{ledger['epsilon']:.2f} of 3"
    # The measured attacks next to the bound, in words and in the ROC figure.
    attacks = [
        r for r in evaluation_of(page).by_family(Family.PRIVACY) if r.key.startswith("privacy.mia_")
    ]
    strongest = max(attacks, key=lambda r: r.value)
    (comparison,) = [i.value for i in page.info if i.value.startswith("The strongest measured")]
    assert f"reaches AUC {strongest.value:.3f}" in comparison
    assert f"no attack of any kind can exceed AUC {bound.max_auc:.3f}" in comparison
    names = trace_names(page, "privacy-attack-roc")
    assert names[0].startswith("most any attack can reach under (ε = ")
    assert len(names) == len(attacks) + 2  # the bound, each attack, guessing
