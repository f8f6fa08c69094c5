"""The training iterator: records, reproducibility, stopping, feasibility, and that it works."""

from __future__ import annotations

import json
import threading
from contextlib import closing
from dataclasses import FrozenInstanceError, replace

import numpy as np
import pandas as pd
import pytest
import torch

from psygentab_core import model as model_module
from psygentab_core import training
from psygentab_core.alm import AlmConfig
from psygentab_core.constraints import (
    CloseRecordConstraint,
    ExactMatchConstraint,
    default_constraints,
    violation,
)
from psygentab_core.distances import distance_coordinates
from psygentab_core.dp import Coverage, epsilon_spent
from psygentab_core.encoding import Span, SpanKind
from psygentab_core.errors import ConfigError, ReleaseError, TrainingError
from psygentab_core.model import ModelConfig
from psygentab_core.pipeline import finish, fit
from psygentab_core.privacy import audit_sample, row_keys
from psygentab_core.schema import infer_schema
from psygentab_core.training import (
    StopReason,
    TrainingRun,
    marginal_similarity,
    prepare_data,
)
from tests.tables import (
    MEMORISING_SPLIT,
    dp_quick_config,
    memorising_table,
    mixed_table,
    quick_config,
)


def start(frame: pd.DataFrame, target: str, config) -> TrainingRun:
    return TrainingRun(prepare_data(frame, infer_schema(frame, target=target), config), config)


def test_records_are_immutable_json_ready_and_complete(table: pd.DataFrame) -> None:
    run = start(table, "outcome", quick_config())
    records = list(run.epochs())
    assert [r.epoch for r in records] == [1, 2, 3]
    assert records[-1].stop is StopReason.COMPLETED
    assert all(r.stop is None for r in records[:-1])
    assert [c.key for c in records[0].constraints] == [c.key for c in default_constraints()]
    for record in records:
        json.dumps(record.to_dict())
        assert 0.0 <= record.fidelity <= 1.0
        assert record.steps == 5
        assert record.elapsed >= record.seconds > 0
        assert record.epsilon is None
    with pytest.raises(FrozenInstanceError):
        records[0].epoch = 7  # type: ignore[misc]
    assert records[-1].elapsed > records[0].elapsed


def test_same_seed_same_run_different_seed_different_run(table: pd.DataFrame) -> None:
    def run_once(seed: int) -> tuple[list[float], pd.DataFrame]:
        run = start(table, "outcome", quick_config(seed=seed))
        history = [r.objective for r in run.epochs()]
        return history, run.synthesizer().sample(50, seed=3)

    first, second, other = run_once(1), run_once(1), run_once(2)
    assert first[0] == second[0]
    pd.testing.assert_frame_equal(first[1], second[1])
    assert first[0] != other[0]


def test_stop_between_epochs_ends_with_a_stopped_record(table: pd.DataFrame) -> None:
    run = start(table, "outcome", quick_config(epochs=10))
    records = []
    for record in run.epochs():
        records.append(record)
        run.request_stop()
    assert records[-1].stop is StopReason.STOPPED
    assert records[-1].steps == 0
    assert len(records) == 2
    assert len(run.synthesizer().sample(20)) == 20  # the model trained so far is usable


def test_stop_from_another_thread_interrupts_the_epoch(table: pd.DataFrame) -> None:
    config = quick_config(epochs=2, min_steps_per_epoch=100_000, max_steps_per_epoch=100_000)
    run = start(table, "outcome", config)
    timer = threading.Timer(1.0, run.request_stop)
    timer.start()
    records = list(run.epochs())
    timer.join()
    assert len(records) == 1
    assert records[0].stop is StopReason.STOPPED
    assert 0 < records[0].steps < 100_000


def test_closing_the_iterator_cancels_cleanly(table: pd.DataFrame) -> None:
    run = start(table, "outcome", quick_config(epochs=5))
    with closing(run.epochs()) as epochs:
        first = next(epochs)
    assert first.epoch == 1
    assert len(run.history) == 1
    assert len(run.synthesizer().sample(10)) == 10


