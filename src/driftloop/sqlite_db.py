"""Opening the workspace's SQLite stores: WAL, autocommit and a schema, safe with several processes.

Each store opens a short-lived connection per operation; several processes (endpoint workers, the
alarm agent, the CLI) may open the same file at once, and writers wait up to 30 s for each other.
"""

from __future__ import annotations

import functools
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path

_ATTEMPTS = 50
_PAUSE_S = 0.05


def retry_locked(step: Callable[[], object], attempts: int = _ATTEMPTS) -> None:
    """Run ``step``, retrying briefly while SQLite says the database is locked.

    Switching a new database to WAL, or creating its tables, can fail at once with "locked" when
    another process does the same; SQLite's busy timeout does not cover it.
    """
    for attempt in range(attempts):
        try:
            step()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(_PAUSE_S)


def connect(path: Path, schema: Sequence[str]) -> sqlite3.Connection:
    """An autocommit connection to ``path`` in WAL mode, after running the ``schema`` statements.

    The parent folder is created. Transactions are the caller's (``BEGIN IMMEDIATE``).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    retry_locked(lambda: db.execute("PRAGMA journal_mode=WAL"))
    db.execute("PRAGMA synchronous=NORMAL")
    for statement in schema:
        retry_locked(functools.partial(db.execute, statement))
    return db
