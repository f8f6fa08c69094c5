"""The bad-input corpus (issue 6) through the dashboard: every refused upload shows the loader's
message and leaves the session as it was (the previous table, its column types, the current run
and the runs folder); awkward but valid uploads become the dataset; what only training refuses is
said on the page where the user makes that choice.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from psygentab_app.session import SESSION_KEY, Dataset, Session
from psygentab_core.errors import SchemaError
from psygentab_core.io import read_table
from tests.data.make_bad_inputs import BAD, upload_limit_mb
from tests.test_bad_inputs import REFUSED_BY_INFERENCE, REFUSED_BY_LOADER, REFUSED_FOR_TRAINING

NHEFS_ROWS = "1,629"
# Refused on upload: by the loader, or by schema inference (which runs on upload).
REFUSED_ON_UPLOAD = {**REFUSED_BY_LOADER, **REFUSED_BY_INFERENCE}
SOURCE = ("data_source", "Upload a file")
UPLOAD_KEY = "data_upload"


def _upload(page, name: str):
    """Upload a corpus file on the Data page, as the browser would."""
    raw = (BAD / name).read_bytes()
    return page.file_uploader(key=UPLOAD_KEY).set_value((name, raw, "text/csv")).run()


def _upload_mode(page):
    return page.segmented_control(key=SOURCE[0]).set_value(SOURCE[1]).run()


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` with its size and modification time."""
    if not folder.exists():
        return {}
    return {
        str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_refused_uploads_say_why_and_keep_the_session(app_with_run) -> None:
    page = _upload_mode(app_with_run())
    session = page.session_state[SESSION_KEY]
    runs_before = _files(session.runs_folder)
    assert runs_before, "the runs folder should hold the saved run"
    dataset, schema, run = session.dataset, session.schema, session.current_run
    for name, message in REFUSED_ON_UPLOAD.items():
        _upload(page, name)
        assert not page.exception, name
        assert page.error[0].value == message
        assert f"Still working on {dataset.label}." in [c.value for c in page.caption]
        assert page.metric[0].value == NHEFS_ROWS
        session = page.session_state[SESSION_KEY]
        assert session.dataset is dataset, name
        assert session.schema is schema, name
        assert session.current_run == run, name
    assert _files(session.runs_folder) == runs_before


def test_a_refused_upload_keeps_an_earlier_upload(app) -> None:
    page = _upload(_upload_mode(app()), "semicolon.csv")
    session = page.session_state[SESSION_KEY]
    dataset, schema = session.dataset, session.schema
    assert dataset.name == "semicolon.csv"
    _upload(page, "duplicate_column_names.csv")
    assert not page.exception
    assert page.error[0].value == REFUSED_BY_LOADER["duplicate_column_names.csv"]
    session = page.session_state[SESSION_KEY]
    assert session.dataset is dataset
    assert session.schema is schema
    assert [m.value for m in page.metric][:2] == ["40", "6"]


AWKWARD_BUT_VALID = (
    "utf8_bom.csv",
    "latin1.csv",
    "utf16_excel_unicode_text.txt",
    "tab.tsv",
    "decimal_commas.csv",
    "quoted_newlines.csv",
    "trailing_delimiter.csv",
    "mixed_date_formats.csv",
    "formula_column_name.csv",
    "one_row.csv",
)


def test_awkward_but_valid_uploads_become_the_dataset(app) -> None:
    page = _upload_mode(app())
    for name in AWKWARD_BUT_VALID:
        _upload(page, name)
        assert not page.exception, name
        assert not page.error, f"{name}: {page.error[0].value}"
        dataset = page.session_state[SESSION_KEY].dataset
        assert dataset.name == name
        assert dataset.source == "upload"
        expected = read_table(BAD / name)
        assert list(dataset.frame.columns) == list(expected.columns)
        assert page.metric[0].value == f"{len(expected):,}"


@pytest.mark.parametrize(
    "name", ["one_class_target.csv", "minority_class_one_row.csv", "only_target_left.csv"]
)
def test_a_target_that_cannot_be_trained_on_is_refused_where_it_is_chosen(app, name: str) -> None:
    page = _upload(_upload_mode(app()), name)
    assert page.session_state[SESSION_KEY].dataset.name == name
    page.switch_page("views/columns.py").run()
    target, message = REFUSED_FOR_TRAINING[name]
    page.selectbox(key="columns_target").set_value(target).run()
    assert not page.exception
    assert page.error[0].value == message
    assert page.session_state[SESSION_KEY].schema.target is None  # the choice is not kept


def test_training_refuses_a_one_row_table_and_starts_no_run(app_with_run) -> None:
    page = _upload(_upload_mode(app_with_run()), "one_row.csv")
    session = page.session_state[SESSION_KEY]
    runs_before = _files(session.runs_folder)
    page.switch_page("views/train.py").run()
    page.button(key="train_start").click().run()
    assert not page.exception
    assert page.error[0].value == REFUSED_FOR_TRAINING["one_row.csv"][1]
    session = page.session_state[SESSION_KEY]
    assert session.job is None
    assert _files(session.runs_folder) == runs_before


def test_the_upload_limit_is_the_configured_one(app) -> None:
    # Files over server.maxUploadSize never reach the page: the browser's uploader refuses them
    # ("File must be … or smaller.") and the server answers 413. The widget carries the limit.
    page = _upload_mode(app())
    uploader = page.file_uploader(key=UPLOAD_KEY)
    assert uploader.proto.max_upload_size_mb == upload_limit_mb()


def test_switching_to_a_table_that_inference_refuses_changes_nothing() -> None:
    session = Session.on_demo()
    dataset, schema = session.dataset, session.schema
    frame = read_table(BAD / "pandas_unnamed_index.csv")
    with pytest.raises(SchemaError):
        session.use_dataset(Dataset(name="pandas_unnamed_index.csv", frame=frame, source="upload"))
    assert session.dataset is dataset
    assert session.schema is schema