def test_synthesizer_before_training_is_an_error(table: pd.DataFrame) -> None:
    run = start(table, "outcome", quick_config())
    with pytest.raises(RuntimeError, match="iterate epochs"):
        run.synthesizer()


def measured_on_sample(run: TrainingRun, rows: int = 1000) -> dict[str, float]:
    synthesizer = run.synthesizer()
    features, target = synthesizer.sample_encoded(rows, generator=torch.Generator().manual_seed(9))
    table = synthesizer.encoder.decode(features.numpy(), target.numpy())
    audit = audit_sample(
        run.reference,
        distance_coordinates(run.reference.space, features, target),
        row_keys(table, run.data.schema),
    )
    return {c.key: c.measure(audit, run.reference) for c in default_constraints()}


def test_memorising_generator_violates_and_constrained_one_satisfies() -> None:
    frame = memorising_table()
    memorising = dict(
        epochs=30,
        min_steps_per_epoch=30,
        measurement_rows=1000,
        batch_size=64,
        learning_rate=3e-3,
        # The knobs must travel far on 80 memorised rows (a spread of 30 or more), further than
        # the default rate, chosen for real tables, takes them in 900 steps: with it the
        # too-close share fell 0.59 -> 0.24 here, not below a third.
        knob_learning_rate=0.1,
        split=MEMORISING_SPLIT,
        model=ModelConfig(kl_weight=0.05, latent_dim=4, hidden_dim=256),
    )
    unconstrained = start(frame, "y", quick_config(**memorising, constraints=()))
    list(unconstrained.epochs())
    # The same seed gives the same split and reference rows as the constrained run below.
    before = measured_on_sample(unconstrained)
    for constraint in default_constraints()[1:]:
        assert violation(constraint, before[constraint.key]) > 0, (constraint.key, before)

    constrained = start(frame, "y", quick_config(**memorising))
    records = list(constrained.epochs())
    # 1000 rows, not 80: a share measured on 80 rows moves by +-0.05 from sampling alone.
    result = finish(constrained, rows=1000, fit_seconds=0.0, dataset_name="memorising")
    # On 80 memorised rows the closer-to-training share cannot always be brought to 0.55 by
    # the knobs alone; a rule that was not met must then be declared unreachable, never
    # passed over in silence.
    declared = {c.key for c in records[-1].constraints if c.unreachable}
    unmet = {key for key, met in result.release.satisfied.items() if not met}
    assert unmet <= declared, (result.release.measured, declared)
    assert {"exact_match", "close_records", "composite_privacy"}.isdisjoint(unmet)
    # The multipliers did the work: constraints were active and moved the privacy knobs.
    assert max(c.multiplier for r in records for c in r.constraints) > 0.1
    assert max(constrained.synthesizer().privacy_spread) > 5.0
    assert max(unconstrained.synthesizer().privacy_spread) < 2.0
    assert records[-1].privacy_spread == constrained.synthesizer().privacy_spread
    after = measured_on_sample(constrained)
    # At least halved (measured: 0.597 -> 0.21 on this table and seed).
    assert after["close_records"] < before["close_records"] / 2
    assert after["closer_to_training"] < before["closer_to_training"]


def test_unreachable_threshold_is_reported_in_words() -> None:
    rng = np.random.default_rng(0)
    # Two binary columns: only four distinct rows exist, so every synthetic row copies a member.
    frame = pd.DataFrame({"y": rng.choice([0, 1], 120), "x": rng.choice(["a", "b"], 120)})
    config = quick_config(
        epochs=12,
        constraints=(ExactMatchConstraint(),),
        alm=AlmConfig(max_penalty=4.0, stall_patience=2),
    )
    run = start(frame, "y", config)
    records = list(run.epochs())
    assert records[-1].constraint("exact_match").unreachable
    assert records[-1].constraint("exact_match").measured == 1.0
    notes = [n for r in records for n in r.notes]
    assert any("looks unreachable" in n and "closest value reached is 1" in n for n in notes)
    multipliers = [r.constraint("exact_match").multiplier for r in records]
    assert multipliers[-1] == multipliers[-2]  # frozen once declared unreachable
    with pytest.raises(ReleaseError, match="rejected"):
        finish(run, rows=50, fit_seconds=0.0, dataset_name="binary")


