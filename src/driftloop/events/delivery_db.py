"""Delivery's state in ``<workspace>/delivery.db``: how far the event log was read, what was
delivered, which failed targets wait for a retry (and when), and what was dead-lettered."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from driftloop.events.rules import Target
from driftloop.sqlite_db import connect

Key = tuple[str, str, int]
"""(event id, rule name, target index)."""

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS cursor (id INTEGER PRIMARY KEY CHECK (id = 1), offset INTEGER)",
    "CREATE TABLE IF NOT EXISTS deliveries (event_id TEXT, rule TEXT, target INTEGER, "
    "target_type TEXT, attempts INTEGER, delivered_at TEXT, PRIMARY KEY (event_id, rule, target))",
    "CREATE TABLE IF NOT EXISTS dead_letters (event_id TEXT, rule TEXT, target INTEGER, "
    "target_type TEXT, attempts INTEGER, error TEXT, failed_at TEXT, event TEXT, "
    "PRIMARY KEY (event_id, rule, target))",
    "CREATE TABLE IF NOT EXISTS retries (event_id TEXT, rule TEXT, target INTEGER, "
    "target_spec TEXT, attempts INTEGER, next_at REAL, error TEXT, event TEXT, "
    "PRIMARY KEY (event_id, rule, target))",
)
_TARGET: TypeAdapter[Target] = TypeAdapter(Target)
_KEY = "event_id = ? AND rule = ? AND target = ?"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Retry:
    """A failed target waiting for its next attempt."""

    key: Key
    target: Target
    attempts: int
    """Attempts made so far."""
    event: dict[str, Any]


class DeliveryDb:
    """One connection to the delivery database; open it with :meth:`open`."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    @classmethod
    @contextmanager
    def open(cls, path: Path) -> Iterator[DeliveryDb]:
        with closing(connect(path, _SCHEMA)) as db:
            db.row_factory = sqlite3.Row
            yield cls(db)

    def cursor(self) -> int:
        row = self.db.execute("SELECT offset FROM cursor WHERE id = 1").fetchone()
        return int(row[0]) if row else 0

    def move_cursor(self, offset: int) -> None:
        self.db.execute("INSERT OR REPLACE INTO cursor VALUES (1, ?)", (offset,))

    def settled(self, key: Key) -> bool:
        """Whether ``key`` was delivered, dead-lettered or has a retry scheduled."""
        return any(
            self.db.execute(f"SELECT 1 FROM {table} WHERE {_KEY}", key).fetchone()
            for table in ("deliveries", "dead_letters", "retries")
        )

    def delivered(self, key: Key, target_type: str, attempts: int) -> None:
        self._settle(
            "INSERT OR REPLACE INTO deliveries VALUES (?, ?, ?, ?, ?, ?)",
            (*key, target_type, attempts, _now()),
        )

    def dead_letter(
        self, key: Key, target_type: str, attempts: int, error: str, event: object
    ) -> None:
        """Park ``key`` with its error; ``event`` is what was read (for a log line that is not
        an event: its JSON value, or its text)."""
        row = (*key, target_type, attempts, error, _now(), orjson.dumps(event))
        self._settle("INSERT OR REPLACE INTO dead_letters VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)

    def schedule(
        self, key: Key, target: Target, attempts: int, next_at: float, error: str, event: object
    ) -> None:
        """Retry ``key`` at ``next_at`` (epoch seconds) with the target as it is now."""
        spec = target.model_dump_json()
        self.db.execute(
            "INSERT OR REPLACE INTO retries VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (*key, spec, attempts, next_at, error, orjson.dumps(event)),
        )

    def due(self, now: float) -> list[Retry]:
        """Retries whose time has come, the earliest first (one whose stored target no longer
        reads as a target is dead-lettered instead)."""
        rows = self.db.execute(
            "SELECT * FROM retries WHERE next_at <= ? ORDER BY next_at", (now,)
        ).fetchall()
        due = []
        for row in rows:
            key, event = (row["event_id"], row["rule"], row["target"]), orjson.loads(row["event"])
            try:
                target = _TARGET.validate_json(row["target_spec"])
            except ValidationError as exc:
                error = f"stored target is not valid: {exc.errors()[0]['msg']}"
                self.dead_letter(key, "", row["attempts"], error, event)
                continue
            due.append(Retry(key, target, row["attempts"], event))
        return due

    def rows(self, query: str, limit: int) -> list[dict[str, Any]]:
        return [dict(row) for row in self.db.execute(query, (limit,))]

    def _settle(self, insert: str, row: tuple[Any, ...]) -> None:
        """Record the outcome and drop any scheduled retry of it, in one transaction."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute(insert, row)
            self.db.execute(f"DELETE FROM retries WHERE {_KEY}", row[:3])
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise


def dead_letters(path: Path, limit: int = 100) -> list[dict[str, Any]]:
    """Deliveries that failed every attempt and log lines that are not events, newest first,
    each with its error and what was read."""
    return _with_events(path, "SELECT * FROM dead_letters ORDER BY failed_at DESC LIMIT ?", limit)


def retries(path: Path, limit: int = 100) -> list[dict[str, Any]]:
    """Failed targets waiting for their next attempt, the soonest first."""
    return _with_events(path, "SELECT * FROM retries ORDER BY next_at LIMIT ?", limit)


def _with_events(path: Path, sql: str, limit: int) -> list[dict[str, Any]]:
    """Rows of ``sql`` with their stored ``event`` JSON parsed; none without a database."""
    if not path.is_file():
        return []
    with DeliveryDb.open(path) as db:
        rows = db.rows(sql, limit)
    for row in rows:
        row["event"] = orjson.loads(row["event"])
    return rows
