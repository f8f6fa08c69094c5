"""Constrained training as an iterator of immutable per-epoch records.

Each epoch runs several optimiser steps on the augmented Lagrangian (the ELBO plus one ALM term
per constraint, evaluated on a differentiable surrogate of a generated batch), then draws a full
synthetic sample, measures every constraint exactly, and updates multipliers and penalties from
those measurements. The dashboard, the command line and the tests all watch the same loop.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
import torch

from psygentab_core.alm import ConstraintState, augmented_term, dual_update, initial_state
from psygentab_core.config import TrainConfig
from psygentab_core.constraints import BatchDistances, Constraint, Sense, violation
from psygentab_core.dependencies import column_stages
from psygentab_core.distances import (
    distance_coordinates,
    median_pairwise_distance,
    mmd_squared,
    soft_nearest_distances,
)
from psygentab_core.dp import PrivacyLedger, SgdAccountant, noise_seed, plan_dp_sgd
from psygentab_core.dp_encoding import DpPreprocessing, fit_dp_encoder
from psygentab_core.encoding import Span, SpanKind, TableEncoder, fit_encoder
from psygentab_core.errors import ConfigError, TrainingError
from psygentab_core.model import MAX_DEPENDENCY_WIDTH, ConditionalVAE, ModelConfig
from psygentab_core.optimizer import Adam
from psygentab_core.privacy import (
    PrivacyReference,
    SampleAudit,
    audit_sample,
    build_reference,
    row_keys,
)
from psygentab_core.sampling import BatchOrder
from psygentab_core.schema import TableSchema, validate_schema
from psygentab_core.split import Split, split_rows
from psygentab_core.synthesizer import Synthesizer, generator_for, stratified_conditions

# While no constraint is active its surrogate is only recorded (the per-epoch mean shown beside
# the exact measurement), so it is computed on one step in this many: the nearest-neighbour
# search behind it cost a fifth of a step.
SURROGATE_RECORD_EVERY = 5
MEASUREMENT_SEED_OFFSET = 7919


class StopReason(StrEnum):
    """Why the last record is the last."""

    COMPLETED = "completed"
    STOPPED = "stopped by the user"
    BUDGET = "privacy budget spent"


@dataclass(frozen=True, slots=True)
class ConstraintRecord:
    """One constraint at the end of an epoch."""

    key: str
    label: str
    sense: str
    threshold: float
    measured: float
    surrogate: float
    multiplier: float
    penalty: float
    satisfied: bool
    unreachable: bool


@dataclass(frozen=True, slots=True)
class EpochRecord:
    """What happened in one epoch; plain floats, so a history dumps straight to JSON."""

    epoch: int
    total_epochs: int
    steps: int
    objective: float
    lagrangian: float
    fidelity: float
    constraints: tuple[ConstraintRecord, ...]
    seconds: float
    elapsed: float
    privacy_spread: tuple[float, ...] = ()
    # Differential privacy: the total ε spent so far (preprocessing and DP-SGD); None without DP.
    epsilon: float | None = None
    stop: StopReason | None = None
    notes: tuple[str, ...] = ()

    def constraint(self, key: str) -> ConstraintRecord:
        """The record of one constraint by key."""
        for record in self.constraints:
            if record.key == key:
                return record
        raise KeyError(key)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        data = asdict(self)
        data["stop"] = None if self.stop is None else self.stop.value
        return data


@dataclass(frozen=True, slots=True)
class PreparedData:
    """Validated data, its split and the encoder fitted on the members."""

    frame: pd.DataFrame
    schema: TableSchema
    split: Split
    members: pd.DataFrame
    reference: pd.DataFrame
    holdout: pd.DataFrame
    encoder: TableEncoder
    # In DP mode: how the encoder and the class shares were made, and what they cost.
    privacy: DpPreprocessing | None = None


def prepare_data(frame: pd.DataFrame, schema: TableSchema, config: TrainConfig) -> PreparedData:
    """Validate, split (before anything is learned) and fit the encoder on the members only.

    In DP mode the split reads no value (it is not stratified) and the encoder's statistics are
    public or DP estimates (:func:`psygentab_core.dp_encoding.fit_dp_encoder`).
    """
    validate_schema(schema, frame)
    if config.dp is not None:
        split = split_rows(frame, config.split, target=None, seed=config.seed)
        members, reference, holdout = split.parts(frame)
        rng = np.random.default_rng(noise_seed(config.dp, seed=config.seed, stream=1))
        privacy = fit_dp_encoder(schema, members, dp=config.dp, rng=rng)
        return PreparedData(
            frame, schema, split, members, reference, holdout, privacy.encoder, privacy
        )
    split = split_rows(frame, config.split, target=schema.target, seed=config.seed)
    members, reference, holdout = split.parts(frame)
    encoder = fit_encoder(schema, members, layout_rows=frame)
    return PreparedData(frame, schema, split, members, reference, holdout, encoder)


def unseen_patient_levels(
    constraints: tuple[Constraint, ...],
    reference: PrivacyReference,
    encoder: TableEncoder,
    reference_rows: pd.DataFrame,
) -> dict[str, float]:
    """What real patients the generator never sees score on each constraint, measured as if
    they were synthetic rows: the level a perfect generator would reach.

    The closer-to-training share is left out: unseen patients score 0.5 on it by construction.
    """
    keys = row_keys(reference_rows, encoder.schema)
    # The order of the distances does not matter to any measure: only shares and quantiles.
    audit = SampleAudit(
        to_members=reference.reference_to_members,
        to_reference=np.full(reference.reference_to_members.size, np.inf),
        exact_match=np.isin(keys, reference.member_keys),
        duplicated=pd.Series(keys).duplicated(keep=False).to_numpy(),
    )
    return {
        c.key: c.measure(audit, reference) for c in constraints if c.key != "closer_to_training"
    }


def check_finite(objective: float, lagrangian: float, *, epoch: int, step: int) -> None:
    """Stop with a message a person can act on once the loss is no longer a number: every
    later step would only spread NaN through the weights."""
    if math.isfinite(objective) and math.isfinite(lagrangian):
        return
    raise TrainingError(
        f"Training diverged at epoch {epoch}, step {step}: the loss became "
        f"{objective if not math.isfinite(objective) else lagrangian}. Lower the learning rate "
        "or check the table for extreme values, then train again."
    )


def stricter_than_unseen(constraint: Constraint, level: float, *, reference_rows: int) -> bool:
    """Whether a threshold asks more than unseen real patients reach (``level``), with one
    row's worth of slack: shares measured on a finite reference set are that coarse."""
    return bool(violation(constraint, level) > 1.0 / max(reference_rows, 1))


