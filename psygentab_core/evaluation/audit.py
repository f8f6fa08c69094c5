"""The privacy audit: record-level measures, membership inference attacks and an outcome
inference attack (:mod:`psygentab_core.evaluation.inference`), each with its attacker, its
baseline and an interval.

Every attack is scored on real patients the generator trained on (members) against real
patients it never saw (holdout): a membership inference attack asks whether a given record was
in the training set, which only such a pair of sets can answer. The real-vs-synthetic classifier
that the source paper called an attack is reported under its true name, detection, by the
fidelity module.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from psygentab_core.distances import k_nearest_distances, nearest_distances
from psygentab_core.evaluation.data import EvaluationContext
from psygentab_core.evaluation.inference import outcome_inference
from psygentab_core.evaluation.result import (
    Direction,
    Family,
    Interval,
    MetricResult,
    bootstrap_interval,
)
from psygentab_core.evaluation.stats import (
    auc_with_interval,
    roc_curve_points,
    share_interval,
    tpr_at_fpr,
    two_sample_bootstrap,
)
from psygentab_core.privacy import (
    closer_to_members_share,
    composite_privacy_score,
    row_keys,
)

# Neighbours used by the density estimates of the density-ratio attack.
DENSITY_NEIGHBOURS = 5
# Rows of each table measured by the distance searches (every row is still searched *in*).
QUERY_ROWS = 20_000
# Below this many rows, a subgroup's attack figures are too noisy to judge.
SMALL_GROUP = 30
LOW_FPRS = (0.01, 0.001)

DISTANCE_ATTACKER = (
    "An attacker who holds the released synthetic table and a candidate patient's record, and "
    "claims 'member' when the record sits unusually close to some synthetic row."
)
DENSITY_ATTACKER = (
    "An attacker who also holds real records from the same population (half of the holdout, "
    "never trained on) and claims 'member' where the synthetic data are denser around a record "
    "than the population is (a k-nearest-neighbour version of DOMIAS, van Breugel et al., 2023)."
)


@dataclass(frozen=True, slots=True)
class AttackScores:
    """Scores of one attack (higher = 'more likely a member') on members and non-members."""

    name: str
    members: np.ndarray
    non_members: np.ndarray
    member_rows: np.ndarray  # positions in the members table of the scored members
    non_member_rows: np.ndarray  # positions in the holdout table of the scored non-members


@dataclass(frozen=True, slots=True)
class Distances:
    """Nearest-neighbour distances shared by several measures (computed once)."""

    synthetic_rows: np.ndarray  # the synthetic rows measured (all, or a random subset)
    member_rows: np.ndarray
    holdout_rows: np.ndarray
    synthetic_to_members: np.ndarray  # (synthetic rows, 2): nearest and second nearest
    holdout_to_members: np.ndarray  # (holdout rows, 2)
    synthetic_to_holdout: np.ndarray  # (synthetic rows,)
    members_to_synthetic_k: np.ndarray  # (member rows, k): nearest synthetic rows
    holdout_to_synthetic_k: np.ndarray  # (holdout rows, k)

    @property
    def members_to_synthetic(self) -> np.ndarray:
        """Distance of each measured member to its nearest synthetic row."""
        return self.members_to_synthetic_k[:, 0]

    @property
    def holdout_to_synthetic(self) -> np.ndarray:
        """Distance of each measured holdout row to its nearest synthetic row."""
        return self.holdout_to_synthetic_k[:, 0]


def compute_distances(ctx: EvaluationContext) -> Distances:
    """All nearest-neighbour searches the audit needs, batched (no n×n matrix is ever held).

    Searches always cover every row of the table searched *in*; the rows searched *from* are
    capped at ``QUERY_ROWS`` per table, drawn at random, which keeps large tables fast while the
    intervals stay narrow.
    """
    rows = {role: _query_rows(len(table), ctx.seed + i) for i, (role, table) in enumerate(
        ctx.tables().items()
    )}  # fmt: skip
    members = ctx.members.coordinates
    holdout = ctx.holdout.coordinates
    synthetic = ctx.synthetic.coordinates
    synthetic_queries = synthetic[torch.from_numpy(rows["synthetic"])]
    k = min(DENSITY_NEIGHBOURS, len(synthetic))
    holdout_queries = holdout[torch.from_numpy(rows["holdout"])]
    member_queries = members[torch.from_numpy(rows["members"])]
    return Distances(
        synthetic_rows=rows["synthetic"],
        member_rows=rows["members"],
        holdout_rows=rows["holdout"],
        synthetic_to_members=k_nearest_distances(synthetic_queries, members, 2).numpy(),
        holdout_to_members=k_nearest_distances(holdout_queries, members, 2).numpy(),
        synthetic_to_holdout=nearest_distances(synthetic_queries, holdout).numpy(),
        members_to_synthetic_k=k_nearest_distances(member_queries, synthetic, k).numpy(),
        holdout_to_synthetic_k=k_nearest_distances(holdout_queries, synthetic, k).numpy(),
    )


def _query_rows(size: int, seed: int) -> np.ndarray:
    if size <= QUERY_ROWS:
        return np.arange(size)
    return np.sort(np.random.default_rng(seed).choice(size, QUERY_ROWS, replace=False))


def measured_rows(ctx: EvaluationContext, distances: Distances) -> dict[str, int]:
    """How many rows of each table the distance measures read (and out of how many)."""
    return {
        "synthetic_rows_measured": len(distances.synthetic_rows),
        "synthetic_rows": len(ctx.synthetic),
        "member_rows_measured": len(distances.member_rows),
        "member_rows": len(ctx.members),
        "holdout_rows_measured": len(distances.holdout_rows),
        "holdout_rows": len(ctx.holdout),
    }


def _subset_note(ctx: EvaluationContext, distances: Distances) -> str:
    """A sentence for a measure's meaning when its rows are a random subset, else ''."""
    parts = [
        f"{len(rows):,} of the {len(table):,} {name} rows"
        for name, rows, table in (
            ("synthetic", distances.synthetic_rows, ctx.synthetic),
            ("training", distances.member_rows, ctx.members),
            ("holdout", distances.holdout_rows, ctx.holdout),
        )
        if len(rows) < len(table)
    ]
    if not parts:
        return ""
    return (
        f" Large tables: measured from {', '.join(parts)}, drawn at random (at most "
        f"{QUERY_ROWS:,} per table; every row is still searched among); the interval reflects "
        "that sample."
    )


