"""How fit, sampling and evaluation cost grow with the number of rows and of columns.

Run from the repository root: ``python -m bench.scaling`` (the full run took 19 minutes on 6
December, 11 of them the million-row point; ``--quick`` is a smoke run of a minute or two).
Options: ``--sizes 1000,10000,100000,1000000`` (rows of the row axis), ``--columns 10,50,200``
(columns of the column axis), ``--width 30`` (columns of the row axis),
``--column-rows 10000`` (rows of the column axis), ``--timeout`` (seconds per point),
``--render bench/results/scaling.json`` (rewrite the Markdown of a saved run, no new runs).

The tables are resampled from the bundled NHEFS extract (1,629 adults, 28 columns of every kind,
missing values, the outcome ``death`` at 19.5 %): rows are drawn with replacement within each
outcome class, so the class mix is kept exactly; continuous columns are jittered by 2 % of their
spread and wide integer columns by about one unit, so rows are not copies of each other. Wider
tables add columns derived from the real ones under new names (a number times noise around 1, a
level redrawn from the column's own distribution in 10 % of rows), which keeps the mixture of
kinds; narrower ones keep the outcome and the first columns. The row axis runs at 30 columns
(NHEFS plus two derived ones), so its million-row point is the "1M rows × 30 columns" bar.

Every point runs in a fresh interpreter with one thread (torch, OpenMP and BLAS), as the
command line does: ``psygentab_core.fit`` with the default configuration (train, then release
as many rows as the input through the privacy filter), then ``Synthesizer.sample`` of as many
rows (sample time, no filter), then the project's evaluation (``evaluate``) of the release on the
run's holdout. The peak memory is the child's ``ru_maxrss`` after the fit and after the
evaluation. The cost growth is a least-squares slope of log cost on log size per axis (1 means
linear). Results: ``bench/results/scaling.json`` and ``scaling.md`` (``scaling-quick.*`` for a
smoke run); the Markdown table also goes to standard output.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

RESULTS = Path(__file__).parent / "results"
BASE_TABLE = "nhefs"
TARGET = "death"
SENSITIVE = ("sex", "age")
SIZES = (1_000, 10_000, 100_000, 1_000_000)
COLUMNS = (10, 50, 200)
WIDTH = 30
COLUMN_ROWS = 10_000
QUICK_SIZES = (1_000, 4_000)
QUICK_COLUMNS = (10, 50)
QUICK_COLUMN_ROWS = 2_000
QUICK_EPOCHS = 2
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
# Derived columns: numbers times N(1, NOISE); levels redrawn in this share of rows.
NOISE = 0.05
REDRAWN = 0.10


# ---------------------------------------------------------------------------------------------
# The tables


def base_table() -> tuple[pd.DataFrame, Any]:
    """The bundled table and its inferred schema."""
    from psygentab_core.datasets import load_demo
    from psygentab_core.schema import infer_schema

    frame = load_demo(BASE_TABLE)
    return frame, infer_schema(frame, target=TARGET)


def resampled_table(rows: int, columns: int, *, seed: int = 0) -> tuple[pd.DataFrame, Any]:
    """``rows`` rows and ``columns`` columns resampled from the base table, and its schema."""
    base, schema = base_table()
    rng = np.random.default_rng(seed)
    kinds = {spec.name: spec.kind for spec in schema.columns}
    # Stratified bootstrap: every class keeps its exact share (largest remainder).
    labels = base[TARGET].to_numpy()
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts / counts.sum() * rows
    quota = np.floor(exact).astype(int)
    quota[np.argsort(-(exact - quota), kind="stable")[: rows - quota.sum()]] += 1
    picks = np.concatenate(
        [
            rng.choice(np.flatnonzero(labels == c), q, replace=True)
            for c, q in zip(classes, quota, strict=True)
        ]
    )
    frame = base.iloc[rng.permutation(picks)].reset_index(drop=True)
    for name in frame.columns:
        if name != TARGET:
            frame[name] = _jittered(frame[name], kinds[name], rng)
    sources = [c for c in base.columns if c != TARGET]
    if columns <= len(base.columns):
        frame = frame[[TARGET, *sources[: columns - 1]]]
    else:
        extra = {}
        for j in range(columns - len(base.columns)):
            source = sources[j % len(sources)]
            extra[f"{source}_x{j // len(sources) + 1}"] = _derived(
                frame[source], kinds[source], rng
            )
            kinds[f"{source}_x{j // len(sources) + 1}"] = kinds[source]
        frame = pd.concat([frame, pd.DataFrame(extra)], axis=1)
    return frame, _schema_for(frame, kinds)


def _jittered(values: pd.Series, kind: Any, rng: np.random.Generator) -> pd.Series:
    """Continuous values moved by 2 % of their spread, wide integers by about one unit."""
    from psygentab_core.schema import ColumnKind

    if kind is ColumnKind.CONTINUOUS:
        numbers = values.astype(float)
        spread = float(np.nanstd(numbers))
        return (numbers + rng.normal(0.0, 0.02 * spread, len(values))).round(3)
    if kind is ColumnKind.INTEGER and values.nunique() > 10:
        numbers = values.astype("Float64")
        low, high = numbers.min(), numbers.max()
        step = rng.normal(0.0, max(0.5, 0.02 * float(numbers.std())), len(values)).round()
        return (numbers + step).clip(low, high).round().astype("Int64")
    return values


def _derived(values: pd.Series, kind: Any, rng: np.random.Generator) -> pd.Series:
    """A new column from a real one: a number times noise around 1, or a level redrawn from the
    column's own values in a tenth of the rows."""
    from psygentab_core.schema import ColumnKind

    if kind in (ColumnKind.CONTINUOUS, ColumnKind.INTEGER):
        numbers = values.astype("Float64") * rng.normal(1.0, NOISE, len(values))
        if kind is ColumnKind.INTEGER:
            return numbers.round().astype("Int64")
        return numbers.astype(float).round(3)
    redraw = rng.random(len(values)) < REDRAWN
    replacement = values.iloc[rng.integers(0, len(values), int(redraw.sum()))].to_numpy()
    result = values.copy()
    result.iloc[np.flatnonzero(redraw)] = replacement
    return result


