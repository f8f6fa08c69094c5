"""Differential privacy: the configuration, the budget, Opacus's accountant, the ledger and the
bound on membership attacks that a guarantee implies.

Nothing here trains anything; :mod:`psygentab_core.dp_training` runs DP-SGD and
:mod:`psygentab_core.dp_encoding` the mechanisms on the encoder's statistics. This module only
decides how much each may spend, counts what was spent and says what the result means.

The guarantee is (ε, δ)-differential privacy with respect to adding or removing one row of the
training rows (the *members* of the split), the neighbouring relation that Opacus's accountants
assume. Its pieces compose sequentially: the total ε and δ are the sums over the ledger's charged
entries (basic composition, valid for adaptively chosen mechanisms).
"""

from __future__ import annotations

import math
import secrets
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from psygentab_core.errors import ConfigError

ACCOUNTANTS = ("prv", "rdp")
NEIGHBOURING = "adding or removing one training row"
# Calibration stops within this much of the target ε (always below it).
EPSILON_TOLERANCE = 0.01
# Room for floating-point noise when comparing an ε with its target.
EPSILON_SLACK = 1e-9


@dataclass(frozen=True, slots=True, kw_only=True)
class DpConfig:
    """Differentially private training: the target (ε, δ) and how to spend it.

    Like Opacus's ``make_private_with_epsilon``, the noise multiplier is calibrated so that the
    planned steps end at the target; unlike it, the target covers the whole run: the share of ε
    spent on the encoder's statistics (``preprocessing_share``) is subtracted before DP-SGD is
    calibrated, so the ledger's total never exceeds ``epsilon``.
    """

    epsilon: float
    """Target ε of the whole run (preprocessing and DP-SGD together)."""
    delta: float | None = None
    """Target δ; None takes :func:`default_delta` of the number of training rows (below 1/n)."""
    max_grad_norm: float = 1.0
    """Per-row clipping bound C of the gradient (the sensitivity of one DP-SGD step)."""
    noise_multiplier: float | None = None
    """σ of the Gaussian noise, in units of C; None calibrates it to the target."""
    accountant: str = "prv"
    """Opacus accountant: "prv" (tighter, Opacus's default) or "rdp"."""
    preprocessing_share: float = 0.1
    """Share of ε (and of δ) for the encoder's statistics that are not declared public."""
    public_bounds: tuple[tuple[str, float, float], ...] = ()
    """(column, low, high): ranges of numeric columns declared public (e.g. clinical ranges).
    Values outside are clipped; no ε is spent on finding the range."""
    public_categories: bool = False
    """Treat the level lists of categorical columns (as read from the training rows) as public,
    for tables whose categories come from a public code book. Levels declared in the schema are
    public either way."""
    reproducible: bool = False
    """Draw the privacy noise and the Poisson batches from the run's seed instead of fresh
    operating-system entropy. Only for tests and benchmarks: whoever knows the seed knows the
    noise, and the guarantee assumes nobody does."""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.epsilon) and self.epsilon > 0):
            raise ConfigError(f"dp.epsilon must be a positive number; got {self.epsilon!r}.")
        if self.delta is not None and not 0 < self.delta < 1:
            raise ConfigError(f"dp.delta must be between 0 and 1; got {self.delta!r}.")
        if not self.max_grad_norm > 0:
            raise ConfigError(f"dp.max_grad_norm must be > 0; got {self.max_grad_norm!r}.")
        if self.noise_multiplier is not None and not self.noise_multiplier > 0:
            raise ConfigError(f"dp.noise_multiplier must be > 0; got {self.noise_multiplier!r}.")
        if self.accountant not in ACCOUNTANTS:
            raise ConfigError(
                f"dp.accountant must be one of {', '.join(ACCOUNTANTS)}; got {self.accountant!r}."
            )
        if not 0 < self.preprocessing_share < 1:
            raise ConfigError(
                f"dp.preprocessing_share must be between 0 and 1; got {self.preprocessing_share!r}."
            )
        bounds = tuple(_bounds_entry(entry) for entry in self.public_bounds)
        names = [name for name, _, _ in bounds]
        if len(set(names)) != len(names):
            raise ConfigError("dp.public_bounds names a column twice.")
        object.__setattr__(self, "public_bounds", bounds)

    def bounds_of(self, column: str) -> tuple[float, float] | None:
        """The declared public range of a column, if any."""
        for name, low, high in self.public_bounds:
            if name == column:
                return low, high
        return None

    def to_dict(self) -> dict[str, Any]:
        """A JSON/TOML-ready form (public bounds as ``{column: [low, high]}``)."""
        return {
            "epsilon": self.epsilon,
            "delta": self.delta,
            "max_grad_norm": self.max_grad_norm,
            "noise_multiplier": self.noise_multiplier,
            "accountant": self.accountant,
            "preprocessing_share": self.preprocessing_share,
            "public_bounds": {name: [low, high] for name, low, high in self.public_bounds},
            "public_categories": self.public_categories,
            "reproducible": self.reproducible,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DpConfig:
        """Inverse of :meth:`to_dict`; unknown keys are errors."""
        if not isinstance(data, Mapping):
            raise ConfigError("[dp] must be a table of settings.")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"Unknown setting(s) in [dp]: {', '.join(unknown)} "
                f"(known: {', '.join(sorted(known))})."
            )
        values = dict(data)
        bounds = values.get("public_bounds", {})
        if isinstance(bounds, Mapping):
            values["public_bounds"] = tuple(
                (name, *_pair(pair, name)) for name, pair in bounds.items()
            )
        if "epsilon" not in values:
            raise ConfigError("[dp] needs epsilon.")
        try:
            return cls(**values)
        except TypeError as error:
            raise ConfigError(str(error)) from None


