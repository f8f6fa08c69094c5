"""End to end in a real browser: the whole walk a new user takes, on a running server.

Debian's Chromium (/usr/bin/chromium) driven by Playwright. Screenshots and the measured
timings go to ``test-artifacts/browser/`` (or ``$PSYGENTAB_ARTIFACTS``). Without Chromium the
test is skipped, unless ``PSYGENTAB_REQUIRE_BROWSER=1`` (set by .ci/run), where it fails.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pandas as pd
import pytest

from psygentab_core import load_demo
from psygentab_core.store import RunStore

CHROMIUM = Path("/usr/bin/chromium")
NO_RUNS_OF_THIS_TABLE = "No runs of this table in the runs folder"
UPLOAD_ROWS = 600
# Enough epochs that the live view, refreshed every 0.75 s, shows at least two of them even on
# a fast machine (an epoch of the 600-row upload takes a few tenths of a second).
EPOCHS = 30

if not CHROMIUM.exists():
    if os.environ.get("PSYGENTAB_REQUIRE_BROWSER") == "1":
        raise RuntimeError(f"{CHROMIUM} is missing; install it with apt-get install -y chromium")
    pytest.skip(f"{CHROMIUM} is not installed", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

# Imported once Chromium and Playwright are known to be there.
from tests.browser import (  # noqa: E402
    CHROMIUM_ARGS,
    FINISHED,
    ROOT,
    Server,
    choose,
    dashboard,
    first_page,
    open_page,
    settled,
    start_training,
    upload_table,
)


@pytest.fixture(scope="module")
def artifacts() -> Path:
    folder = Path(os.environ.get("PSYGENTAB_ARTIFACTS", ROOT / "test-artifacts")) / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The dashboard as a user starts it, with its runs in a temporary folder."""
    with dashboard(
        tmp_path_factory.mktemp("runs"),
        tmp_path_factory.mktemp("tmp"),
        tmp_path_factory.mktemp("server") / "server.log",
    ) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def test_a_new_user_walks_from_upload_to_download(
    server: Server, browser, artifacts: Path, tmp_path: Path
) -> None:
    timings: dict[str, float] = {}
    upload = tmp_path / "nhefs_sample.csv"
    load_demo("nhefs").sample(UPLOAD_ROWS, random_state=1).to_csv(upload, index=False)
    page = browser.new_page(viewport={"width": 1400, "height": 1800}, accept_downloads=True)

    # 1. First start: the demo table is there already.
    started = time.perf_counter()
    page.goto(server.url, wait_until="domcontentloaded")
    expect(page.get_by_role("heading", name="PSyGenTAB", exact=True)).to_be_visible(timeout=60_000)
    expect(page.get_by_test_id("stMetricValue").first).to_have_text("1,629", timeout=60_000)
    timings["first page rendered"] = time.perf_counter() - started
    settled(page)
    page.screenshot(path=artifacts / "01-data-demo.png")

    # 2. Upload a CSV.
    page.locator(".st-key-data_source").get_by_text("Upload a file").click()
    settled(page)
    page.locator("[data-testid=stFileUploader] input[type=file]").set_input_files(upload)
    expect(page.get_by_test_id("stMetricValue").first).to_have_text(
        f"{UPLOAD_ROWS}", timeout=60_000
    )
    settled(page)
    page.screenshot(path=artifacts / "02-data-uploaded.png")

    # 3. Change a column type.
    timings["switch to Column types"] = open_page(page, "Column types", "Column types")
    choose(page, "columns_target", "death")
    sensitive = page.locator(".st-key-columns_sensitive input")
    for attribute in ("sex", "race"):
        sensitive.click()
        sensitive.fill(attribute)
        page.get_by_role("option", name=attribute, exact=True).click()
        settled(page)
    page.keyboard.press("Escape")
    choose(page, "columns_pick", "active")
    choose(page, "columns_kind-active", "categorical")
    page.locator(".st-key-columns_apply button").click()
    expect(page.get_by_text("active is now categorical")).to_be_visible(timeout=30_000)
    settled(page)
    page.screenshot(path=artifacts / "03-column-types.png")

    # 4. Thresholds: the strict preset.
    timings["switch to Privacy thresholds"] = open_page(
        page, "Privacy thresholds", "Privacy thresholds"
    )
    page.locator(".st-key-thresholds_preset").get_by_text("Strict").click()
    expect(page.get_by_text("Furthest from any training patient")).to_be_visible()
    settled(page)
    page.screenshot(path=artifacts / "04-thresholds-strict.png")

    # 5. Train a short run and watch the curves move.
    timings["switch to Train"] = open_page(page, "Train", "Train")
    start_training(page, EPOCHS)
    progress = page.get_by_text("elapsed", exact=False).first
    expect(progress).to_be_visible(timeout=60_000)
    seen: list[tuple[float, str]] = []
    epochs_seen: set[str] = set()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if page.get_by_text(FINISHED).count():
            break
        texts = page.get_by_text("elapsed", exact=False).all_inner_texts()
        if texts:
            seen.append((time.monotonic(), texts[0]))
            epochs_seen.update(t.split(" · ")[0] for t in texts if t.startswith("Epoch"))
            if len(epochs_seen) == 2:
                page.screenshot(path=artifacts / "05-training-live.png")
        page.wait_for_timeout(250)
    changes = [t for (_, before), (t, text) in pairwise(seen) if text != before]
    gaps = [b - a for a, b in pairwise(changes)]
    gaps.sort()
    timings["live updates seen"] = len(changes)
    timings["median gap between live updates"] = gaps[len(gaps) // 2] if gaps else float("nan")
    timings["longest gap between live updates"] = gaps[-1] if gaps else float("nan")
    assert len(epochs_seen) >= 2, seen  # the live view moved through the epochs
    expect(page.get_by_text(FINISHED).first).to_be_visible(timeout=120_000)
    settled(page)
    assert page.locator(".js-plotly-plot").count() >= 2
    page.screenshot(path=artifacts / "06-training-finished.png")

    # 6. Every evaluation page (the first one computes the evaluation, then it is cached).
    visited: set[str] = set()
    for number, (label, title) in enumerate(
        [
            ("Fidelity", "Fidelity"),
            ("Minority class", "Minority class"),
            ("Privacy audit", "Privacy audit"),
            ("Fairness", "Fairness"),
            ("Trade-off explorer", "Trade-off explorer"),
            ("Runs", "Runs"),
            ("Fidelity", "Fidelity"),
        ],
        start=7,
    ):
        evaluation_page = label in ("Fidelity", "Minority class", "Privacy audit", "Fairness")
        seconds = open_page(page, label, title, last_text="Next:" if evaluation_page else None)
        key = f"switch to {label}"
        if label in visited:
            key += " (again)"
        elif label == "Fidelity":
            key += " (computes the evaluation)"
        visited.add(label)
        timings[key] = seconds
        page.screenshot(path=artifacts / f"{number:02d}-{label.lower().replace(' ', '-')}.png")
        expect(page.get_by_test_id("stException")).to_have_count(0)
        if label != "Trade-off explorer":
            expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=30_000)

    # 7. Download the synthetic table.
    timings["switch to Report & export"] = open_page(page, "Report & export", "Report & export")
    page.screenshot(path=artifacts / "14-report-export.png")
    with page.expect_download() as download:
        page.locator(".st-key-export_synthetic_csv button").click()
    saved = artifacts / "synthetic.csv"
    download.value.save_as(saved)
    synthetic = pd.read_csv(saved)
    assert len(synthetic) == UPLOAD_ROWS
    assert "active" in synthetic.columns

    (artifacts / "timings.json").write_text(json.dumps(timings, indent=1))
    print(json.dumps(timings, indent=1))  # noqa: T201 (shown with pytest -s)
    assert not page.get_by_test_id("stException").count()


