"""Privacy audit: does the synthetic table give away the training patients?

A verdict first, drawn from the attacks' intervals; then the membership attacks, the distances
to the closest training patient, the composite score P and the exposure of each subgroup.
Every figure says who the attacker is and what unseen real patients (the baseline) score.
"""

import pandas as pd
import streamlit as st

from psygentab_app.results import current_evaluation
from psygentab_app.sidebar import start_page
from psygentab_app.ui import (
    figure,
    membership_verdict,
    metric_card,
    metric_cards,
    next_page,
    results_by_key,
    subgroup_exposure,
    verdict,
)
from psygentab_core.evaluation.figures import privacy
from psygentab_core.evaluation.report import FAMILY_INTRODUCTIONS, PRIVACY_SCOPE
from psygentab_core.evaluation.result import Family, MetricResult

ATTACK_PREFIX = "privacy.mia_"
SUBGROUP_PREFIX = "privacy.subgroup_attack_auc."
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


def attacks_section(attacks: list[MetricResult]) -> None:
    """The attacks' cards (each names its attacker), their ROC curves and their success at
    low false-positive rates."""
    st.subheader("Membership inference attacks")
    metric_cards(attacks, per_row=2)
    figure(
        privacy.attack_roc(attacks),
        "Each curve is an attack scored on training patients against unseen ones, with its "
        "AUC and 95 % interval; the dashed diagonal is guessing. The low false-positive end "
        "(left) is where a few exposed patients would show.",
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

if attacks:
    show_verdict(results, attacks)
    attacks_section(attacks)
distances_section(results)

if "privacy.composite_p" in results:
    st.subheader("Composite privacy score P")
    metric_card(results["privacy.composite_p"])

subgroups_section([r for k, r in results.items() if k.startswith(SUBGROUP_PREFIX)])

st.caption(PRIVACY_SCOPE)
next_page("views/fairness.py", "Fairness")