def feasibility_notes(
    constraints: tuple[Constraint, ...],
    reference: PrivacyReference,
    encoder: TableEncoder,
    reference_rows: pd.DataFrame,
) -> tuple[str, ...]:
    """Before training: how each threshold compares with what unseen real patients achieve.

    A threshold stricter than real data is still reachable (by moving synthetic rows away from
    training rows) but costs fidelity; saying so up front avoids surprise.
    """
    levels = unseen_patient_levels(constraints, reference, encoder, reference_rows)
    notes = []
    for constraint in constraints:
        if constraint.key not in levels:
            continue
        population = levels[constraint.key]
        if stricter_than_unseen(constraint, population, reference_rows=len(reference_rows)):
            notes.append(
                f"{constraint.label}: the threshold {constraint.threshold:.3g} is stricter than "
                f"what unseen real patients reach ({population:.3g}); it is reachable by keeping "
                "synthetic patients further from training patients, at some cost in fidelity."
            )
    return tuple(notes)


class TrainingRun:
    """A lazily started training run; iterate :meth:`epochs` to train.

    The run can be stopped between optimiser steps from another thread with
    :meth:`request_stop`; the model trained so far stays usable through :meth:`synthesizer`.
    """

    def __init__(self, data: PreparedData, config: TrainConfig) -> None:
        if (config.dp is None) != (data.privacy is None):
            raise ConfigError(
                "The data were prepared for a different privacy mode: call prepare_data with "
                "the configuration that trains on them."
            )
        self.data = data
        self.config = config
        self.reference: PrivacyReference | None = None
        self.history: list[EpochRecord] = []
        self.notes: list[str] = []
        self._model: ConditionalVAE | None = None
        self._stop_requested = threading.Event()
        self._class_shares = (
            data.privacy.class_shares
            if data.privacy is not None
            else _class_shares(data.encoder, data.members)
        )
        self._bandwidth = 1.0
        self._accountant: SgdAccountant | None = None

    def request_stop(self) -> None:
        """Ask the loop to stop after the current optimiser step."""
        self._stop_requested.set()

    def synthesizer(self) -> Synthesizer:
        """A snapshot of the generator as trained so far."""
        if self._model is None:
            raise RuntimeError("training has not started; iterate epochs() first")
        weights = {k: v.detach().clone() for k, v in self._model.state_dict().items()}
        return Synthesizer(self.data.encoder, self.model_config, weights, self._class_shares)

    @property
    def model_config(self) -> ModelConfig:
        """The generator's configuration with its hidden width fixed for these training rows."""
        return self.config.model.for_rows(len(self.data.members))

    @property
    def accountant(self) -> SgdAccountant | None:
        """In DP mode once training has started: the DP-SGD plan (``.plan``) and Opacus's count
        of the noisy steps taken; else None."""
        return self._accountant

    def ledger(self) -> PrivacyLedger | None:
        """In DP mode, every read of the real rows so far and the (ε, δ) spent; else None."""
        if self.config.dp is None or self.data.privacy is None:
            return None
        # Imported here: Opacus takes a second or two to load, and only DP runs need it.
        from psygentab_core.dp_training import run_ledger

        return run_ledger(
            self.data.privacy,
            self._accountant,
            dp=self.config.dp,
            seed=self.config.seed,
            parts={
                "members": len(self.data.members),
                "reference": len(self.data.reference),
                "holdout": len(self.data.holdout),
            },
            constraint_labels=tuple(c.label for c in self.config.constraints),
            mmd_weight=self.config.model.mmd_weight,
        )

    def epochs(self) -> Iterator[EpochRecord]:
        """Train, yielding one record per epoch; the last record carries a stop reason.

        With ``config.dp`` this is DP-SGD (:meth:`_private_epochs`), otherwise the Augmented
        Lagrangian under the privacy constraints.
        """
        if self.config.dp is not None:
            return self._private_epochs()
        return self._constrained_epochs()

    def _constrained_epochs(self) -> Iterator[EpochRecord]:
        config, data = self.config, self.data
        started = time.perf_counter()
        generator = torch.Generator().manual_seed(config.seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            model = generator_for(data.encoder, self.model_config)
        self._model = model
        reference = build_reference(data.encoder, data.members, data.reference)
        self._bandwidth = median_pairwise_distance(reference.member_coordinates, seed=config.seed)
        self.reference = reference
        if not self.notes:
            self.notes.extend(
                feasibility_notes(config.constraints, reference, data.encoder, data.reference)
            )
            if config.model.dependency_stages > 1 and model.dependency is None:
                self.notes.append(
                    f"The encoded table is {data.encoder.feature_width} values wide (numbers, "
                    f"missing flags and category levels), over {MAX_DEPENDENCY_WIDTH}: its "
                    "columns are drawn at once, coupled only through the latent code, instead "
                    "of in stages."
                )
        features, condition = (torch.from_numpy(a) for a in data.encoder.encode(data.members))
        if model.dependency is not None:
            model.set_stages(
                column_stages(
                    data.encoder.spans,
                    features.numpy(),
                    stages=config.model.dependency_stages,
                    seed=config.seed,
                )
            )
        knobs = {id(p) for p in model.privacy_parameters()}
        optimizer = Adam(
            [
                ([p for p in model.parameters() if id(p) not in knobs], config.learning_rate),
                # Three scalars that must be able to move within a few epochs when a constraint
                # binds: a much larger step than the network's weights.
                (model.privacy_parameters(), config.knob_learning_rate),
            ]
        )
        states = {c.key: initial_state(config.alm) for c in config.constraints}
        rows = features.shape[0]
        batch_size = min(config.batch_size, rows)
        steps_per_epoch = min(
            max(
                int(np.ceil(config.passes_per_epoch * rows / batch_size)),
                config.min_steps_per_epoch,
            ),
            config.max_steps_per_epoch,
        )
        batches = BatchOrder(
            rows,
            condition.argmax(dim=1) if condition.shape[1] else None,
            balance=config.class_balance,
            max_passes=config.max_row_draws,
            planned_draws=steps_per_epoch * config.epochs * batch_size,
            generator=generator,
        )

        for epoch in range(1, config.epochs + 1):
            epoch_started = time.perf_counter()
            model.train()
            objective_sum = lagrangian_sum = 0.0
            surrogate_sums = {c.key: 0.0 for c in config.constraints}
            # Steps on which each surrogate was computed (every step while it is active).
            surrogate_steps = dict.fromkeys(surrogate_sums, 0)
            steps = 0
            for _ in range(steps_per_epoch):
                if self._stop_requested.is_set():
                    break
                index = batches.next_batch(batch_size)
                objective, lagrangian, surrogates = self._step(
                    model,
                    optimizer,
                    features[index],
                    condition[index],
                    reference.member_coordinates[index],
                    states,
                    generator,
                    steps % SURROGATE_RECORD_EVERY == 0,
                )
                check_finite(objective, lagrangian, epoch=epoch, step=steps + 1)
                objective_sum += objective
                lagrangian_sum += lagrangian
                for key, value in surrogates.items():
                    surrogate_sums[key] += value
                    surrogate_steps[key] += 1
                steps += 1
            stopped = self._stop_requested.is_set()
            if steps == 0:
                # Stopped between two epochs: nothing new was learned, so report the last values.
                last = self.history[-1] if self.history else None
                objective_sum = last.objective if last else 0.0
                lagrangian_sum = last.lagrangian if last else 0.0
                surrogate_sums = {
                    c.key: last.constraint(c.key).surrogate if last else 0.0
                    for c in config.constraints
                }
            model.eval()
            measured, fidelity = self._measure(model, reference, features, config.constraints)
            new_notes = []
            for constraint in config.constraints:
                before = states[constraint.key]
                target = violation(constraint, measured[constraint.key]) + _margin(
                    constraint, config.alm.safety_margin
                )
                after = dual_update(before, target, config.alm)
                states[constraint.key] = after
                if after.unreachable and not before.unreachable:
                    new_notes.append(_unreachable_note(constraint, after))
            self.notes.extend(new_notes)
            now = time.perf_counter()
            record = EpochRecord(
                epoch=epoch,
                total_epochs=config.epochs,
                steps=steps,
                objective=objective_sum / max(steps, 1),
                lagrangian=lagrangian_sum / max(steps, 1),
                fidelity=fidelity,
                constraints=tuple(
                    _constraint_record(
                        c,
                        measured[c.key],
                        surrogate_sums[c.key] / max(surrogate_steps[c.key], 1),
                        states[c.key],
                        config,
                    )
                    for c in config.constraints
                ),
                seconds=now - epoch_started,
                elapsed=now - started,
                privacy_spread=tuple(float(k) for k in model.privacy_spread().detach()),
                stop=(
                    StopReason.STOPPED
                    if stopped
                    else StopReason.COMPLETED
                    if epoch == config.epochs
                    else None
                ),
                notes=tuple(new_notes) if epoch > 1 else tuple(self.notes),
            )
            self.history.append(record)
            yield record
            if stopped:
                return

    def _private_epochs(self) -> Iterator[EpochRecord]:
        """DP-SGD: Poisson batches, per-row clipping and Gaussian noise (Opacus), ε counted by
        Opacus's accountant; stops before a step that would exceed the budget."""
        from psygentab_core.dp_training import DpSgd, steps_per_epoch

        config, data = self.config, self.data
        assert config.dp is not None
        assert data.privacy is not None
        started = time.perf_counter()
        generator = torch.Generator().manual_seed(config.seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            model = generator_for(data.encoder, self.model_config)
        self._model = model
        # Built for the audit of the release only; DP training never reads it.
        self.reference = build_reference(data.encoder, data.members, data.reference)
        features, condition = (torch.from_numpy(a) for a in data.encoder.encode(data.members))
        rows = features.shape[0]
        per_epoch = steps_per_epoch(rows, config.batch_size)
        plan = plan_dp_sgd(
            config.dp,
            data.privacy.budget,
            rows=rows,
            batch_size=min(config.batch_size, rows),
            planned_steps=config.epochs * per_epoch,
        )
        accountant = SgdAccountant(plan)
        self._accountant = accountant
        secret = torch.Generator().manual_seed(noise_seed(config.dp, seed=config.seed, stream=2))
        trainer = DpSgd(
            model,
            plan,
            learning_rate=config.learning_rate,
            kl_weight=config.model.kl_weight,
            generator=secret,
            on_step=accountant.hook,
        )
        if not self.notes:
            self.notes.append(plan.describe())
            if plan.budget_steps < plan.planned_steps:
                self.notes.append(
                    f"The budget allows {plan.budget_steps} of the {plan.planned_steps} planned "
                    "steps at this noise level: training will stop early."
                )
        try:
            for epoch in range(1, config.epochs + 1):
                epoch_started = time.perf_counter()
                model.train()
                loss_sum, steps, spent = 0.0, 0, False
                for index in trainer.batches(per_epoch):
                    if self._stop_requested.is_set():
                        break
                    if not accountant.can_step():
                        spent = True
                        break
                    noise = torch.randn(len(index), model.latent_dim, generator=generator)
                    step_loss = trainer.step(features[index], condition[index], noise)
                    check_finite(step_loss, step_loss, epoch=epoch, step=steps + 1)
                    loss_sum += step_loss
                    steps += 1
                stopped = self._stop_requested.is_set()
                # Out of budget with planned steps left (a hand-set noise multiplier).
                spent = not stopped and (
                    spent or (not accountant.can_step() and accountant.steps < plan.planned_steps)
                )
                if steps == 0 and self.history:
                    loss = self.history[-1].objective
                else:
                    loss = loss_sum / max(steps, 1)
                model.eval()
                _, fidelity = self._measure(model, self.reference, features, ())
                ledger = self.ledger()
                assert ledger is not None
                now = time.perf_counter()
                record = EpochRecord(
                    epoch=epoch,
                    total_epochs=config.epochs,
                    steps=steps,
                    objective=loss,
                    lagrangian=loss,
                    fidelity=fidelity,
                    constraints=(),
                    seconds=now - epoch_started,
                    elapsed=now - started,
                    privacy_spread=tuple(float(k) for k in model.privacy_spread().detach()),
                    epsilon=ledger.epsilon,
                    stop=(
                        StopReason.STOPPED
                        if stopped
                        else StopReason.BUDGET
                        if spent
                        else StopReason.COMPLETED
                        if epoch == config.epochs
                        else None
                    ),
                    notes=tuple(self.notes) if epoch == 1 else (),
                )
                self.history.append(record)
                yield record
                if stopped or spent:
                    return
        finally:
            trainer.close()

    def _step(
        self,
        model: ConditionalVAE,
        optimizer: Adam,
        features: torch.Tensor,
        condition: torch.Tensor,
        real: torch.Tensor,
        states: dict[str, ConstraintState],
        generator: torch.Generator,
        record_surrogates: bool,
    ) -> tuple[float, float, dict[str, float]]:
        """One optimiser step; ``real`` are the batch's distance coordinates (the members'
        coordinates are fixed, so they are computed once, in :func:`build_reference`).

        Returns the objective, the Lagrangian and the surrogates computed: those of the active
        constraints, and of all when ``record_surrogates`` asks for them.
        """
        config, reference = self.config, self.reference
        assert reference is not None
        noise = torch.randn(features.shape[0], model.latent_dim, generator=generator)
        # The first rows of a shuffled batch: a random subset with the batch's class mix.
        generating = min(config.generated_rows, features.shape[0])
        real = real[:generating]
        losses, generated = model.loss_and_sample(
            features,
            condition,
            condition[:generating],
            kl_weight=config.model.kl_weight,
            noise=noise,
            generator=generator,
        )
        objective = losses.mean()
        coordinates = distance_coordinates(reference.space, generated, condition[:generating])
        if config.model.mmd_weight > 0:
            objective = objective + config.model.mmd_weight * mmd_squared(
                coordinates, real, self._bandwidth
            )
        penalties = torch.zeros(())
        surrogates: dict[str, float] = {}
        active = {c.key for c in config.constraints if _active(states[c.key])}
        wanted = [c for c in config.constraints if record_surrogates or c.key in active]
        if wanted:
            # With no ψ active the surrogates are only recorded: no graph to build.
            with torch.set_grad_enabled(bool(active)):
                batch = self._batch_distances(coordinates, reference, generator)
            for constraint in wanted:
                value = constraint.surrogate(batch, reference)
                surrogates[constraint.key] = float(value.detach())
                if constraint.key not in active:
                    continue  # ψ has no gradient: skip the backward pass it would cost
                state = states[constraint.key]
                penalties = penalties + augmented_term(
                    primal_violation(violation(constraint, value), state.last_violation),
                    state.multiplier,
                    state.penalty,
                )
        optimizer.zero_grad()
        knobs = model.privacy_parameters()
        # The constraint terms act on the privacy knobs only: pushing every weight of the
        # generator away from training rows tears the fitted distribution apart, whereas the
        # knobs trade fidelity for privacy smoothly. The fidelity terms train everything.
        knob_gradients = (
            torch.autograd.grad(penalties, knobs, retain_graph=True, allow_unused=True)
            if penalties.requires_grad
            else [None] * len(knobs)
        )
        objective.backward()
        for knob, gradient in zip(knobs, knob_gradients, strict=True):
            if gradient is not None:
                knob.grad = gradient if knob.grad is None else knob.grad + gradient
        optimizer.step()
        lagrangian = objective.detach() + penalties.detach()
        return float(objective.detach()), float(lagrangian), surrogates

    def _batch_distances(
        self, coordinates: torch.Tensor, reference: PrivacyReference, generator: torch.Generator
    ) -> BatchDistances:
        members = reference.member_coordinates
        pool_size = self.config.surrogate_pool
        if members.shape[0] > pool_size:
            members = members[torch.randint(members.shape[0], (pool_size,), generator=generator)]
        ref_rows = reference.reference_coordinates[:pool_size]
        return BatchDistances(
            to_members=soft_nearest_distances(coordinates, members),
            to_reference=soft_nearest_distances(coordinates, ref_rows),
            member_pool=members.shape[0],
            reference_pool=ref_rows.shape[0],
        )

    def _measure(
        self,
        model: ConditionalVAE,
        reference: PrivacyReference,
        member_features: torch.Tensor,
        constraints: tuple[Constraint, ...],
    ) -> tuple[dict[str, float], float]:
        # The same random numbers every epoch: changes between epochs then reflect the model,
        # not sampling noise, so the multipliers do not chase noise.
        generator = torch.Generator().manual_seed(self.config.seed + MEASUREMENT_SEED_OFFSET)
        encoder = self.data.encoder
        rows = measurement_size(self.config.measurement_rows, len(reference.reference_coordinates))
        target = stratified_conditions(encoder, self._class_shares, rows, generator=generator)
        with torch.no_grad():
            features = model.sample(target, generator=generator, relaxed=False)
        measured: dict[str, float] = {}
        if constraints:
            columns = encoder.decode_columns(features.numpy(), target.numpy())
            coordinates = distance_coordinates(reference.space, features, target)
            audit = audit_sample(reference, coordinates, row_keys(columns, encoder.schema))
            measured = {c.key: c.measure(audit, reference) for c in constraints}
        return measured, marginal_similarity(encoder.spans, member_features, features)


# Generated rows measured per reference row, beyond which more rows barely sharpen a measured
# share: it is judged against the reference rows, whose own sampling noise (0.5/√n for n rows)
# is then nearly three times that of the generated rows'.
MEASURED_ROWS_PER_REFERENCE_ROW = 8
MIN_MEASUREMENT_ROWS = 1000


def measurement_size(limit: int, reference_rows: int) -> int:
    """Rows generated for an epoch's exact measurement: at most ``limit``, and no more than
    eight per reference row (but at least 1,000, or ``limit`` if lower)."""
    return min(limit, max(MIN_MEASUREMENT_ROWS, MEASURED_ROWS_PER_REFERENCE_ROW * reference_rows))


def _margin(constraint: Constraint, margin: float) -> float:
    """How far inside the threshold training aims: the release is a fresh sample, and a model
    trained exactly to the boundary exceeds it half the time. Never past the measure's own
    range (a share cannot go below 0 or above 1), or a threshold of 0 would become unreachable.
    """
    room = constraint.threshold if constraint.sense is Sense.AT_MOST else 1.0 - constraint.threshold
    return min(margin, max(room, 0.0))


def _active(state: ConstraintState) -> bool:
    """Whether ψ has a gradient this epoch: max(0, λ + ρ·g) > 0 at the measured level."""
    if state.last_violation is None:
        return True
    return state.multiplier + state.penalty * state.last_violation > 0


def primal_violation(surrogate: torch.Tensor, measured: float | None) -> torch.Tensor:
    """The surrogate's gradient at the exact measurement's level.

    ``ψ`` and the multiplier update then agree on how violated the constraint is, even where a
    smooth surrogate on one batch is biased; the surrogate only supplies the direction.
    """
    if measured is None:
        return surrogate
    return surrogate - surrogate.detach() + measured


def _class_shares(encoder: TableEncoder, members: pd.DataFrame) -> tuple[float, ...]:
    if encoder.target is None:
        return ()
    codes = encoder.target.codes(members[encoder.target.name])
    counts = np.bincount(codes, minlength=encoder.target.width)
    return tuple(float(c) for c in counts / counts.sum())


def _constraint_record(
    constraint: Constraint,
    measured: float,
    surrogate: float,
    state: ConstraintState,
    config: TrainConfig,
) -> ConstraintRecord:
    return ConstraintRecord(
        key=constraint.key,
        label=constraint.label,
        sense=constraint.sense.value,
        threshold=constraint.threshold,
        measured=measured,
        surrogate=surrogate,
        multiplier=state.multiplier,
        penalty=state.penalty,
        satisfied=violation(constraint, measured) <= config.alm.tolerance,
        unreachable=state.unreachable,
    )


def _unreachable_note(constraint: Constraint, state: ConstraintState) -> str:
    best = constraint.threshold + (
        state.best_violation if constraint.sense.value == "at most" else -state.best_violation
    )
    return (
        f"{constraint.label}: the threshold {constraint.threshold:.3g} looks unreachable for this "
        f"data and model: the penalty reached its cap and the measured value stopped improving. "
        f"The closest value reached is {best:.3g}; relax the threshold to about that, or train "
        "longer. Its multiplier is now held fixed so the rest of the model is not sacrificed."
    )


def marginal_similarity(
    spans: tuple[Span, ...], real: torch.Tensor, synthetic: torch.Tensor
) -> float:
    """Fidelity proxy in [0, 1]: mean over columns of 1 − KS (numbers) or 1 − TV (levels, flags)."""
    scores = []
    for span in spans:
        a = real[:, span.start : span.stop].numpy()
        b = synthetic[:, span.start : span.stop].numpy()
        if span.kind is SpanKind.GAUSSIAN:
            scores.append(1.0 - _ks_statistic(a[:, 0], b[:, 0]))
        else:
            if span.kind is SpanKind.FLAG:
                a, b = np.column_stack([a, 1 - a]), np.column_stack([b, 1 - b])
            scores.append(1.0 - 0.5 * float(np.abs(a.mean(axis=0) - b.mean(axis=0)).sum()))
    return float(np.mean(scores)) if scores else 1.0


def _ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / a.size
    cdf_b = np.searchsorted(b, grid, side="right") / b.size
    return float(np.abs(cdf_a - cdf_b).max())
