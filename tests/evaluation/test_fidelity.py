"""Fidelity metrics: known answers, sanity on copy / fresh / shuffled tables, figures."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from psygentab_core.evaluation.data import EvaluationContext, EvaluationData, prepare
from psygentab_core.evaluation.fidelity import (
    CORRELATION_RATIO,
    CRAMERS_V,
    SPEARMAN,
    Layout,
    association_difference,
    association_matrix,
    column_distances,
    cramers_v,
    detection_auc,
    fidelity_metrics,
    missingness_similarity,
    pairwise_pearson,
    quality_score,
    table_columns,
)
from psygentab_core.evaluation.figures import DIVERGING, HOLDOUT, REAL, SYNTHETIC
from psygentab_core.evaluation.figures.fidelity import (
    association_heatmaps,
    column_distribution,
    detection_roc,
    marginal_similarity_bars,
    quality_components,
)
from psygentab_core.evaluation.result import Direction, Family
from psygentab_core.schema import infer_schema
from tests.evaluation.conftest import shuffled


def build(
    members: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame | None = None,
    *,
    target: str | None = None,
    seed: int = 0,
) -> EvaluationContext:
    holdout = members if holdout is None else holdout
    schema = infer_schema(pd.concat([members, holdout], ignore_index=True), target=target)
    return prepare(EvaluationData(schema, members, holdout, synthetic, seed=seed))


def associated(rows: int, seed: int) -> pd.DataFrame:
    """A population with strong associations of every kind (number-number, mixed, categories)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    group = np.where(x + 0.3 * rng.normal(size=rows) > 0, "high", "low")
    return pd.DataFrame(
        {
            "x": np.round(x, 3),
            "y": np.round(2 * x + 0.5 * rng.normal(size=rows), 3),
            "group": group,
            "flag": np.where((group == "high") ^ (rng.random(rows) < 0.1), "on", "off"),
            "z": np.round(rng.gamma(2.0, size=rows) + 3 * (group == "high"), 3),
        }
    )


@pytest.fixture(scope="module")
def strong() -> dict[str, EvaluationContext]:
    members, holdout = associated(1500, 1), associated(800, 2)
    return {
        "fresh": build(members, associated(1500, 3), holdout),
        "noise": build(members, shuffled(associated(1500, 4), seed=5), holdout),
    }


# ---------------------------------------------------------------------------------------------
# Known answers


def test_ks_wasserstein_and_total_variation_by_hand() -> None:
    members = pd.DataFrame(
        {"v": [1.5, 2.5, 3.5, 4.5], "c": ["A", "A", "B", None], "k": ["p", "q", "p", "q"]}
    )
    synthetic = pd.DataFrame(
        {"v": [3.5, 4.5, 5.5, 6.5], "c": ["A", "B", "B", "B"], "k": ["p", "q", "p", "q"]}
    )
    result = column_distances(build(members, synthetic))
    rows = {r["column"]: r for r in result.details["columns"]}
    # ECDFs of {1.5..4.5} and {3.5..6.5} differ by at most 2/4 (at 2.5 and 4.5).
    assert rows["v"]["statistic"] == "Kolmogorov–Smirnov"
    assert rows["v"]["value"] == pytest.approx(0.5)
    # Every value moves by 2; the real IQR is 3.875 - 2.375 = 1.5.
    assert rows["v"]["wasserstein"] == pytest.approx(2 / 1.5)
    # c: real A .5, B .25, missing .25; synthetic A .25, B .75 -> TV = (.25 + .5 + .25) / 2.
    assert rows["c"]["statistic"] == "total variation"
    assert rows["c"]["value"] == pytest.approx(0.5)
    assert rows["k"]["value"] == pytest.approx(0.0)
    assert result.value == pytest.approx(np.mean([0.5, 0.5, 1.0]))
    levels = result.details["distributions"]["c"]
    assert levels["levels"] == ["A", "B", "(missing)"]
    assert levels["real"] == pytest.approx([0.5, 0.25, 0.25])
    assert levels["synthetic"] == pytest.approx([0.25, 0.75, 0.0])


