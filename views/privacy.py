"""Privacy audit: does the synthetic table give away the training patients?

The formal guarantee first (for a run trained with differential privacy, what (ε, δ) covers and
the most any attack could reach; otherwise that there is none), then a verdict drawn from the
attacks' intervals; then the membership attacks, the distances to the closest training
patient, the composite score P and the exposure of each subgroup. Every figure says who the
attacker is and what unseen real patients (the baseline) score.
"""

import tomllib
from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from psygentab_app.privacy_mode import format_delta
from psygentab_app.results import current_evaluation
from psygentab_app.session import Session
from psygentab_app.sidebar import start_page
from psygentab_app.ui import (
    figure,
    interval_text,
    ledger,
    membership_verdict,
    metric_card,
    metric_cards,
    next_page,
    results_by_key,
    subgroup_exposure,
    verdict,
)
from psygentab_core.dp import AttackBound, attack_bound
from psygentab_core.errors import PsygentabError
from psygentab_core.evaluation.figures import privacy
from psygentab_core.evaluation.figures.catalogue import OUTCOME_INFERENCE_CAPTION
from psygentab_core.evaluation.report import (
    FAMILY_INTRODUCTIONS,
    PRIVACY_SCOPE,
    RunInfo,
    guarantee_text,
)
from psygentab_core.evaluation.result import Family, MetricResult

ATTACK_PREFIX = "privacy.mia_"
SUBGROUP_PREFIX = "privacy.subgroup_attack_auc."
INFERENCE_KEY = "privacy.outcome_inference_gain"
# The low false-positive rate the verdict looks at: where a few exposed patients show.
TAIL_FPR = "0.01"


def attack_label(result: MetricResult) -> str:
    """An attack's short name: "Membership inference: distance attack (AUC)" → "distance
    attack"."""
    return result.name.split(": ")[-1].removesuffix(" (AUC)")


def tail_note(attack: MetricResult) -> str | None:
    """A sentence when the attack finds more training patients than chance at 1 % false
    positives (its whole interval above chance): a low AUC can hide a few exposed patients."""
    tail = attack.details.get("tpr_at_fpr", {}).get(TAIL_FPR)
    if not tail or not tail.get("resolvable") or tail["low"] <= tail["baseline"]:
        return None
    return (
        f"At {float(TAIL_FPR):.0%} false positives the {attack_label(attack)} finds "
        f"{tail['tpr']:.1%} of training patients (95 % interval {tail['low']:.1%} to "
        f"{tail['high']:.1%}) where chance finds {tail['baseline']:.1%}: a few patients may be "
        "exposed."
    )


def copies_note(exact: MetricResult) -> str | None:
    """A sentence when synthetic rows copy training patients more often than unseen real
    patients happen to (natural duplicates)."""
    # NaN (could not be computed) compares False, so it is checked first.
    if exact.value != exact.value or exact.value <= (exact.baseline or 0.0):
        return None
    copies = exact.details.get("copies")
    counted = f"{copies} synthetic rows" if copies is not None else "Some synthetic rows"
    return (
        f"{counted} ({exact.value:.2%}) copy a training patient value for value, against "
        f"{(exact.baseline or 0.0):.2%} of unseen real patients."
    )


def show_verdict(results: dict[str, MetricResult], attacks: list[MetricResult]) -> None:
    """The verdict line: the attacks' membership signal, then tails and copies if any."""
    signal, text = membership_verdict([(attack_label(a), a) for a in attacks])
    notes = [tail_note(a) for a in attacks]
    if "privacy.exact_match_rate" in results:
        notes.append(copies_note(results["privacy.exact_match_rate"]))
    notes = [n for n in notes if n]
    verdict(signal or bool(notes), " ".join([text, *notes]))