def exact_matches(ctx: EvaluationContext) -> MetricResult:
    """Share of synthetic rows identical to a training row (after canonical normalisation)."""
    keys = _row_keys(ctx)
    synthetic_flags = np.isin(keys["synthetic"], keys["members"])
    holdout_flags = np.isin(keys["holdout"], keys["members"])
    return MetricResult(
        key="privacy.exact_match_rate",
        name="Exact copies of training rows",
        family=Family.PRIVACY,
        value=float(synthetic_flags.mean()),
        ideal=0.0,
        direction=Direction.LOWER,
        meaning=(
            "Share of synthetic rows identical, value for value, to a training patient (values "
            "normalised first, so 1 and 1.0 match). A copy discloses that patient's full record."
        ),
        baseline=float(holdout_flags.mean()),
        baseline_meaning=(
            "share of unseen real patients identical to a training patient (natural duplicates)"
        ),
        interval=share_interval(synthetic_flags, seed=ctx.seed),
        details={"copies": int(synthetic_flags.sum()), "synthetic_rows": len(synthetic_flags)},
    )


def distance_to_closest_record(ctx: EvaluationContext, distances: Distances) -> MetricResult:
    """Synthetic→members nearest distances against holdout→members (the real yardstick)."""
    synthetic = distances.synthetic_to_members[:, 0]
    holdout = distances.holdout_to_members[:, 0]
    ratio = _median_ratio(synthetic, holdout)
    close = float(np.quantile(holdout, 0.05))
    too_close = synthetic < close
    top = float(np.quantile(np.concatenate([synthetic, holdout]), 0.99)) or 1.0
    edges = np.linspace(0.0, top, 41)
    return MetricResult(
        key="privacy.dcr_ratio",
        name="Distance to closest record (synthetic vs unseen real patients)",
        family=Family.PRIVACY,
        value=ratio,
        ideal=1.0,
        direction=Direction.HIGHER,
        meaning=(
            "Median distance from a synthetic row to its nearest training patient, divided by "
            "the same for unseen real patients. Below 1, synthetic rows crowd the training "
            "patients more than real patients do; 1 or more is as private as fresh data."
            + _subset_note(ctx, distances)
        ),
        baseline=1.0,
        baseline_meaning="unseen real patients (holdout) by definition",
        interval=two_sample_bootstrap(_median_ratio, synthetic, holdout, seed=ctx.seed),
        details={
            **measured_rows(ctx, distances),
            "edges": edges.tolist(),
            "synthetic_counts": np.histogram(np.clip(synthetic, 0, top), edges)[0].tolist(),
            "holdout_counts": np.histogram(np.clip(holdout, 0, top), edges)[0].tolist(),
            "synthetic_median": float(np.median(synthetic)),
            "holdout_median": float(np.median(holdout)),
            "holdout_q05": close,
            "share_closer_than_holdout_q05": float(too_close.mean()),
        },
    )