def test_thresholds_stricter_than_real_data_get_a_feasibility_note(table: pd.DataFrame) -> None:
    strict = (CloseRecordConstraint(max_share=0.0, quantile=0.2),)
    run = start(table, "outcome", quick_config(epochs=1, constraints=strict))
    first = next(iter(run.epochs()))
    assert any("stricter than what unseen real patients reach" in n for n in first.notes)
    lenient = start(table, "outcome", quick_config(epochs=1))
    assert not any("stricter" in n for n in next(iter(lenient.epochs())).notes)


def test_every_target_class_is_generated_in_its_share() -> None:
    frame = mixed_table(rows=400)
    run = start(frame, "outcome", quick_config())
    list(run.epochs())
    sample = run.synthesizer().sample(1000)
    real_share = (run.data.members["outcome"] == "yes").mean()
    assert (sample["outcome"] == "yes").mean() == pytest.approx(real_share, abs=0.001)


def test_marginal_similarity_is_one_for_identical_and_lower_for_shifted() -> None:
    spans = (Span("x", SpanKind.GAUSSIAN, 0, 1), Span("c", SpanKind.CHOICE, 1, 2))
    generator = torch.Generator().manual_seed(0)
    real = torch.cat(
        [torch.randn(500, 1, generator=generator), torch.eye(2)[torch.arange(500) % 2]], 1
    )
    assert marginal_similarity(spans, real, real) == pytest.approx(1.0)
    shifted = real.clone()
    shifted[:, 0] += 1.0
    shifted[:, 1:] = torch.tensor([1.0, 0.0])
    assert marginal_similarity(spans, real, shifted) < 0.7


def test_config_changes_apply(table: pd.DataFrame) -> None:
    config = replace(quick_config(), epochs=2, min_steps_per_epoch=7)
    records = list(start(table, "outcome", config).epochs())
    assert len(records) == 2
    assert records[0].steps == 7


@pytest.mark.parametrize(
    ("passes", "least", "most", "expected"),
    [
        (3.0, 1, 1000, "passes"),  # three passes of 64-row batches over the members
        (3.0, 40, 1000, 40),  # a small table still gets the minimum
        (3.0, 1, 4, 4),  # a large one no more than the maximum
    ],
)
def test_steps_per_epoch_follow_the_table_size_within_bounds(
    table: pd.DataFrame, passes: float, least: int, most: int, expected: int | str
) -> None:
    config = quick_config(
        epochs=1, passes_per_epoch=passes, min_steps_per_epoch=least, max_steps_per_epoch=most
    )
    run = start(table, "outcome", config)
    records = list(run.epochs())
    if expected == "passes":
        expected = int(np.ceil(passes * len(run.data.members) / 64))
        assert 4 < expected < 40
    assert records[0].steps == expected


