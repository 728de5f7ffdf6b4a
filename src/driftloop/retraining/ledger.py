"""The retrain ledger: handled event ids and retrain times of each endpoint, in SQLite (WAL).

Kept in ``<workspace>/retrain.db`` so cooldown, the daily cap and de-duplication hold across
processes and restarts; a claim is one IMMEDIATE transaction.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path

from driftloop.config import RetrainSettings
from driftloop.sqlite_db import connect

DAY = timedelta(days=1)
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS handled (event_id TEXT PRIMARY KEY, at REAL)",
    "CREATE TABLE IF NOT EXISTS runs (endpoint TEXT, at REAL)",
)


class Ledger:
    """Handled event ids and retrain times, in SQLite."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        return connect(self.path, _SCHEMA)

    def handled(self, event_id: str | None) -> bool:
        """Whether the event ``event_id`` was handled before."""
        with closing(self._connect()) as db:
            query = "SELECT 1 FROM handled WHERE event_id = ?"
            return event_id is not None and db.execute(query, (event_id,)).fetchone() is not None

    def claim(
        self,
        endpoint: str,
        event_id: str | None,
        now: datetime,
        policy: RetrainSettings,
        force: bool,
        labelled: int,
    ) -> str | None:
        """Why this request must be skipped, or None after recording the retrain (atomic)."""
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            seen = db.execute("SELECT 1 FROM handled WHERE event_id = ?", (event_id,)).fetchone()
            if event_id is not None and seen:
                db.execute("ROLLBACK")
                return "duplicate event"
            reason = self._limits(db, endpoint, now, policy) if not force else None
            if reason is None and labelled < policy.min_labels:
                reason = f"{labelled} labelled captured rows, {policy.min_labels} needed"
            if event_id is not None:
                db.execute("INSERT INTO handled VALUES (?, ?)", (event_id, now.timestamp()))
            if reason is None:
                db.execute("INSERT INTO runs VALUES (?, ?)", (endpoint, now.timestamp()))
            db.execute("COMMIT")
            return reason

    @staticmethod
    def _limits(
        db: sqlite3.Connection, endpoint: str, now: datetime, policy: RetrainSettings
    ) -> str | None:
        rows = db.execute(
            "SELECT at FROM runs WHERE endpoint = ? AND at > ?",
            (endpoint, (now - DAY).timestamp()),
        ).fetchall()
        last = max((at for (at,) in rows), default=None)
        if last is not None and now.timestamp() - last < policy.cooldown.total_seconds():
            return f"cooldown: last retrain {now.timestamp() - last:.0f} s ago ({policy.cooldown})"
        if len(rows) >= policy.max_per_day:
            return f"{len(rows)} retrains in the last 24 h (max_per_day {policy.max_per_day})"
        return None
