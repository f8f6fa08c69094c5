"""The dashboard's Streamlit settings (.streamlit/config.toml): nothing leaves the machine, and
nothing runs after every script run that the page switches of other sessions would wait for."""

from __future__ import annotations

import tomllib
from pathlib import Path

CONFIG = Path(__file__).resolve().parent.parent / ".streamlit" / "config.toml"


def settings() -> dict:
    return tomllib.loads(CONFIG.read_text())


def test_no_usage_statistics_and_only_the_local_address() -> None:
    config = settings()
    assert config["browser"]["gatherUsageStats"] is False
    assert config["server"]["address"] == "127.0.0.1"
    assert config["server"]["enableXsrfProtection"] is True


def test_no_source_watcher_and_no_garbage_collection_after_every_run() -> None:
    config = settings()
    assert config["server"]["fileWatcherType"] == "none"
    assert config["server"]["runOnSave"] is False
    assert config["runner"]["postScriptGC"] is False
