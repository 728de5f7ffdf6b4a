"""The retrain ledger: handled event ids, retrain times and claims of retrains, in SQLite (WAL).

Kept in ``<workspace>/retrain.db`` so cooldown, the daily cap and de-duplication hold across
processes and restarts; a claim is one IMMEDIATE transaction. A retrain is claimed before it
starts and settled (completed or failed) when it ends: a claim still running whose process is
gone (SIGKILL, power loss) is an orphan, which one process takes over and carries out once.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from driftloop.config import RetrainSettings
from driftloop.owner import Owner
from driftloop.sqlite_db import connect

DAY = timedelta(days=1)
RUNNING, COMPLETED, FAILED = "running", "completed", "failed"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS handled (event_id TEXT PRIMARY KEY, at REAL)",
    "CREATE TABLE IF NOT EXISTS runs (endpoint TEXT, at REAL)",
    "CREATE TABLE IF NOT EXISTS claims (id TEXT PRIMARY KEY, endpoint TEXT NOT NULL, "
    "event_id TEXT, at REAL NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL, "
    "owner_pid INTEGER NOT NULL, owner_host TEXT NOT NULL, owner_started INTEGER, "
    "version INTEGER, ended REAL, error TEXT)",
)
_CLAIM_COLUMNS = (
    "id, endpoint, event_id, at, status, attempts, owner_pid, owner_host, owner_started, version"
)


@dataclass(frozen=True)
class Claim:
    """One retrain, from before it starts until it settles; ``at`` is the retrain's time (the
    end of the traffic it reads), kept so a resumed retrain reads the same window."""

    id: str
    endpoint: str
    event_id: str | None
    at: datetime
    status: str
    attempts: int
    owner: Owner
    version: int | None = None
    """The model version a completed retrain registered."""


class Ledger:
    """Handled event ids, retrain times and claims, in SQLite."""

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
    ) -> Claim | str:
        """The claim of a retrain this process now carries out, or why the request must be
        skipped (atomic: the event is handled and the retrain counted in the same step)."""
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
            claim = None
            if reason is None:
                db.execute("INSERT INTO runs VALUES (?, ?)", (endpoint, now.timestamp()))
                claim = Claim(
                    f"retrain-{secrets.token_hex(6)}",
                    endpoint,
                    event_id,
                    now,
                    RUNNING,
                    1,
                    Owner.current(),
                )
                db.execute(
                    f"INSERT INTO claims ({_CLAIM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    _row(claim),
                )
            db.execute("COMMIT")
            return claim or str(reason)

    def settle(
        self, claim: Claim, status: str, *, version: int | None = None, error: str | None = None
    ) -> None:
        """Record how the claimed retrain ended: ``completed`` (``version`` registered) or
        ``failed`` (with ``error``); a failed retrain is not taken over again."""
        with closing(self._connect()) as db:
            db.execute(
                "UPDATE claims SET status = ?, version = ?, error = ?, ended = ? WHERE id = ?",
                (status, version, error, time.time(), claim.id),
            )

    def orphans(self) -> list[Claim]:
        """Claims still running whose process, on this host, is gone, oldest first."""
        with closing(self._connect()) as db:
            rows = db.execute(
                f"SELECT {_CLAIM_COLUMNS} FROM claims WHERE status = ? ORDER BY at", (RUNNING,)
            ).fetchall()
        return [claim for claim in map(_claim, rows) if claim.owner.gone()]

    def take_over(self, orphan: Claim) -> Claim | None:
        """``orphan`` owned by this process, one attempt more; None when another process took
        it first (or it settled meanwhile)."""
        mine, old = Owner.current(), orphan.owner
        with closing(self._connect()) as db:
            taken = db.execute(
                "UPDATE claims SET owner_pid = ?, owner_host = ?, owner_started = ?, "
                "attempts = attempts + 1 WHERE id = ? AND status = ? AND owner_pid = ? "
                "AND owner_host = ?",
                (mine.pid, mine.host, mine.started, orphan.id, RUNNING, old.pid, old.host),
            ).rowcount
        if not taken:
            return None
        return Claim(
            orphan.id,
            orphan.endpoint,
            orphan.event_id,
            orphan.at,
            RUNNING,
            orphan.attempts + 1,
            mine,
        )

    def claims(self, endpoint: str | None = None) -> list[Claim]:
        """Every claim (of ``endpoint``, or all), oldest first."""
        where, args = ("WHERE endpoint = ?", (endpoint,)) if endpoint else ("", ())
        with closing(self._connect()) as db:
            rows = db.execute(
                f"SELECT {_CLAIM_COLUMNS} FROM claims {where} ORDER BY at", args
            ).fetchall()
        return [_claim(row) for row in rows]

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


def _row(claim: Claim) -> tuple[object, ...]:
    owner = claim.owner
    return (
        claim.id,
        claim.endpoint,
        claim.event_id,
        claim.at.timestamp(),
        claim.status,
        claim.attempts,
        owner.pid,
        owner.host,
        owner.started,
        claim.version,
    )


def _claim(row: tuple[object, ...]) -> Claim:
    cid, endpoint, event_id, at, status, attempts, pid, host, started, version = row
    owner = Owner(int(str(pid)), str(host), None if started is None else int(str(started)))
    when = datetime.fromtimestamp(float(str(at)), UTC)
    return Claim(
        str(cid),
        str(endpoint),
        None if event_id is None else str(event_id),
        when,
        str(status),
        int(str(attempts)),
        owner,
        None if version is None else int(str(version)),
    )
