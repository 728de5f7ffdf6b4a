"""At-least-once delivery of logged events to the targets of matching rules.

The deliverer reads the event log from a stored byte offset. Each (event, rule, target index)
is recorded in ``<workspace>/delivery.db`` only after its handler returned, and the offset moves
past an event only after all its targets were settled, so a crash re-delivers what was not yet
recorded and a restart never re-delivers what was. A handler that keeps failing is retried with
exponential backoff, then parked in the dead-letter table with its error; other targets and
later events carry on.
"""

from __future__ import annotations

import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from driftloop.errors import ConfigError, TargetFailed
from driftloop.events.base import RuleStore
from driftloop.events.log import event_log
from driftloop.events.patterns import matches
from driftloop.events.rules import CommandTarget, NotifyTarget, Rule, Target
from driftloop.workspace import Workspace

DELIVERY_DB = "delivery.db"
Handler = Callable[[Any, dict[str, Any]], None]


class Publisher(Protocol):
    """What a ``notify`` target publishes through (an SNS-style notifier)."""

    def publish(
        self, topic: str, subject: str, message: str, *, detail: dict[str, Any] | None = None
    ) -> Any: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS cursor (id INTEGER PRIMARY KEY CHECK (id = 1), offset INTEGER);
CREATE TABLE IF NOT EXISTS deliveries (
    event_id TEXT, rule TEXT, target INTEGER, target_type TEXT, attempts INTEGER,
    delivered_at TEXT, PRIMARY KEY (event_id, rule, target));
CREATE TABLE IF NOT EXISTS dead_letters (
    event_id TEXT, rule TEXT, target INTEGER, target_type TEXT, attempts INTEGER,
    error TEXT, failed_at TEXT, event TEXT, PRIMARY KEY (event_id, rule, target));