def closer_to_training_share(ctx: EvaluationContext, distances: Distances) -> MetricResult:
    """Share of synthetic rows nearer the members than the holdout, as for equal-size sets."""
    synthetic_to_members = distances.synthetic_to_members[:, 0]
    literal = _subsampled_share(ctx, distances)

    def share_of(to_members: np.ndarray, to_holdout: np.ndarray) -> float:
        return closer_to_members_share(
            to_members, to_holdout, members=len(ctx.members), non_members=len(ctx.holdout)
        )

    return MetricResult(
        key="privacy.closer_to_training_share",
        name="Synthetic rows closer to training than to unseen patients",
        family=Family.PRIVACY,
        value=share_of(synthetic_to_members, distances.synthetic_to_holdout),
        ideal=0.5,
        direction=Direction.LOWER,
        meaning=(
            "Share of synthetic rows whose nearest real patient is a training patient rather "
            "than an unseen one, corrected to equal-size sets. 0.5 means the training patients "
            "leave no trace; 1 means every synthetic row sits on a training patient."
            + _subset_note(ctx, distances)
        ),
        baseline=0.5,
        baseline_meaning="a generator that never saw the training patients",
        interval=bootstrap_interval(
            share_of, (synthetic_to_members, distances.synthetic_to_holdout), seed=ctx.seed
        ),
        details={
            **measured_rows(ctx, distances),
            "equal_size_subsample_share": literal,
            "members": len(ctx.members),
            "holdout": len(ctx.holdout),
        },
    )


def nearest_neighbour_distance_ratio(ctx: EvaluationContext, distances: Distances) -> MetricResult:
    """Median nearest / second-nearest distance ratio to the members, synthetic vs holdout."""
    synthetic = _nndr(distances.synthetic_to_members)
    holdout = _nndr(distances.holdout_to_members)
    return MetricResult(
        key="privacy.nndr",
        name="Nearest-neighbour distance ratio",
        family=Family.PRIVACY,
        value=float(np.median(synthetic)),
        ideal=float(np.median(holdout)),
        direction=Direction.HIGHER,
        meaning=(
            "For each synthetic row, distance to its nearest training patient divided by the "
            "distance to the second nearest (median). Near 0, a synthetic row singles out one "
            "patient; unseen real patients give the reference level." + _subset_note(ctx, distances)
        ),
        baseline=float(np.median(holdout)),
        baseline_meaning="the same ratio for unseen real patients (holdout)",
        interval=_bootstrap_median(synthetic, seed=ctx.seed),
        details={"holdout_median": float(np.median(holdout)), **measured_rows(ctx, distances)},
    )


