"""Canonical row keys and the record-level privacy measures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from psygentab_core import privacy
from psygentab_core.encoding import fit_encoder
from psygentab_core.privacy import (
    build_reference,
    closer_share_against,
    closer_to_members_share,
    composite_privacy_score,
    equal_size_share,
    measured_subset,
    row_keys,
)
from psygentab_core.schema import infer_schema


def test_equal_values_in_different_spellings_share_a_key() -> None:
    frame = pd.DataFrame({"n": [1, 2], "c": ["a", "b"], "d": ["2020-01-01", "2020-01-02"]})
    schema = infer_schema(frame)
    spelled = pd.DataFrame({"n": [1.0, 2.5], "c": ["a", "b"], "d": ["2020-01-01", "2020-01-02"]})
    keys, other = row_keys(frame, schema), row_keys(spelled, schema)
    assert keys[0] == other[0]  # 1 and 1.0 are the same value
    assert keys[1] != other[1]


def test_missing_values_match_each_other_only() -> None:
    frame = pd.DataFrame({"n": [1.0, np.nan, np.nan], "c": ["a", None, "a"]})
    keys = row_keys(frame, infer_schema(frame))
    assert len(set(keys.tolist())) == 3
    assert row_keys(frame.iloc[[1, 1]], infer_schema(frame))[0] == keys[1]


def test_negative_zero_is_zero() -> None:
    frame = pd.DataFrame({"n": [0.0, -0.0, -1e-12, *np.linspace(1, 2, 37)], "c": ["a"] * 40})
    schema = infer_schema(frame)
    assert schema.column("n").kind.is_numeric
    keys = row_keys(frame, schema)
    assert keys[0] == keys[1] == keys[2]  # -1e-12 rounds to -0.0 at nine places


def test_distinct_rows_get_distinct_keys() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"n": rng.integers(0, 5, 400), "c": rng.choice(list("abcd"), 400)})
    schema = infer_schema(frame)
    keys = row_keys(frame, schema)
    distinct_rows = frame.drop_duplicates()
    assert np.unique(keys).size == len(distinct_rows) == 20


def test_excluded_columns_do_not_count() -> None:
    frame = pd.DataFrame({"patient_id": range(30), "x": [1.0, 2.0, 3.0] * 10})
    schema = infer_schema(frame)
    assert schema.column("patient_id").identifier
    keys = row_keys(frame, schema)
    assert keys[0] == keys[3]


def test_closer_share_counts_ties_as_half() -> None:
    to_members = np.array([0.1, 0.5, 0.3, 0.2])
    to_others = np.array([0.2, 0.4, 0.3, 0.9])
    share = closer_to_members_share(to_members, to_others, members=10, non_members=10)
    assert share == pytest.approx((2 + 0.5) / 4)


@pytest.mark.parametrize(("members", "non_members"), [(10, 10), (600, 100), (100, 300)])
def test_equal_size_share_maps_chance_to_half_and_copies_to_one(members, non_members) -> None:
    chance = members / (members + non_members)
    assert equal_size_share(chance, members=members, non_members=non_members) == 0.5
    assert equal_size_share(1.0, members=members, non_members=non_members) == 1.0
    assert equal_size_share(0.0, members=members, non_members=non_members) == 0.0
    # A quarter of rows copying training rows, the rest unrelated: 0.25 + 0.75 / 2 at equal sizes.
    raw = 0.25 + 0.75 * chance
    assert equal_size_share(raw, members=members, non_members=non_members) == pytest.approx(0.625)
    tensor = equal_size_share(torch.tensor(raw), members=members, non_members=non_members)
    assert float(tensor) == pytest.approx(0.625)


def test_unrelated_rows_score_half_whatever_the_set_sizes() -> None:
    rng = np.random.default_rng(0)
    population = rng.normal(size=(5000, 3))
    members, others, synthetic = population[:3000], population[3000:3500], population[3500:]
    share = closer_share_against(
        torch.from_numpy(synthetic), torch.from_numpy(members), torch.from_numpy(others)
    )
    assert share == pytest.approx(0.5, abs=0.03)
    copies = closer_share_against(
        torch.from_numpy(members[:500]), torch.from_numpy(members), torch.from_numpy(others)
    )
    assert copies == 1.0


def test_composite_score_ends() -> None:
    reference = np.linspace(0.1, 1.0, 100)
    far = reference * 2
    assert composite_privacy_score(far, np.zeros(100, bool), reference) == pytest.approx(1.0)
    copies = np.zeros(100)
    assert composite_privacy_score(copies, np.ones(100, bool), reference) == pytest.approx(0.0)
    half = composite_privacy_score(reference / 2, np.zeros(100, bool), reference)
    assert half == pytest.approx(0.5 * 0.5 + 0.3 * 0.5 + 0.2, abs=0.02)


def test_measured_subset_is_every_row_up_to_the_limit() -> None:
    assert measured_subset(100, seed=0, limit=100) is None
    subset = measured_subset(1000, seed=0, limit=100)
    assert subset is not None
    assert subset.size == 100
    assert np.all(np.diff(subset) > 0)  # sorted, no repeats
    np.testing.assert_array_equal(subset, measured_subset(1000, seed=0, limit=100))


def test_large_sets_are_measured_on_a_random_subset(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    population = rng.normal(size=(3000, 3))
    members, others = torch.from_numpy(population[:1000]), torch.from_numpy(population[1000:1500])
    copies = torch.from_numpy(population[:400])
    unrelated = torch.from_numpy(population[1500:])
    monkeypatch.setattr(privacy, "DISTANCE_ROWS", 200)
    assert closer_share_against(copies, members, others) == 1.0
    assert closer_share_against(unrelated, members, others) == pytest.approx(0.5, abs=0.08)

    frame = pd.DataFrame({"x": rng.normal(size=900).round(3), "c": rng.choice(list("ab"), 900)})
    schema = infer_schema(frame)
    encoder = fit_encoder(schema, frame)
    reference = build_reference(encoder, frame.iloc[:300], frame.iloc[300:])
    # 600 reference rows, of which 200 measured; the other measures still use all of them.
    assert reference.reference_to_members.size == 200
    assert np.all(np.diff(reference.reference_to_members) >= 0)
    assert len(reference.reference_coordinates) == 600
    for q in (0.05, 0.5, 0.05):  # the second 0.05 is read from the cache
        assert reference.distance_quantile(q) == np.quantile(reference.reference_to_members, q)
