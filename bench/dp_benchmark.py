"""Utility, fairness and attack success of differentially private training against ε.

Run: ``python bench/dp_benchmark.py`` (about ten minutes on two cores; ``--quick`` for a smoke
run). For every bundled table and ε ∈ {1, 3, 10} it trains with DP-SGD (the configuration of
``dp_train_config``), releases a synthetic table as large as the real one and measures, on the
real holdout rows the generator never saw:

* TSTR AUC: ROC AUC of the best of three model families trained on the synthetic table;
* minority F1: F1 of the minority class for gradient boosting trained on the synthetic table;
* EO gap: the equalized-odds gap across the table's first sensitive attribute, same model;
* MIA AUC: the distance membership-inference attack (training rows against the holdout),
  next to the largest AUC any attack can reach under the (ε, δ) spent (Kairouz et al. 2015).

Two settings of what is public:

* ``codebook``: category lists and wide numeric limits (``psygentab_core.datasets.CODE_BOOKS``,
  chosen from what the columns mean, not from the rows) are public, as with a published code
  book; ε pays for the quantiles inside the limits, the class shares and DP-SGD.
* ``estimated``: only the outcome's classes are public; every range, quantile and category list
  is estimated under DP from the same budget. Small tables at small ε cannot afford this, and
  the run says so instead of inventing ranges.

A run without DP (the default constrained training) is the reference row of each table. The
fit time of a 10,000-row table (COVID-19 tests, subsampled) at ε = 3 is timed separately. Each
run uses one torch thread. Results go to ``bench/results/dp.json``; the Markdown table goes to
standard output. Privacy noise is drawn from the seed (``reproducible``) so the numbers can be
reproduced; a real release draws it from fresh entropy.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from threadpoolctl import threadpool_limits

from psygentab_core.config import TrainConfig, dp_train_config
from psygentab_core.datasets import CODE_BOOKS, DEMO_DATASETS, load_demo
from psygentab_core.dp import DpConfig, attack_bound
from psygentab_core.encoding import sorted_levels
from psygentab_core.errors import PsygentabError
from psygentab_core.evaluation.audit import privacy_metrics
from psygentab_core.evaluation.data import EvaluationData, prepare
from psygentab_core.evaluation.fairness import fairness_metrics
from psygentab_core.evaluation.utility import fit_downstream, utility_metrics
from psygentab_core.pipeline import FitResult, fit
from psygentab_core.schema import TableSchema, infer_schema

EPSILONS = (1.0, 3.0, 10.0)
RESULTS = Path(__file__).parent / "results" / "dp.json"
SPEED_ROWS = 10_000
SPEED_TABLE = "covid_testing"


def public_schema(frame: pd.DataFrame, target: str) -> TableSchema:
    """The inferred schema with the outcome's classes declared public."""
    schema = infer_schema(frame, target=target)
    spec = schema.column(target)
    classes = sorted_levels(frame[target].dropna().unique().tolist())
    return schema.with_kind(target, spec.kind, reason=spec.reason, levels=classes)


def dp_settings(name: str, epsilon: float, mode: str) -> DpConfig:
    """The DP configuration of one benchmark point."""
    if mode == "codebook":
        bounds = CODE_BOOKS[name]
        return DpConfig(
            epsilon=epsilon, public_bounds=bounds, public_categories=True, reproducible=True
        )
    return DpConfig(epsilon=epsilon, reproducible=True)


def scores(result: FitResult, sensitive: Sequence[str], *, repeats: int) -> dict[str, Any]:
    """TSTR AUC, minority F1, equalized-odds gap and the distance attack of one release."""
    context = prepare(
        EvaluationData(
            schema=result.data.schema,
            members=result.data.members,
            holdout=result.data.holdout,
            synthetic=result.synthetic,
            sensitive=tuple(sensitive[:1]),
            seed=0,
        )
    )
    predictions = fit_downstream(context)
    utility = {r.key: r for r in utility_metrics(context, predictions, repeats=repeats)}
    fairness = fairness_metrics(context, predictions, repeats=repeats)
    attacks = {r.key: r for r in privacy_metrics(context)}
    headline = utility["utility.tstr_auc"]
    f1 = utility["utility.tstr.minority_class_f1.gradient_boosting"]
    gap = fairness[0] if fairness else None
    attack = attacks.get("privacy.mia_distance_auc")
    return {
        "tstr_auc": headline.value,
        "trtr_auc": headline.baseline,
        "minority_f1": f1.value,
        "minority_f1_real": f1.baseline,
        "eo_gap": None if gap is None else gap.value,
        "eo_gap_real": None if gap is None else gap.baseline,
        "eo_attribute": sensitive[0] if sensitive else None,
        "mia_auc": None if attack is None else attack.value,
    }