"""


@dataclass
class DeliveryReport:
    """What one :meth:`Deliverer.deliver_pending` call did."""

    events: int = 0
    """Events read from the log."""
    delivered: int = 0
    """Targets that accepted an event."""
    dead_lettered: int = 0
    """Targets that failed every attempt."""
    retries: int = 0
    """Attempts beyond the first."""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Deliverer:
    """Delivers new events to rule targets through one handler per target type."""

    def __init__(
        self,
        workspace: Workspace,
        rules: RuleStore,
        handlers: dict[str, Handler],
        *,
        max_attempts: int = 3,
        backoff_s: float = 1.0,
    ) -> None:
        if max_attempts < 1:
            raise ConfigError("max_attempts must be at least 1")
        self.workspace = workspace
        self.rules = rules
        self.handlers = handlers
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.path = workspace.root / DELIVERY_DB

    def deliver_pending(self) -> DeliveryReport:
        """Deliver every event appended since the last call; return the counts."""
        report = DeliveryReport()
        rules = [rule for rule in self.rules.list() if rule.enabled]
        with closing(self._connect()) as db:
            for event, end in self._new_events(db):
                report.events += 1
                if isinstance(event, dict):
                    for rule in rules:
                        if matches(rule.event_pattern, event):
                            self._deliver_rule(db, rule, event, report)
                with db:
                    db.execute("INSERT OR REPLACE INTO cursor VALUES (1, ?)", (end,))
        return report

    def deliveries(self, limit: int = 100) -> list[dict[str, Any]]:
        """The most recent successful deliveries, newest first."""
        return self._rows("SELECT * FROM deliveries ORDER BY delivered_at DESC LIMIT ?", limit)

    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        """Deliveries that failed every attempt, newest first, with the error and the event."""
        rows = self._rows("SELECT * FROM dead_letters ORDER BY failed_at DESC LIMIT ?", limit)
        for row in rows:
            row["event"] = orjson.loads(row["event"])
        return rows

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(_SCHEMA)
        return db

    def _rows(self, query: str, limit: int) -> list[dict[str, Any]]:
        with closing(self._connect()) as db:
            return [dict(row) for row in db.execute(query, (limit,))]

    def _new_events(self, db: sqlite3.Connection) -> Iterator[tuple[Any, int]]:
        """(event, offset after its line) for each complete line past the stored offset."""
        path = event_log(self.workspace)
        if not path.is_file():
            return
        row = db.execute("SELECT offset FROM cursor WHERE id = 1").fetchone()
        offset = row[0] if row else 0
        with path.open("rb") as handle:
            handle.seek(offset)
            for line in handle:
                if not line.endswith(b"\n"):
                    return  # a line still being written: read it next time
                offset += len(line)
                try:
                    yield orjson.loads(line), offset
                except orjson.JSONDecodeError:
                    yield None, offset

    def _deliver_rule(
        self, db: sqlite3.Connection, rule: Rule, event: dict[str, Any], report: DeliveryReport
    ) -> None:
        key = (str(event.get("id")), rule.name)
        for index, target in enumerate(rule.targets):
            if self._settled(db, (*key, index)):
                continue
            attempts, error = self._attempt(target, event, report)
            with db:
                if error is None:
                    db.execute(
                        "INSERT INTO deliveries VALUES (?, ?, ?, ?, ?, ?)",
                        (*key, index, target.type, attempts, _now()),
                    )
                    report.delivered += 1
                else:
                    db.execute(
                        "INSERT INTO dead_letters VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (*key, index, target.type, attempts, error, _now(), orjson.dumps(event)),
                    )
                    report.dead_lettered += 1

    @staticmethod
    def _settled(db: sqlite3.Connection, key: tuple[str, str, int]) -> bool:
        where = "event_id = ? AND rule = ? AND target = ?"
        return any(
            db.execute(f"SELECT 1 FROM {table} WHERE {where}", key).fetchone()
            for table in ("deliveries", "dead_letters")
        )

    def _attempt(
        self, target: Target, event: dict[str, Any], report: DeliveryReport
    ) -> tuple[int, str | None]:
        """(attempts made, last error or None) after up to ``max_attempts`` tries."""
        handler = self.handlers.get(target.type)
        if handler is None:
            return 0, f"no handler for target type {target.type!r}"
        error = ""
        for attempt in range(1, self.max_attempts + 1):
            if attempt > 1:
                report.retries += 1
                time.sleep(self.backoff_s * 2 ** (attempt - 2))
            try:
                handler(target, event)
                return attempt, None
            except Exception as exc:  # any handler failure is retried, then dead-lettered
                error = f"{type(exc).__name__}: {exc}"
        return self.max_attempts, error


def default_handlers(
    workspace: Workspace,
    notifier: Publisher | None,
    retrain: Callable[[dict[str, Any]], None] | None,
) -> dict[str, Handler]:
    """Handlers for ``notify`` (the notifier), ``command`` (a subprocess) and ``retrain``."""

    def notify(target: NotifyTarget, event: dict[str, Any]) -> None:
        if notifier is None:
            raise ConfigError("no notifier configured for notify targets")
        subject = f"{event.get('detail-type', 'Event')} from {event.get('source', 'driftloop')}"
        message = orjson.dumps(event, option=orjson.OPT_INDENT_2).decode()
        notifier.publish(target.topic, subject, message, detail=event)

    def command(target: CommandTarget, event: dict[str, Any]) -> None:
        done = subprocess.run(
            target.command,
            input=orjson.dumps(event),
            capture_output=True,
            timeout=target.timeout_s,
            cwd=workspace.root,
            check=False,
        )
        if done.returncode != 0:
            tail = done.stderr.decode(errors="replace").strip()[-500:]
            raise TargetFailed(f"{target.command[0]} exited with {done.returncode}: {tail}")

    def run_retrain(target: Target, event: dict[str, Any]) -> None:
        if retrain is None:
            raise ConfigError("a rule targets retraining but no retraining pipeline was given")
        retrain(event)

    return {"notify": notify, "command": command, "retrain": run_retrain}