def test_rare_rows_are_drawn_at_most_the_configured_number_of_times(
    table: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, object] = {}
    original = training.BatchOrder

    def spy(*args: object, **kwargs: object) -> object:
        seen.update(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(training, "BatchOrder", spy)
    list(start(table, "outcome", quick_config(epochs=1, max_row_draws=3.5)).epochs())
    assert seen["max_passes"] == 3.5


def test_columns_are_drawn_in_the_stages_of_their_chow_liu_tree(table: pd.DataFrame) -> None:
    run = start(table, "outcome", quick_config(epochs=1))
    list(run.epochs())
    weights = run.synthesizer().weights
    stages = weights["column_stage"].tolist()
    assert set(stages) == {0, 1, 2}
    # Trained: links from earlier to later stages moved away from zero, and only those exist.
    model = run.synthesizer().build_model()
    plan = model.dependency_plan()
    assert plan is not None
    assert weights["dependency"][plan.mask > 0].abs().max() > 0
    assert model.dependency_weights()[plan.mask == 0].abs().max() == 0


def test_a_table_too_wide_for_stages_is_drawn_at_once_and_says_so(
    table: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(model_module, "MAX_DEPENDENCY_WIDTH", 5)
    monkeypatch.setattr(training, "MAX_DEPENDENCY_WIDTH", 5)
    run = start(table, "outcome", quick_config(epochs=1))
    records = list(run.epochs())
    assert any("over 5: its columns are drawn at once" in note for note in records[0].notes)
    synthesizer = run.synthesizer()
    assert "dependency" not in synthesizer.weights
    assert len(synthesizer.sample(20, seed=0)) == 20


def test_surrogates_are_recorded_while_no_constraint_is_active(table: pd.DataFrame) -> None:
    # Lenient thresholds: nothing is active after the first dual update, so later epochs
    # compute the surrogates on one step in five, and record their mean, not zero.
    lenient = (ExactMatchConstraint(max_share=1.0), CloseRecordConstraint(max_share=1.0))
    records = list(start(table, "outcome", quick_config(constraints=lenient)).epochs())
    assert all(c.multiplier == 0.0 for r in records for c in r.constraints)
    for record in records[1:]:
        assert record.constraint("close_records").surrogate > 0.0


def test_safety_margin_never_makes_a_zero_threshold_unreachable(table: pd.DataFrame) -> None:
    from psygentab_core.training import _margin

    assert _margin(ExactMatchConstraint(), 0.01) == 0.0
    assert _margin(CloseRecordConstraint(max_share=0.05), 0.01) == 0.01
    config = quick_config(epochs=3, alm=AlmConfig(safety_margin=0.01))
    records = list(start(table, "outcome", config).epochs())
    # An exact-match rate of 0 already meets "at most 0": the margin must not push on it.
    assert records[-1].constraint("exact_match").multiplier == 0.0


def test_a_loss_that_is_no_longer_a_number_stops_training_with_a_message(
    table: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = start(table, "outcome", quick_config())
    monkeypatch.setattr(run, "_step", lambda *args: (float("nan"), float("nan"), {}))
    with pytest.raises(TrainingError, match=r"diverged at epoch 1, step 1: the loss became nan"):
        list(run.epochs())


# --- differential privacy ----------------------------------------------------------------------


def test_dp_records_the_epsilon_opacus_counts_and_never_passes_the_target(
    table: pd.DataFrame,
) -> None:
    run = start(table, "outcome", dp_quick_config(epochs=3))
    records = list(run.epochs())
    spent = [r.epsilon for r in records]
    assert None not in spent
    assert spent == sorted(spent)
    assert spent[-1] <= 5.0
    assert records[-1].stop is StopReason.COMPLETED
    assert records[0].notes[0].startswith("DP-SGD: Poisson sampling rate q = ")
    for record in records:
        json.dumps(record.to_dict())
        assert record.constraints == ()
        assert record.privacy_spread == records[0].privacy_spread  # the knobs stay fixed
    accountant = run.accountant
    assert accountant is not None
    plan = accountant.plan
    assert accountant.steps == sum(r.steps for r in records) == plan.planned_steps
    # Our ε is the preprocessing's share plus an independent Opacus accountant stepped as often.
    preprocessing = run.data.privacy.budget.preprocessing_epsilon
    sgd = epsilon_spent(
        noise_multiplier=plan.noise_multiplier,
        sample_rate=plan.sample_rate,
        steps=accountant.steps,
        delta=plan.delta,
        accountant=plan.accountant,
    )
    assert spent[-1] == pytest.approx(preprocessing + sgd, rel=1e-12)
    assert run.ledger().epsilon == spent[-1]


def test_dp_training_stops_before_a_step_that_would_pass_the_budget(table: pd.DataFrame) -> None:
    # A hand-set, small noise multiplier: the budget runs out long before the planned epochs.
    config = dp_quick_config(epochs=30, dp={"epsilon": 2.0, "noise_multiplier": 0.8})
    run = start(table, "outcome", config)
    records = list(run.epochs())
    assert records[-1].stop is StopReason.BUDGET
    assert len(records) < 30
    assert max(r.epsilon for r in records) <= 2.0
    plan = run.accountant.plan
    assert run.accountant.steps == plan.budget_steps < plan.planned_steps
    one_more = epsilon_spent(
        noise_multiplier=plan.noise_multiplier,
        sample_rate=plan.sample_rate,
        steps=plan.budget_steps + 1,
        delta=plan.delta,
        accountant=plan.accountant,
    )
    assert run.data.privacy.budget.preprocessing_epsilon + one_more > 2.0
    assert any("training will stop early" in note for note in records[0].notes)
    assert len(run.synthesizer().sample(10)) == 10


def test_dp_ledger_lists_every_read_of_the_real_rows(table: pd.DataFrame) -> None:
    result = fit(table, target="outcome", config=dp_quick_config(epochs=2))
    ledger = result.ledger
    assert ledger is not None
    columns = [f"encoder: {spec.name}" for spec in result.data.schema.modelled]
    assert [e.step for e in ledger.entries] == [
        "schema",
        "validation",
        "split",
        "row count",
        *columns,
        "DP-SGD",
        "fidelity proxy",
        "release audit",
        "holdout check",
    ]
    assert all(e.coverage is not Coverage.VOIDS for e in ledger.entries)
    assert ledger.guarantee_holds
    assert ledger.epsilon == result.history[-1].epsilon
    assert ledger.epsilon <= ledger.target_epsilon == 5.0
    assert ledger.entry("DP-SGD").epsilon > 0
    assert any(d.startswith("The release filter") for d in ledger.disabled)
    assert any("Augmented Lagrangian" in d for d in ledger.disabled)
    # The release is the generator's sample as drawn; the constraints are only measured.
    assert result.release.rejected == 0
    assert result.release.drawn == len(table)
    assert not any(c["enforced"] for c in result.summary.constraints)
    assert result.summary.privacy == ledger.to_dict()
    assert result.summary.privacy["epsilon"] <= 5.0


def test_dp_generator_and_release_depend_on_the_training_rows_only(table: pd.DataFrame) -> None:
    # The ledger says no mechanism reads the reference or holdout rows: rewrite all of them and
    # nothing released may change; change the training rows and the generator does.
    config = dp_quick_config(epochs=1)
    schema = infer_schema(table, target="outcome")
    first = fit(table, schema=schema, config=config)
    others = np.concatenate([first.data.split.reference, first.data.split.holdout])
    rewritten = table.copy()
    rewritten.loc[others, "age"] = 99
    rewritten.loc[others, "bmi"] = np.nan
    rewritten.loc[others, "ward"] = "A"
    second = fit(rewritten, schema=schema, config=config)
    np.testing.assert_array_equal(first.data.split.members, second.data.split.members)
    for key, weights in first.synthesizer.weights.items():
        assert torch.equal(weights, second.synthesizer.weights[key]), key
    assert first.synthesizer.class_shares == second.synthesizer.class_shares
    pd.testing.assert_frame_equal(first.synthetic, second.synthetic)
    members = table.copy()
    members.loc[first.data.split.members, "age"] = 18
    third = fit(members, schema=schema, config=config)
    assert not torch.equal(
        first.synthesizer.weights["to_output.weight"], third.synthesizer.weights["to_output.weight"]
    )


def test_dp_stop_request_ends_with_a_stopped_record(table: pd.DataFrame) -> None:
    run = start(table, "outcome", dp_quick_config(epochs=10))
    records = []
    for record in run.epochs():
        records.append(record)
        run.request_stop()
    assert records[-1].stop is StopReason.STOPPED
    assert records[-1].steps == 0
    assert records[-1].epsilon == records[0].epsilon
    assert len(run.synthesizer().sample(5)) == 5


def test_dp_data_must_be_prepared_for_dp(table: pd.DataFrame) -> None:
    schema = infer_schema(table, target="outcome")
    plain = prepare_data(table, schema, quick_config())
    with pytest.raises(ConfigError, match="different privacy mode"):
        TrainingRun(plain, dp_quick_config())