def test_histograms_share_one_grid_covering_both_tables() -> None:
    rng = np.random.default_rng(0)
    members = pd.DataFrame({"v": np.round(rng.random(300), 4)})
    synthetic = pd.DataFrame({"v": np.round(5 + rng.random(300), 4)})
    result = column_distances(build(members, synthetic))
    plot = result.details["distributions"]["v"]
    edges = np.asarray(plot["edges"])
    assert edges[0] <= members["v"].min()
    assert edges[-1] >= synthetic["v"].max()
    assert len(plot["real"]) == len(plot["synthetic"]) == len(edges) - 1
    assert sum(plot["real"]) == pytest.approx(1.0)
    assert sum(plot["synthetic"]) == pytest.approx(1.0)
    assert result.details["columns"][0]["value"] == pytest.approx(1.0)  # KS: disjoint ranges


def test_cramers_v_two_by_two_by_hand() -> None:
    # [[30, 10], [10, 50]]: expected [[16, 24], [24, 36]], chi2 = 196 (1/16 + 2/24 + 1/36).
    chi2 = 196 * (1 / 16 + 2 / 24 + 1 / 36)
    phi2 = chi2 / 100 - 1 / 99
    corrected = 2 - 1 / 99
    expected = math.sqrt(phi2 / (corrected - 1))
    assert expected == pytest.approx(0.57754, abs=1e-5)
    assert cramers_v(np.array([[30.0, 10.0], [10.0, 50.0]])) == pytest.approx(expected)
    a = ["u"] * 40 + ["w"] * 60
    b = ["s"] * 30 + ["t"] * 10 + ["s"] * 10 + ["t"] * 50
    frame = pd.DataFrame({"a": a, "b": b})
    result = association_difference(build(frame, frame))
    assert result.details["columns"] == ["a", "b"]
    assert result.details["real"][0][1] == pytest.approx(expected)
    assert result.details["measures"][0][1] == CRAMERS_V
    assert result.value == pytest.approx(0.0)


def test_cramers_v_independent_and_constant_tables_are_zero() -> None:
    assert cramers_v(np.array([[25.0, 25.0], [25.0, 25.0]])) == 0.0
    assert cramers_v(np.array([[40.0, 60.0], [0.0, 0.0]])) == 0.0


def test_correlation_ratio_by_hand() -> None:
    frame = pd.DataFrame({"x": [1.5, 2.5, 3.5, 7.5, 8.5, 90.5], "g": list("pppqqq")})
    result = association_difference(build(frame, frame))
    # On ranks 1..6: group means 2 and 5, grand mean 3.5, SS_between = 6 * 1.5² = 13.5,
    # SS_total = 17.5. The outlier 90.5 counts as rank 6, like any largest value.
    assert result.details["real"][0][1] == pytest.approx(math.sqrt(13.5 / 17.5))
    assert result.details["real"][1][0] == pytest.approx(math.sqrt(13.5 / 17.5))
    assert result.details["measures"][0][1] == CORRELATION_RATIO


def test_one_extreme_value_does_not_decide_an_association() -> None:
    # A number that differs by group, plus one value far out in a third group: on raw values
    # the outlier holds nearly all the variance and η falls near 0; on ranks it is one rank.
    rng = np.random.default_rng(0)
    groups = np.repeat(["a", "b", "c"], 200)
    values = np.concatenate([rng.normal(0, 1, 200), rng.normal(2, 1, 200), rng.normal(1, 1, 200)])
    clean = pd.DataFrame({"x": values, "g": groups})
    spiked = clean.assign(x=np.where(np.arange(600) == 450, 1e6, values))
    eta = {
        name: association_difference(build(frame, frame)).details["real"][0][1]
        for name, frame in [("clean", clean), ("spiked", spiked)]
    }
    assert eta["clean"] > 0.6
    assert eta["spiked"] == pytest.approx(eta["clean"], abs=0.01)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    transform=st.sampled_from([np.exp, np.cbrt, lambda v: v**3 + 5 * v, lambda v: -np.exp(-v)]),
)
def test_associations_do_not_change_under_increasing_transforms(seed: int, transform) -> None:
    frame = _random_table(120, 3, 2, seed=seed)
    layout = Layout(infer_schema(frame).modelled, {f"c{i}": tuple("abcde") for i in range(2)})
    before = association_matrix(layout, table_columns(layout, frame))
    bent = frame.assign(n1=transform(frame["n1"].to_numpy()))
    after = association_matrix(layout, table_columns(layout, bent))
    np.testing.assert_allclose(after, before, atol=1e-9)