def test_two_sessions_see_only_their_own_data_and_runs_and_nothing_leaves_the_machine(
    server: Server, browser, artifacts: Path, tmp_path: Path
) -> None:
    requests: list[str] = []
    pages = []
    for _ in range(2):
        context = browser.new_context(viewport={"width": 1400, "height": 1800})
        context.on("request", lambda request: requests.append(request.url))
        page = context.new_page()
        first_page(page, server.url)
        pages.append(page)
    first, second = pages

    table = tmp_path / "ward_a.csv"
    load_demo("nhefs").sample(300, random_state=7).to_csv(table, index=False)
    upload_table(first, table, 300)
    open_page(first, "Column types", "Column types")
    choose(first, "columns_target", "death")
    open_page(first, "Train", "Train")
    start_training(first, 2)
    try:
        expect(first.get_by_text(FINISHED).first).to_be_visible(timeout=180_000)
    finally:
        first.screenshot(path=artifacts / "19-first-session-trained.png")
    settled(first)

    # The other session still has its own table, and no run of the first one.
    second.reload(wait_until="domcontentloaded")
    expect(second.get_by_test_id("stMetricValue").first).to_have_text("1,629", timeout=60_000)
    open_page(second, "Runs", "Runs")
    expect(
        second.get_by_text("No runs of this table in the runs folder", exact=False)
    ).to_be_visible()
    second.screenshot(path=artifacts / "20-second-session-runs.png")
    open_page(first, "Runs", "Runs")
    expect(
        first.get_by_text("No runs of this table in the runs folder", exact=False)
    ).to_have_count(0)
    first.screenshot(path=artifacts / "21-first-session-runs.png")

    outside = sorted({url for url in requests if not url.startswith(server.url)})
    assert not [url for url in outside if not url.startswith(("data:", "blob:"))], outside
    left_behind = [p for p in server.temporary_folder.rglob("*") if p.is_file()]
    assert not left_behind, left_behind