def _schema_for(frame: pd.DataFrame, kinds: dict[str, Any]) -> Any:
    """The inferred schema with every column given its source column's kind (jittered numbers
    can look like near-unique identifiers to the inference)."""
    from psygentab_core.schema import infer_schema

    schema = infer_schema(frame, target=TARGET)
    for spec in schema.columns:
        if spec.kind is not kinds[spec.name]:
            schema = schema.with_kind(spec.name, kinds[spec.name])
    return schema


# ---------------------------------------------------------------------------------------------
# One point, in its own interpreter


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (``ru_maxrss`` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_point(rows: int, columns: int, *, epochs: int | None, evaluation: bool) -> dict[str, Any]:
    """Generate, fit, sample and evaluate one table size; returns the measurements."""
    import torch

    torch.set_num_threads(1)
    from psygentab_core.config import TrainConfig
    from psygentab_core.pipeline import fit

    started = time.perf_counter()
    frame, schema = resampled_table(rows, columns)
    record: dict[str, Any] = {
        "rows": rows,
        "columns": len(frame.columns),
        "generate_seconds": time.perf_counter() - started,
        "peak_rss_before_fit_mib": peak_rss_mib(),
    }
    config = TrainConfig() if epochs is None else replace(TrainConfig(), epochs=epochs)
    wall, cpu = time.perf_counter(), time.process_time()
    result = fit(frame, schema=schema, config=config, dataset_name=f"{BASE_TABLE}-resampled")
    record.update(
        fit_seconds=time.perf_counter() - wall,
        fit_cpu_seconds=time.process_time() - cpu,
        train_seconds=result.summary.fit_seconds,
        release_seconds=result.summary.release_seconds,
        peak_rss_fit_mib=peak_rss_mib(),
        members=len(result.data.members),
        encoded_width=result.data.encoder.feature_width,
        distance_width=int(result.reference.member_coordinates.shape[1]),
        epochs=len(result.history),
        steps_per_epoch=result.history[0].steps,
        epoch_seconds=[r.seconds for r in result.history],
        measured_on_release=result.release.measured,
        satisfied_on_release=result.release.satisfied,
        rejection_rate=result.release.rejection_rate,
        distance_rows=(
            None
            if result.release.audit.distance_rows is None
            else int(result.release.audit.distance_rows.size)
        ),
    )
    wall = time.perf_counter()
    result.synthesizer.sample(rows, seed=1)
    record["sample_seconds"] = time.perf_counter() - wall
    if evaluation:
        from psygentab_core.evaluation.evaluate import evaluate
        from psygentab_core.evaluation.runs import data_from_fit

        wall, cpu = time.perf_counter(), time.process_time()
        evaluated = evaluate(data_from_fit(result, sensitive=SENSITIVE))
        record.update(
            evaluation_seconds=time.perf_counter() - wall,
            evaluation_cpu_seconds=time.process_time() - cpu,
            evaluation_parts=evaluated.seconds,
            peak_rss_mib=peak_rss_mib(),
            headline={
                key: _value(evaluated, key)
                for key in (
                    "fidelity.detection_auc",
                    "privacy.closer_to_training_share",
                    "privacy.mia_distance_auc",
                )
            },
        )
    return record


def _value(evaluated: Any, key: str) -> float | None:
    try:
        value = evaluated.get(key).value
    except KeyError:
        return None
    return float(value) if np.isfinite(value) else None


def _child_environment() -> dict[str, str]:
    environment = dict(os.environ)
    environment.update(dict.fromkeys(THREAD_VARIABLES, "1"))
    return environment


def measure(
    rows: int, columns: int, *, epochs: int | None, evaluation: bool, timeout: float | None
) -> dict[str, Any]:
    """Run one point in a fresh interpreter; a failure or a timeout is recorded, not raised."""
    command = [sys.executable, "-m", "bench.scaling", "--point", f"{rows}x{columns}"]
    if epochs is not None:
        command += ["--epochs", str(epochs)]
    if not evaluation:
        command.append("--no-evaluation")
    started = time.perf_counter()
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=_child_environment(),
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"rows": rows, "columns": columns, "error": f"timed out after {timeout:.0f} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return {
            "rows": rows,
            "columns": columns,
            "error": f"exit status {done.returncode}: {' | '.join(tail)}",
            "seconds": time.perf_counter() - started,
        }
    return json.loads(lines[-1])


