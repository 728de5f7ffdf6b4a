"""Opening the workspace's SQLite stores: WAL, autocommit and a schema, safe with several processes.

Each store opens a short-lived connection per operation; several processes (endpoint workers, the
alarm agent, the CLI) may open the same file at once, and writers wait up to
:data:`BUSY_TIMEOUT_S` for each other.

A store that cannot be used is one sentence naming the file and what to do, never a traceback:
a file another process keeps locked past the busy timeout, a file that is not a SQLite database
(garbage bytes, truncated), or one that cannot be opened or written (permissions, a full disk).
The statement that met it is rolled back with its transaction, so nothing is half written.
Other SQLite errors (a constraint, a schema race) reach the caller unchanged.
"""

from __future__ import annotations

import functools
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

from driftloop.errors import DriftloopError, StoreUnavailable

BUSY_TIMEOUT_S = 30.0
"""How long a writer waits for another process's lock before giving up."""
_PAUSE_S = 0.05

_LOCKED = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED
_CORRUPT = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
_UNUSABLE = {3, 8, 10, 13, 14}  # PERM, READONLY, IOERR, FULL, CANTOPEN


def fault(path: Path, exc: BaseException, waited: float | None = None) -> StoreUnavailable | None:
    """The one-sentence error for ``exc`` met on the SQLite file ``path``, when it is a locked
    (after ``waited`` seconds, default :data:`BUSY_TIMEOUT_S`, 0 when unknown), corrupt or
    unusable file; None for any other error."""
    code = getattr(exc, "sqlite_errorcode", None)
    if not isinstance(exc, sqlite3.Error) or code is None:
        return None
    kind, primary = "", code & 0xFF
    if primary in _LOCKED:
        kind, waited = "locked", BUSY_TIMEOUT_S if waited is None else waited
        after = f" (waited {waited:g} s)" if waited else ""
        message = (
            f"{path} is locked by another process{after}: retry when it has finished, or stop "
            "the process holding it"
        )
    elif primary in _CORRUPT:
        kind = "corrupt"
        message = (
            f"{path} is not a readable SQLite database ({exc}): restore it from a backup, or "
            "move it aside and driftloop starts an empty one"
        )
    elif primary in _UNUSABLE:
        kind = "unusable"
        message = (
            f"{path} cannot be opened or written ({exc}): check the file's permissions and "
            "the disk's free space"
        )
    else:
        return None
    return StoreUnavailable(message, details={"file": str(path), "problem": kind})


def sqlite_cause(exc: BaseException) -> sqlite3.Error | None:
    """The SQLite error ``exc`` is or wraps (through ``__cause__``/``__context__``, or
    SQLAlchemy's ``.orig``, as under MLflow's errors), if any."""
    seen: BaseException | None = exc
    for _ in range(10):  # a short chain: MLflow's error, SQLAlchemy's, the driver's
        if seen is None:
            break
        found = getattr(seen, "orig", seen)
        if isinstance(found, sqlite3.Error):
            return found
        seen = seen.__cause__ or seen.__context__
    return None


@contextmanager
def reported(path: Path, waited: float | None = None) -> Iterator[None]:
    """Turn a locked, corrupt or unusable ``path`` met inside the block (directly, or under
    another library's error) into its one sentence; see :func:`fault` for ``waited``."""
    try:
        yield
    except DriftloopError:
        raise
    except Exception as exc:
        cause = sqlite_cause(exc)
        error = None if cause is None else fault(path, cause, waited)
        if error is None:
            raise
        raise error from exc


def _locked(exc: BaseException) -> bool:
    cause = exc.__cause__ if isinstance(exc, StoreUnavailable) else exc
    return isinstance(cause, sqlite3.OperationalError) and "locked" in str(cause)


def retry_locked(step: Callable[[], object]) -> None:
    """Run ``step``, retrying briefly while SQLite says the database is locked, for at most
    :data:`BUSY_TIMEOUT_S` in all.

    Switching a new database to WAL, or creating its tables, can fail at once with "locked" when
    another process does the same; SQLite's busy timeout does not cover it.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            step()
            return
        except (sqlite3.OperationalError, StoreUnavailable) as exc:
            if not _locked(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(_PAUSE_S)


def _reraise(path: Path, exc: sqlite3.Error) -> NoReturn:
    error = fault(path, exc)
    if error is None:
        raise exc
    raise error from exc


class _Cursor(sqlite3.Cursor):
    """A cursor whose file faults are one sentence naming the file (try/except rather than a
    context manager: rows are fetched on hot paths)."""

    path: Path

    def execute(self, sql: str, parameters: Any = (), /) -> _Cursor:
        try:
            return super().execute(sql, parameters)
        except sqlite3.Error as exc:
            _reraise(self.path, exc)

    def executemany(self, sql: str, parameters: Any, /) -> _Cursor:
        try:
            return super().executemany(sql, parameters)
        except sqlite3.Error as exc:
            _reraise(self.path, exc)

    def fetchone(self) -> Any:
        try:
            return super().fetchone()
        except sqlite3.Error as exc:
            _reraise(self.path, exc)

    def fetchmany(self, size: int | None = 1) -> list[Any]:
        try:
            return super().fetchmany(size)
        except sqlite3.Error as exc:
            _reraise(self.path, exc)

    def fetchall(self) -> list[Any]:
        try:
            return super().fetchall()
        except sqlite3.Error as exc:
            _reraise(self.path, exc)

    def __next__(self) -> Any:
        try:
            return super().__next__()
        except sqlite3.Error as exc:
            _reraise(self.path, exc)


class _Connection(sqlite3.Connection):
    """A connection that remembers its file and hands out :class:`_Cursor`s."""

    def __init__(self, database: str | Path, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        self.path = Path(database)

    def cursor(self, factory: Any = _Cursor) -> Any:
        made = super().cursor(factory)
        made.path = self.path
        return made

    def execute(self, sql: str, parameters: Any = (), /) -> _Cursor:
        cursor: _Cursor = self.cursor()
        return cursor.execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> _Cursor:
        cursor: _Cursor = self.cursor()
        return cursor.executemany(sql, parameters)


def connect(path: Path, schema: Sequence[str]) -> sqlite3.Connection:
    """An autocommit connection to ``path`` in WAL mode, after running the ``schema`` statements.

    The parent folder is created. Transactions are the caller's (``BEGIN IMMEDIATE``). A locked,
    corrupt or unusable file raises :class:`~driftloop.errors.StoreUnavailable` naming it, here or
    from any later statement.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with reported(path):
        db = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_S, isolation_level=None, factory=_Connection
        )
    try:
        retry_locked(lambda: db.execute("PRAGMA journal_mode=WAL"))
        db.execute("PRAGMA synchronous=NORMAL")
        for statement in schema:
            retry_locked(functools.partial(db.execute, statement))
    except BaseException:
        db.close()
        raise
    return db
