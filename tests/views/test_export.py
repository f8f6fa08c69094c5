"""Report & export page: the summary, the downloads, and the report built once into the run."""

from __future__ import annotations

import json

from psygentab_app.session import SESSION_KEY

PAGE = "views/export.py"
ALWAYS_THERE = ["export_synthetic_csv", "export_config", "export_run_zip"]
REPORT = ["export_report_html", "export_report_json"]


def _download_keys(page) -> list[str]:
    # A widget's id ends with its user key.
    return [button.proto.id.rsplit("-", 1)[-1] for button in page.get("download_button")]


def _run_folder(page):
    session = page.session_state[SESSION_KEY]
    return session.store.folder_of(session.current_run)


def test_without_a_run_the_page_points_to_the_train_page(app) -> None:
    page = app(PAGE)
    assert not page.exception
    assert page.title[0].value == "Report & export"
    assert "No current run" in page.info[0].value
    assert not page.get("download_button")


def test_the_summary_and_downloads_of_the_current_run(app_with_run) -> None:
    page = app_with_run(PAGE)
    assert not page.exception
    assert page.metric[0].value == "1,629"
    rules = page.dataframe[0].value
    assert list(rules.columns) == ["rule", "threshold", "measured", "met"]
    assert "at most 0.05" in rules["threshold"].tolist()
    assert _download_keys(page) == ALWAYS_THERE
    # The table and the zip are produced when clicked, not at every visit.
    buttons = page.get("download_button")
    assert buttons[0].proto.deferred_file_id
    assert buttons[2].proto.deferred_file_id
    assert any("the one to share" in caption.value for caption in page.caption)
    assert not (_run_folder(page) / "report.html").exists()


def test_the_report_is_built_into_the_run_folder_once(app_with_run) -> None:
    page = app_with_run(PAGE)
    folder = _run_folder(page)
    page.button(key="export_build_report").click().run()
    assert not page.exception
    assert _download_keys(page) == [ALWAYS_THERE[0], *REPORT, *ALWAYS_THERE[1:]]
    report = json.loads((folder / "report.json").read_text())
    assert report["dataset"]["sensitive"] == list(page.session_state[SESSION_KEY].sensitive)
    assert (folder / "report.html").read_text().startswith("<!doctype html>")
    assert not [p for p in folder.iterdir() if p.name.startswith(".report")]
    built = (folder / "report.json").stat().st_mtime_ns

    # Another visit offers the saved report directly, without evaluating again.
    page.switch_page("views/runs.py").run()
    page.switch_page(PAGE).run()
    assert not page.button
    assert _download_keys(page) == [ALWAYS_THERE[0], *REPORT, *ALWAYS_THERE[1:]]
    assert (folder / "report.json").stat().st_mtime_ns == built

    # Other sensitive attributes make a different report: it is offered for building again.
    page.session_state[SESSION_KEY].sensitive = ("sex",)
    page.run()
    assert page.button(key="export_build_report")
    assert _download_keys(page) == ALWAYS_THERE


def test_a_failed_current_run_has_nothing_to_export(app_with_run) -> None:
    page = app_with_run(PAGE)
    session = page.session_state[SESSION_KEY]
    failed = session.store.start(
        name="broken run", dataset="nhefs", fingerprint=session.dataset.fingerprint
    )
    session.store.fail(failed, "Out of memory.")
    session.current_run = failed
    page.run()
    assert not page.exception
    assert "broken run is failed" in page.warning[0].value
    assert not page.get("download_button")


def test_a_dp_run_shows_its_budget_instead_of_the_filter_it_did_not_use(app_with_dp_run) -> None:
    page = app_with_dp_run(PAGE)
    assert not page.exception
    privacy = page.session_state[SESSION_KEY].run_entry().summary["privacy"]
    shown = {m.label: m.value for m in page.metric}
    assert shown["ε spent"] == f"{privacy['epsilon']:.2f} of 3"
    assert "Rows redrawn" not in shown
    assert any("differentially private generator as drawn" in c.value for c in page.caption)