def _pair(pair: Any, name: str) -> tuple[float, float]:
    if not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2:
        raise ConfigError(f"dp.public_bounds.{name} must be [low, high].")
    return float(pair[0]), float(pair[1])


def _bounds_entry(entry: Any) -> tuple[str, float, float]:
    if not isinstance(entry, Sequence) or isinstance(entry, str) or len(entry) != 3:
        raise ConfigError(f"dp.public_bounds entries are (column, low, high); got {entry!r}.")
    name, low, high = str(entry[0]), float(entry[1]), float(entry[2])
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ConfigError(f"dp.public_bounds.{name}: need finite low < high; got {low}, {high}.")
    return name, low, high


def default_delta(rows: int) -> float:
    """δ below 1/n: the largest power of ten at most 1/(10 n).

    δ bounds the probability that the guarantee fails outright; at 1/n a mechanism could publish
    one random row in full and still meet it, so δ must sit well below that.
    """
    return 10.0 ** math.floor(math.log10(1.0 / (10.0 * max(rows, 1))))


def noise_seed(dp: DpConfig, *, seed: int, stream: int) -> int:
    """Seed of one privacy-noise generator (``stream`` tells the generators of a run apart).

    Fresh operating-system entropy, never stored, unless ``dp.reproducible``: the guarantee
    assumes the noise and the Poisson batches are secret, and a seed written in the run's
    configuration is not.
    """
    if dp.reproducible:
        return int(np.random.SeedSequence([seed, stream]).generate_state(1, np.uint64)[0] >> 1)
    return secrets.randbits(63)


# ---------------------------------------------------------------------------------------------
# The budget


@dataclass(frozen=True, slots=True, kw_only=True)
class BudgetSplit:
    """How the target (ε, δ) is divided between the encoder's statistics and DP-SGD."""

    epsilon: float
    delta: float
    preprocessing_epsilon: float
    preprocessing_delta: float

    @property
    def sgd_epsilon(self) -> float:
        """What DP-SGD may spend."""
        return self.epsilon - self.preprocessing_epsilon

    @property
    def sgd_delta(self) -> float:
        """The δ DP-SGD's accountant converts at."""
        return self.delta - self.preprocessing_delta


def split_budget(
    dp: DpConfig, *, rows: int, charged_columns: int, thresholded_columns: int
) -> BudgetSplit:
    """The budget of a run on ``rows`` training rows.

    ``charged_columns`` is how many columns need a DP estimate of their statistics and
    ``thresholded_columns`` how many of those use a δ (the stable histogram of level lists); a
    run where everything is public gives its whole budget to DP-SGD.
    """
    delta = dp.delta if dp.delta is not None else default_delta(rows)
    share = dp.preprocessing_share
    return BudgetSplit(
        epsilon=dp.epsilon,
        delta=delta,
        preprocessing_epsilon=share * dp.epsilon if charged_columns else 0.0,
        preprocessing_delta=share * delta if thresholded_columns else 0.0,
    )


# ---------------------------------------------------------------------------------------------
# DP-SGD accounting (Opacus)


