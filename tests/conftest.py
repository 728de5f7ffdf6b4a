"""Shared fixtures: the real Telco file, an isolated workspace and an in-process CLI runner."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from driftloop.config import DataSettings
from driftloop.data.dataset import spec_from_settings
from driftloop.data.readers import read_table
from driftloop.data.spec import TabularSpec
from tests.aws import moto_server
from tests.sagemaker import save_tiny_model, teach_moto

os.environ["COLUMNS"] = "200"  # Rich wraps at 80 columns when not on a terminal

REPO = Path(__file__).resolve().parents[1]
TELCO = REPO.parent / "shared" / "data" / "telco_customer_churn.csv"


@pytest.fixture(scope="session")
def telco_csv() -> Path:
    """The real IBM Telco Customer Churn file (../shared beside the repository)."""
    if not TELCO.is_file():
        pytest.skip(f"real Telco data missing: {TELCO}")
    return TELCO


@pytest.fixture(scope="session")
def telco_frame(telco_csv: Path) -> pd.DataFrame:
    """The real Telco file as read by driftloop (text columns, blanks missing)."""
    return read_table(telco_csv)


@pytest.fixture(scope="session")
def telco_spec(telco_frame: pd.DataFrame) -> TabularSpec:
    """The spec driftloop's default settings infer for the real Telco file."""
    return spec_from_settings(telco_frame, DataSettings())


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty working folder with its own workspace; no driftloop env leaks in."""
    for key in list(os.environ):
        if key.startswith("DRIFTLOOP_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    workspace = tmp_path / ".driftloop"
    monkeypatch.setenv("DRIFTLOOP_HOME", str(workspace))
    yield workspace


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run the real CLI entry point in-process and return its exit code and output."""
    from driftloop.cli.main import main

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        with pytest.raises(SystemExit) as stopped:
            main(list(args))
        captured = capsys.readouterr()
        return CliResult(int(stopped.value.code or 0), captured.out, captured.err)

    return run


def tree(folder: Path) -> set[str]:
    """Every file under ``folder`` (relative paths), for 'nothing changed' assertions."""
    if not folder.exists():
        return set()
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """moto's server (AWS in tests) on a loopback port, for the whole session."""
    with moto_server() as url:
        yield url


@pytest.fixture(scope="session")
def saved_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny real scikit-learn pipeline saved as an MLflow model folder, registered by the
    registry and endpoint tests."""
    return save_tiny_model(str(tmp_path_factory.mktemp("saved") / "model"))


@pytest.fixture
def moto_updates_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's SageMaker answers UpdateEndpoint for the length of a test."""
    teach_moto(monkeypatch, "update_endpoint")


@pytest.fixture
def moto_deletes_model_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's SageMaker answers DeleteModelPackage for the length of a test."""
    teach_moto(monkeypatch, "delete_model_package")