def distance_attack(ctx: EvaluationContext, distances: Distances) -> AttackScores:
    """Score = minus the distance to the nearest synthetic row."""
    return AttackScores(
        name="distance",
        members=-distances.members_to_synthetic,
        non_members=-distances.holdout_to_synthetic,
        member_rows=distances.member_rows,
        non_member_rows=distances.holdout_rows,
    )


def density_attack(ctx: EvaluationContext, distances: Distances) -> AttackScores:
    """Density ratio p_synthetic / p_population with k-NN density estimates, cross-fitted.

    The holdout is cut in two halves, each the attacker's population sample for the records
    scored against it: the holdout rows of the other half and an equal share of the members, so
    every scored record is judged against a reference of the same size. The records scored are
    the audit's query rows (at most ``QUERY_ROWS`` per table).
    """
    rng = np.random.default_rng(ctx.seed)
    half_of = np.zeros(len(ctx.holdout), dtype=int)
    half_of[rng.permutation(len(ctx.holdout))[len(ctx.holdout) // 2 :]] = 1
    member_half = rng.integers(0, 2, len(distances.member_rows))
    holdout_half = half_of[distances.holdout_rows]
    members = np.empty(len(distances.member_rows))
    non_members = np.empty(len(distances.holdout_rows))
    for half in (0, 1):
        population = ctx.holdout.coordinates[torch.from_numpy(np.flatnonzero(half_of != half))]
        k = min(DENSITY_NEIGHBOURS, len(population))
        for target, rows, table, to_synthetic, chosen in (
            (non_members, distances.holdout_rows, ctx.holdout, distances.holdout_to_synthetic_k,
             holdout_half == half),
            (members, distances.member_rows, ctx.members, distances.members_to_synthetic_k,
             member_half == half),
        ):  # fmt: skip
            points = table.coordinates[torch.from_numpy(rows[chosen])]
            target[chosen] = _log_density_ratio(
                to_synthetic[chosen, :k], k_nearest_distances(points, population, k).numpy()
            )
    return AttackScores(
        name="density ratio",
        members=members,
        non_members=non_members,
        member_rows=distances.member_rows,
        non_member_rows=distances.holdout_rows,
    )


def attack_result(ctx: EvaluationContext, scores: AttackScores, attacker: str) -> MetricResult:
    """AUC with DeLong interval, the ROC curve and TPR at low FPR of one attack."""
    auc, interval = auc_with_interval(scores.members, scores.non_members)
    low_fpr = {}
    for fpr in LOW_FPRS:
        value, bounds = tpr_at_fpr(scores.members, scores.non_members, fpr, seed=ctx.seed)
        low_fpr[f"{fpr:g}"] = {
            "tpr": value,
            "low": bounds.low,
            "high": bounds.high,
            "baseline": fpr,
            # With few non-members the lowest FPR cannot be resolved: say so.
            "resolvable": len(scores.non_members) * fpr >= 1.0,
        }
    return MetricResult(
        key=f"privacy.mia_{scores.name.replace(' ', '_')}_auc",
        name=f"Membership inference: {scores.name} attack (AUC)",
        family=Family.PRIVACY,
        value=auc,
        ideal=0.5,
        direction=Direction.TOWARD_IDEAL,
        meaning=(
            "How well the attacker tells training patients from unseen ones: 0.5 is a coin "
            "flip, 1 a perfect attack. The true-positive rate at 1 % and 0.1 % false positives "
            "(details) shows whether a few patients are exposed even when the AUC is low."
            + _scored_note(ctx, scores)
        ),
        baseline=0.5,
        baseline_meaning="random guessing",
        interval=interval,
        threat_model=attacker,
        details={
            "roc": roc_curve_points(scores.members, scores.non_members),
            "tpr_at_fpr": low_fpr,
            "members_scored": len(scores.members),
            "non_members_scored": len(scores.non_members),
            "members": len(ctx.members),
            "non_members": len(ctx.holdout),
        },
    )


def _scored_note(ctx: EvaluationContext, scores: AttackScores) -> str:
    """A sentence for an attack's meaning when it scores a random subset of the patients."""
    if len(scores.members) == len(ctx.members) and len(scores.non_members) == len(ctx.holdout):
        return ""
    return (
        f" Large tables: {len(scores.members):,} of the {len(ctx.members):,} training patients "
        f"and {len(scores.non_members):,} of the {len(ctx.holdout):,} unseen ones are scored, "
        f"drawn at random (at most {QUERY_ROWS:,} per table); the interval reflects that sample."
    )


def composite_privacy(ctx: EvaluationContext, distances: Distances) -> MetricResult:
    """The source paper's composite P, with unseen real patients as the yardstick."""
    keys = _row_keys(ctx)
    flagged = np.isin(keys["synthetic"], keys["members"]) | _duplicated(keys["synthetic"])
    value = composite_privacy_score(
        distances.synthetic_to_members[:, 0], flagged, distances.holdout_to_members[:, 0]
    )
    return MetricResult(
        key="privacy.composite_p",
        name="Composite privacy score P (source paper)",
        family=Family.PRIVACY,
        value=value,
        ideal=1.0,
        direction=Direction.HIGHER,
        meaning=(
            "0.5·DCR + 0.3·tail + 0.2·uniqueness, each capped at 1: 1 means synthetic rows sit "
            "as far from training patients as unseen real patients do and copy nobody. Shown "
            "for comparison with the source paper; the attacks above are the direct evidence."
            + _subset_note(ctx, distances)
        ),
        baseline=1.0,
        baseline_meaning="unseen real patients (holdout)",
        details=measured_rows(ctx, distances),
    )


def subgroup_privacy(
    ctx: EvaluationContext, scores: AttackScores, distances: Distances
) -> list[MetricResult]:
    """Per subgroup of each sensitive attribute: attack AUC and how close synthetic rows come."""
    results = []
    for column, (member_groups, holdout_groups, _) in ctx.groups.items():
        rows = []
        for group in sorted(set(member_groups) | set(holdout_groups)):
            in_members = member_groups[scores.member_rows] == group
            in_holdout = holdout_groups[scores.non_member_rows] == group
            auc, interval = auc_with_interval(
                scores.members[in_members], scores.non_members[in_holdout]
            )
            member_distance = distances.members_to_synthetic[
                member_groups[distances.member_rows] == group
            ]
            holdout_distance = distances.holdout_to_synthetic[
                holdout_groups[distances.holdout_rows] == group
            ]
            rows.append(
                {
                    "group": group,
                    "members": int(in_members.sum()),
                    "holdout": int(in_holdout.sum()),
                    "attack_auc": auc,
                    "low": interval.low,
                    "high": interval.high,
                    "median_distance_members": _median_or_nan(member_distance),
                    "median_distance_holdout": _median_or_nan(holdout_distance),
                    "too_small": bool(min(in_members.sum(), in_holdout.sum()) < SMALL_GROUP),
                }
            )
        judged = [r for r in rows if not r["too_small"] and np.isfinite(r["attack_auc"])]
        worst = max(judged, key=lambda r: r["attack_auc"]) if judged else None
        results.append(
            MetricResult(
                key=f"privacy.subgroup_attack_auc.{column}",
                name=f"Membership inference by subgroup of {column}",
                family=Family.PRIVACY,
                value=float("nan") if worst is None else worst["attack_auc"],
                ideal=0.5,
                direction=Direction.TOWARD_IDEAL,
                meaning=(
                    "The distance attack's AUC within each subgroup; the headline is the most "
                    "exposed subgroup large enough to judge. Small groups are often exposed "
                    "first, and an overall AUC near 0.5 can hide them."
                ),
                baseline=0.5,
                baseline_meaning="random guessing",
                interval=None
                if worst is None
                else Interval(worst["low"], worst["high"], 0.95, "DeLong"),
                threat_model=DISTANCE_ATTACKER,
                details={"groups": rows, "worst_group": None if worst is None else worst["group"]},
            )
        )
    return results


def privacy_metrics(ctx: EvaluationContext) -> list[MetricResult]:
    """The whole audit."""
    distances = compute_distances(ctx)
    distance_scores = distance_attack(ctx, distances)
    return [
        exact_matches(ctx),
        distance_to_closest_record(ctx, distances),
        closer_to_training_share(ctx, distances),
        nearest_neighbour_distance_ratio(ctx, distances),
        attack_result(ctx, distance_scores, DISTANCE_ATTACKER),
        attack_result(ctx, density_attack(ctx, distances), DENSITY_ATTACKER),
        *outcome_inference(ctx),
        composite_privacy(ctx, distances),
        *subgroup_privacy(ctx, distance_scores, distances),
    ]


def _log_density_ratio(to_synthetic: np.ndarray, to_population: np.ndarray) -> np.ndarray:
    """log p_synthetic − log p_population from the distances to the k nearest rows of each.

    p(x) ∝ k / (n · r_k(x)^d): the log ratio is d·(log r_pop − log r_syn) plus a constant; the
    dimension and constant are the same for every record, so they do not change the ranking.
    Averaging log r_1..r_k (not r_k alone) lets a point mass, such as a copied record, show.
    """
    floor = 1e-9
    return np.log(np.maximum(to_population, floor)).mean(axis=1) - np.log(
        np.maximum(to_synthetic, floor)
    ).mean(axis=1)


def _subsampled_share(ctx: EvaluationContext, distances: Distances) -> float:
    """The literal definition: members subsampled to the holdout's size (averaged over draws)."""
    size = min(len(ctx.members), len(ctx.holdout))
    rng = np.random.default_rng(ctx.seed)
    queries = ctx.synthetic.coordinates[torch.from_numpy(distances.synthetic_rows)]
    shares = []
    for _ in range(5 if size * len(queries) <= 10**9 else 1):
        subset = torch.from_numpy(rng.permutation(len(ctx.members))[:size])
        to_subset = nearest_distances(queries, ctx.members.coordinates[subset])
        shares.append(
            closer_to_members_share(
                to_subset.numpy(), distances.synthetic_to_holdout, members=size, non_members=size
            )
        )
    return float(np.mean(shares))


def _row_keys(ctx: EvaluationContext) -> dict[str, np.ndarray]:
    """Canonical row keys of the three tables (members' unique), hashed once per context."""
    keys = ctx.memo.get("audit.row_keys")
    if keys is None:
        keys = {role: row_keys(table.frame, ctx.schema) for role, table in ctx.tables().items()}
        keys["members"] = np.unique(keys["members"])
        ctx.memo["audit.row_keys"] = keys
    return keys


def _nndr(two_nearest: np.ndarray) -> np.ndarray:
    return (two_nearest[:, 0] + 1e-8) / (two_nearest[:, 1] + 1e-8)


def _duplicated(keys: np.ndarray) -> np.ndarray:
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    return counts[inverse] > 1


def _median_ratio(values: np.ndarray, baseline: np.ndarray) -> float:
    reference = float(np.median(baseline))
    return float(np.median(values) / reference) if reference > 0 else float("nan")


def _median_or_nan(values: np.ndarray) -> float:
    return float(np.median(values)) if values.size else float("nan")


def _bootstrap_median(values: np.ndarray, *, seed: int) -> Interval:
    return bootstrap_interval(lambda v: float(np.median(v)), (values,), seed=seed)