def tail_table(attacks: list[MetricResult]) -> None:
    """True-positive rate of each attack at low false-positive rates, with its interval."""
    rows = [
        {
            "attack": attack_label(a),
            "false-positive rate": f"{float(fpr):.1%}",
            "training patients found": f"{tail['tpr']:.2%}",
            "95 % interval": f"{tail['low']:.2%} to {tail['high']:.2%}",
            "chance": f"{tail['baseline']:.2%}",
            "enough unseen patients to judge": "yes" if tail.get("resolvable") else "no",
        }
        for a in attacks
        for fpr, tail in a.details.get("tpr_at_fpr", {}).items()
    ]
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
        st.caption(
            "Share of training patients an attack finds while flagging only 1 % (or 0.1 %) of "
            "unseen patients; chance finds as many as it flags. Too few unseen patients cannot "
            "resolve the smallest rates."
        )


def run_privacy(session: Session) -> tuple[Mapping[str, Any] | None, str]:
    """The current run's ledger (None without DP) and its guarantee in the report's words."""
    entry = session.run_entry()
    if entry is None:
        return None, guarantee_text(RunInfo())
    ledger_data = (entry.summary or {}).get("privacy")
    try:
        folder = session.store.folder_of(entry.run_id)
        config = tomllib.loads((folder / "config.toml").read_text())
    except (OSError, PsygentabError, tomllib.TOMLDecodeError):
        config = {}  # no run record to go by: the guarantee is then "not known"
    return ledger_data, guarantee_text(RunInfo(config=config, privacy=ledger_data))


def the_bound(ledger_data: Mapping[str, Any] | None) -> AttackBound | None:
    """The bound on attacks that the spent (ε, δ) implies, where the guarantee holds."""
    if not ledger_data or not ledger_data.get("guarantee_holds"):
        return None
    return attack_bound(ledger_data["epsilon"], ledger_data["delta"])


def guarantee_section(ledger_data: Mapping[str, Any] | None, text: str) -> None:
    """What is proved about this run, before what is measured."""
    st.subheader("Formal guarantee")
    if ledger_data is None:
        st.info(text, icon=":material/info:")
        st.caption(
            "For a formal guarantee, turn on differential privacy on the Privacy thresholds "
            "page and train again."
        )
        return
    if not ledger_data.get("guarantee_holds"):
        st.error(text, icon=":material/gpp_bad:")
        ledger(ledger_data)
        return
    st.success(text, icon=":material/verified_user:")
    bound = the_bound(ledger_data)
    spent, auc, advantage = st.columns(3)
    spent.metric(
        f"ε spent (δ = {format_delta(ledger_data['delta'])})",
        f"{ledger_data['epsilon']:.2f} of {ledger_data['target_epsilon']:g}",
        help="Sum over the ledger's charged entries: the encoder's statistics and DP-SGD.",
    )
    auc.metric(
        "Largest attack AUC the guarantee allows",
        f"{bound.max_auc:.3f}",
        help="Area under TPR ≤ min(e^ε·FPR + δ, 1 − e^−ε·(1 − δ − FPR)) (Kairouz et al. 2015): "
        "no membership attack of any kind can have a larger ROC AUC on a training patient.",
    )
    advantage.metric(
        "Largest attack advantage (TPR − FPR)",
        f"{bound.max_advantage:.3f}",
        help=f"(e^ε − 1 + 2δ)/(e^ε + 1); accuracy at most {bound.max_accuracy:.1%} on equally "
        "many training and other patients.",
    )
    ledger(ledger_data)


def bound_comparison(attacks: list[MetricResult], bound: AttackBound) -> tuple[bool, str]:
    """The strongest measured attack against the bound: (contradicts the guarantee, sentence)."""
    measured = [a for a in attacks if a.value == a.value]
    if not measured:
        return False, "No attack could be scored, so nothing is compared with the bound."
    worst = max(measured, key=lambda a: a.value)
    interval = interval_text(worst)
    text = (
        f"The strongest measured attack, the {attack_label(worst)}, reaches AUC "
        f"{worst.value:.3f}" + (f" (95 % interval {interval})" if interval else "") + "; "
        f"under the run's guarantee (ε = {bound.epsilon:.3g}, δ = {bound.delta:.2g}) no attack "
        f"of any kind can exceed AUC {bound.max_auc:.3f}."
    )
    if worst.interval is not None and worst.interval.low > bound.max_auc:
        return True, text + (
            " The measured attack lies above the bound beyond sampling noise, which the "
            "guarantee rules out: check the ledger and how the run was made before sharing it."
        )
    if worst.value > bound.max_auc:
        return False, text + " The measured AUC is above the bound only within sampling noise."
    return False, text + (
        f" It stays {bound.max_auc - worst.value:.3f} below: the bound is what is proved "
        "against any attacker, the measurement what these two attacks achieve on these rows."
    )


