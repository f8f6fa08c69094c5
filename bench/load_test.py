"""Load: several browser sessions train a short run each at once, while one more session walks
between pages; prints how long every page switch and every run took.

    python -m bench.load_test [--sessions 4] [--epochs 20]

Runs the dashboard as a user starts it (python -m psygentab_app) on the bundled demo table, in
Debian's Chromium. Writes bench/results/load.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from tests.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    FINISHED,
    ROOT,
    dashboard,
    first_page,
    open_page,
    start_training,
)

RESULTS = ROOT / "bench" / "results" / "load.json"
WALK = [("Column types", "Column types"), ("Privacy thresholds", "Privacy thresholds")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=4, help="sessions training at once")
    parser.add_argument("--epochs", type=int, default=20, help="epochs per run")
    parser.add_argument(
        "--trainer-nice",
        type=int,
        default=15,
        help="niceness of the Chromium that holds the training sessions (0: same browser as "
        "the session that switches pages)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch, sync_playwright() as playwright:
        folder = Path(scratch)
        (folder / "tmp").mkdir()
        watcher_browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        trainer_browser = watcher_browser
        if args.trainer_nice:
            trainer_browser = playwright.chromium.launch(
                executable_path=str(niced_chromium(folder, args.trainer_nice)), args=CHROMIUM_ARGS
            )
        with dashboard(folder / "runs", folder / "tmp", folder / "server.log") as server:
            result = measure(
                watcher_browser,
                trainer_browser,
                server.url,
                sessions=args.sessions,
                epochs=args.epochs,
            )
        result["trainer_browser_nice"] = args.trainer_nice
        for browser in {watcher_browser, trainer_browser}:
            browser.close()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1))
    print(table(result))  # noqa: T201 (a benchmark prints its table)


def niced_chromium(folder: Path, niceness: int) -> Path:
    """A launcher that starts Debian's Chromium at a lower priority.

    The users who train sit at their own computers, so the rendering of their pages is not the
    server's load; on this one machine their browsers still run, but below the server and the
    browser whose page switches are timed."""
    launcher = folder / "chromium-niced"
    launcher.write_text(f'#!/bin/sh\nexec nice -n {niceness} {CHROMIUM} "$@"\n')
    launcher.chmod(0o755)
    return launcher


def measure(watcher_browser, trainer_browser, url: str, *, sessions: int, epochs: int) -> dict:
    """Start ``sessions`` runs together; switch pages in another session until they end."""
    trainers = []
    for _ in range(sessions):
        page = trainer_browser.new_context(viewport={"width": 1280, "height": 1200}).new_page()
        first_page(page, url)
        open_page(page, "Train", "Train")
        trainers.append(page)
    watcher = watcher_browser.new_context(viewport={"width": 1280, "height": 1200}).new_page()
    first_page(watcher, url)
    idle = [switch(watcher, step) for step in range(len(WALK) * 2)]

    started = time.perf_counter()
    for page in trainers:
        start_training(page, epochs)
    finished: dict[int, float] = {}
    switches: list[tuple[float, float]] = []  # (seconds since the first start, switch seconds)
    step = 0
    while len(finished) < sessions and time.perf_counter() - started < 600:
        at = time.perf_counter() - started
        switches.append((round(at, 1), round(switch(watcher, step), 2)))
        step += 1
        for index, page in enumerate(trainers):
            if index not in finished and page.get_by_text(FINISHED).count():
                finished[index] = time.perf_counter() - started
    for index, page in enumerate(trainers):
        if index not in finished:
            page.screenshot(path=str(RESULTS.with_name(f"load-unfinished-{index}.png")))
        expect(page.get_by_text(FINISHED).first).to_be_visible(timeout=1000)
    seconds = [s for _, s in switches]
    return {
        "sessions": sessions,
        "epochs": epochs,
        "run_seconds": [round(finished[i], 1) for i in sorted(finished)],
        "idle_switch_median_seconds": round(statistics.median(idle), 2),
        "page_switches": len(seconds),
        "switch_median_seconds": round(statistics.median(seconds), 2),
        "switch_p90_seconds": round(statistics.quantiles(seconds, n=10)[-1], 2),
        "switch_max_seconds": round(max(seconds), 2),
        "switches_over_2_seconds": sum(s > 2 for s in seconds),
        "switches": switches,
    }


def switch(page, step: int) -> float:
    """Seconds for the ``step``-th page switch of the walk."""
    label, title = WALK[step % len(WALK)]
    return open_page(page, label, title)


def table(result: dict) -> str:
    """The figures as a Markdown table."""
    rows = [
        ("sessions training at once", result["sessions"]),
        ("epochs per run (NHEFS, 1,629 rows)", result["epochs"]),
        ("time until each run was released (s)", ", ".join(map(str, result["run_seconds"]))),
        ("page switch with nothing training, median (s)", result["idle_switch_median_seconds"]),
        ("page switches by a fifth session meanwhile", result["page_switches"]),
        ("page switch, median (s)", result["switch_median_seconds"]),
        ("page switch, 90th percentile (s)", result["switch_p90_seconds"]),
        ("page switch, slowest (s)", result["switch_max_seconds"]),
        ("page switches over 2 s", result["switches_over_2_seconds"]),
        ("niceness of the trainers' browser", result["trainer_browser_nice"]),
    ]
    lines = ["| figure | value |", "|---|---|"] + [f"| {a} | {b} |" for a, b in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
