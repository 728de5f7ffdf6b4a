"""Request bodies to typed rows, and predictions to response bodies.

JSON: one record object, a list of records (or of lists in the model's column order),
``{"instances": ...}``, ``{"inputs": ...}``, MLflow's ``dataframe_split``/``dataframe_records``.
CSV: with a header, or headerless in the model's column order (SageMaker's convention).
JSON Lines: one record per line. Every error names the field and the 1-based row.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import orjson

from driftloop.data.batch import Batch
from driftloop.data.spec import TabularSpec
from driftloop.errors import DataError, NotAcceptable, PayloadTooLarge, UnsupportedMediaType

JSON, CSV, JSONLINES = "application/json", "text/csv", "application/jsonlines"
_READS = {JSON: "json", "application/x-json": "json", CSV: "csv", JSONLINES: "jsonl"}
_ROWWISE_MAX = 8  # up to this many rows, typing value by value beats building columns
_SPLIT_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")


def media_type(header: str | None, default: str = JSON) -> str:
    """The bare media type of a Content-Type/Accept value (``*/*`` or empty → ``default``)."""
    if not header:
        return default
    if header in _READS:  # already bare, as in capture files
        return header
    first = header.split(",")[0].split(";")[0].strip().lower()
    return default if first in ("*/*", "") else first


def parse(
    body: bytes,
    content_type: str,
    spec: TabularSpec,
    max_rows: int,
    reader: RowReader | None = None,
) -> Batch:
    """Parse and type a request body against ``spec`` (``content_type`` may carry parameters).

    ``reader`` is a :class:`RowReader` of ``spec`` made once (the endpoint keeps one per variant).
    """
    columns, rows = split_rows(body, content_type, spec)
    if len(rows) > max_rows:
        raise PayloadTooLarge(
            f"{len(rows)} rows in one request, the limit is {max_rows}",
            details={"rows": len(rows), "max_rows": max_rows},
        )
    return (reader or RowReader(spec)).read(columns, rows)


def split_rows(
    body: bytes | str, content_type: str | None, spec: TabularSpec
) -> tuple[list[str] | None, list[Any]]:
    """A body's column names (None: records, or the model's order) and its raw, untyped rows.

    The first half of :func:`parse`; the monitoring job uses it to split captured bodies exactly
    as the endpoint did, then types their rows in bulk with :class:`RowReader`.
    """
    content_type = media_type(content_type)
    kind = _READS.get(content_type)
    if kind is None:
        raise UnsupportedMediaType(
            f"content type '{content_type}' is not supported; use {JSON}, {CSV} or {JSONLINES}",
            details={"content_type": content_type},
        )
    if not body.strip():
        raise DataError("request body is empty")
    if kind == "csv":
        raw = body if isinstance(body, bytes) else body.encode("utf-8")
        columns, rows = _csv_rows(raw, spec)
    elif kind == "jsonl":
        lines: Sequence[bytes | str] = body.splitlines()
        columns, rows = None, [_json(line, n) for n, line in enumerate(lines, 1) if line.strip()]
    else:
        columns, rows = _json_rows(_json(body, None))
    if not rows:
        raise DataError("request holds no rows")
    return columns, rows


def _json(data: bytes | str, line: int | None) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        where = f" on line {line}" if line else ""
        raise DataError(f"malformed JSON{where}: {exc}") from None


def _json_rows(doc: Any) -> tuple[list[str] | None, list[Any]]:
    if isinstance(doc, list):
        return None, doc
    if not isinstance(doc, dict):
        raise DataError("JSON body must be an object or a list of records")
    key = next((k for k in _SPLIT_KEYS if k in doc), None)
    if key is None:
        return None, [doc]
    value = doc[key]
    if key == "dataframe_split":
        if not isinstance(value, dict) or not isinstance(value.get("data"), list):
            raise DataError("dataframe_split needs 'columns' and 'data' lists")
        return list(value.get("columns") or []) or None, value["data"]
    if isinstance(value, dict) and key == "inputs":  # column-oriented: {"col": [values...]}
        return _columns_to_rows(value)
    if not isinstance(value, list):
        raise DataError(f"'{key}' must be a list of records")
    return None, value


def _columns_to_rows(columns: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    names = list(columns)
    lists = [v if isinstance(v, list) else [v] for v in columns.values()]
    if len({len(v) for v in lists}) > 1:
        raise DataError("'inputs' columns have different lengths")
    return names, [list(row) for row in zip(*lists, strict=True)]


def _csv_rows(body: bytes, spec: TabularSpec) -> tuple[list[str] | None, list[list[str]]]:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"CSV body is not UTF-8 text (byte {exc.start})") from None
    try:
        rows = [row for row in csv.reader(text.splitlines()) if row]
    except csv.Error as exc:
        raise DataError(f"malformed CSV: {exc}") from None
    known = {c.name for c in spec.columns}
    if rows and set(rows[0]) <= known and set(spec.features) <= set(rows[0]):
        return rows[0], rows[1:]
    return None, rows


class RowReader:
    """Types rows for one spec: numbers as float64 (NaN = missing), categories as text."""

    def __init__(self, spec: TabularSpec) -> None:
        self.spec = spec
        self.numeric = spec.numeric_features
        self.categorical = spec.categorical_features
        self.features = spec.features
        self.feature_set = frozenset(self.features)
        self.known = frozenset(c.name for c in spec.columns)
        self.is_numeric = [spec.kind_of(name) == "numeric" for name in self.features]

    def read(self, columns: Sequence[str] | None, rows: list[Any], first_row: int = 1) -> Batch:
        """Type ``rows`` (dicts, or lists in ``columns`` order / the model's order when None).

        ``first_row`` numbers the rows in error messages (for chunks of a larger file).
        """
        if columns is not None:
            self._check_columns(columns, row=None)
            index = {name: i for i, name in enumerate(columns)}
            positions = [index[name] for name in self.features]
            width = len(columns)
            numbered = enumerate(rows, first_row)
            records = (self._positional(r, n, width, positions) for n, r in numbered)
        else:
            records = (self._record(r, n) for n, r in enumerate(rows, first_row))
        return self._batch(records, len(rows), first_row)

    def _record(self, row: Any, number: int) -> Sequence[Any]:
        if isinstance(row, dict):
            if row.keys() != self.feature_set:
                self._check_columns(row.keys(), row=number)
            return [row[name] for name in self.features]
        if isinstance(row, list):  # positional, in the model's column order
            return self._positional(row, number, len(self.features), None)
        raise DataError(f"row {number} must be an object or a list", details={"row": number})

    def _positional(
        self, row: Any, number: int, width: int, positions: list[int] | None
    ) -> Sequence[Any]:
        if not isinstance(row, list) or len(row) != width:
            got = len(row) if isinstance(row, list) else type(row).__name__
            raise DataError(
                f"row {number} has {got} values, expected {width} "
                f"(in this order: {', '.join(self.features)})",
                details={"row": number},
            )
        return row if positions is None else [row[i] for i in positions]

    def _check_columns(self, names: Iterable[str], row: int | None) -> None:
        names = set(names)
        missing = sorted(self.feature_set - names)
        unknown = sorted(names - self.known)
        where = f"row {row}: " if row else ""
        if missing:
            raise DataError(
                f"{where}missing column(s): {', '.join(missing)}",
                details={"missing": missing, **({"row": row} if row else {})},
            )
        if unknown:
            raise DataError(
                f"{where}unknown column(s): {', '.join(unknown)}",
                details={"unknown": unknown, **({"row": row} if row else {})},
            )

    def _batch(self, records: Iterable[Sequence[Any]], count: int, first_row: int) -> Batch:
        if count <= _ROWWISE_MAX:
            return self._rowwise(records, count, first_row)
        columns = list(zip(*records, strict=True))
        numeric, categorical = [], []
        for name, is_numeric, values in zip(self.features, self.is_numeric, columns, strict=True):
            if is_numeric:
                numeric.append(numeric_column(values, name, first_row))
            else:
                categorical.append(text_column(values, name, first_row))
        matrix = np.column_stack(numeric) if numeric else np.empty((count, 0))
        return Batch(np.ascontiguousarray(matrix, dtype=np.float64), categorical)

    def _rowwise(self, records: Iterable[Sequence[Any]], count: int, first_row: int) -> Batch:
        numeric = np.empty((count, len(self.numeric)), dtype=np.float64)
        categorical: list[list[str | None]] = [[None] * count for _ in self.categorical]
        for r, values in enumerate(records):
            i = j = 0
            for name, is_numeric, value in zip(self.features, self.is_numeric, values, strict=True):
                if is_numeric:
                    numeric[r, i] = _number(value, name, r + first_row)
                    i += 1
                else:
                    categorical[j][r] = _category(value, name, r + first_row)
                    j += 1
        return Batch(numeric, categorical)


def numeric_column(values: Sequence[Any], name: str, first_row: int) -> np.ndarray:
    """Numbers (or numeric text) as float64; anything else goes value by value for its error."""
    kinds = set(map(type, values))
    if kinds <= {float, int} or kinds == {str}:
        try:
            column = np.array(values, dtype=np.float64)
        except ValueError:
            column = None
        if column is not None and bool(np.isfinite(column).all()):
            return column
    return np.array([_number(v, name, row) for row, v in enumerate(values, first_row)])


def text_column(values: Sequence[Any], name: str, first_row: int) -> list[str | None]:
    if set(map(type, values)) == {str}:
        return [v.strip() or None for v in values]
    return [_category(v, name, row) for row, v in enumerate(values, first_row)]


def _number(value: Any, field: str, row: int) -> float:
    kind = type(value)
    if kind is float or kind is int:
        number = float(value)
    elif value is None:
        return math.nan
    elif kind is str:
        text = value.strip()
        if not text:
            return math.nan
        try:
            number = float(text)
        except ValueError:
            raise _bad(field, row, "a number", value) from None
    else:
        raise _bad(field, row, "a number", value)
    if not math.isfinite(number):
        raise _bad(field, row, "a finite number", value)
    return number


def _category(value: Any, field: str, row: int) -> str | None:
    kind = type(value)
    if kind is str:
        return value.strip() or None
    if value is None:
        return None
    if kind is int:
        return str(value)
    if kind is float and math.isfinite(value):
        return f"{value:g}"
    raise _bad(field, row, "a string", value)


def _bad(field: str, row: int, expected: str, value: Any) -> DataError:
    shown = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
    return DataError(
        f"row {row}, field '{field}': expected {expected}, got {shown}",
        details={"field": field, "row": row},
    )


def encode(
    proba: np.ndarray, labels: list[str], accept: str, *, version: str, variant: str
) -> tuple[bytes, str]:
    """The response body and its content type, following ``accept`` (JSON by default)."""
    if accept == CSV:
        lines = [
            f"{p:.6f},{label},{version},{variant}\n"
            for p, label in zip(proba.tolist(), labels, strict=True)
        ]
        return "".join(lines).encode(), CSV
    if accept in (JSON, JSONLINES):
        predictions = [
            {"probability": p, "label": label}
            for p, label in zip(proba.tolist(), labels, strict=True)
        ]
        body = {"predictions": predictions, "model_version": version, "variant": variant}
        return orjson.dumps(body), JSON
    raise NotAcceptable(f"cannot answer in '{accept}'; accept {JSON} or {CSV}")