def test_pearson_uses_pairwise_complete_rows() -> None:
    block = np.array([[1, 2], [2, 4], [3, 5], [4, np.nan], [np.nan, 1]], dtype=float)
    expected = np.corrcoef([1, 2, 3], [2, 4, 5])[0, 1]
    assert pairwise_pearson(block)[0, 1] == pytest.approx(expected)
    rng = np.random.default_rng(3)
    data = rng.normal(size=(400, 5))
    data[:, 1] += data[:, 0]
    data[rng.random(data.shape) < 0.2] = np.nan
    reference = pd.DataFrame(data).corr().to_numpy()
    np.testing.assert_allclose(pairwise_pearson(data), reference, atol=1e-10)


def _random_table(rows: int, numeric: int, categorical: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = rng.normal(size=rows)
    columns: dict[str, object] = {}
    for i in range(numeric):
        values = np.round(base * (i % 3) + rng.normal(size=rows), 3)
        values[rng.random(rows) < 0.05] = np.nan
        columns[f"n{i}"] = values
    for i in range(categorical):
        codes = np.clip((base + rng.normal(size=rows) * (1 + i % 4)).round().astype(int), -2, 2)
        labels = np.array(list("abcde"), dtype=object)[codes + 2]
        labels[rng.random(rows) < 0.03] = None
        columns[f"c{i}"] = labels
    return pd.DataFrame(columns)


def test_association_matrix_matches_pair_by_pair_computation() -> None:
    frame = _random_table(600, 3, 3, seed=1)
    schema = infer_schema(frame)
    layout = Layout(schema.modelled, {f"c{i}": tuple("abcde") for i in range(3)})
    matrix = association_matrix(layout, table_columns(layout, frame))
    names = [s.name for s in schema.modelled]
    at = {n: i for i, n in enumerate(names)}
    filled = frame.fillna({f"c{i}": "(missing)" for i in range(3)})
    # Each column ranked on its present values, then Pearson on pairwise-complete rows.
    ranks = frame[["n0", "n1"]].rank()
    assert matrix[at["n0"], at["n1"]] == pytest.approx(ranks["n0"].corr(ranks["n1"]))
    # η of the ranks by group means, on rows where the number is present; missing is a group.
    present = filled.assign(n1=ranks["n1"]).dropna(subset=["n1"])
    means = present.groupby("c2")["n1"].agg(["mean", "count"])
    between = (means["count"] * (means["mean"] - present["n1"].mean()) ** 2).sum()
    total = ((present["n1"] - present["n1"].mean()) ** 2).sum()
    assert matrix[at["c2"], at["n1"]] == pytest.approx(math.sqrt(between / total))
    # Cramér's V from pandas' crosstab.
    table = pd.crosstab(filled["c0"], filled["c1"]).to_numpy().astype(float)
    assert matrix[at["c0"], at["c1"]] == pytest.approx(cramers_v(table))
    assert np.allclose(matrix, matrix.T)
    assert np.allclose(np.diag(matrix), 1.0)


def test_association_matrix_is_fast_on_a_wide_table() -> None:
    frame = _random_table(10_000, 25, 25, seed=2)
    schema = infer_schema(frame)
    layout = Layout(schema.modelled, {f"c{i}": tuple("abcde") for i in range(25)})
    columns = table_columns(layout, frame)
    started = time.perf_counter()
    matrix = association_matrix(layout, columns)
    assert time.perf_counter() - started < 2.0
    assert matrix.shape == (50, 50)


# ---------------------------------------------------------------------------------------------
# Copy, fresh sample, shuffled columns


def test_copy_scores_perfectly(copy_context: EvaluationContext) -> None:
    distances = column_distances(copy_context)
    assert all(r["value"] == pytest.approx(0.0) for r in distances.details["columns"])
    assert all(
        r["wasserstein"] == pytest.approx(0.0)
        for r in distances.details["columns"]
        if r["wasserstein"] is not None
    )
    assert distances.value == pytest.approx(1.0)
    assert association_difference(copy_context).value == pytest.approx(0.0, abs=1e-12)
    assert missingness_similarity(copy_context).value == pytest.approx(1.0)
    quality = quality_score(copy_context)
    assert quality.value == pytest.approx(1.0)
    assert all(v == pytest.approx(1.0) for v in quality.details["components"].values())


def test_detection_cannot_tell_a_copy_apart(copy_context: EvaluationContext) -> None:
    result = detection_auc(copy_context)
    assert result.value == pytest.approx(0.5, abs=0.05)
    assert result.interval is not None
    assert result.interval.low <= 0.5 <= result.interval.high


def test_fresh_sample_sits_near_the_real_vs_real_baseline(
    fresh_context: EvaluationContext,
) -> None:
    distances = column_distances(fresh_context)
    assert distances.value > 0.9
    assert distances.value == pytest.approx(distances.baseline, abs=0.03)
    detection = detection_auc(fresh_context)
    assert detection.interval is not None
    assert detection.interval.low - 0.03 <= 0.5 <= detection.interval.high + 0.03


def test_shuffled_columns_lose_associations(strong: dict[str, EvaluationContext]) -> None:
    fresh = association_difference(strong["fresh"])
    noise = association_difference(strong["noise"])
    assert noise.value > 3 * fresh.value
    assert noise.value > 2 * noise.baseline
    # Marginals are kept by shuffling: column by column the two look alike.
    assert column_distances(strong["noise"]).value > 0.9
    real = np.asarray(noise.details["real"])
    synthetic = np.asarray(noise.details["synthetic"])
    difference = np.asarray(noise.details["difference"])
    np.testing.assert_allclose(difference, synthetic - real)
    at = {c: i for i, c in enumerate(noise.details["columns"])}
    assert real[at["x"], at["y"]] > 0.9
    assert abs(synthetic[at["x"], at["y"]]) < 0.1
    assert noise.details["measures"][at["x"]][at["y"]] == SPEARMAN


def test_detection_sees_shuffled_columns(strong: dict[str, EvaluationContext]) -> None:
    noise = detection_auc(strong["noise"])
    fresh = detection_auc(strong["fresh"])
    assert noise.value > 0.7
    assert noise.interval is not None
    assert noise.interval.low > 0.6
    assert fresh.value < 0.6
    assert len(noise.details["fold_aucs"]) == 5
    fpr, tpr = np.asarray(noise.details["roc"]["fpr"]), np.asarray(noise.details["roc"]["tpr"])
    assert fpr[0] == tpr[0] == 0.0
    assert fpr[-1] == tpr[-1] == 1.0
    assert np.all(np.diff(fpr) >= 0)
    assert np.all(np.diff(tpr) >= 0)
    assert "membership inference" in noise.meaning
    assert "detection" in noise.meaning
    assert noise.direction is Direction.TOWARD_IDEAL
    assert noise.baseline == 0.5


def test_quality_score_drops_when_associations_are_lost(
    strong: dict[str, EvaluationContext],
) -> None:
    fresh, noise = quality_score(strong["fresh"]), quality_score(strong["noise"])
    assert noise.value < fresh.value - 0.03
    assert noise.details["components"]["association"] < fresh.details["components"]["association"]
    assert 0.0 <= noise.value <= 1.0
    assert set(noise.details["components"]) == {
        "distribution",
        "association",
        "rare_events",
        "coverage",
    }


def test_quality_coverage_counts_lost_categories() -> None:
    members = pd.DataFrame({"c": list("aabbccdd") * 10, "v": np.arange(80) / 7})
    synthetic = pd.DataFrame({"c": list("aabbccaa") * 10, "v": np.arange(80) / 7})
    result = quality_score(build(members, synthetic))
    assert result.details["components"]["coverage"] == pytest.approx(3 / 4)
    assert result.details["coverage"]["missing_levels"] == [{"column": "c", "level": "d"}]


# ---------------------------------------------------------------------------------------------
# Missing values


def test_filled_in_missing_values_score_below_one(copy_context: EvaluationContext) -> None:
    members = copy_context.members.frame
    filled = members.copy()
    filled["bmi"] = filled["bmi"].fillna(filled["bmi"].median())
    filled["visits"] = filled["visits"].fillna(3)
    result = missingness_similarity(build(members, filled, target="outcome"))
    assert result.value < 1.0
    assert result.details["columns"] == ["bmi", "visits"]
    assert result.details["synthetic_rates"] == [0.0, 0.0]
    expected = np.mean(members[["bmi", "visits"]].isna().mean())
    assert result.value == pytest.approx(1.0 - expected)


def test_co_missingness_is_compared() -> None:
    rng = np.random.default_rng(0)
    rows = 2000
    together = rng.random(rows) < 0.2
    a = np.where(together, np.nan, rng.normal(size=rows).round(3))
    b = np.where(together, np.nan, rng.normal(size=rows).round(3))
    members = pd.DataFrame({"a": a, "b": b})
    synthetic = members.copy()
    synthetic["b"] = synthetic["b"].to_numpy()[rng.permutation(rows)]
    result = missingness_similarity(build(members, synthetic))
    assert result.value == pytest.approx(1.0)  # the same rates
    assert result.details["co_missingness_real"][0][1] == pytest.approx(1.0)
    assert result.details["co_missingness_difference"] > 0.8


def test_no_missing_values_anywhere_says_so() -> None:
    frame = pd.DataFrame({"v": np.arange(20) / 3, "c": list("ab") * 10})
    result = missingness_similarity(build(frame, frame))
    assert result.value == 1.0
    assert "No column has missing values" in result.meaning


# ---------------------------------------------------------------------------------------------
# The bundle


def test_fidelity_metrics_are_complete_and_json_ready(fresh_context: EvaluationContext) -> None:
    results = fidelity_metrics(fresh_context)
    assert [r.key for r in results] == [
        "fidelity.marginal_similarity",
        "fidelity.association_difference",
        "fidelity.missingness_similarity",
        "fidelity.detection_auc",
        "fidelity.quality_score",
    ]
    for result in results:
        assert result.family is Family.FIDELITY
        assert result.meaning
        assert result.baseline is not None
        assert result.baseline_meaning
        json.dumps(result.to_dict(), allow_nan=False)
    assert results[3].name == "Detection AUC (real vs synthetic classifier)"


def test_datetime_and_integer_columns_get_sensible_bins(
    fresh_context: EvaluationContext,
) -> None:
    distributions = column_distances(fresh_context).details["distributions"]
    visits = np.asarray(distributions["visits"]["edges"])
    assert np.allclose(np.diff(visits), 1.0)
    assert visits[0] % 1 == 0.5
    assert distributions["admitted"]["kind"] == "datetime"
    assert distributions["ward"]["levels"] == ["A", "B", "C", "D", "rare"]


# ---------------------------------------------------------------------------------------------
# Figures


def test_association_heatmaps(strong: dict[str, EvaluationContext], capsys) -> None:
    result = association_difference(strong["noise"])
    figure = association_heatmaps(result)
    heatmaps = [t for t in figure.data if t.type == "heatmap"]
    assert len(heatmaps) == 3
    assert heatmaps[0].coloraxis == heatmaps[1].coloraxis == "coloraxis"
    assert heatmaps[2].coloraxis == "coloraxis2"
    assert figure.layout.coloraxis2.cmid == 0.0
    assert figure.layout.coloraxis2.cmin == -figure.layout.coloraxis2.cmax
    assert list(heatmaps[0].x) == result.details["columns"]
    house = go.Figure(layout={"coloraxis": {"colorscale": DIVERGING}}).layout.coloraxis
    assert figure.layout.coloraxis2.colorscale == house.colorscale
    assert figure.layout.coloraxis.colorscale != house.colorscale
    # The saved JSON form draws the same figure.
    again = association_heatmaps(json.loads(json.dumps(result.to_dict())))
    assert len(again.data) == 3
    assert capsys.readouterr() == ("", "")


def test_distribution_and_similarity_figures(fresh_context: EvaluationContext, capsys) -> None:
    result = column_distances(fresh_context)
    for column in ("age", "ward", "admitted", "bmi"):
        figure = column_distribution(result, column)
        colours = [t.marker.color for t in figure.data]
        assert colours == [REAL, SYNTHETIC]
        assert figure.data[0].name.startswith("real")
    bars = marginal_similarity_bars(result)
    assert bars.data[0].marker.color == SYNTHETIC
    assert bars.data[1].marker.color == HOLDOUT
    assert len(bars.data[0].y) == len(result.details["columns"])
    with pytest.raises(KeyError):
        column_distribution(result, "nope")
    roc = detection_roc(detection_auc(fresh_context))
    assert roc.data[0].line.color == SYNTHETIC
    assert len(roc.data) == 2
    components = quality_components(quality_score(fresh_context))
    assert [t.marker.color for t in components.data] == [SYNTHETIC, HOLDOUT]
    assert capsys.readouterr() == ("", "")
