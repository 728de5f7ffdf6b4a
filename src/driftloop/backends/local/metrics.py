"""The local metric store: datapoints in SQLite (WAL), safe with several writer processes."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from contextlib import closing
from pathlib import Path

from driftloop.metrics.base import Datapoint, MetricStore, dimensions_key
from driftloop.sqlite_db import connect, retry_locked

_SCHEMA = """
CREATE TABLE IF NOT EXISTS datapoints (
    namespace TEXT NOT NULL,
    metric TEXT NOT NULL,
    dimensions TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    unit TEXT NOT NULL,
    sum REAL NOT NULL,
    count REAL NOT NULL,
    min REAL NOT NULL,
    max REAL NOT NULL,
    distribution TEXT,
    PRIMARY KEY (namespace, metric, dimensions, timestamp)
)
"""


class SqliteMetricStore(MetricStore):
    """The workspace's metric database (``metrics.db``)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        connection = connect(self.path, (_SCHEMA,))
        columns = {row[1] for row in connection.execute("PRAGMA table_info(datapoints)")}
        if "minute" in columns:  # a store written before high-resolution buckets
            retry_locked(
                lambda: connection.execute(
                    "ALTER TABLE datapoints RENAME COLUMN minute TO timestamp"
                )
            )
        return connection

    def put_metric_data(self, datapoints: Iterable[Datapoint]) -> None:
        points = list(datapoints)
        if not points:
            return
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                for point in points:
                    self._merge_one(db, point)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _merge_one(self, db: sqlite3.Connection, point: Datapoint) -> None:
        key = (point.namespace, point.metric, dimensions_key(point.dimensions), point.timestamp)
        row = db.execute(
            "SELECT sum, count, min, max, distribution FROM datapoints WHERE namespace=? "
            "AND metric=? AND dimensions=? AND timestamp=?",
            key,
        ).fetchone()
        if row is not None:
            stored = Datapoint(*key[:2], point.dimensions, key[3], point.unit, *row[:4])
            stored.distribution = json.loads(row[4]) if row[4] else {}
            stored.merge(point)
            point = stored
        db.execute(
            "INSERT OR REPLACE INTO datapoints VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                *key,
                point.unit,
                point.sum,
                point.count,
                point.min,
                point.max,
                json.dumps(point.distribution) if point.distribution else None,
            ),
        )

    def get_metric_data(
        self,
        namespace: str,
        metric: str,
        dimensions: Mapping[str, str],
        *,
        since: int = 0,
        until: int | None = None,
    ) -> list[Datapoint]:
        if not self.path.exists():
            return []
        sql = (
            "SELECT timestamp, unit, sum, count, min, max, distribution FROM datapoints WHERE "
            "namespace=? AND metric=? AND dimensions=? AND timestamp>=? AND timestamp<? "
            "ORDER BY timestamp"
        )
        args = (namespace, metric, dimensions_key(dimensions), since, until or 2**62)
        with closing(self._connect()) as db:
            rows = db.execute(sql, args).fetchall()
        return [
            Datapoint(
                namespace,
                metric,
                dict(dimensions),
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
                json.loads(r[6]) if r[6] else {},
            )
            for r in rows
        ]

    def list_dimensions(self, namespace: str, metric: str) -> list[dict[str, str]]:
        if not self.path.exists():
            return []
        sql = "SELECT DISTINCT dimensions FROM datapoints WHERE namespace=? AND metric=?"
        with closing(self._connect()) as db:
            rows = db.execute(sql, (namespace, metric)).fetchall()
        return [json.loads(key) for (key,) in sorted(rows)]

    def prune(self, before: int) -> int:
        if not self.path.exists():
            return 0
        with closing(self._connect()) as db:
            return db.execute("DELETE FROM datapoints WHERE timestamp<?", (before,)).rowcount
