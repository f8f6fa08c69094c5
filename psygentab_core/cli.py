"""The ``psygentab`` command line (also ``python -m psygentab_core``).

``psygentab fit DATA.csv --target COLUMN --output SYNTH.csv`` trains with the default privacy
constraints (the same defaults the dashboard shows), writes the synthetic table and the run
folder, and reports progress on stderr. Problems with the input end the command with a one-line
message and exit status 2, never a traceback.

``psygentab sweep DATA.csv --target COLUMN`` trains one run per privacy strictness level (lenient
0 to strict 1), scores each for utility (TSTR AUC) and risk (membership-inference AUC), saves
the runs in a run store and prints the table with the Pareto front.

``psygentab fit DATA.csv --target COLUMN --output SYNTH.csv --epsilon E [--delta D]`` trains with
differential privacy (DP-SGD through Opacus) instead, and ends by printing the (ε, δ) spent and
what the guarantee covers.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TextIO

import pandas as pd

from psygentab_core.config import TrainConfig, dp_train_config, load_config
from psygentab_core.datasets import DEFAULT_DEMO, DEMO_DATASETS, load_demo
from psygentab_core.dp import Coverage, DpConfig, PrivacyLedger, attack_bound
from psygentab_core.errors import PsygentabError
from psygentab_core.io import read_table, write_table
from psygentab_core.pipeline import finish
from psygentab_core.runs import save_run
from psygentab_core.schema import ColumnKind, TableSchema, infer_schema
from psygentab_core.store import RunStore
from psygentab_core.sweep import (
    DEFAULT_LEVELS,
    PointStatus,
    SweepPoint,
    pareto_front,
    parse_levels,
    points_to_json,
    sweep_points,
)
from psygentab_core.training import EpochRecord, TrainingRun, prepare_data

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="psygentab",
        description="Synthetic clinical tables under privacy constraints that you set.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    fit = commands.add_parser(
        "fit",
        help="train a generator on a table and write a synthetic table",
        description="Train with the default privacy constraints (or those of --config) and "
        "write a synthetic table with the same columns, order and value formats.",
    )
    fit.add_argument("data", type=Path, help="the real table (CSV or Parquet)")
    fit.add_argument("--target", required=True, help="the outcome column to condition on")
    fit.add_argument("--output", required=True, type=Path, help="where to write the synthetic CSV")
    fit.add_argument("--rows", type=int, help="rows to generate (default: as many as DATA)")
    fit.add_argument("--seed", type=int, help="random seed (default: 0, or the config's)")
    fit.add_argument("--epochs", type=int, help="training epochs (default: the config's)")
    fit.add_argument("--config", type=Path, help="a run configuration in TOML")
    fit.add_argument(
        "--run-dir",
        type=Path,
        help="where to write the run (default: next to the output, as OUTPUT.run/)",
    )
    fit.add_argument(
        "--kind",
        action="append",
        default=[],
        metavar="COLUMN=KIND",
        help="override an inferred column kind (repeatable); kinds: "
        + ", ".join(k.value for k in ColumnKind),
    )
    fit.add_argument(
        "--report",
        type=Path,
        help="also evaluate the release and write an HTML report here (and its JSON beside it)",
    )
    fit.add_argument(
        "--sensitive",
        action="append",
        default=[],
        metavar="COLUMN",
        help="sensitive attribute for the fairness audit (repeatable; with --report)",
    )
    fit.add_argument("--quiet", action="store_true", help="no progress on stderr")
    private = fit.add_argument_group(
        "differential privacy",
        "Train with DP-SGD to a target (ε, δ) instead of the empirical constraints (which, like "
        "the release filter, are then only measured). The encoder's statistics are DP estimates "
        "charged to the same budget unless declared public.",
    )
    private.add_argument(
        "--epsilon", type=float, help="target ε of the whole run (turns differential privacy on)"
    )
    private.add_argument("--delta", type=float, help="target δ (default: below 1/training rows)")
    private.add_argument(
        "--public-bounds",
        action="append",
        default=[],
        metavar="COLUMN=LOW:HIGH",
        help="declare a numeric column's range public, e.g. age=0:120 (repeatable)",
    )
    private.add_argument(
        "--public-levels",
        action="append",
        default=[],
        metavar="COLUMN=A,B,...",
        help="declare a categorical column's levels public, e.g. outcome=no,yes (repeatable)",
    )
    private.add_argument(
        "--public-categories",
        action="store_true",
        help="treat every categorical column's level list, as read from the table, as public",
    )

    evaluate = commands.add_parser(
        "evaluate",
        help="score a synthetic table against its training rows and a holdout",
        description="Fidelity, minority class, downstream utility, privacy attacks and "
        "fairness of SYNTHETIC, written as a self-contained HTML report and a JSON file.",
    )
    evaluate.add_argument("--members", required=True, type=Path, help="the training rows")
    evaluate.add_argument(
        "--holdout", required=True, type=Path, help="real rows the generator never saw"
    )
    evaluate.add_argument("--synthetic", required=True, type=Path, help="the synthetic table")
    evaluate.add_argument("--target", help="the outcome column (required without --run-dir)")
    evaluate.add_argument(
        "--sensitive",
        action="append",
        default=[],
        metavar="COLUMN",
        help="sensitive attribute for the fairness audit (repeatable)",
    )
    evaluate.add_argument("--report", required=True, type=Path, help="where to write the HTML")
    evaluate.add_argument(
        "--run-dir", type=Path, help="a run folder from `fit`: its schema, config and history"
    )
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the evaluation")

    sweep = commands.add_parser(
        "sweep",
        help="train at several privacy strictness levels and compare utility with attack risk",
        description="One run per strictness level (0 lenient, 0.5 balanced, 1 strict), each "
        "scored for utility (TSTR AUC of the best downstream model) and privacy risk (AUC of "
        "the distance membership-inference attack; 0.5 = the attacker learns nothing). The runs "
        "are saved in the runs folder; the points no other point beats on both form the front.",
    )
    sweep.add_argument("data", type=Path, help="the real table (CSV or Parquet)")
    sweep.add_argument("--target", required=True, help="the outcome column to condition on")
    sweep.add_argument(
        "--levels",
        default=",".join(f"{level:g}" for level in DEFAULT_LEVELS),
        help="strictness levels in [0, 1], comma separated (default: %(default)s)",
    )
    sweep.add_argument(
        "--epochs", type=int, help=f"training epochs per point (default: {TrainConfig().epochs})"
    )
    sweep.add_argument(
        "--jobs",
        type=int,
        help="worker processes (default: one per level, at most one per CPU core)",
    )
    sweep.add_argument(
        "--runs-folder",
        type=Path,
        default=Path("runs"),
        help="the run store the points are saved in (default: ./runs)",
    )
    sweep.add_argument("--output", type=Path, help="write every point and the front as JSON")
    sweep.add_argument("--seed", type=int, help="random seed, the same for every point (0)")

    demo = commands.add_parser("demo", help="write a bundled demo dataset as CSV")
    demo.add_argument("name", nargs="?", default=DEFAULT_DEMO, choices=sorted(DEMO_DATASETS))
    demo.add_argument("--output", required=True, type=Path, help="where to write the CSV")
    return parser


def main(argv: list[str] | None = None, *, stderr: TextIO | None = None) -> int:
    """Run the command line; returns the exit status."""
    stderr = stderr or sys.stderr
    args = build_parser().parse_args(argv)
    try:
        if args.command == "evaluate":
            return _evaluate(args, stderr)
        if args.command == "sweep":
            return _sweep(args, stderr)
        if args.command == "demo":
            write_table(load_demo(args.name), args.output)
            print(f"Wrote {args.output} ({DEMO_DATASETS[args.name].title}).", file=stderr)
            return 0
        return _fit(args, stderr)
    except PsygentabError as error:
        print(f"psygentab: error: {error}", file=stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("psygentab: interrupted; nothing was written.", file=stderr)
        return EXIT_INTERRUPTED


def _fit(args: argparse.Namespace, stderr: TextIO) -> int:
    config = load_config(args.config) if args.config else TrainConfig()
    if args.seed is not None:
        config = replace(config, seed=args.seed)
    if args.epochs is not None:
        config = replace(config, epochs=args.epochs)
    if args.rows is not None and args.rows < 1:
        raise PsygentabError(f"--rows must be at least 1; got {args.rows}.")
    config = _with_privacy(config, args)
    frame = read_table(args.data)
    schema = infer_schema(frame, target=args.target)
    for override in args.kind:
        column, _, kind = override.partition("=")
        if kind not in {k.value for k in ColumnKind}:
            raise PsygentabError(
                f"--kind {override!r}: write COLUMN=KIND with KIND one of "
                + ", ".join(k.value for k in ColumnKind)
                + "."
            )
        schema = schema.with_kind(column, kind)
    for declared in args.public_levels:
        schema = _with_public_levels(schema, declared)
    say = (lambda text: None) if args.quiet else (lambda text: print(text, file=stderr))
    for spec in schema.identifiers:
        say(f"note: column {spec.name!r} excluded: {spec.reason}.")
    data = prepare_data(frame, schema, config)
    say(
        f"Training on {len(data.members)} rows ({len(data.reference)} reference, "
        f"{len(data.holdout)} holdout kept apart), {config.epochs} epochs, seed {config.seed}"
        + (
            "."
            if config.dp is None
            else f", with differential privacy (target ε = {config.dp.epsilon:g})."
        )
    )
    run = TrainingRun(data, config)
    started = time.perf_counter()
    for record in run.epochs():
        for note in record.notes:
            say(f"note: {note}")
        say(format_progress(record))
    fit_seconds = time.perf_counter() - started
    rows = args.rows or len(frame)
    result = finish(run, rows=rows, fit_seconds=fit_seconds, dataset_name=args.data.name)
    write_table(result.synthetic, args.output)
    run_dir = args.run_dir or args.output.with_name(args.output.name + ".run")
    save_run(
        run_dir,
        data=result.data,
        config=config,
        history=result.history,
        synthesizer=result.synthesizer,
        summary=result.summary,
    )
    say(
        f"Wrote {rows} synthetic rows to {args.output} (fit {fit_seconds:.1f} s, release filter "
        f"rejected {result.release.rejected} of {result.release.drawn} draws); run in {run_dir}."
    )
    for item in result.summary.constraints:
        mark = "met" if item["satisfied_on_release"] else "NOT MET"
        audit = "" if item.get("enforced", True) else " (measured only: not enforced with DP)"
        say(
            f"  {item['label']}: {item['measured_on_release']:.3f} "
            f"({item['sense']} {item['threshold']:.3g}) {mark}{audit}"
        )
    if result.ledger is not None:
        # Printed even with --quiet: the guarantee is the point of the run.
        for line in format_guarantee(result.ledger):
            print(line, file=stderr)
    if args.report:
        # Imported here: scikit-learn and plotly take seconds to import.
        from psygentab_core.evaluation.evaluate import evaluate
        from psygentab_core.evaluation.report import build_report
        from psygentab_core.evaluation.runs import data_from_fit, info_from_fit

        evaluation = evaluate(
            data_from_fit(result, sensitive=args.sensitive),
            progress=lambda part: say(f"evaluating: {part}"),
        )
        html_path, json_path = build_report(evaluation, args.report, info=info_from_fit(result))
        say(f"Report: {html_path} and {json_path} ({evaluation.seconds['total']:.1f} s).")
    return 0


def _with_privacy(config: TrainConfig, args: argparse.Namespace) -> TrainConfig:
    """The configuration with the command line's differential-privacy options applied."""
    asked = args.epsilon is not None
    options = args.delta is not None or args.public_bounds or args.public_categories
    if not asked and config.dp is None:
        if options:
            raise PsygentabError(
                "--delta, --public-bounds and --public-categories need --epsilon (or a [dp] "
                "section in --config)."
            )
        return config
    settings = {} if config.dp is None else config.dp.to_dict()
    if asked:
        settings["epsilon"] = args.epsilon
    if args.delta is not None:
        settings["delta"] = args.delta
    if args.public_categories:
        settings["public_categories"] = True
    bounds = dict(settings.get("public_bounds", {}))
    bounds.update(_parse_bounds(text) for text in args.public_bounds)
    settings["public_bounds"] = bounds
    dp = DpConfig.from_dict(settings)
    if config.dp is None and args.config is None:
        # No configuration given: the model and batch size chosen for DP-SGD.
        overrides = {"seed": config.seed} | ({"epochs": args.epochs} if args.epochs else {})
        return dp_train_config(dp, **overrides)
    return replace(config, dp=dp)


