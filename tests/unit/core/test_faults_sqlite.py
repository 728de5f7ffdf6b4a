"""Every SQLite store of the workspace, met locked by another process, filled with garbage or
truncated: one sentence naming the file and what to do, and nothing half written."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from driftloop import sqlite_db
from driftloop.alarms.definition import AlarmDefinition, parse_alarm
from driftloop.backends.local.alarms import SqliteAlarmStore
from driftloop.backends.local.metrics import SqliteMetricStore
from driftloop.config import RetrainSettings
from driftloop.errors import StoreUnavailable
from driftloop.events.delivery_db import DeliveryDb
from driftloop.metrics.base import Datapoint
from driftloop.owner import Owner
from driftloop.pipelines.store import PipelineStore
from driftloop.retraining.ledger import Ledger
from driftloop.workspace import Workspace

_HOLDER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("held", flush=True)
sys.stdin.read()
"""


@contextmanager
def held(path: Path) -> Iterator[None]:
    """Another process holding ``BEGIN EXCLUSIVE`` on ``path`` until the block ends."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert holder.stdout.readline() == "held\n"
        yield
    finally:
        holder.stdin.close()
        holder.wait(10)
        holder.stdout.close()


def truncate_to_first_page(path: Path) -> None:
    """Fold the WAL into ``path``, then cut it after its first page (the schema survives,
    every table's pages are gone)."""
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        (page,) = db.execute("PRAGMA page_size").fetchone()
    assert path.stat().st_size > page
    with path.open("r+b") as handle:
        handle.truncate(page)


GARBAGE = bytes(range(256)) * 40


@dataclass(frozen=True)
class Store:
    """One SQLite store: its file, its n-th write, and a read that shows which writes landed."""

    file: str
    write: Callable[[Path, int], object]
    read: Callable[[Path], object]


def _metrics(root: Path) -> SqliteMetricStore:
    return SqliteMetricStore(root / "metrics.db")


def _point(n: int) -> Datapoint:
    return Datapoint("ns", "m", {"e": "x"}, 60 * n, "Count", n, 1, n, n)


def _alarm(n: int) -> AlarmDefinition:
    return parse_alarm(
        {
            "AlarmName": f"A{n}",
            "MetricName": "m",
            "Namespace": "ns",
            "Statistic": "Sum",
            "Period": 60,
            "EvaluationPeriods": 1,
            "Threshold": 1.0,
            "ComparisonOperator": "GreaterThanThreshold",
        }
    )


def _deliver(root: Path, n: int) -> None:
    with DeliveryDb.open(root / "delivery.db") as db:
        db.delivered((f"event-{n}", "rule", 0), "notify", 1)


def _delivered(root: Path) -> object:
    with DeliveryDb.open(root / "delivery.db") as db:
        return [n for n in range(1, 4) if db.settled((f"event-{n}", "rule", 0))]


def _claim(root: Path, n: int) -> object:
    policy = RetrainSettings(min_labels=1, cooldown="PT0S", max_per_day=10)
    when = datetime(2026, 1, 1, tzinfo=UTC)
    return Ledger(root / "retrain.db").claim("churn", f"event-{n}", when, policy, False, 5)


STORES = {
    "metrics": Store(
        "metrics.db",
        lambda root, n: _metrics(root).put_metric_data([_point(n)]),
        lambda root: [p.sum for p in _metrics(root).get_metric_data("ns", "m", {"e": "x"})],
    ),
    "alarms": Store(
        "alarms.db",
        lambda root, n: SqliteAlarmStore(root / "alarms.db").put(_alarm(n)),
        lambda root: [a.alarm_name for a in SqliteAlarmStore(root / "alarms.db").list()],
    ),
    "pipelines": Store(
        "pipelines.db",
        lambda root, n: PipelineStore(Workspace(root)).create_run("p", {}, Owner.current()),
        lambda root: len(PipelineStore(Workspace(root)).list_runs()),
    ),
    "delivery": Store("delivery.db", _deliver, _delivered),
    "retrain": Store(
        "retrain.db",
        _claim,
        lambda root: [n for n in range(1, 4) if Ledger(root / "retrain.db").handled(f"event-{n}")],
    ),
}


@pytest.fixture(autouse=True)
def short_busy_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_db, "BUSY_TIMEOUT_S", 0.5)


@pytest.mark.parametrize("kind", STORES)
def test_a_store_locked_past_the_busy_timeout_is_one_sentence_and_writes_nothing(
    tmp_path: Path, kind: str
) -> None:
    store = STORES[kind]
    path = tmp_path / store.file
    store.write(tmp_path, 1)
    before = store.read(tmp_path)
    with held(path):
        started = time.monotonic()
        with pytest.raises(StoreUnavailable) as found:
            store.write(tmp_path, 2)
        waited = time.monotonic() - started
        assert store.read(tmp_path) == before  # WAL: readers carry on meanwhile
    assert found.value.message == (
        f"{path} is locked by another process (waited 0.5 s): retry when it has finished, "
        "or stop the process holding it"
    )
    assert found.value.details == {"file": str(path), "problem": "locked"}
    assert 0.4 < waited < 5
    assert store.read(tmp_path) == before  # nothing of the refused write
    store.write(tmp_path, 3)  # and the store works once the lock is gone
    assert store.read(tmp_path) != before


@pytest.mark.parametrize("kind", STORES)
@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_corrupt_store_is_one_sentence_and_left_as_it_was(
    tmp_path: Path, kind: str, damage: str
) -> None:
    store = STORES[kind]
    path = tmp_path / store.file
    if damage == "garbage":
        path.write_bytes(GARBAGE)
    else:
        store.write(tmp_path, 1)
        truncate_to_first_page(path)
    before = path.read_bytes()
    for use in (store.read, lambda root: store.write(root, 2)):
        with pytest.raises(StoreUnavailable) as found:
            use(tmp_path)
        message = found.value.message
        assert message.startswith(f"{path} is not a readable SQLite database (")
        assert message.endswith(
            "): restore it from a backup, or move it aside and driftloop starts an empty one"
        )
        assert ("file is not a database" if damage == "garbage" else "malformed") in message
        assert found.value.details["problem"] == "corrupt"
    assert path.read_bytes() == before


def test_a_store_that_cannot_be_opened_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "metrics.db"
    path.mkdir()  # a folder where the file should be
    with pytest.raises(StoreUnavailable, match=r"cannot be opened or written \(") as found:
        SqliteMetricStore(path).put_metric_data([_point(1)])
    assert found.value.message.startswith(str(path))


def test_locked_schema_setup_gives_up_after_the_busy_timeout_not_per_attempt(
    tmp_path: Path,
) -> None:
    """A database still in rollback-journal mode locks readers too, and switching it to WAL
    fails after the busy timeout; the retries stop at the same deadline."""
    path = tmp_path / "old.db"
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE t (a)")
    with held(path):
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="is locked by another process"):
            sqlite_db.connect(path, ["CREATE TABLE IF NOT EXISTS t (a)"])
        assert time.monotonic() - started < 3


def test_other_sqlite_errors_reach_the_caller_unchanged(tmp_path: Path) -> None:
    with closing(sqlite_db.connect(tmp_path / "x.db", ["CREATE TABLE t (a PRIMARY KEY)"])) as db:
        db.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(sqlite3.IntegrityError):
            db.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(sqlite3.OperationalError, match="no such table"):
            db.execute("SELECT * FROM missing").fetchall()
