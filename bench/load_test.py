"""Load: several browser sessions train a short run each at once, while one more session walks
between pages; prints how long every page switch and every run took.

    python -m bench.load_test [--sessions 4] [--epochs 5]

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
    parser.add_argument("--epochs", type=int, default=5, help="epochs per run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch, sync_playwright() as playwright:
        folder = Path(scratch)
        (folder / "tmp").mkdir()
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        with dashboard(folder / "runs", folder / "tmp", folder / "server.log") as server:
            result = measure(browser, server.url, sessions=args.sessions, epochs=args.epochs)
        browser.close()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1))
    print(table(result))  # noqa: T201 (a benchmark prints its table)


def measure(browser, url: str, *, sessions: int, epochs: int) -> dict:
    """Start ``sessions`` runs together; switch pages in another session until they end."""
    trainers = []
    for _ in range(sessions):
        page = browser.new_context(viewport={"width": 1280, "height": 1200}).new_page()
        first_page(page, url)
        open_page(page, "Train", "Train")
        trainers.append(page)
    watcher = browser.new_context(viewport={"width": 1280, "height": 1200}).new_page()
    first_page(watcher, url)

    started = time.perf_counter()
    for page in trainers:
        start_training(page, epochs)
    finished: dict[int, float] = {}
    switches: list[float] = []
    step = 0
    while len(finished) < sessions and time.perf_counter() - started < 600:
        label, title = WALK[step % len(WALK)]
        switches.append(open_page(watcher, label, title))
        step += 1
        for index, page in enumerate(trainers):
            if index not in finished and page.get_by_text(FINISHED).count():
                finished[index] = time.perf_counter() - started
    for index, page in enumerate(trainers):
        if index not in finished:
            page.screenshot(path=str(RESULTS.with_name(f"load-unfinished-{index}.png")))
        expect(page.get_by_text(FINISHED).first).to_be_visible(timeout=1000)
    return {
        "sessions": sessions,
        "epochs": epochs,
        "run_seconds": [round(finished[i], 1) for i in sorted(finished)],
        "page_switches": len(switches),
        "switch_median_seconds": round(statistics.median(switches), 2),
        "switch_max_seconds": round(max(switches), 2),
        "switches_over_2_seconds": sum(s > 2 for s in switches),
    }


def table(result: dict) -> str:
    """The figures as a Markdown table."""
    rows = [
        ("sessions training at once", result["sessions"]),
        ("epochs per run (NHEFS, 1,629 rows)", result["epochs"]),
        ("time until each run was released (s)", ", ".join(map(str, result["run_seconds"]))),
        ("page switches by a fifth session meanwhile", result["page_switches"]),
        ("page switch, median (s)", result["switch_median_seconds"]),
        ("page switch, slowest (s)", result["switch_max_seconds"]),
        ("page switches over 2 s", result["switches_over_2_seconds"]),
    ]
    lines = ["| figure | value |", "|---|---|"] + [f"| {a} | {b} |" for a, b in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