# ---------------------------------------------------------------------------------------------
# Growth and the report


def slope(sizes: Sequence[float], costs: Sequence[float | None]) -> float | None:
    """Least-squares slope of log cost on log size (None with fewer than two points)."""
    pairs = [(s, c) for s, c in zip(sizes, costs, strict=True) if c is not None and c > 0]
    if len(pairs) < 2:
        return None
    x, y = np.log([p[0] for p in pairs]), np.log([p[1] for p in pairs])
    return float(np.polyfit(x, y, 1)[0])


COSTS = (
    ("fit_seconds", "fit s"),
    ("fit_cpu_seconds", "fit CPU s"),
    ("peak_rss_fit_mib", "fit peak MiB"),
    ("sample_seconds", "sample s"),
    ("evaluation_seconds", "evaluation s"),
    ("evaluation_cpu_seconds", "evaluation CPU s"),
    ("peak_rss_mib", "peak MiB (with evaluation)"),
)


def growth(points: Sequence[dict[str, Any]], axis: str) -> dict[str, Any]:
    """Slope of every cost along one axis (``rows`` or ``columns``): over all points, and
    between each pair of neighbouring sizes (``steps``), since fixed costs flatten the first."""
    ok = sorted((p for p in points if "error" not in p), key=lambda p: p[axis])
    overall: dict[str, Any] = {
        key: slope([p[axis] for p in ok], [p.get(key) for p in ok]) for key, _ in COSTS
    }
    overall["steps"] = [
        {
            "from": a[axis],
            "to": b[axis],
            **{key: slope([a[axis], b[axis]], [a.get(key), b.get(key)]) for key, _ in COSTS},
        }
        for a, b in itertools.pairwise(ok)
    ]
    return overall


