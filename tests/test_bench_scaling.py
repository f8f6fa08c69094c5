"""The pure parts of the scaling run (bench/scaling.py): the resampled tables and the growth."""

from __future__ import annotations

import math

import pytest

from bench.scaling import TARGET, base_table, growth, markdown, resampled_table, slope
from psygentab_core.schema import validate_schema


@pytest.mark.parametrize("columns", [10, 30, 75])
def test_resampled_tables_keep_the_class_mix_and_the_kinds(columns: int) -> None:
    base, base_schema = base_table()
    frame, schema = resampled_table(3000, columns, seed=1)
    assert frame.shape == (3000, columns)
    assert frame.columns[0] == TARGET
    assert schema.target == TARGET
    validate_schema(schema, frame)
    shares = frame[TARGET].value_counts(normalize=True)
    real = base[TARGET].value_counts(normalize=True)
    for level, share in real.items():
        assert abs(shares[level] - share) <= 1 / 3000  # exact up to rounding
    kinds = {spec.name: spec.kind for spec in base_schema.columns}
    for spec in schema.columns:
        source = spec.name.rsplit("_x", 1)[0] if spec.name not in kinds else spec.name
        assert spec.kind is kinds[source]
    # Jittered, not copied: far fewer duplicate rows than a plain bootstrap of 1,629 rows.
    assert frame.duplicated().mean() < 0.05


def test_the_same_seed_gives_the_same_table() -> None:
    first, _ = resampled_table(500, 30, seed=3)
    second, _ = resampled_table(500, 30, seed=3)
    assert first.equals(second)


def test_slope_of_a_power_law_is_its_exponent() -> None:
    sizes = [1_000, 10_000, 100_000]
    assert slope(sizes, [2.0 * s**1.5 for s in sizes]) == pytest.approx(1.5)
    assert slope(sizes, [None, 5.0, None]) is None  # a single point has no slope
    assert slope(sizes, [3.0, 3.0, 3.0]) == pytest.approx(0.0, abs=1e-12)


def test_growth_and_report_skip_failed_points() -> None:
    points = [
        {"rows": 1_000, "columns": 30, "fit_seconds": 10.0, "fit_cpu_seconds": 9.0},
        {"rows": 10_000, "columns": 30, "error": "timed out after 60 s"},
        {"rows": 100_000, "columns": 30, "fit_seconds": 1000.0, "fit_cpu_seconds": 900.0},
    ]
    rows = growth(points, "rows")
    assert rows["fit_seconds"] == pytest.approx(1.0)
    assert [(s["from"], s["to"]) for s in rows["steps"]] == [(1_000, 100_000)]
    assert rows["peak_rss_mib"] is None
    report = {"machine": "test", "points": {"rows": points[1:2], "columns": []}}
    report["growth"] = {"rows": rows, "columns": growth([], "columns")}
    text = markdown(report)
    assert "timed out after 60 s" in text
    assert not math.isnan(rows["fit_cpu_seconds"])
