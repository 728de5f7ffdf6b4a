"""The CLI on a workspace whose SQLite files are garbage, truncated or locked by another process:
one sentence naming the file and what to do, a non-zero exit, no traceback, nothing changed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from driftloop import sqlite_db
from driftloop.backends.local.alarms import SqliteAlarmStore
from driftloop.backends.local.registry import MlflowRegistry
from driftloop.errors import StoreUnavailable
from driftloop.training import tracking
from driftloop.workspace import Workspace
from tests.unit.cli.test_alarms_cli import put
from tests.unit.core.test_faults_sqlite import GARBAGE, held, truncate_to_first_page

EXIT = 14  # StoreUnavailable's exit code
CORRUPT_TAIL = "restore it from a backup, or move it aside and driftloop starts an empty one"

COMMANDS = {
    "metrics.db": ["metrics", "get", "-e", "churn"],
    "alarms.db": ["alarms", "list"],
    "delivery.db": ["events", "dead-letters"],
    "pipelines.db": ["pipeline", "list"],
    "mlflow.db": ["models", "list"],
}
ALARM = ["alarms", *put()]


def driftloop(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real CLI in its own process."""
    env = {**os.environ, "DRIFTLOOP_HOME": str(home), "COLUMNS": "300"}
    return subprocess.run(
        [sys.executable, "-m", "driftloop", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("file", COMMANDS)
def test_a_garbage_store_is_one_sentence_from_the_cli(home: Path, cli, file: str) -> None:  # type: ignore[no-untyped-def]
    home.mkdir()
    path = home / file
    path.write_bytes(GARBAGE)
    result = cli(*COMMANDS[file])
    assert result.code == EXIT
    assert result.err == (
        f"error: {path} is not a readable SQLite database (file is not a database): "
        f"{CORRUPT_TAIL}\n"
    )
    assert path.read_bytes() == GARBAGE


def test_a_truncated_store_is_one_sentence_from_the_cli(home: Path, cli) -> None:  # type: ignore[no-untyped-def]
    path = home / "alarms.db"
    SqliteAlarmStore(path).list()  # a real, empty store
    truncate_to_first_page(path)
    result = cli("alarms", "list")
    assert result.code == EXIT
    assert result.err.startswith(f"error: {path} is not a readable SQLite database (database")
    assert "malformed" in result.err and result.err.endswith(f"{CORRUPT_TAIL}\n")


def test_a_real_process_prints_one_line_and_no_traceback(home: Path) -> None:
    home.mkdir()
    (home / "mlflow.db").write_bytes(GARBAGE)
    done = driftloop(home, "models", "list")
    assert done.returncode == EXIT, done.stderr
    assert done.stderr == (
        f"error: {home / 'mlflow.db'} is not a readable SQLite database (file is not a "
        f"database): {CORRUPT_TAIL}\n"
    )


def test_a_store_locked_by_another_process_refuses_the_write_and_keeps_nothing(
    home: Path,
    cli,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sqlite_db, "BUSY_TIMEOUT_S", 0.5)
    path = home / "alarms.db"
    SqliteAlarmStore(path).list()
    with held(path):
        result = cli(*ALARM)
    assert result.code == EXIT
    assert result.err == (
        f"error: {path} is locked by another process (waited 0.5 s): retry when it has "
        "finished, or stop the process holding it\n"
    )
    assert SqliteAlarmStore(path).list() == []
    assert cli(*ALARM).code == 0 and [a.alarm_name for a in SqliteAlarmStore(path).list()] == [
        "HighLatency"
    ]


def test_mlflows_store_locked_by_another_process_is_one_sentence(home: Path) -> None:
    MlflowRegistry(Workspace(home))  # MLflow's tables, in its rollback-journal mode
    with held(home / "mlflow.db"):
        done = driftloop(home, "models", "list")
    assert done.returncode == EXIT, done.stderr
    assert done.stderr == (
        f"error: {home / 'mlflow.db'} is locked by another process: retry when it has finished, "
        "or stop the process holding it\n"
    )


def test_training_on_a_garbage_mlflow_store_is_one_sentence(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws")
    workspace.ensure()
    workspace.mlflow_db.write_bytes(GARBAGE)
    with pytest.raises(StoreUnavailable, match="is not a readable SQLite database") as refused:
        tracking.experiment_id(workspace, "churn")
    assert str(workspace.mlflow_db) in refused.value.message
    assert workspace.mlflow_db.read_bytes() == GARBAGE
