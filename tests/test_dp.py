"""Differential privacy: Opacus's accounting, the budget, the encoder's mechanisms, per-row
gradients, the ledger and the bound on attacks."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from opacus import GradSampleModule
from opacus.accountants import PRVAccountant, RDPAccountant

from psygentab_core.dp import (
    Coverage,
    DpConfig,
    LedgerEntry,
    PrivacyLedger,
    SgdAccountant,
    attack_bound,
    calibrate_noise,
    default_delta,
    epsilon_spent,
    max_tpr,
    plan_dp_sgd,
    split_budget,
    steps_within_budget,
)
from psygentab_core.dp_encoding import (
    RANGE_FAILURE,
    approx_range,
    fit_dp_encoder,
    laplace_histogram,
    plan_budget,
    quantile_map,
    stable_histogram,
)
from psygentab_core.dp_training import DpSgd, ElboModule
from psygentab_core.errors import ConfigError
from psygentab_core.evaluation.evaluate import evaluate
from psygentab_core.evaluation.figures.training import epsilon_curve
from psygentab_core.evaluation.report import RunInfo, build_report, guarantee_text
from psygentab_core.evaluation.runs import data_from_fit, info_from_fit
from psygentab_core.model import ModelConfig
from psygentab_core.pipeline import fit
from psygentab_core.schema import infer_schema
from psygentab_core.synthesizer import generator_for
from tests.tables import MIXED_PUBLIC_BOUNDS, dp_quick_config, mixed_table

# --- accounting: Opacus's accountant, calibration, the step budget ------------------------------

OPACUS = {"rdp": RDPAccountant, "prv": PRVAccountant}


@pytest.mark.parametrize("accountant", ["rdp", "prv"])
@pytest.mark.parametrize(
    ("sample_rate", "noise", "steps"), [(0.01, 1.1, 1000), (0.2, 2.0, 50), (0.5, 4.0, 9)]
)
def test_our_epsilon_equals_opacus_accountant(
    accountant: str, sample_rate: float, noise: float, steps: int
) -> None:
    reference = OPACUS[accountant]()
    for _ in range(steps):
        reference.step(noise_multiplier=noise, sample_rate=sample_rate)
    ours = epsilon_spent(
        noise_multiplier=noise,
        sample_rate=sample_rate,
        steps=steps,
        delta=1e-5,
        accountant=accountant,
    )
    assert ours == pytest.approx(reference.get_epsilon(delta=1e-5), rel=1e-12)
    assert epsilon_spent(
        noise_multiplier=noise, sample_rate=sample_rate, steps=0, delta=1e-5, accountant=accountant
    ) == (0.0)


@pytest.mark.parametrize("accountant", ["rdp", "prv"])
def test_calibrated_noise_ends_just_below_the_target(accountant: str) -> None:
    noise = calibrate_noise(
        epsilon=2.0, delta=1e-5, sample_rate=0.05, steps=400, accountant=accountant
    )
    spent = epsilon_spent(
        noise_multiplier=noise, sample_rate=0.05, steps=400, delta=1e-5, accountant=accountant
    )
    assert 2.0 - 0.011 <= spent <= 2.0


def test_steps_within_budget_is_the_last_step_that_fits() -> None:
    settings = {"delta": 1e-5, "noise_multiplier": 1.0, "sample_rate": 0.05, "accountant": "rdp"}
    allowed = steps_within_budget(epsilon=3.0, max_steps=5000, **settings)
    assert 0 < allowed < 5000

    def spent(steps: int) -> float:
        return epsilon_spent(
            noise_multiplier=1.0, sample_rate=0.05, steps=steps, delta=1e-5, accountant="rdp"
        )

    assert spent(allowed) <= 3.0 < spent(allowed + 1)
    assert steps_within_budget(epsilon=1e6, max_steps=40, **settings) == 40


def test_an_impossible_budget_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="No noise level reaches"):
        calibrate_noise(epsilon=1e-9, delta=1e-9, sample_rate=1.0, steps=10**6, accountant="rdp")


def test_the_accountant_counts_the_optimizer_steps() -> None:
    dp = DpConfig(epsilon=2.0, accountant="rdp")
    budget = split_budget(dp, rows=1000, charged_columns=0, thresholded_columns=0)
    plan = plan_dp_sgd(dp, budget, rows=1000, batch_size=100, planned_steps=60)
    accountant = SgdAccountant(plan)

    class Optimizer:
        noise_multiplier = plan.noise_multiplier
        accumulated_iterations = 1

    for _ in range(25):
        accountant.hook(Optimizer())
    assert accountant.steps == 25
    assert accountant.history == [(plan.noise_multiplier, 0.1, 25)]
    assert accountant.epsilon() == epsilon_spent(
        noise_multiplier=plan.noise_multiplier,
        sample_rate=0.1,
        steps=25,
        delta=plan.delta,
        accountant="rdp",
    )
    assert accountant.can_step()


# --- configuration and budget -------------------------------------------------------------------


@pytest.mark.parametrize("rows", [10, 132, 999, 1000, 5500, 123_456])
def test_default_delta_is_well_below_one_over_n(rows: int) -> None:
    delta = default_delta(rows)
    assert delta <= 1 / (10 * rows)
    assert delta > 1 / (100 * rows)
    assert math.log10(delta) == round(math.log10(delta))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"epsilon": 0}, "epsilon must be a positive"),
        ({"epsilon": float("inf")}, "epsilon must be a positive"),
        ({"epsilon": 1, "delta": 1.5}, "delta must be between"),
        ({"epsilon": 1, "accountant": "gdp"}, "accountant must be one of"),
        ({"epsilon": 1, "preprocessing_share": 1.0}, "preprocessing_share"),
        ({"epsilon": 1, "public_bounds": (("age", 5, 1),)}, "low < high"),
        ({"epsilon": 1, "public_bounds": (("a", 0, 1), ("a", 0, 2))}, "twice"),
    ],
)
def test_bad_dp_settings_are_named(settings: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DpConfig(**settings)


def test_dp_config_round_trips_through_a_dict() -> None:
    config = DpConfig(epsilon=3, delta=1e-6, public_bounds=(("age", 0, 120),), accountant="rdp")
    assert DpConfig.from_dict(config.to_dict()) == config
    assert config.bounds_of("age") == (0.0, 120.0)
    assert config.bounds_of("bmi") is None
    with pytest.raises(ConfigError, match=r"Unknown setting\(s\) in \[dp\]: eps"):
        DpConfig.from_dict({"eps": 1})


def test_the_budget_goes_to_dp_sgd_when_everything_is_public() -> None:
    dp = DpConfig(epsilon=4.0, delta=1e-6, preprocessing_share=0.25)
    everything_public = split_budget(dp, rows=100, charged_columns=0, thresholded_columns=0)
    assert everything_public.sgd_epsilon == 4.0
    assert everything_public.sgd_delta == 1e-6
    estimated = split_budget(dp, rows=100, charged_columns=3, thresholded_columns=1)
    assert estimated.preprocessing_epsilon == 1.0
    assert estimated.sgd_epsilon == 3.0
    assert estimated.preprocessing_delta + estimated.sgd_delta == pytest.approx(1e-6)


# --- the encoder's mechanisms -------------------------------------------------------------------


def test_laplace_histogram_adds_noise_of_scale_one_over_epsilon() -> None:
    rng = np.random.default_rng(0)
    edges = np.linspace(0, 1, 11)
    draws = np.stack(
        [laplace_histogram(np.full(50, 0.55), edges, epsilon=0.5, rng=rng) for _ in range(4000)]
    )
    assert draws[:, 5].mean() == pytest.approx(50, abs=0.2)
    # Laplace(b) has standard deviation b·√2.
    assert draws[:, 0].std() == pytest.approx(2.0 * math.sqrt(2.0), rel=0.05)


def test_approx_range_covers_the_bulk_or_refuses() -> None:
    rng = np.random.default_rng(1)
    ages = rng.uniform(20, 80, 20_000)
    low, high = approx_range(ages, epsilon=1.0, rng=rng)
    assert 20 / 2 <= low <= 23
    assert 76 <= high <= 2 * 80
    # Ten rows under a tiny ε: no bin stands out of the noise, so almost never a range (an
    # empty bin clears the threshold with probability RANGE_FAILURE).
    made_up = sum(approx_range(ages[:10], epsilon=0.01, rng=rng) is not None for _ in range(300))
    assert made_up <= 3 * RANGE_FAILURE * 300


def test_stable_histogram_keeps_common_levels_and_hides_a_singleton() -> None:
    values = pd.Series(["a"] * 400 + ["b"] * 300 + ["single"])
    kept = [
        {plain for plain, _ in stable_histogram(values, epsilon=1.0, delta=1e-6, rng=rng).values()}
        for rng in (np.random.default_rng(seed) for seed in range(200))
    ]
    assert all(levels == {"a", "b"} for levels in kept)


def test_quantile_map_increases_strictly_even_from_pure_noise() -> None:
    edges = np.linspace(0, 10, 33)
    noisy = np.random.default_rng(2).laplace(0, 50, 32)
    values, scores = quantile_map(edges, noisy, noise_scale=50)
    assert np.all(np.diff(values) > 0)
    assert np.all(np.diff(scores) > 0)
    # Drowned in noise, the map is close to a straight line over the range.
    straight = np.interp(values, [0, 10], [0, 1])
    from scipy.special import ndtr

    assert np.abs(ndtr(scores) - straight).max() < 0.25


def mixed_schema(frame: pd.DataFrame):
    return infer_schema(frame, target="outcome")


def test_dp_encoder_entries_cover_every_column_and_add_up_to_the_budget() -> None:
    frame = mixed_table(rows=400)
    schema = mixed_schema(frame)
    dp = DpConfig(epsilon=4.0, public_bounds=MIXED_PUBLIC_BOUNDS, public_categories=True)
    result = fit_dp_encoder(schema, frame, dp=dp, rng=np.random.default_rng(0))
    assert [e.step for e in result.entries] == [f"encoder: {s.name}" for s in schema.modelled]
    charged = [e for e in result.entries if e.coverage is Coverage.CHARGED]
    assert {e.step for e in charged} == {
        "encoder: outcome",
        "encoder: age",
        "encoder: bmi",
        "encoder: admitted",
    }
    assert sum(e.epsilon for e in result.entries) == pytest.approx(0.4)
    assert result.budget == plan_budget(schema, dp, rows=400)
    assert len(result.class_shares) == result.encoder.target.width
    assert result.class_shares[-1] == 0.0  # the target's missing slot is never generated
    assert sum(result.class_shares) == pytest.approx(1.0)
    # Every column may be missing, whatever the rows say (that is itself private).
    assert all(e.has_missing for e in result.encoder.features)
    assert result.encoder.blocked_slots == ()


def test_dp_encoder_encodes_levels_it_did_not_release_as_missing() -> None:
    frame = mixed_table(rows=600)
    schema = mixed_schema(frame)
    dp = DpConfig(epsilon=8.0, public_bounds=MIXED_PUBLIC_BOUNDS, preprocessing_share=0.5)
    result = fit_dp_encoder(schema, frame, dp=dp, rng=np.random.default_rng(0))
    ward = next(e for e in result.encoder.features if e.name == "ward")
    assert "rare" not in ward.levels  # 2 % of 600 rows: below the stable histogram's threshold
    assert {"A", "B"} <= set(ward.levels)
    codes = ward.codes(pd.Series(["rare", "A", None]))
    assert codes[0] == codes[2] == len(ward.levels)
    entry = next(e for e in result.entries if e.step == "encoder: ward")
    assert entry.coverage is Coverage.CHARGED
    assert entry.delta > 0
    assert "stable histogram" in entry.mechanism


def test_a_column_too_small_for_its_budget_asks_for_public_bounds() -> None:
    frame = mixed_table(rows=60)
    dp = DpConfig(epsilon=0.5, public_categories=True)
    with pytest.raises(ConfigError, match="--public-bounds") as error:
        fit_dp_encoder(mixed_schema(frame), frame, dp=dp, rng=np.random.default_rng(0))
    assert "'age'" in str(error.value)


# --- DP-SGD: per-row gradients through Opacus ---------------------------------------------------


def small_model(frame: pd.DataFrame):
    schema = mixed_schema(frame)
    dp = DpConfig(epsilon=4.0, public_bounds=MIXED_PUBLIC_BOUNDS, public_categories=True)
    encoder = fit_dp_encoder(schema, frame, dp=dp, rng=np.random.default_rng(0)).encoder
    torch.manual_seed(0)
    model = generator_for(encoder, ModelConfig(hidden_dim=16, latent_dim=4))
    features, condition = (torch.from_numpy(a) for a in encoder.encode(frame))
    return model, features, condition


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
def test_opacus_per_row_gradients_match_autograd_row_by_row() -> None:
    frame = mixed_table(rows=40)
    model, features, condition = small_model(frame)
    model.privacy_knobs.requires_grad_(False)
    noise = torch.randn(8, model.latent_dim, generator=torch.Generator().manual_seed(1))
    plain = ElboModule(model, kl_weight=1.0)
    parameters = [p for p in plain.parameters() if p.requires_grad]
    assert any(p is model.log_sigma for p in parameters)
    assert all(p is not model.privacy_knobs for p in parameters)
    expected = []
    for row in range(8):
        loss = plain(features[row : row + 1], condition[row : row + 1], noise[row : row + 1])
        expected.append(torch.autograd.grad(loss.sum(), parameters))
    module = GradSampleModule(ElboModule(model, kl_weight=1.0))
    module(features[:8], condition[:8], noise).mean().backward()
    for index, parameter in enumerate(parameters):
        per_row = torch.stack([grads[index] for grads in expected])
        torch.testing.assert_close(parameter.grad_sample, per_row, rtol=1e-4, atol=1e-5)
    module._close()


def test_an_empty_poisson_batch_still_takes_a_noisy_counted_step() -> None:
    frame = mixed_table(rows=40)
    model, features, condition = small_model(frame)
    dp = DpConfig(epsilon=5.0, accountant="rdp")
    budget = split_budget(dp, rows=40, charged_columns=0, thresholded_columns=0)
    plan = plan_dp_sgd(dp, budget, rows=40, batch_size=4, planned_steps=20)
    accountant = SgdAccountant(plan)
    trainer = DpSgd(
        model,
        plan,
        learning_rate=1e-3,
        kl_weight=1.0,
        generator=torch.Generator().manual_seed(0),
        on_step=accountant.hook,
    )
    before = model.to_output.weight.detach().clone()
    loss = trainer.step(features[:0], condition[:0], torch.zeros(0, model.latent_dim))
    trainer.close()
    assert loss == 0.0
    assert accountant.steps == 1
    assert not torch.equal(before, model.to_output.weight)  # the noise moved the weights
    assert not model.privacy_knobs.requires_grad


# --- the ledger ---------------------------------------------------------------------------------


def entry(step: str, coverage: Coverage, epsilon: float = 0.0, delta: float = 0.0) -> LedgerEntry:
    return LedgerEntry(
        step=step, reads="rows", coverage=coverage, mechanism="m", epsilon=epsilon, delta=delta
    )


def test_ledger_totals_are_the_sum_of_charged_entries() -> None:
    ledger = PrivacyLedger(
        target_epsilon=3.0,
        target_delta=1e-5,
        entries=(
            entry("a", Coverage.CHARGED, 0.5, 1e-6),
            entry("b", Coverage.PUBLIC),
            entry("c", Coverage.AUDIT),
            entry("d", Coverage.CHARGED, 2.5, 9e-6),
        ),
    )
    assert ledger.epsilon == 3.0
    assert ledger.delta == pytest.approx(1e-5)
    assert ledger.guarantee_holds
    assert ledger.statement().startswith("(ε = 3, δ = 1e-05)-differential privacy")
    assert PrivacyLedger.from_dict(ledger.to_dict()) == ledger
    assert ledger.to_dict()["attack_bound"]["max_auc"] == attack_bound(3.0, 1e-5).max_auc


def test_a_read_outside_the_mechanisms_or_an_overspend_voids_the_guarantee() -> None:
    voided = PrivacyLedger(
        target_epsilon=3.0,
        target_delta=1e-5,
        entries=(entry("a", Coverage.CHARGED, 1.0), entry("filter", Coverage.VOIDS)),
    )
    assert not voided.guarantee_holds
    assert "filter read the real rows outside any DP mechanism" in voided.statement()
    over = PrivacyLedger(
        target_epsilon=1.0, target_delta=1e-5, entries=(entry("a", Coverage.CHARGED, 1.5),)
    )
    assert not over.guarantee_holds
    assert "exceeds the target" in over.statement()


# --- what (ε, δ) means for an attacker ----------------------------------------------------------


def test_no_privacy_loss_means_no_attack_beats_guessing() -> None:
    bound = attack_bound(0.0, 0.0)
    assert np.allclose(bound.tpr, bound.fpr)
    assert bound.max_auc == pytest.approx(0.5)
    assert bound.max_advantage == 0.0
    assert bound.max_accuracy == 0.5


@pytest.mark.parametrize("epsilon", [0.5, 1.0, 3.0, 10.0])
def test_pure_dp_bound_has_the_closed_forms(epsilon: float) -> None:
    bound = attack_bound(epsilon, 0.0)
    assert bound.max_auc == pytest.approx(math.exp(epsilon) / (1 + math.exp(epsilon)))
    assert bound.max_advantage == pytest.approx((math.exp(epsilon) - 1) / (math.exp(epsilon) + 1))


@pytest.mark.parametrize(("epsilon", "delta"), [(1.0, 1e-5), (3.0, 1e-3), (0.1, 0.05)])
def test_the_curve_is_the_kairouz_region(epsilon: float, delta: float) -> None:
    bound = attack_bound(epsilon, delta)
    fpr, tpr = np.array(bound.fpr), np.array(bound.tpr)
    beta = 1 - tpr
    # On the boundary of both conditions of Kairouz et al., never outside either.
    assert np.all(fpr + math.exp(epsilon) * beta >= 1 - delta - 1e-12)
    assert np.all(math.exp(epsilon) * fpr + beta >= 1 - delta - 1e-12)
    assert tpr[0] == pytest.approx(delta)  # at FPR 0 only the δ part
    fine = np.linspace(0, 1, 200_001)
    assert bound.max_auc == pytest.approx(np.trapezoid(max_tpr(fine, epsilon, delta), fine))
    assert bound.max_advantage == pytest.approx(
        np.max(max_tpr(fine, epsilon, delta) - fine), abs=1e-5
    )
    assert bound.max_auc < attack_bound(epsilon * 2, delta).max_auc


def test_attack_bound_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="ε ≥ 0"):
        attack_bound(-1.0, 0.0)
    with pytest.raises(ValueError, match="δ < 1"):
        attack_bound(1.0, 1.0)


# --- the report and the figures -----------------------------------------------------------------


def test_report_states_the_guarantee_the_ledger_and_the_bound(tmp_path) -> None:
    result = fit(mixed_table(), target="outcome", config=dp_quick_config(epochs=2))
    evaluation = evaluate(data_from_fit(result, sensitive=("sex",)))
    html_path, json_path = build_report(evaluation, tmp_path / "r.html", info=info_from_fit(result))
    page = html_path.read_text()
    assert "Formal privacy guarantee" in page
    assert result.ledger.statement().split(" with respect")[0] in page
    assert "Ledger: every read of the real rows" in page
    assert "most any attack can reach" in page  # the ROC figure with the bound
    assert "Differential privacy: budget spent" in page  # the ε curve
    assert "not enforced with DP" in page
    data = json.loads(json_path.read_text())
    assert data["privacy"]["epsilon"] == result.ledger.epsilon
    assert data["guarantee"] == result.ledger.statement()


def test_without_dp_the_report_claims_no_guarantee() -> None:
    assert guarantee_text(RunInfo(config={"epochs": 3})).startswith("None: this run was trained")
    assert guarantee_text(RunInfo()).startswith("Not known to this report")


def test_epsilon_curve_draws_what_the_records_say() -> None:
    history = [{"epoch": 1, "epsilon": 0.8}, {"epoch": 2, "epsilon": 1.4}, {"epoch": 3}]
    figure = epsilon_curve(history, target=3.0)
    assert list(figure.data[0].x) == [1, 2]
    assert list(figure.data[0].y) == [0.8, 1.4]
    assert figure.layout.shapes[0].y0 == 3.0
    assert len(epsilon_curve([]).data[0].x) == 0


def test_attack_bound_of_a_huge_epsilon_is_no_bound() -> None:
    bound = attack_bound(1000.0, 1e-5)
    assert bound.max_auc == pytest.approx(1.0)
    assert bound.max_advantage == pytest.approx(1.0)