def attacks_section(attacks: list[MetricResult], bound: AttackBound | None = None) -> None:
    """The attacks' cards (each names its attacker), their ROC curves (for a DP run against
    the bound its guarantee sets) and their success at low false-positive rates."""
    st.subheader("Membership inference attacks")
    metric_cards(attacks, per_row=2)
    if bound is not None:
        contradicts, text = bound_comparison(attacks, bound)
        if contradicts:
            st.error(text, icon=":material/gpp_bad:")
        else:
            st.info(text, icon=":material/shield:")
    figure(
        privacy.attack_roc(attacks, bound=bound),
        "Each curve is an attack scored on training patients against unseen ones, with its "
        "AUC and 95 % interval; the dashed diagonal is guessing. The low false-positive end "
        "(left) is where a few exposed patients would show."
        + (
            " The grey area is all that any attack could reach under the run's differential-"
            "privacy guarantee (TPR ≤ e^ε·FPR + δ and its mirror): a measured curve above its "
            "edge would contradict the guarantee."
            if bound is not None
            else ""
        ),
        key="privacy-attack-roc",
    )
    tail_table(attacks)


def distances_section(results: dict[str, MetricResult]) -> None:
    """Distance to the closest training patient: histograms, ratio, share, NNDR, copies."""
    st.subheader("Distance to the closest training patient")
    if "privacy.dcr_ratio" in results:
        figure(
            privacy.distance_histograms(results["privacy.dcr_ratio"]),
            "Synthetic rows (orange) should sit no closer to training patients than unseen "
            "real patients (green) do: the orange histogram should not lean left of the green.",
            key="privacy-distances",
        )
    keys = (
        "privacy.dcr_ratio",
        "privacy.closer_to_training_share",
        "privacy.nndr",
        "privacy.exact_match_rate",
    )
    metric_cards([results[k] for k in keys if k in results], per_row=2)


def outcome_inference_section(results: dict[str, MetricResult]) -> None:
    """Whether a model trained on the release tells the training patients' outcome better."""
    result = results.get(INFERENCE_KEY)
    if result is None:
        return
    st.subheader("Outcome inference")
    if "members_auc" in result.details:
        figure(
            privacy.outcome_inference_aucs(result),
            OUTCOME_INFERENCE_CAPTION,
            key="privacy-outcome-inference",
        )
    metric_card(result)


def subgroups_section(subgroups: list[MetricResult]) -> None:
    """The distance attack within each subgroup of each sensitive attribute."""
    st.subheader("Exposure of subgroups")
    if not subgroups:
        st.info(
            "No sensitive attribute is chosen, so the attack is not broken down by subgroup. "
            "Choose attributes on the **Fairness** page to see whether a small group is exposed "
            "while the overall figure looks safe."
        )
        return
    subgroup_exposure(subgroups, key_prefix="privacy-subgroup")


session = start_page()
st.title("Privacy audit")
st.caption(FAMILY_INTRODUCTIONS[Family.PRIVACY])
evaluation = current_evaluation(session)
if evaluation is None:
    st.stop()
results = results_by_key(evaluation, Family.PRIVACY)
attacks = [r for k, r in results.items() if k.startswith(ATTACK_PREFIX)]
ledger_data, guarantee = run_privacy(session)
guarantee_section(ledger_data, guarantee)

if attacks:
    st.subheader("Measured privacy")
    show_verdict(results, attacks)
    attacks_section(attacks, the_bound(ledger_data))
distances_section(results)
outcome_inference_section(results)

if "privacy.composite_p" in results:
    st.subheader("Composite privacy score P")
    metric_card(results["privacy.composite_p"])

subgroups_section([r for k, r in results.items() if k.startswith(SUBGROUP_PREFIX)])

st.caption(PRIVACY_SCOPE)
next_page("views/fairness.py", "Fairness")