def epsilon_spent(
    *, noise_multiplier: float, sample_rate: float, steps: int, delta: float, accountant: str
) -> float:
    """ε after ``steps`` Poisson-sampled Gaussian steps, by Opacus's accountant."""
    if steps <= 0:
        return 0.0
    opacus_accountant = _opacus_accountant(accountant)
    for _ in range(steps):
        opacus_accountant.step(noise_multiplier=noise_multiplier, sample_rate=sample_rate)
    return _epsilon_of(opacus_accountant, delta)


def _opacus_accountant(mechanism: str) -> Any:
    """A fresh Opacus accountant. Opacus is imported on first use: it takes a second or two to
    load, and runs without differential privacy never need it."""
    from opacus.accountants import create_accountant

    return create_accountant(mechanism=mechanism)


def _epsilon_of(opacus_accountant: Any, delta: float) -> float:
    with warnings.catch_warnings():
        # RDP warns when its best order is the largest it tries: the bound is then valid but
        # looser than it could be, which errs on the safe side.
        warnings.filterwarnings("ignore", message="Optimal order is the")
        return float(opacus_accountant.get_epsilon(delta=delta))


def calibrate_noise(
    *, epsilon: float, delta: float, sample_rate: float, steps: int, accountant: str
) -> float:
    """The smallest noise multiplier (within Opacus's tolerance) whose ``steps`` spend at most
    ``epsilon``: Opacus's ``get_noise_multiplier``."""
    from opacus.accountants.utils import get_noise_multiplier

    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Optimal order is the")
            return float(
                get_noise_multiplier(
                    target_epsilon=epsilon,
                    target_delta=delta,
                    sample_rate=sample_rate,
                    steps=steps,
                    accountant=accountant,
                    epsilon_tolerance=EPSILON_TOLERANCE,
                )
            )
    except ValueError as error:
        raise ConfigError(
            f"No noise level reaches ε = {epsilon:.3g} for DP-SGD in {steps} steps at sampling "
            f"rate {sample_rate:.3g} ({error}); raise ε, or train fewer epochs."
        ) from None


def steps_within_budget(
    *,
    epsilon: float,
    delta: float,
    noise_multiplier: float,
    sample_rate: float,
    max_steps: int,
    accountant: str,
) -> int:
    """The most steps (up to ``max_steps``) that spend at most ``epsilon``.

    ε grows with the number of steps, so a binary search over the count finds it.
    """

    def fits(steps: int) -> bool:
        spent = epsilon_spent(
            noise_multiplier=noise_multiplier,
            sample_rate=sample_rate,
            steps=steps,
            delta=delta,
            accountant=accountant,
        )
        return spent <= epsilon + EPSILON_SLACK

    if fits(max_steps):
        return max_steps
    low, high = 0, max_steps  # fits(low), not fits(high)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


@dataclass(frozen=True, slots=True, kw_only=True)
class DpSgdPlan:
    """The DP-SGD settings of a run, fixed before its first step."""

    rows: int
    """Training rows n (public, as Opacus's accounting assumes)."""
    sample_rate: float
    """Poisson sampling rate q: each training row joins each batch with this probability."""
    noise_multiplier: float
    max_grad_norm: float
    planned_steps: int
    budget_steps: int
    """Steps the budget allows; training stops there even if more were planned."""
    epsilon: float
    """DP-SGD's share of the target ε."""
    delta: float
    accountant: str
    calibrated: bool
    """Whether the noise multiplier was calibrated (else it was set by hand)."""

    @property
    def expected_batch_size(self) -> int:
        """q·n rounded, the denominator of the averaged noisy gradient."""
        return max(1, round(self.sample_rate * self.rows))

    def describe(self) -> str:
        """One line for the log and the ledger."""
        origin = "calibrated" if self.calibrated else "set by hand"
        return (
            f"DP-SGD: Poisson sampling rate q = {self.sample_rate:.4g}, noise multiplier "
            f"σ = {self.noise_multiplier:.4g} ({origin}), clipping C = {self.max_grad_norm:g}, "
            f"{self.planned_steps} steps planned ({self.budget_steps} within the budget "
            f"ε = {self.epsilon:.3g}, δ = {self.delta:.2g}, {self.accountant.upper()} accountant)."
        )