def markdown(report: dict[str, Any]) -> str:
    """The results as Markdown tables."""
    lines = [
        f"Scaling of PSyGenTAB on tables resampled from {BASE_TABLE} (default settings, one "
        f"thread, {report['machine']}). Wall times on a shared machine vary with its load; CPU "
        "seconds of the point's own process are the steadier measure.",
        "",
        "| axis | rows | columns | fit s (train + release) | fit CPU s | epochs × steps | "
        "fit peak MiB | sample s | evaluation s | peak MiB with evaluation |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for axis in ("rows", "columns"):
        for point in report["points"][axis]:
            if "error" in point:
                lines.append(
                    f"| {axis} | {point['rows']:,} | {point['columns']} | {point['error']} "
                    "| | | | | | |"
                )
                continue
            lines.append(
                f"| {axis} | {point['rows']:,} | {point['columns']} | "
                f"{point['fit_seconds']:.1f} ({point['train_seconds']:.1f} + "
                f"{point['release_seconds']:.1f}) | {point['fit_cpu_seconds']:.1f} | "
                f"{point['epochs']} × {point['steps_per_epoch']} | "
                f"{point['peak_rss_fit_mib']:,.0f} | {point['sample_seconds']:.2f} | "
                f"{_number(point.get('evaluation_seconds'), '.1f')} | "
                f"{_number(point.get('peak_rss_mib'), ',.0f')} |"
            )
    lines += [
        "",
        "Growth: slope of log cost on log size (1 = linear, 2 = quadratic), over the whole axis "
        "and between neighbouring sizes:",
        "",
        "| axis | range | " + " | ".join(label for _, label in COSTS) + " |",
        "|---|---|" + "---|" * len(COSTS),
    ]
    for axis in ("rows", "columns"):
        slopes = report["growth"][axis]
        ranges = [("all", slopes)] + [
            (f"{step['from']:,} → {step['to']:,}", step) for step in slopes.get("steps", [])
        ]
        for label, values in ranges:
            lines.append(
                f"| {axis} | {label} | "
                + " | ".join(_number(values.get(key), ".2f") for key, _ in COSTS)
                + " |"
            )
    return "\n".join(lines) + "\n"


def _number(value: float | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the points, write the results, print the Markdown table."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.scaling", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: small sizes, 2 epochs")
    parser.add_argument("--sizes", help="rows of the row axis, comma-separated")
    parser.add_argument("--columns", help="columns of the column axis, comma-separated")
    parser.add_argument("--width", type=int, help=f"columns of the row axis (default {WIDTH})")
    parser.add_argument("--column-rows", type=int, help="rows of the column axis")
    parser.add_argument("--epochs", type=int, help="epochs (default: the configuration's)")
    parser.add_argument("--timeout", type=float, help="seconds allowed per point")
    parser.add_argument("--no-evaluation", action="store_true", help="time fit and sample only")
    parser.add_argument("--output", type=Path, help="JSON file (Markdown next to it)")
    parser.add_argument(
        "--render", type=Path, metavar="JSON", help="rewrite the Markdown of a saved run only"
    )
    parser.add_argument("--point", help=argparse.SUPPRESS)  # ROWSxCOLUMNS: run in this process
    args = parser.parse_args(argv)

    if args.point:
        rows, columns = (int(part) for part in args.point.split("x"))
        record = run_point(rows, columns, epochs=args.epochs, evaluation=not args.no_evaluation)
        sys.stdout.write(json.dumps(record, default=float) + "\n")
        return 0

    if args.render:
        report = json.loads(args.render.read_text())
        report["growth"] = {axis: growth(report["points"][axis], axis) for axis in report["points"]}
        args.render.write_text(json.dumps(report, indent=1, default=float))
        text = markdown(report)
        args.render.with_suffix(".md").write_text(text)
        sys.stdout.write(text)
        return 0

    sizes = _ints(args.sizes) or (QUICK_SIZES if args.quick else SIZES)
    column_counts = _ints(args.columns) or (QUICK_COLUMNS if args.quick else COLUMNS)
    width = args.width or WIDTH
    column_rows = args.column_rows or (QUICK_COLUMN_ROWS if args.quick else COLUMN_ROWS)
    epochs = args.epochs if args.epochs is not None else (QUICK_EPOCHS if args.quick else None)
    evaluation = not args.no_evaluation
    output = args.output or RESULTS / ("scaling-quick.json" if args.quick else "scaling.json")

    plan = [("rows", rows, width) for rows in sizes]
    plan += [("columns", column_rows, columns) for columns in column_counts]
    done: dict[tuple[int, int], dict[str, Any]] = {}
    points: dict[str, list[dict[str, Any]]] = {"rows": [], "columns": []}
    for axis, rows, columns in plan:
        if (rows, columns) not in done:
            sys.stderr.write(f"{rows:,} rows × {columns} columns ...\n")
            sys.stderr.flush()
            done[(rows, columns)] = measure(
                rows, columns, epochs=epochs, evaluation=evaluation, timeout=args.timeout
            )
            sys.stderr.write(f"  {json.dumps(done[(rows, columns)], default=float)}\n")
        points[axis].append(done[(rows, columns)])
    # The row axis's point at the column axis's row count is also a column-axis point.
    if (column_rows, width) in done and width not in column_counts:
        points["columns"].append(done[(column_rows, width)])
        points["columns"].sort(key=lambda p: p["columns"])

    report = {
        "command": "python -m bench.scaling " + " ".join(sys.argv[1:] if argv is None else argv),
        "base_table": BASE_TABLE,
        "target": TARGET,
        "epochs": epochs or "default",
        "threads": 1,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
        f"{_memory_gib():.0f} GiB, Python {platform.python_version()}",
        "points": points,
        "growth": {axis: growth(points[axis], axis) for axis in ("rows", "columns")},
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=1, default=float))
    text = markdown(report)
    output.with_suffix(".md").write_text(text)
    sys.stdout.write(text)
    return 0


def _ints(text: str | None) -> tuple[int, ...]:
    return tuple(int(part.replace("_", "")) for part in text.split(",")) if text else ()


def _memory_gib() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        return float("nan")


if __name__ == "__main__":
    raise SystemExit(main())
