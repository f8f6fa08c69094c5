"""Driving the dashboard in Debian's Chromium with Playwright: a server, and the moves a user
makes. Shared by the browser tests and the load benchmark (bench/load_test.py)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# What the Train page says once the run is released, whichever way its constraints came out.
FINISHED = re.compile("Every privacy constraint holds|Some constraints do not hold")


@dataclass(frozen=True)
class Server:
    url: str
    temporary_folder: Path
    runs: Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def dashboard(runs: Path, scratch: Path, log_path: Path) -> Iterator[Server]:
    """The dashboard as a user starts it (python -m psygentab_app), runs saved in ``runs``;
    its TMPDIR is ``scratch``, so that a test can check nothing is left there."""
    port = free_port()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "psygentab_app", "--server.port", str(port)],
            cwd=ROOT,
            env={**os.environ, "PSYGENTAB_RUNS": str(runs), "TMPDIR": str(scratch)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_healthy(url, process, log_path)
            yield Server(url=url, temporary_folder=scratch, runs=runs)
        finally:
            process.terminate()
            process.wait(10)


def wait_until_healthy(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as reply:
                if reply.read() == b"ok":
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the server did not start; see {log_path}")
        time.sleep(0.25)


def settled(page) -> float:
    """Wait until Streamlit has finished the rerun in progress (its status widget has stayed
    away for half a second: it shows only once a run has taken a moment); returns the
    ``time.perf_counter()`` at which it was last seen running."""
    quiet_since = time.perf_counter()
    deadline = quiet_since + 90
    while time.perf_counter() - quiet_since < 0.5:
        if page.get_by_test_id("stStatusWidget").count():
            quiet_since = time.perf_counter()
        assert time.perf_counter() < deadline, "the page kept running for 90 s"
        page.wait_for_timeout(100)
    return quiet_since


def open_page(page, label: str, title: str, *, last_text: str | None = None) -> float:
    """Click a sidebar link; seconds until the page's title (and ``last_text``, drawn at the
    end of the page) is shown and the run has ended."""
    started = time.perf_counter()
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=label).click()
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible(timeout=60_000)
    if last_text is not None:
        expect(page.get_by_text(last_text, exact=False).last).to_be_visible(timeout=60_000)
    shown = time.perf_counter()
    return max(shown, settled(page)) - started


def choose(page, key: str, option: str) -> None:
    """Pick an option of the selectbox with widget key ``key``."""
    box = page.locator(f".st-key-{key} input[role=combobox]")
    box.click()
    box.fill(option)
    page.get_by_role("option", name=option, exact=False).first.click()
    settled(page)


def first_page(page, url: str, rows: str = "1,629") -> None:
    """Open the dashboard and wait for the demo table."""
    page.goto(url, wait_until="domcontentloaded")
    expect(page.get_by_test_id("stMetricValue").first).to_have_text(rows, timeout=60_000)
    settled(page)


def upload_table(page, path: Path, rows: int) -> None:
    page.locator(".st-key-data_source").get_by_text("Upload a file").click()
    settled(page)
    page.locator("[data-testid=stFileUploader] input[type=file]").set_input_files(path)
    expect(page.get_by_test_id("stMetricValue").first).to_have_text(f"{rows:,}", timeout=60_000)
    settled(page)


def start_training(page, epochs: int) -> None:
    """On the Train page: set the epochs and press start."""
    field = page.locator(".st-key-train_epochs input")
    field.fill(str(epochs))
    field.press("Enter")
    settled(page)
    page.locator(".st-key-train_start button").click()