def run_point(
    name: str, frame: pd.DataFrame, *, epsilon: float | None, mode: str, repeats: int, epochs: int
) -> dict[str, Any]:
    """Train, release and score one (table, ε, mode); failures are recorded, not raised."""
    dataset = DEMO_DATASETS[name]
    schema = public_schema(frame, dataset.target)
    if epsilon is None:
        config = TrainConfig(epochs=epochs) if epochs else TrainConfig()
    else:
        overrides = {"epochs": epochs} if epochs else {}
        config = dp_train_config(dp_settings(name, epsilon, mode), **overrides)
    point: dict[str, Any] = {
        "table": name,
        "rows": len(frame),
        "epsilon_target": epsilon,
        "mode": mode,
        "epochs": config.epochs,
    }
    started = time.perf_counter()
    try:
        result = fit(frame, schema=schema, config=config, dataset_name=name)
    except PsygentabError as error:
        return point | {"status": "failed", "error": str(error)}
    point |= {
        "status": "completed",
        "fit_seconds": result.summary.fit_seconds,
        "members": len(result.data.members),
    }
    if result.ledger is not None:
        bound = attack_bound(result.ledger.epsilon, result.ledger.delta)
        point |= {
            "epsilon_spent": result.ledger.epsilon,
            "delta": result.ledger.delta,
            "preprocessing_epsilon": result.data.privacy.budget.preprocessing_epsilon,
            "noise_multiplier": result.ledger.plan.noise_multiplier,
            "sample_rate": result.ledger.plan.sample_rate,
            "steps": result.ledger.steps_taken,
            "mia_auc_bound": bound.max_auc,
        }
    point |= scores(result, dataset.sensitive, repeats=repeats)
    point["seconds"] = time.perf_counter() - started
    return point


def speed_point(*, epsilon: float, epochs: int) -> dict[str, Any]:
    """Fit time of DP training on a 10,000-row table."""
    dataset = DEMO_DATASETS[SPEED_TABLE]
    frame = load_demo(SPEED_TABLE).sample(SPEED_ROWS, random_state=0).reset_index(drop=True)
    overrides = {"epochs": epochs} if epochs else {}
    config = dp_train_config(dp_settings(SPEED_TABLE, epsilon, "codebook"), **overrides)
    result = fit(frame, schema=public_schema(frame, dataset.target), config=config)
    return {
        "table": f"{SPEED_TABLE} (10,000-row sample)",
        "rows": len(frame),
        "members": len(result.data.members),
        "epsilon_target": epsilon,
        "epsilon_spent": result.ledger.epsilon,
        "epochs": config.epochs,
        "fit_seconds": result.summary.fit_seconds,
        "release_seconds": result.summary.release_seconds,
    }


def markdown(points: Sequence[Mapping[str, Any]], speed: Mapping[str, Any]) -> str:
    """The results as a Markdown table, with the 10,000-row timing below it."""

    def number(value: Any, digits: int = 3) -> str:
        if value is None or (isinstance(value, float) and not np.isfinite(value)):
            return "–"
        return f"{value:.{digits}f}"

    lines = [
        "| table | ε target | public | ε spent | TSTR AUC | minority F1 | EO gap | "
        "MIA AUC (max under ε) | fit s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for p in points:
        target = "no DP" if p["epsilon_target"] is None else f"{p['epsilon_target']:g}"
        if p["status"] != "completed":
            reason = "needs public bounds" if "public" in p.get("error", "") else "failed"
            lines.append(f"| {p['table']} | {target} | {p['mode']} | – | {reason} | | | | |")
            continue
        attack = number(p["mia_auc"])
        if p.get("mia_auc_bound") is not None:
            attack += f" ({number(p['mia_auc_bound'])})"
        lines.append(
            f"| {p['table']} | {target} | {p['mode']} | {number(p.get('epsilon_spent'), 2)} | "
            f"{number(p['tstr_auc'])} (real {number(p['trtr_auc'])}) | "
            f"{number(p['minority_f1'])} (real {number(p['minority_f1_real'])}) | "
            f"{number(p['eo_gap'])} ({p['eo_attribute']}; real {number(p['eo_gap_real'])}) | "
            f"{attack} | {number(p['fit_seconds'], 1)} |"
        )
    lines += [
        "",
        f"DP training of a {speed['rows']:,}-row table ({speed['members']:,} training rows) at "
        f"ε = {speed['epsilon_target']:g}: {speed['fit_seconds']:.1f} s "
        f"({speed['epochs']} epochs, ε spent {speed['epsilon_spent']:.3f}; the release of "
        f"{speed['rows']:,} rows took {speed['release_seconds']:.1f} s more).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one small table, few epochs")
    parser.add_argument("--tables", nargs="*", default=list(DEMO_DATASETS), help="tables to run")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    tables = ["births14"] if args.quick else args.tables
    epochs = 2 if args.quick else 0
    repeats = 20 if args.quick else 200
    points: list[dict[str, Any]] = []
    started = time.perf_counter()
    with threadpool_limits(limits=1):
        for name in tables:
            frame = load_demo(name)
            settings = [(None, "none")]
            settings += [(e, mode) for mode in ("codebook", "estimated") for e in EPSILONS]
            for epsilon, mode in settings:
                point = run_point(
                    name, frame, epsilon=epsilon, mode=mode, repeats=repeats, epochs=epochs
                )
                points.append(point)
                sys.stderr.write(json.dumps(point, default=float) + "\n")
        speed = speed_point(epsilon=3.0, epochs=epochs)
    table = markdown(points, speed)
    sys.stdout.write(table + "\n")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "points": points,
                "speed": speed,
                "seconds": time.perf_counter() - started,
                "machine": {
                    "platform": platform.platform(),
                    "processor": platform.processor(),
                    "torch_threads": 1,
                    "torch": torch.__version__,
                },
                "markdown": table,
            },
            indent=1,
            default=float,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