def plan_dp_sgd(
    dp: DpConfig, budget: BudgetSplit, *, rows: int, batch_size: int, planned_steps: int
) -> DpSgdPlan:
    """Sampling rate, noise and step budget of DP-SGD on ``rows`` training rows."""
    if rows < 1:
        raise ConfigError("DP-SGD needs at least one training row.")
    if budget.sgd_epsilon <= 0:
        raise ConfigError("Nothing of ε is left for DP-SGD; lower dp.preprocessing_share.")
    sample_rate = min(1.0, batch_size / rows)
    calibrated = dp.noise_multiplier is None
    noise = (
        calibrate_noise(
            epsilon=budget.sgd_epsilon,
            delta=budget.sgd_delta,
            sample_rate=sample_rate,
            steps=planned_steps,
            accountant=dp.accountant,
        )
        if dp.noise_multiplier is None
        else dp.noise_multiplier
    )
    allowed = steps_within_budget(
        epsilon=budget.sgd_epsilon,
        delta=budget.sgd_delta,
        noise_multiplier=noise,
        sample_rate=sample_rate,
        max_steps=planned_steps,
        accountant=dp.accountant,
    )
    return DpSgdPlan(
        rows=rows,
        sample_rate=sample_rate,
        noise_multiplier=noise,
        max_grad_norm=dp.max_grad_norm,
        planned_steps=planned_steps,
        budget_steps=allowed,
        epsilon=budget.sgd_epsilon,
        delta=budget.sgd_delta,
        accountant=dp.accountant,
        calibrated=calibrated,
    )


class SgdAccountant:
    """Counts the noisy steps DP-SGD actually took, with Opacus's accountant.

    Attach :meth:`hook` to Opacus's ``DPOptimizer`` (``attach_step_hook``): it runs after the
    noise of each step is added, so a step is counted exactly when it happened, never before.
    """

    def __init__(self, plan: DpSgdPlan) -> None:
        self.plan = plan
        self._accountant = _opacus_accountant(plan.accountant)
        self.steps = 0
        # ε after a given number of steps: the record, the ledger and the summary all ask for
        # the same value, and each answer costs the accountant a fraction of a second.
        self._spent: dict[int, float] = {0: 0.0}

    def hook(self, optimizer: Any) -> None:
        """``DPOptimizer`` step hook: one more step at the plan's noise and sampling rate."""
        self._accountant.step(
            noise_multiplier=optimizer.noise_multiplier,
            sample_rate=self.plan.sample_rate * optimizer.accumulated_iterations,
        )
        self.steps += 1

    def can_step(self) -> bool:
        """Whether one more step stays within the budget."""
        return self.steps < self.plan.budget_steps

    def epsilon(self) -> float:
        """ε spent by DP-SGD so far (0 before the first step)."""
        if self.steps not in self._spent:
            self._spent[self.steps] = _epsilon_of(self._accountant, self.plan.delta)
        return self._spent[self.steps]

    @property
    def history(self) -> list[tuple[float, float, int]]:
        """Opacus's history: (noise multiplier, sampling rate, steps) per stretch of steps."""
        return list(self._accountant.history)


# ---------------------------------------------------------------------------------------------
# The ledger


class Coverage(StrEnum):
    """How a read of private data stands with respect to the guarantee."""

    CHARGED = "charged"
    """A DP mechanism; its (ε, δ) is part of the total."""
    PUBLIC = "public"
    """Information declared public by the user, or no row values at all (e.g. the row count)."""
    AUDIT = "audit"
    """Reads real rows, but its output goes only to the data holder (the run record, the
    report, an error message), never into the generator or a released table."""
    VOIDS = "voids the guarantee"
    """Reads real rows outside any mechanism and shapes the release: no guarantee holds."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerEntry:
    """One read of the real rows."""

    step: str
    """What reads (e.g. ``encoder: age``, ``DP-SGD``)."""
    reads: str
    """Which rows and columns."""
    coverage: Coverage
    mechanism: str
    """How it reads them: the mechanism and its parameters, or why it is public or an audit."""
    epsilon: float = 0.0
    delta: float = 0.0
    released: str = ""
    """What of it reaches the generator or the release (empty where nothing does)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "step": self.step,
            "reads": self.reads,
            "coverage": self.coverage.value,
            "mechanism": self.mechanism,
            "epsilon": self.epsilon,
            "delta": self.delta,
            "released": self.released,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LedgerEntry:
        """Inverse of :meth:`to_dict`."""
        return cls(
            step=str(data["step"]),
            reads=str(data["reads"]),
            coverage=Coverage(data["coverage"]),
            mechanism=str(data["mechanism"]),
            epsilon=float(data.get("epsilon", 0.0)),
            delta=float(data.get("delta", 0.0)),
            released=str(data.get("released", "")),
        )


