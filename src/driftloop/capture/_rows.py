"""Bulk typing of captured rows: many records per :class:`RowReader` call, errors per record.

Rows of many records are typed in chunks; only a chunk that fails is re-read record by record,
so a bad record costs its chunk a second pass and never drops good rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

import numpy as np
import pandas as pd

from driftloop.data import codecs
from driftloop.data.codecs import RowReader
from driftloop.data.spec import TabularSpec
from driftloop.errors import DataError

CHUNK_ROWS = 2048  # rows typed per RowReader call; a failing chunk is re-read record by record
Where = tuple[str, int]  # file (relative to the capture root) and 1-based line
_Rec = tuple[int, int, Where]  # a record's first global row, row count, location
_PLAIN_TEXT = frozenset({str, type(None)})
_JSON_NUMBERS = frozenset({float, int, type(None)})


class RowSink:
    """Collects raw rows per column layout and types them in chunks of about CHUNK_ROWS rows.

    Each record's rows get global positions in arrival order; a record whose rows do not type
    is reported and its positions stay empty, so :meth:`finish` returns the kept-rows mask.
    """

    def __init__(self, spec: TabularSpec, report: Callable[[Where, str], None]) -> None:
        self.spec, self.reader, self.report = spec, RowReader(spec), report
        self.pending: dict[tuple[str, ...] | type, tuple[list[Any], list[_Rec]]] = {}
        self.total = 0
        self.parts: list[tuple[np.ndarray, np.ndarray, list[Any]]] = []
        self.texts = [_Texts() for _ in spec.categorical_features]
        names = spec.features
        self.pick = itemgetter(*names) if len(names) > 1 else lambda row: (row[names[0]],)

    def add(self, columns: list[str] | None, rows: list[Any], where: Where) -> None:
        # Named columns share a chunk; otherwise records and positional lists go apart.
        key = tuple(columns) if columns is not None else type(rows[0])
        pending_rows, recs = self.pending.setdefault(key, ([], []))
        pending_rows.extend(rows)
        recs.append((self.total, len(rows), where))
        self.total += len(rows)
        if len(pending_rows) >= CHUNK_ROWS:
            self._flush(key)

    def add_records(self, records: list[dict[str, Any]], wheres: list[Where]) -> None:
        """Many one-row JSON records (each a dict of columns), as many :meth:`add` calls."""
        pending_rows, recs = self.pending.setdefault(dict, ([], []))
        pending_rows.extend(records)
        total = self.total
        recs.extend((total + i, 1, where) for i, where in enumerate(wheres))
        self.total += len(records)
        if len(pending_rows) >= CHUNK_ROWS:
            self._flush(dict)

    def add_typed(self, numeric: np.ndarray, texts: list[np.ndarray]) -> None:
        """Rows already typed (numeric features as columns of ``numeric``, then each text
        feature), one per one-row record, in arrival order."""
        n = len(numeric)
        self.parts.append((np.arange(self.total, self.total + n), numeric, texts))
        self.total += n

    def _flush(self, key: tuple[str, ...] | type) -> None:
        rows, recs = self.pending.pop(key)
        columns = list(key) if isinstance(key, tuple) else None
        try:
            numeric, texts = self._typed(columns, rows)
        except DataError:
            rows, recs = self._good_records(columns, rows, recs)
            if not recs:
                return
            numeric, texts = self._typed(columns, rows)
        self.parts.append((_positions(recs), numeric, texts))

    def _typed(self, columns: list[str] | None, rows: list[Any]) -> tuple[np.ndarray, list[Any]]:
        """What ``RowReader.read`` gives, text values shared through one lookup per column.

        Records holding exactly the feature keys (nearly all traffic) skip the reader's per-row
        key check and go straight to the codec's column typing.
        """
        plain = columns is None and set(map(type, rows)) == {dict}
        if plain and set(map(len, rows)) == {len(self.spec.features)}:
            try:
                return self._typed_columns(list(zip(*map(self.pick, rows), strict=True)))
            except KeyError:
                pass  # another key than the features: the reader names it
        batch = self.reader.read(columns, rows)
        return batch.numeric, [
            list(map(texts.__getitem__, values))
            for texts, values in zip(self.texts, batch.categorical, strict=True)
        ]

    def _typed_columns(self, values: list[tuple[Any, ...]]) -> tuple[np.ndarray, list[Any]]:
        numeric: list[np.ndarray] = []
        texts: list[list[str | None]] = []
        for name, column in zip(self.spec.features, values, strict=True):
            if name in self.reader.numeric:
                typed = _numbers(column)
                numeric.append(codecs.numeric_column(column, name, 1) if typed is None else typed)
                continue
            lookup = self.texts[len(texts)]
            cells: Sequence[Any] = column
            if not set(map(type, column)) <= _PLAIN_TEXT:
                cells = codecs.text_column(column, name, 1)
            texts.append(list(map(lookup.__getitem__, cells)))
        matrix = np.column_stack(numeric) if numeric else np.empty((len(values[0]), 0))
        return matrix, texts

    def _good_records(
        self, columns: list[str] | None, rows: list[Any], recs: list[_Rec]
    ) -> tuple[list[Any], list[_Rec]]:
        """Type record by record; report the bad ones (the endpoint's own message)."""
        good_rows: list[Any] = []
        good: list[_Rec] = []
        start = 0
        for rec in recs:
            mine, start = rows[start : start + rec[1]], start + rec[1]
            try:
                self.reader.read(columns, mine)
            except DataError as exc:
                self.report(rec[2], f"endpointInput: {exc.message}")
                continue
            good_rows.extend(mine)
            good.append(rec)
        return good_rows, good

    def finish(self) -> tuple[pd.DataFrame, np.ndarray]:
        """The typed rows in arrival order, and which positions were kept; the sink is then
        empty again (positions restart at 0)."""
        for key in list(self.pending):
            self._flush(key)
        n, spec = self.total, self.spec
        parts, self.parts, self.total = self.parts, [], 0
        numeric = np.full((n, len(spec.numeric_features)), np.nan)
        categorical = [np.full(n, None, dtype=object) for _ in spec.categorical_features]
        kept = np.zeros(n, dtype=bool)
        for positions, block, texts in parts:
            numeric[positions] = block
            for column, values in zip(categorical, texts, strict=True):
                column[positions] = values
            kept[positions] = True
        if not kept.all():
            numeric, categorical = numeric[kept], [column[kept] for column in categorical]
        columns: dict[str, Any] = dict(zip(spec.numeric_features, numeric.T, strict=True))
        columns.update(zip(spec.categorical_features, categorical, strict=True))
        return pd.DataFrame({name: columns[name] for name in spec.features}, copy=False), kept


class _Texts(dict[Any, str | None]):
    """A text value -> its typed copy (stripped, blank = None), one shared object per value."""

    def __missing__(self, value: str | None) -> str | None:
        typed = value.strip() or None if value is not None else None
        self[value] = typed
        return typed


def _numbers(column: Sequence[Any]) -> np.ndarray | None:
    """JSON numbers and nulls (missing) as float64, in one conversion; None when the column
    holds anything else (or a number that is not finite), for the codec to type and name."""
    if not set(map(type, column)) <= _JSON_NUMBERS:
        return None
    values = np.array(column, dtype=np.float64)  # None becomes NaN
    if bool(np.isinf(values).any()):
        return None
    return values


def _positions(recs: list[_Rec]) -> np.ndarray:
    """Global row positions of ``recs``' rows, in order."""
    offsets = np.fromiter((rec[0] for rec in recs), dtype=np.int64, count=len(recs))
    counts = np.fromiter((rec[1] for rec in recs), dtype=np.int64, count=len(recs))
    starts = np.cumsum(counts) - counts
    return np.repeat(offsets - starts, counts) + np.arange(int(counts.sum()))
