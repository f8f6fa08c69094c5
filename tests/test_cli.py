"""The command line end to end on a bundled table, and its one-line errors."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from psygentab_core.cli import main
from psygentab_core.config import load_config
from psygentab_core.datasets import load_demo
from psygentab_core.store import RunStore
from psygentab_core.synthesizer import Synthesizer
from tests.tables import mixed_table

QUICK = ["--epochs", "2", "--config"]


@pytest.fixture
def quick_toml(tmp_path: Path) -> Path:
    path = tmp_path / "quick.toml"
    path.write_text("min_steps_per_epoch = 5\n[model]\nhidden_dim = 32\nlatent_dim = 8\n")
    return path


@pytest.fixture
def births(tmp_path: Path) -> Path:
    path = tmp_path / "births.csv"
    assert main(["demo", "births14", "--output", str(path)]) == 0
    return path


def run_cli(*args: str) -> tuple[int, str]:
    stderr = io.StringIO()
    status = main(list(args), stderr=stderr)
    return status, stderr.getvalue()


def test_fit_writes_table_and_run(births: Path, tmp_path: Path, quick_toml: Path) -> None:
    output = tmp_path / "synthetic.csv"
    status, log = run_cli(
        "fit",
        str(births),
        "--target",
        "lowbirthweight",
        "--output",
        str(output),
        *QUICK,
        str(quick_toml),
        "--rows",
        "300",
    )
    assert status == 0, log
    real = pd.read_csv(births)
    synthetic = pd.read_csv(output)
    assert list(synthetic.columns) == list(real.columns)
    assert len(synthetic) == 300
    assert synthetic["fage"].dropna().map(float.is_integer).all()  # integers stay integers
    assert "epoch   1/2" in log
    assert "epoch   2/2" in log
    run_dir = tmp_path / "synthetic.csv.run"
    expected = {
        "config.toml",
        "schema.json",
        "split.json",
        "members.csv",
        "reference.csv",
        "holdout.csv",
        "history.jsonl",
        "model",
        "result.json",
    }
    assert expected <= {p.name for p in run_dir.iterdir()}
    result = json.loads((run_dir / "result.json").read_text())
    assert {c["key"] for c in result["constraints"]} >= {"exact_match", "close_records"}
    assert result["dataset"]["members"] + result["dataset"]["reference"] + result["dataset"][
        "holdout"
    ] == len(real)
    assert len((run_dir / "history.jsonl").read_text().splitlines()) == 2
    Synthesizer.load(run_dir / "model").sample(5)
    # The run's config is a valid --config for the next run.
    again = tmp_path / "again.csv"
    status, _ = run_cli(
        "fit",
        str(births),
        "--target",
        "lowbirthweight",
        "--output",
        str(again),
        "--config",
        str(run_dir / "config.toml"),
        "--quiet",
    )
    assert status == 0


def test_same_seed_gives_the_same_file(births: Path, tmp_path: Path, quick_toml: Path) -> None:
    outputs = []
    for name in ("a.csv", "b.csv"):
        output = tmp_path / name
        status, log = run_cli(
            "fit",
            str(births),
            "--target",
            "lowbirthweight",
            "--output",
            str(output),
            *QUICK,
            str(quick_toml),
            "--seed",
            "4",
            "--quiet",
        )
        assert status == 0, log
        outputs.append(output.read_bytes())
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (None, ["missing.csv", "--target", "y"], "File not found"),
        ("a,b\n", ["data.csv", "--target", "a"], "has a header but no rows"),
        ("", ["data.csv", "--target", "a"], "is empty"),
        ("a,b\n1,2\n3,4\n", ["data.csv", "--target", "nope"], "Target 'nope' is not a column"),
        ("y,x\n" + "1,2\n" * 30, ["data.csv", "--target", "y"], "only one class"),
        (b"PK\x03\x04 binary", ["data.csv", "--target", "y"], "Excel"),
        ('a,b\n1,"2\n', ["data.csv", "--target", "a"], "not a well-formed CSV"),
    ],
)
def test_bad_input_gives_one_line_and_status_2(tmp_path: Path, setup, args, message) -> None:
    if setup is not None:
        data = setup if isinstance(setup, bytes) else setup.encode()
        (tmp_path / "data.csv").write_bytes(data)
    args = [str(tmp_path / args[0]), *args[1:], "--output", str(tmp_path / "out.csv")]
    status, log = run_cli("fit", *args)
    assert status == 2
    assert log.startswith("psygentab: error: ")
    assert message in log
    assert len(log.strip().splitlines()) == 1
    assert not (tmp_path / "out.csv").exists()


def test_module_entry_point_runs_without_traceback(tmp_path: Path) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "psygentab_core",
            "fit",
            str(tmp_path / "x.csv"),
            "--target",
            "y",
            "--output",
            str(tmp_path / "o.csv"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr
    assert "File not found" in completed.stderr


def test_demo_writes_the_bundled_table(tmp_path: Path) -> None:
    path = tmp_path / "nhefs.csv"
    assert run_cli("demo", "nhefs", "--output", str(path))[0] == 0
    assert pd.read_csv(path).shape == load_demo("nhefs").shape
    assert ",19," in path.read_text()  # whole numbers are written without ".0"


# --- sweep -------------------------------------------------------------------------------------


@pytest.fixture
def mixed_csv(tmp_path: Path) -> Path:
    path = tmp_path / "mixed.csv"
    mixed_table().to_csv(path, index=False)
    return path


def test_sweep_prints_the_table_and_writes_json(mixed_csv: Path, tmp_path: Path) -> None:
    output, runs = tmp_path / "sweep.json", tmp_path / "runs"
    status, log = run_cli(
        "sweep",
        str(mixed_csv),
        "--target",
        "outcome",
        "--levels",
        "0,1",
        "--epochs",
        "1",
        "--jobs",
        "1",
        "--runs-folder",
        str(runs),
        "--output",
        str(output),
    )
    assert status == 0, log
    lines = log.splitlines()
    assert sum(line.startswith(("[1/2] strictness", "[2/2] strictness")) for line in lines) == 2
    header = next(i for i, line in enumerate(lines) if line.startswith("strictness "))
    assert lines[header + 1].startswith("0.00 lenient")
    assert lines[header + 2].startswith("1.00 strict")
    assert "*" in lines[header + 1] + lines[header + 2]
    document = json.loads(output.read_text())
    assert document["levels"] == [0.0, 1.0]
    assert document["config"]["epochs"] == 1
    assert [p["strictness"] for p in document["points"]] == [0.0, 1.0]
    assert document["front"]
    for point in document["points"]:
        assert point["status"] == "completed"
        assert 0.0 <= point["tstr_auc"] <= 1.0
        assert 0.0 <= point["attack_auc"] <= 1.0
        assert point["on_front"] == (document["points"].index(point) in document["front"])
    saved = RunStore(runs).runs()
    assert {entry.run_id for entry in saved} == {p["run_id"] for p in document["points"]}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--levels", "0,2"], "between 0 and 1"),
        (["--levels", "0.5"], "at least 2 strictness levels"),
        (["--levels", "0,strict"], "'strict' is not a number"),
        (["--jobs", "0"], "at least 1 worker"),
        (["--epochs", "0"], "epochs must be at least 1"),
        (["--output", "missing/sweep.json"], "not found"),
        (["--target", "nope"], "Target 'nope' is not a column"),
    ],
)
def test_sweep_bad_input_gives_one_line_and_status_2(
    mixed_csv: Path, tmp_path: Path, options: list[str], message: str
) -> None:
    defaults = {"--target": "outcome", "--runs-folder": str(tmp_path / "runs")}
    defaults |= dict(zip(options[::2], options[1::2], strict=True))
    if "--output" in defaults:
        defaults["--output"] = str(tmp_path / defaults["--output"])
    args = [item for pair in defaults.items() for item in pair]
    status, log = run_cli("sweep", str(mixed_csv), *args)
    assert status == 2
    assert log.startswith("psygentab: error: ")
    assert message in log
    assert len(log.strip().splitlines()) == 1
    runs = tmp_path / "runs"
    assert not runs.exists() or RunStore(runs).runs() == []


# --- differential privacy ----------------------------------------------------------------------

DP_FLAGS = [
    "--public-categories",
    "--public-levels",
    "outcome=no,yes",
    "--public-bounds",
    "age=0:120",
    "--public-bounds",
    "bmi=10:60",
    "--public-bounds",
    "admitted=2019-04-14:2023-05-24",
]


@pytest.fixture
def dp_toml(tmp_path: Path) -> Path:
    path = tmp_path / "dp.toml"
    path.write_text(
        "min_steps_per_epoch = 5\nbatch_size = 16\nmeasurement_rows = 1000\n"
        "[model]\nhidden_dim = 32\nlatent_dim = 8\n"
        '[dp]\nepsilon = 1.0\naccountant = "rdp"\nreproducible = true\n'
    )
    return path


def test_fit_with_epsilon_trains_privately_and_states_the_guarantee(
    mixed_csv: Path, tmp_path: Path, dp_toml: Path
) -> None:
    output = tmp_path / "synthetic.csv"
    status, log = run_cli(
        "fit",
        str(mixed_csv),
        "--target",
        "outcome",
        "--output",
        str(output),
        "--epsilon",
        "4",
        "--delta",
        "1e-4",
        *DP_FLAGS,
        *QUICK,
        str(dp_toml),
    )
    assert status == 0, log
    assert "with differential privacy (target ε = 4)" in log
    assert re.search(r"epoch   2/2 .* ε \d\.\d{3}", log)  # progress lines carry ε spent
    assert "Differential privacy: spent ε = " in log
    assert "(target ε = 4, δ = 0.0001)" in log
    assert "It covers the generator's weights" in log
    assert "Off in DP mode: The release filter" in log
    assert "(measured only: not enforced with DP)" in log
    run_dir = tmp_path / "synthetic.csv.run"
    privacy = json.loads((run_dir / "result.json").read_text())["privacy"]
    assert privacy["guarantee_holds"]
    assert privacy["epsilon"] <= 4.0
    assert privacy["delta"] <= 1e-4
    assert "DP-SGD" in [e["step"] for e in privacy["entries"]]
    assert 0.5 < privacy["attack_bound"]["max_auc"] < 1.0
    history = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    assert [h["epsilon"] for h in history] == sorted(h["epsilon"] for h in history)
    assert history[-1]["epsilon"] == privacy["epsilon"]
    # The run's config carries the DP settings and is a valid --config for the next run.
    config = load_config(run_dir / "config.toml")
    assert config.dp.epsilon == 4.0
    assert config.dp.bounds_of("age") == (0.0, 120.0)
    assert config.dp.accountant == "rdp"
    assert len(pd.read_csv(output)) == len(mixed_table())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--delta", "1e-5"], "need --epsilon"),
        (["--epsilon", "1", "--public-bounds", "age=old:young"], "write COLUMN=LOW:HIGH"),
        (["--epsilon", "1", "--public-levels", "age=1,2"], "not categorical"),
        (["--epsilon", "0"], "dp.epsilon must be a positive"),
        # Too few rows to find anything privately at this ε: the fix is named.
        (["--epsilon", "0.5"], "public"),
    ],
)
def test_bad_privacy_options_give_one_line_and_status_2(
    mixed_csv: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    output = tmp_path / "out.csv"
    status, log = run_cli(
        "fit", str(mixed_csv), "--target", "outcome", "--output", str(output), *args
    )
    assert status == 2, log
    assert log.startswith("psygentab: error: ")
    assert message in log
    assert len(log.strip().splitlines()) == 1
    assert not output.exists()
