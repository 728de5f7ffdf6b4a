"""The CLI end to end: each bad input gets one clear message, a non-zero exit and no new state."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import tree


def _csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _telco_like(path: Path, rows: int = 40, tenure: str = "5") -> Path:
    lines = ["customerID,tenure,Contract,MonthlyCharges,Churn"]
    lines += [
        f"id{i},{tenure},Month-to-month,{20 + i},{'Yes' if i % 2 else 'No'}" for i in range(rows)
    ]
    return _csv(path, "\n".join(lines) + "\n")


@pytest.mark.parametrize(
    ("make", "code", "message"),
    [
        (lambda d: d / "missing.csv", 4, "input file not found"),
        (lambda d: _csv(d / "empty.csv", ""), 3, "file is empty"),
        (
            lambda d: (d / "x.csv").write_bytes(b"PK\x03\x04\x00\x00binary") and d / "x.csv",
            3,
            "not a CSV",
        ),
        (
            lambda d: _csv(d / "t.csv", "a,b\n1,2\n3,4\n"),
            3,
            "target column 'Churn' is not in the data",
        ),
        (
            lambda d: _csv(d / "one.csv", "x,Churn\n1,No\n2,No\n"),
            3,
            "positive label 'Yes' never appears",
        ),
    ],
)
def test_preprocess_bad_input(home: Path, cli, make, code: int, message: str) -> None:  # type: ignore[no-untyped-def]
    path = make(home.parent)
    result = cli("preprocess", "--input-csv", str(path))
    assert result.code == code
    assert message in result.err
    assert str(path) in result.err or "Churn" in result.err
    assert tree(home) == set()


def test_wrong_column_type_is_named_and_changes_nothing(home: Path, cli) -> None:  # type: ignore[no-untyped-def]
    train = _telco_like(home.parent / "train.csv")
    val = _telco_like(home.parent / "val.csv", tenure="five")
    result = cli("train", "--train", str(train), "--val", str(val))
    assert result.code == 3
    assert "column 'tenure' must be numeric, row 1 holds 'five'" in result.err
    assert tree(home) == set()


def test_unknown_config_key(home: Path, cli) -> None:  # type: ignore[no-untyped-def]
    Path("driftloop.toml").write_text("[training]\ncandidate = ['lightgbm']\n")
    result = cli("preprocess", "--input-csv", "whatever.csv")
    assert result.code == 2
    assert "unknown config key 'training.candidate'" in result.err
    assert tree(home) == set()


def test_validate_exit_codes(home: Path, cli, telco_csv: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("baseline", str(telco_csv), "-o", "base").code == 0
    clean = cli("validate", str(telco_csv), "--baseline", "base", "-o", "clean.json")
    assert clean.code == 0, clean.err
    assert json.loads(Path("clean.json").read_text()) == {"violations": []}

    text = telco_csv.read_text().replace(",Month-to-month,", ",Weekly,", 3)
    drifted = _csv(Path("drifted.csv"), text)
    bad = cli("validate", str(drifted), "--baseline", "base/constraints.json", "-o", "bad.json")
    assert bad.code == 5
    assert "categorical_values_check" in bad.out
    checks = [
        v["constraint_check_type"] for v in json.loads(Path("bad.json").read_text())["violations"]
    ]
    assert checks == ["categorical_values_check"]


def test_init_writes_a_config_that_loads(home: Path, cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("init").code == 0
    assert "[gate]" in Path("driftloop.toml").read_text()
    assert cli("init").code == 2  # refuses to overwrite


def test_generate_and_preprocess_classic_script(home: Path, cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("data", "generate", "--rows", "500", "--seed", "1", "-o", "gen.csv").code == 0
    root = Path(__file__).resolve().parents[2]
    script = root / "preprocess_telco.py"
    done = subprocess.run(
        [sys.executable, str(script), "--input-csv", "gen.csv", "--output-dir", "prep"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (Path("prep") / "train.csv").is_file() and (Path("prep") / "val.csv").is_file()


@pytest.mark.slow
def test_demo_runs_through_the_installed_command(home: Path) -> None:
    exe = Path(sys.executable).with_name("driftloop")
    small = {"ROWS": "2000", "NORMAL_REQUESTS": "500", "DRIFTED_REQUESTS": "1200", "BAKE": "1s"}
    env = {**os.environ, **{f"DRIFTLOOP_DEMO__{k}": v for k, v in small.items()}}
    env.update(COLUMNS="250", DRIFTLOOP_DEMO__WORKERS="1", DRIFTLOOP_DEMO__LABEL_DELAY="200ms")
    done = subprocess.run(
        [str(exe), "demo", "--keep-serving"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    pid = int(re.search(r"still up \(pid (\d+)\)", done.stdout).group(1))  # type: ignore[union-attr]
    try:
        url = re.search(r"curl (http://127.0.0.1:\d+)/ping", done.stdout).group(1)  # type: ignore[union-attr]
        with urllib.request.urlopen(f"{url}/ping", timeout=5) as response:
            assert response.status == 200
    finally:
        os.killpg(pid, signal.SIGTERM)
    for step in ("pipeline: ingest", "pipeline: deploy", "monitor: drift", "bad challenger"):
        assert step in done.stdout
    assert "rolled_back" in done.stdout and "Explore" in done.stdout
    folder = Path("driftloop-demo")
    assert (folder / "driftloop.toml").is_file()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLOOP_")}
    listed = subprocess.run(  # as the summary says: cd into the demo folder and explore
        [str(exe), "models", "list"], capture_output=True, text=True, cwd=folder, env=clean
    )
    assert listed.returncode == 0, listed.stderr
    assert "Approved" in listed.stdout
