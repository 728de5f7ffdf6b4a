"""The local alarm store: definitions, state and history in SQLite (WAL)."""

from __future__ import annotations

import builtins
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from driftloop.alarms.base import INITIAL_STATE, AlarmStore, HistoryItem, StoredAlarm
from driftloop.alarms.decision import State
from driftloop.alarms.definition import AlarmDefinition
from driftloop.alarms.evaluate import Evaluation
from driftloop.alarms.watcher import AlarmWatcher
from driftloop.errors import ConfigError, NotFoundError
from driftloop.events.base import EventBus
from driftloop.metrics.base import MetricStore
from driftloop.notifications.base import Notifier
from driftloop.sqlite_db import connect

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS alarms (name TEXT PRIMARY KEY, definition TEXT NOT NULL, "
    "state TEXT NOT NULL, reason TEXT NOT NULL, updated TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS history (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "name TEXT NOT NULL, time TEXT NOT NULL, old TEXT NOT NULL, new TEXT NOT NULL, "
    "reason TEXT NOT NULL)",
)


@dataclass(frozen=True)
class Evaluator:
    """What local alarms are evaluated with: the metric store, and where changes go."""

    where: str
    """The workspace, as notification messages name it."""
    metrics: MetricStore
    notifier: Notifier
    events: EventBus

    @property
    def parts(self) -> tuple[MetricStore, Notifier, EventBus]:
        return self.metrics, self.notifier, self.events


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SqliteAlarmStore(AlarmStore):
    """The workspace's alarms in ``alarms.db``, evaluated against ``metrics`` (alarms opened
    without one can be read and changed, not evaluated)."""

    def __init__(self, path: Path, evaluator: Evaluator | None = None) -> None:
        self.path = path
        self._watcher = (
            None if evaluator is None else AlarmWatcher(evaluator.where, self, *evaluator.parts)
        )

    def evaluate(self, now: datetime, names: Sequence[str] | None = None) -> dict[str, Evaluation]:
        if self._watcher is None:
            raise ConfigError(f"{self.path} was opened without a metric store to evaluate with")
        if names is None:
            return self._watcher.check_all(now)
        return {name: self._watcher.check(self.get(name).definition, now) for name in names}

    def _connect(self) -> sqlite3.Connection:
        return connect(self.path, _SCHEMA)

    def put(self, alarm: AlarmDefinition) -> None:
        with closing(self._connect()) as db:
            db.execute(
                "INSERT INTO alarms VALUES (?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
                "definition=excluded.definition",
                (
                    alarm.alarm_name,
                    alarm.model_dump_json(),
                    INITIAL_STATE,
                    "Unchecked: Initial alarm creation",
                    _iso(datetime.now(UTC)),
                ),
            )

    def get(self, name: str) -> StoredAlarm:
        with closing(self._connect()) as db:
            row = db.execute(
                "SELECT definition, state, reason, updated FROM alarms WHERE name=?", (name,)
            ).fetchone()
        if row is None:
            raise NotFoundError(f"no alarm named '{name}'", details={"alarm": name})
        return _stored(row)

    def list(self) -> list[AlarmDefinition]:
        with closing(self._connect()) as db:
            rows = db.execute("SELECT definition FROM alarms ORDER BY name").fetchall()
        return [AlarmDefinition.model_validate_json(row[0]) for row in rows]

    def delete(self, name: str) -> None:
        with closing(self._connect()) as db:
            deleted = db.execute("DELETE FROM alarms WHERE name=?", (name,)).rowcount
        if not deleted:
            raise NotFoundError(f"no alarm named '{name}'", details={"alarm": name})

    def set_state(self, name: str, evaluation: Evaluation) -> tuple[str, str] | None:
        when = _iso(evaluation.timestamp)
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                change = self._change(db, name, evaluation, when)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return change

    @staticmethod
    def _change(
        db: sqlite3.Connection, name: str, evaluation: Evaluation, when: str
    ) -> tuple[str, str] | None:
        row = db.execute("SELECT state FROM alarms WHERE name=?", (name,)).fetchone()
        if row is None:
            raise NotFoundError(f"no alarm named '{name}'", details={"alarm": name})
        old, new = row[0], evaluation.state
        if old == new:
            return None
        db.execute(
            "UPDATE alarms SET state=?, reason=?, updated=? WHERE name=?",
            (new, evaluation.reason, when, name),
        )
        db.execute(
            "INSERT INTO history (name, time, old, new, reason) VALUES (?, ?, ?, ?, ?)",
            (name, when, old, new, evaluation.reason),
        )
        return old, new

    def history(self, name: str | None = None, limit: int = 100) -> builtins.list[HistoryItem]:
        where, args = ("WHERE name=?", (name,)) if name is not None else ("", ())
        with closing(self._connect()) as db:
            rows = db.execute(
                f"SELECT name, time, old, new, reason FROM history {where} "
                "ORDER BY id DESC LIMIT ?",
                (*args, limit),
            ).fetchall()
        return [HistoryItem(*row) for row in rows]


def _stored(row: tuple[str, State, str, str]) -> StoredAlarm:
    return StoredAlarm(AlarmDefinition.model_validate_json(row[0]), *row[1:])
