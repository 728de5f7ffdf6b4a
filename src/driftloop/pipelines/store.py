"""Pipeline runs, their step executions and the step cache, in ``<workspace>/pipelines.db`` (WAL).

A run is Executing, Succeeded or Failed (SageMaker's PipelineExecutionStatus); each step
execution is Executing, Succeeded, Failed or Skipped, and a resumed step gets a new attempt.
A cache entry maps a step's cache key to the outputs and run that produced them.

A run records its owner, the process executing it. An Executing run whose owner is gone (killed
with SIGKILL, or the machine lost power) is *orphaned*: nothing will ever finish it, so it may be
resumed. Only the owner's own host can tell, so a run owned by another host is never orphaned.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from driftloop.errors import NotFoundError
from driftloop.names import safe_name
from driftloop.owner import Owner
from driftloop.sqlite_db import connect, retry_locked
from driftloop.workspace import Workspace

EXECUTING, SUCCEEDED, FAILED, SKIPPED = "Executing", "Succeeded", "Failed", "Skipped"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, "
    "status TEXT NOT NULL, params TEXT NOT NULL, started REAL NOT NULL, ended REAL, "
    "failed_step TEXT, error TEXT, owner_pid INTEGER, owner_host TEXT, owner_started INTEGER)",
    "CREATE TABLE IF NOT EXISTS steps (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "run_id TEXT NOT NULL, step TEXT NOT NULL, attempt INTEGER NOT NULL, status TEXT NOT NULL, "
    "cache_key TEXT, cached_from TEXT, started REAL NOT NULL, ended REAL, outputs TEXT, "
    "error TEXT)",
    "CREATE INDEX IF NOT EXISTS steps_by_run ON steps (run_id, step)",
    "CREATE TABLE IF NOT EXISTS cache (key TEXT PRIMARY KEY, step TEXT NOT NULL, "
    "run_id TEXT NOT NULL, outputs TEXT NOT NULL, created REAL NOT NULL)",
)
_OWNER_COLUMNS = {"owner_pid": "INTEGER", "owner_host": "TEXT", "owner_started": "INTEGER"}
_RUN_COLUMNS = (
    "run_id, pipeline, status, params, started, ended, failed_step, error, "
    "owner_pid, owner_host, owner_started"
)
_STEP_COLUMNS = (
    "id, run_id, step, attempt, status, cache_key, cached_from, started, ended, outputs, error"
)


@dataclass(frozen=True)
class RunRecord:
    """One pipeline run (execution), its parameters and the process that executes (or ran) it.

    ``owner`` is None for runs recorded before owners were.
    """

    run_id: str
    pipeline: str
    status: str
    params: dict[str, Any]
    started: float
    ended: float | None
    failed_step: str | None
    error: str | None
    owner: Owner | None = None


@dataclass(frozen=True)
class StepRecord:
    """One attempt at one step of a run; ``cached_from`` names the run whose result it reused."""

    id: int
    run_id: str
    step: str
    attempt: int
    status: str
    cache_key: str | None
    cached_from: str | None
    started: float
    ended: float | None
    outputs: dict[str, Any]
    error: str | None

    @property
    def duration(self) -> float | None:
        return None if self.ended is None else self.ended - self.started


@dataclass(frozen=True)
class CacheEntry:
    """The outputs a step produced for a cache key, and the run that produced them."""

    key: str
    step: str
    run_id: str
    outputs: dict[str, Any]
    created: float


def orphaned(run: RunRecord) -> bool:
    """Whether ``run`` is Executing but its owner, on this host, is gone (so it can be resumed)."""
    return run.status == EXECUTING and run.owner is not None and run.owner.gone()


def new_run_id() -> str:
    """``run-YYYYmmddTHHMMSS-xxxx`` (UTC time and four random hex digits)."""
    return f"run-{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(2)}"


class PipelineStore:
    """The workspace's pipeline database."""

    def __init__(self, workspace: Workspace) -> None:
        self.path = workspace.root / "pipelines.db"

    def _connect(self) -> sqlite3.Connection:
        db = connect(self.path, _SCHEMA)
        _add_owner_columns(db)
        return db

    def create_run(self, pipeline: str, params: dict[str, Any], owner: Owner) -> RunRecord:
        """A new Executing run of ``pipeline``, executed by ``owner``."""
        run = RunRecord(
            new_run_id(), pipeline, EXECUTING, params, time.time(), None, None, None, owner
        )
        with closing(self._connect()) as db:
            db.execute(
                f"INSERT INTO runs ({_RUN_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, NULL, NULL, NULL, ?, ?, ?)",
                (run.run_id, pipeline, EXECUTING, json.dumps(params), run.started, *_owner(owner)),
            )
        return run

    def get_run(self, run_id: str) -> RunRecord:
        """The run ``run_id``; :class:`NotFoundError` naming it when there is none, and
        :class:`~driftloop.errors.ConfigError` for an id that could not name its folder."""
        safe_name(run_id, "pipeline run")
        with closing(self._connect()) as db:
            query = f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id=?"
            row = db.execute(query, (run_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no pipeline run '{run_id}'", details={"run": run_id})
        return _run(row)

    def list_runs(self, limit: int = 50) -> list[RunRecord]:
        """The newest runs first."""
        with closing(self._connect()) as db:
            rows = db.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY started DESC, rowid DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [_run(row) for row in rows]

    def finish_run(
        self, run_id: str, status: str, *, failed_step: str | None = None, error: str | None = None
    ) -> None:
        """Record how the run ended."""
        with closing(self._connect()) as db:
            db.execute(
                "UPDATE runs SET status=?, ended=?, failed_step=?, error=? WHERE run_id=?",
                (status, time.time(), failed_step, error, run_id),
            )

    def fail_orphan(
        self, run_id: str, owner: Owner, *, failed_step: str | None, error: str
    ) -> bool:
        """Record that ``owner`` died executing the run: it is Failed now. False when the run is
        no longer Executing under that owner (someone else got there first)."""
        with closing(self._connect()) as db:
            changed = db.execute(
                "UPDATE runs SET status=?, ended=?, failed_step=?, error=? WHERE run_id=? "
                "AND status=? AND owner_pid=? AND owner_host=? AND owner_started IS ?",
                (FAILED, time.time(), failed_step, error, run_id, EXECUTING, *_owner(owner)),
            ).rowcount
        return bool(changed)

    def reopen(self, run_id: str, owner: Owner) -> bool:
        """Move a Failed run back to Executing under ``owner`` (for a resume); False when it was
        not Failed."""
        with closing(self._connect()) as db:
            changed = db.execute(
                "UPDATE runs SET status=?, ended=NULL, failed_step=NULL, error=NULL, "
                "owner_pid=?, owner_host=?, owner_started=? WHERE run_id=? AND status=?",
                (EXECUTING, *_owner(owner), run_id, FAILED),
            ).rowcount
        return bool(changed)

    def start_step(
        self, run_id: str, step: str, cache_key: str | None, cached_from: str | None = None
    ) -> StepRecord:
        """A new Executing attempt at ``step``."""
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            (attempt,) = db.execute(
                "SELECT COALESCE(MAX(attempt), 0) + 1 FROM steps WHERE run_id=? AND step=?",
                (run_id, step),
            ).fetchone()
            cursor = db.execute(
                "INSERT INTO steps (run_id, step, attempt, status, cache_key, cached_from, "
                "started) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run_id, step, attempt, EXECUTING, cache_key, cached_from, time.time()),
            )
            db.execute("COMMIT")
            row = db.execute(
                f"SELECT {_STEP_COLUMNS} FROM steps WHERE id=?", (cursor.lastrowid,)
            ).fetchone()
        return _step(row)

    def end_step(
        self,
        step_id: int,
        status: str,
        *,
        outputs: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> StepRecord:
        """Record how a step attempt ended."""
        with closing(self._connect()) as db:
            db.execute(
                "UPDATE steps SET status=?, ended=?, outputs=?, error=? WHERE id=?",
                (status, time.time(), json.dumps(outputs or {}), error, step_id),
            )
            row = db.execute(f"SELECT {_STEP_COLUMNS} FROM steps WHERE id=?", (step_id,)).fetchone()
        return _step(row)

    def steps(self, run_id: str) -> list[StepRecord]:
        """The latest attempt at each step of the run, in the order they ran."""
        with closing(self._connect()) as db:
            rows = db.execute(
                f"SELECT {_STEP_COLUMNS} FROM steps WHERE id IN "
                "(SELECT MAX(id) FROM steps WHERE run_id=? GROUP BY step) ORDER BY id",
                (run_id,),
            ).fetchall()
        return [_step(row) for row in rows]

    def cache_entry(self, key: str) -> CacheEntry | None:
        """The cached result for ``key``, if any."""
        with closing(self._connect()) as db:
            row = db.execute(
                "SELECT key, step, run_id, outputs, created FROM cache WHERE key=?", (key,)
            ).fetchone()
        if row is None:
            return None
        return CacheEntry(row[0], row[1], row[2], json.loads(row[3]), row[4])

    def put_cache(self, key: str, step: str, run_id: str, outputs: dict[str, Any]) -> None:
        """Remember (or replace) the result for ``key``."""
        with closing(self._connect()) as db:
            db.execute(
                "INSERT OR REPLACE INTO cache (key, step, run_id, outputs, created) "
                "VALUES (?, ?, ?, ?, ?)",
                (key, step, run_id, json.dumps(outputs), time.time()),
            )


def _add_owner_columns(db: sqlite3.Connection) -> None:
    """Migrate a pipelines.db written before runs recorded their owner (its runs get none)."""
    present = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
    for column, kind in _OWNER_COLUMNS.items():
        if column not in present:
            try:
                retry_locked(partial(db.execute, f"ALTER TABLE runs ADD COLUMN {column} {kind}"))
            except sqlite3.OperationalError as exc:  # another process added it meanwhile
                if "duplicate column" not in str(exc):
                    raise


def _owner(owner: Owner) -> tuple[int, str, int | None]:
    return owner.pid, owner.host, owner.started


def _run(row: tuple[Any, ...]) -> RunRecord:
    run_id, pipeline, status, params, began, ended, failed_step, error, pid, host, started = row
    owner = None if pid is None else Owner(pid, host, started)
    return RunRecord(
        run_id, pipeline, status, json.loads(params), began, ended, failed_step, error, owner
    )


def _step(row: tuple[Any, ...]) -> StepRecord:
    id_, run_id, step, attempt, status, key, cached_from, started, ended, outputs, error = row
    read = json.loads(outputs) if outputs else {}
    return StepRecord(
        id_, run_id, step, attempt, status, key, cached_from, started, ended, read, error
    )