COVERS = (
    "the generator's weights, the saved model folder and every table sampled from it, the "
    "released synthetic table included"
)
NOT_COVERED = (
    "the run folder (it holds the real training, reference and holdout rows), the training "
    "history's fidelity proxy, the release measurements and the evaluation report: they read "
    "the real rows by design and must be handled like the real data"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class PrivacyLedger:
    """Every read of the real rows in a DP run, and the guarantee they add up to."""

    target_epsilon: float
    target_delta: float
    entries: tuple[LedgerEntry, ...]
    disabled: tuple[str, ...] = ()
    """What DP mode switched off, and why (the empirical constraints, the release filter…)."""
    caveats: tuple[str, ...] = ()
    neighbouring: str = NEIGHBOURING
    plan: DpSgdPlan | None = None
    """DP-SGD's settings (None before training starts)."""
    steps_taken: int = 0
    """Noisy DP-SGD steps taken so far."""

    @property
    def epsilon(self) -> float:
        """ε spent: the sum over the charged entries (sequential composition)."""
        return float(sum(e.epsilon for e in self.entries if e.coverage is Coverage.CHARGED))

    @property
    def delta(self) -> float:
        """δ spent: the sum over the charged entries."""
        return float(sum(e.delta for e in self.entries if e.coverage is Coverage.CHARGED))

    @property
    def guarantee_holds(self) -> bool:
        """True when nothing voids the guarantee and the spend is within the target."""
        return (
            not any(e.coverage is Coverage.VOIDS for e in self.entries)
            and self.epsilon <= self.target_epsilon + EPSILON_SLACK
            and self.delta <= self.target_delta * (1 + 1e-9)
        )

    def entry(self, step: str) -> LedgerEntry:
        """The entry of one step by name."""
        for entry in self.entries:
            if entry.step == step:
                return entry
        raise KeyError(step)

    def statement(self) -> str:
        """The guarantee in one paragraph, as the log, the report and the dashboard state it."""
        if not self.guarantee_holds:
            voiding = [e.step for e in self.entries if e.coverage is Coverage.VOIDS]
            reason = (
                f"{', '.join(voiding)} read the real rows outside any DP mechanism"
                if voiding
                else f"the spend exceeds the target ε = {self.target_epsilon:g}"
            )
            return f"No differential-privacy guarantee holds for this run: {reason}."
        return (
            f"(ε = {self.epsilon:.3g}, δ = {self.delta:.2g})-differential privacy (target "
            f"ε = {self.target_epsilon:g}, δ = {self.target_delta:.2g}) with respect to "
            f"{self.neighbouring}. It covers {COVERS}. It does not cover {NOT_COVERED}."
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (``result.json``'s ``privacy``), with the totals and the bound."""
        bound = attack_bound(self.epsilon, self.delta)
        return {
            "mechanism": "differential privacy",
            "epsilon": self.epsilon,
            "delta": self.delta,
            "target_epsilon": self.target_epsilon,
            "target_delta": self.target_delta,
            "neighbouring": self.neighbouring,
            "guarantee_holds": self.guarantee_holds,
            "statement": self.statement(),
            "covers": COVERS,
            "not_covered": NOT_COVERED,
            "entries": [e.to_dict() for e in self.entries],
            "disabled": list(self.disabled),
            "caveats": list(self.caveats),
            "dp_sgd": None if self.plan is None else asdict(self.plan),
            "steps_taken": self.steps_taken,
            "attack_bound": {
                "max_auc": bound.max_auc,
                "max_advantage": bound.max_advantage,
                "max_accuracy": bound.max_accuracy,
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PrivacyLedger:
        """Inverse of :meth:`to_dict` (the derived keys are recomputed, not read)."""
        return cls(
            target_epsilon=float(data["target_epsilon"]),
            target_delta=float(data["target_delta"]),
            entries=tuple(LedgerEntry.from_dict(e) for e in data["entries"]),
            disabled=tuple(data.get("disabled", ())),
            caveats=tuple(data.get("caveats", ())),
            neighbouring=str(data.get("neighbouring", NEIGHBOURING)),
            plan=None if data.get("dp_sgd") is None else DpSgdPlan(**data["dp_sgd"]),
            steps_taken=int(data.get("steps_taken", 0)),
        )


# ---------------------------------------------------------------------------------------------
# What (ε, δ) means for an attacker


@dataclass(frozen=True, slots=True, kw_only=True)
class AttackBound:
    """The most any membership attack can achieve against an (ε, δ)-DP release."""

    epsilon: float
    delta: float
    fpr: tuple[float, ...]
    """False-positive rates at which the curve is given (sorted, from 0 to 1)."""
    tpr: tuple[float, ...]
    """The largest true-positive rate any attack can reach at each ``fpr``."""
    max_auc: float
    """Area under that curve: no attack's ROC AUC can exceed it."""
    max_advantage: float
    """Largest TPR − FPR: (e^ε − 1 + 2δ) / (e^ε + 1)."""
    max_accuracy: float
    """Best accuracy at telling members from non-members when both are equally likely:
    (1 + max_advantage) / 2."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "epsilon": self.epsilon,
            "delta": self.delta,
            "fpr": list(self.fpr),
            "tpr": list(self.tpr),
            "max_auc": self.max_auc,
            "max_advantage": self.max_advantage,
            "max_accuracy": self.max_accuracy,
        }


def _growth(epsilon: float) -> float:
    """e^ε, held below overflow: past ε = 700 the bound is 1 everywhere anyway."""
    return math.exp(min(epsilon, 700.0))


def max_tpr(fpr: np.ndarray | Sequence[float] | float, epsilon: float, delta: float) -> np.ndarray:
    """The largest TPR at each FPR for an (ε, δ)-DP mechanism (see :func:`attack_bound`)."""
    alpha = np.clip(np.asarray(fpr, dtype=float), 0.0, 1.0)
    first = _growth(epsilon) * alpha + delta
    second = 1.0 - math.exp(-epsilon) * (1.0 - delta - alpha)
    return np.minimum(np.minimum(first, second), 1.0)


def attack_bound(
    epsilon: float, delta: float, *, fpr: Sequence[float] | None = None
) -> AttackBound:
    """The region of (FPR, TPR) any membership attack on an (ε, δ)-DP mechanism stays in.

    Kairouz, Oh and Viswanath (2015, "The composition theorem for differential privacy", ICML,
    Theorem 2.1) show that a mechanism is (ε, δ)-DP exactly when every test of "this record was
    in the training rows" against "it was not", with false-positive rate α and false-negative
    rate β, satisfies

        α + e^ε β ≥ 1 − δ   and   e^ε α + β ≥ 1 − δ.

    With TPR = 1 − β this is, for every attack and every threshold,

        TPR ≤ min(e^ε · FPR + δ,  1 − e^−ε · (1 − δ − FPR),  1).

    The curve bends at FPR* = (1 − δ)/(e^ε + 1), where TPR − FPR peaks at
    (e^ε − 1 + 2δ)/(e^ε + 1) (the largest advantage); its area is the largest ROC AUC, equal to
    e^ε/(1 + e^ε) when δ = 0. The bound holds for each training row; the ROC of an attack that
    scores members against non-members drawn from the same population obeys it on average.

    ``fpr`` picks the points of the curve (default: a grid fine at both ends, plus the bends).
    """
    if not (math.isfinite(epsilon) and epsilon >= 0) or not 0 <= delta < 1:
        raise ValueError(f"need ε ≥ 0 and 0 ≤ δ < 1; got ε = {epsilon!r}, δ = {delta!r}")
    bend = (1.0 - delta) / (_growth(epsilon) + 1.0)
    corners = np.array([0.0, bend, 1.0 - delta, 1.0])
    if fpr is None:
        grid = np.concatenate([np.logspace(-5, 0, 101), np.linspace(0.0, 1.0, 101), corners])
    else:
        grid = np.asarray(fpr, dtype=float)
    grid = np.unique(np.clip(grid, 0.0, 1.0))
    # The curve is piecewise linear between the corners, so the trapezoid rule on them is exact.
    area = float(np.trapezoid(max_tpr(corners, epsilon, delta), corners))
    advantage = (_growth(epsilon) - 1.0 + 2.0 * delta) / (_growth(epsilon) + 1.0)
    advantage = min(advantage, 1.0)
    return AttackBound(
        epsilon=float(epsilon),
        delta=float(delta),
        fpr=tuple(float(a) for a in grid),
        tpr=tuple(float(t) for t in max_tpr(grid, epsilon, delta)),
        max_auc=min(area, 1.0),
        max_advantage=advantage,
        max_accuracy=(1.0 + advantage) / 2.0,
    )