def _parse_bounds(text: str) -> tuple[str, list[float]]:
    """``age=0:120`` → ``("age", [0.0, 120.0])``; dates (``2020-01-01``) become days since
    1970, as the encoder counts them."""
    column, _, span = text.partition("=")
    # Any colon may separate the two bounds (a time of day holds colons too): take the first
    # split where both sides read as bounds.
    for position, character in enumerate(span):
        if character != ":":
            continue
        try:
            return column, [_bound(span[:position]), _bound(span[position + 1 :])]
        except ValueError:
            continue
    raise PsygentabError(
        f"--public-bounds {text!r}: write COLUMN=LOW:HIGH, e.g. age=0:120 or "
        "admitted=2015-01-01:2024-12-31."
    )


def _bound(text: str) -> float:
    """A number, or a date as days since 1970; ValueError for anything else."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        stamp = pd.Timestamp(text)
        if pd.isna(stamp) or stamp.tzinfo is not None:
            raise ValueError(text)
        return float((stamp - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1))
    except (TypeError, OverflowError) as error:
        raise ValueError(text) from error


def _with_public_levels(schema: TableSchema, text: str) -> TableSchema:
    column, _, listed = text.partition("=")
    if not listed:
        raise PsygentabError(f"--public-levels {text!r}: write COLUMN=A,B,..., e.g. sex=f,m.")
    spec = schema.column(column)
    if not spec.kind.is_discrete:
        raise PsygentabError(
            f"--public-levels {text!r}: {column!r} is {spec.kind.value}, not categorical; "
            "declare a numeric range with --public-bounds."
        )
    levels = [_level(token.strip()) for token in listed.split(",")]
    return schema.with_kind(
        column, spec.kind, reason=f"{spec.reason}; levels declared public", levels=levels
    )


def _level(token: str) -> int | float | str:
    """A level as the table reader would hold it: a number where it reads as one."""
    for kind in (int, float):
        try:
            return kind(token)
        except ValueError:
            continue
    return token


def format_guarantee(ledger: PrivacyLedger) -> list[str]:
    """The closing lines of a DP run: (ε, δ) spent, what it covers, what was switched off."""
    bound = attack_bound(ledger.epsilon, ledger.delta)
    lines = [
        f"Differential privacy: spent ε = {ledger.epsilon:.3f}, δ = {ledger.delta:.2g} "
        f"(target ε = {ledger.target_epsilon:g}, δ = {ledger.target_delta:.2g}).",
        f"  Guarantee: {ledger.statement()}",
        f"  So no membership attack on a training row can exceed ROC AUC {bound.max_auc:.3f} "
        f"or TPR − FPR = {bound.max_advantage:.3f} (TPR ≤ e^ε·FPR + δ).",
        "  Spent on:",
    ]
    for entry in ledger.entries:
        if entry.coverage is Coverage.CHARGED:
            delta = f", δ = {entry.delta:.2g}" if entry.delta else ""
            lines.append(f"    {entry.step}: ε = {entry.epsilon:.3g}{delta} ({entry.released})")
    public = [e.step for e in ledger.entries if e.coverage is Coverage.PUBLIC]
    lines.append(f"  Declared public (no ε): {', '.join(public)}.")
    lines += [f"  Off in DP mode: {item}" for item in ledger.disabled]
    return lines


def _evaluate(args: argparse.Namespace, stderr: TextIO) -> int:
    # Imported here: scikit-learn and plotly take seconds to import and `fit` rarely needs them.
    from psygentab_core.evaluation.data import EvaluationData
    from psygentab_core.evaluation.evaluate import evaluate
    from psygentab_core.evaluation.report import RunInfo, build_report
    from psygentab_core.evaluation.runs import info_from_run_dir

    members, holdout = read_table(args.members), read_table(args.holdout)
    synthetic = read_table(args.synthetic)
    if args.run_dir:
        info, schema = info_from_run_dir(args.run_dir)
        if args.target and args.target != schema.target:
            schema = schema.with_target(args.target)
    else:
        if not args.target:
            raise PsygentabError("evaluate needs --target (or --run-dir with a saved schema).")
        schema = infer_schema(pd.concat([members, holdout], ignore_index=True), target=args.target)
        info = RunInfo(dataset_name=args.members.name)
    evaluation = evaluate(
        EvaluationData(
            schema=schema,
            members=members,
            holdout=holdout,
            synthetic=synthetic,
            sensitive=tuple(args.sensitive),
            seed=args.seed,
        ),
        progress=lambda part: print(f"evaluating: {part}", file=stderr),
    )
    html_path, json_path = build_report(evaluation, args.report, info=info)
    print(
        f"Wrote {html_path} and {json_path} (evaluation {evaluation.seconds['total']:.1f} s).",
        file=stderr,
    )
    for result in evaluation.results:
        interval = (
            f" [{result.interval.low:.3f}, {result.interval.high:.3f}]" if result.interval else ""
        )
        print(f"  {result.name}: {result.value:.3f}{interval}", file=stderr)
    return 0


def _sweep(args: argparse.Namespace, stderr: TextIO) -> int:
    levels = parse_levels(args.levels)
    config = TrainConfig()
    if args.seed is not None:
        config = replace(config, seed=args.seed)
    if args.epochs is not None:
        config = replace(config, epochs=args.epochs)
    if args.output is not None and not args.output.parent.is_dir():
        # Checked now, not after a sweep of many minutes.
        raise PsygentabError(f"Cannot write {args.output}: folder {args.output.parent} not found.")
    frame = read_table(args.data)
    schema = infer_schema(frame, target=args.target)
    try:
        store = RunStore(args.runs_folder)
    except (OSError, sqlite3.Error) as error:
        raise PsygentabError(
            f"Cannot use {args.runs_folder} as the runs folder: {error}."
        ) from None
    points_iterator = sweep_points(
        frame,
        schema=schema,
        config=config,
        levels=levels,
        store=store,
        dataset_name=args.data.name,
        n_jobs=args.jobs,
    )
    print(
        f"Sweeping {len(levels)} strictness levels of {args.data.name}, {_epochs(config.epochs)} "
        f"each; runs saved in {store.folder}.",
        file=stderr,
    )
    points = []
    try:
        for point in points_iterator:
            points.append(point)
            print(f"[{len(points)}/{len(levels)}] {format_point(point)}", file=stderr)
    except KeyboardInterrupt:
        print(
            f"psygentab: interrupted after {len(points)} of {len(levels)} points; "
            f"the finished runs are in {store.folder}.",
            file=stderr,
        )
        return EXIT_INTERRUPTED
    points.sort(key=lambda p: p.strictness)
    for line in format_sweep_table(points):
        print(line, file=stderr)
    if args.output is not None:
        document = {"dataset": args.data.name, "target": args.target, "levels": list(levels)}
        document |= {"config": config.to_dict() | {"constraints": "per point"}}
        document |= points_to_json(points)
        args.output.write_text(json.dumps(document, indent=2) + "\n")
        print(f"Wrote {args.output}.", file=stderr)
    if not any(p.status is PointStatus.COMPLETED for p in points):
        print("psygentab: error: every point of the sweep failed.", file=stderr)
        return EXIT_FAILED
    return 0


def format_point(point: SweepPoint) -> str:
    """One progress line for a finished point of a sweep."""
    if point.status is not PointStatus.COMPLETED:
        return f"strictness {point.label}: failed ({point.error})"
    return (
        f"strictness {point.label}: TSTR AUC {_number(point.tstr_auc)}, "
        f"MIA AUC {_number(point.attack_auc)}, {point.seconds:.1f} s (run {point.run_id})"
    )


def format_sweep_table(points: Sequence[SweepPoint]) -> list[str]:
    """The sweep as a table: one line per point, ``*`` on the Pareto front."""
    front = set(pareto_front(points))
    header = (
        f"{'strictness':<16}{'TSTR AUC':>9}  {'MIA AUC [95 % interval]':<24}"
        f"{'closer share':>13}{'fit s':>8}  front"
    )
    lines = [header]
    for index, point in enumerate(points):
        if point.status is not PointStatus.COMPLETED:
            lines.append(f"{point.label:<16}failed: {point.error}")
            continue
        interval = point.attack_interval
        attack = _number(point.attack_auc) + (
            "" if interval is None else f" [{interval[0]:.3f}, {interval[1]:.3f}]"
        )
        fit_seconds = "n/a" if point.fit_seconds is None else f"{point.fit_seconds:.1f}"
        lines.append(
            f"{point.label:<16}{_number(point.tstr_auc):>9}  {attack:<24}"
            f"{_number(point.closer_share):>13}{fit_seconds:>8}  " + ("*" if index in front else "")
        )
    trtr = next((p.trtr_auc for p in points if p.trtr_auc is not None), None)
    return [
        *lines,
        "TSTR AUC: the best model trained on the synthetic table, tested on the real holdout "
        f"(trained on the real training rows instead, TRTR: {_number(trtr)}).",
        "MIA AUC: distance membership-inference attack, training patients against the holdout; "
        "0.5 = the attacker learns nothing.",
        "*: on the Pareto front (no other point is both more useful and less exposed).",
    ]


def _epochs(count: int) -> str:
    return f"{count} epoch" if count == 1 else f"{count} epochs"


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def format_progress(record: EpochRecord) -> str:
    """One line per epoch: losses, fidelity proxy, every constraint against its threshold."""
    sign = {"at most": "≤", "at least": "≥"}
    parts = [
        f"epoch {record.epoch:>3}/{record.total_epochs}",
        f"loss {record.objective:8.3f}",
        f"fidelity {record.fidelity:.3f}",
    ]
    for c in record.constraints:
        mark = "ok" if c.satisfied else ("stuck" if c.unreachable else "over")
        parts.append(f"{c.key} {c.measured:.3f}{sign[c.sense]}{c.threshold:.3g} {mark}")
    if record.privacy_spread and record.epsilon is None:
        parts.append("spread " + "/".join(f"{k:.2g}" for k in record.privacy_spread))
    if record.epsilon is not None:
        parts.append(f"ε {record.epsilon:.3f}")
    parts.append(f"{record.elapsed:6.1f}s")
    if record.stop is not None:
        parts.append(f"[{record.stop.value}]")
    return "  ".join(parts)