def test_a_run_whose_tab_is_closed_still_finishes_and_is_listed_in_a_new_session(
    server: Server, browser, artifacts: Path, tmp_path: Path
) -> None:
    table = tmp_path / "ward_c.csv"
    load_demo("nhefs").sample(400, random_state=11).to_csv(table, index=False)
    name = "closed tab run"

    context = browser.new_context(viewport={"width": 1400, "height": 1800})
    page = context.new_page()
    first_page(page, server.url)
    upload_table(page, table, 400)
    open_page(page, "Column types", "Column types")
    choose(page, "columns_target", "death")
    open_page(page, "Train", "Train")
    field = page.locator(".st-key-train_name input")
    field.fill(name)
    field.press("Enter")
    settled(page)
    start_training(page, 3)
    expect(page.get_by_text("elapsed", exact=False).first).to_be_visible(timeout=60_000)
    context.close()  # the user closes the tab while the run trains

    later = browser.new_context(viewport={"width": 1400, "height": 1800}).new_page()
    first_page(later, server.url)
    upload_table(later, table, 400)
    picker = later.locator(".st-key-runs_pick")
    deadline = time.perf_counter() + 180
    while True:
        open_page(later, "Runs", "Runs")
        if name in picker_text(picker):
            break
        stored = [(e.name, e.status.value, e.message) for e in RunStore(server.runs).runs()]
        assert time.perf_counter() < deadline, f"no completed run named {name!r}: {stored}"
        later.wait_for_timeout(2000)
        open_page(later, "Data", "PSyGenTAB")
    later.screenshot(path=artifacts / "22-closed-tab-run-listed.png")
    assert "(interrupted)" not in picker_text(picker)
    assert not later.get_by_test_id("stException").count()


def picker_text(picker) -> str:
    """What a selectbox shows: its text and the value of its search field."""
    if not picker.count():
        return ""
    fields = picker.locator("input")
    shown = [fields.nth(i).input_value() for i in range(fields.count())]
    return " ".join([picker.text_content() or "", *shown])
