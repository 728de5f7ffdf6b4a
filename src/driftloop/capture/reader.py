"""Captured traffic of one endpoint over a time window, as typed rows: the monitoring input.

Reads the data-capture layout ``{endpoint}/{variant}/YYYY/MM/DD/HH/*.jsonl`` (SageMaker's format,
see :mod:`driftloop.capture.writer`), opening only hour folders that overlap ``[since, until)``
and keeping records whose ``eventMetadata.inferenceTime`` falls inside it. Request bodies are
split into rows by the endpoint's own codec helpers, then typed in bulk: rows of many records go
through one :class:`RowReader` call per chunk, and only a chunk that fails is re-read record by
record, so a bad record costs its chunk a second pass and never drops good rows. Every line that
cannot be used becomes a :class:`Problem` naming the file and line.
"""

from __future__ import annotations

import base64
import binascii
import gc
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from driftloop.capture._rows import RowSink, Where
from driftloop.data import codecs
from driftloop.data.spec import TabularSpec
from driftloop.errors import ConfigError, DataError

_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
_OUTSIDE = "outside"  # a record outside the window: neither used nor counted


@dataclass(frozen=True)
class Problem:
    """One capture line (or record) that could not be used, and why."""

    file: str  # relative to the capture root
    line: int  # 1-based
    reason: str


@dataclass
class Window:
    """Typed rows of the records captured in ``[since, until)``, one entry per row."""

    frame: pd.DataFrame  # spec.features; numeric float64 (NaN), categorical object (None)
    inference_ids: list[str | None]
    event_ids: list[str]
    positions: np.ndarray  # 1-based row number within its record (int64)
    record_rows: np.ndarray  # rows in the row's record (int64)
    times: np.ndarray  # datetime64[s], UTC
    variants: list[str]
    probabilities: np.ndarray  # NaN where no usable output was captured
    problems: list[Problem]
    records: int  # capture lines read in the window (including the unusable ones)
    rows: int
    since: datetime
    until: datetime


def row_keys(window: Window) -> list[str]:
    """The key a ground-truth label names each row by.

    A one-row record is keyed by its ``inferenceId``, else its ``eventId`` (Model Monitor's
    rule). Row ``n`` (1-based) of a many-row record is keyed ``<id>#<n>``: one label per row,
    never one label shared by a whole batch.
    """
    pairs = zip(window.inference_ids, window.event_ids, strict=True)
    ids = (i if i is not None else e for i, e in pairs)
    return [
        key if size == 1 else f"{key}#{position}"
        for key, size, position in zip(
            ids, window.record_rows.tolist(), window.positions.tolist(), strict=True
        )
    ]


def read_window(
    capture_root: Path,
    endpoint: str,
    spec: TabularSpec,
    *,
    since: datetime,
    until: datetime,
    variants: Sequence[str] | None = None,
) -> Window:
    """Every row ``endpoint`` captured in ``[since, until)`` (naive datetimes are UTC).

    ``variants`` limits the read to those variant folders. An endpoint with no capture folder
    gives an empty window.
    """
    since, until = utc(since), utc(until)
    if until <= since:
        raise ConfigError(f"the window ends ({until:%Y-%m-%dT%H:%M:%S}) before it starts")
    reader = _Reader(spec, since, until)
    with _collector_paused():
        for variant, path in _files(capture_root / endpoint, since, until, variants):
            reader.read_file(path, path.relative_to(capture_root).as_posix(), variant)
        return reader.finish()


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: parsing makes millions of short-lived, acyclic
    containers, and each of its passes would rescan every row kept so far (a third of the time).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def utc(when: datetime) -> datetime:
    """``when`` as an aware UTC datetime (naive values are taken to be UTC)."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def whole_second(when: datetime) -> np.datetime64:
    """The first whole UTC second at or after ``when``: capture times are whole seconds, so
    ``time >= when`` is ``time >= whole_second(when)`` (and likewise for ``<``)."""
    when = utc(when)
    ceiled = when.replace(microsecond=0) + timedelta(seconds=1 if when.microsecond else 0)
    return np.datetime64(ceiled.replace(tzinfo=None), "s")


class _Reader:
    """Turns capture lines into per-record metadata plus rows handed to a :class:`RowSink`."""

    def __init__(self, spec: TabularSpec, since: datetime, until: datetime) -> None:
        self.spec, self.since, self.until = spec, since, until
        self.low, self.high = str(whole_second(since)), str(whole_second(until))
        self.sink = RowSink(spec, self._problem)
        self.problems: list[Problem] = []
        self.records = 0
        self.meta: list[tuple[str | None, str, str, str, int]] = []  # ids, time, variant, rows
        self.proba: list[float] = []

    def _problem(self, where: Where, reason: str) -> None:
        self.problems.append(Problem(where[0], where[1], reason))

    def read_file(self, path: Path, name: str, variant: str) -> None:
        with path.open("rb", buffering=1 << 20) as lines:
            for number, line in enumerate(lines, 1):
                if len(line) < 3 and not line.strip():
                    continue
                self._line(line, variant, (name, number))

    def _line(self, line: bytes, variant: str, where: Where) -> None:
        reason = self._record(line, variant, where)
        if reason is not _OUTSIDE:
            self.records += 1
            if reason is not None:
                self._problem(where, reason)

    def _record(self, line: bytes, variant: str, where: Where) -> str | None:
        """Take in one line; return why it was not used (None when its rows were kept)."""
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            return f"not JSON: {exc}"
        meta = doc.get("eventMetadata") if isinstance(doc, dict) else None
        if not isinstance(meta, dict):
            return "not a capture record: no eventMetadata object"
        time = meta.get("inferenceTime")
        if not isinstance(time, str) or not _TIME.fullmatch(time):
            return f"eventMetadata.inferenceTime {time!r} is not like 2024-01-31T23:59:59Z"
        if not self.low <= time[:19] < self.high:
            return _OUTSIDE
        event_id, inference_id = meta.get("eventId"), meta.get("inferenceId")
        if not isinstance(event_id, str) or not isinstance(inference_id, str | None):
            return "eventMetadata.eventId (or inferenceId) is missing or not text"
        data = doc.get("captureData")
        request = data.get("endpointInput") if isinstance(data, dict) else None
        if request is None:
            return "no captureData.endpointInput (Output-only capture): its rows are unknown"
        try:
            columns, rows = _split(request, self.spec)
        except DataError as exc:
            return f"endpointInput: {exc.message}"
        self.proba.extend(self._probabilities(data.get("endpointOutput"), len(rows), where))
        self.meta.append((inference_id, event_id, time[:19], variant, len(rows)))
        self.sink.add(columns, rows, where)
        return None

    def _probabilities(self, output: Any, rows: int, where: Where) -> list[float]:
        if output is None:
            return [np.nan] * rows
        try:
            values = _output_probabilities(output)
        except DataError as exc:
            self._problem(where, f"endpointOutput: {exc.message}; rows kept without predictions")
            return [np.nan] * rows
        if len(values) != rows:
            self._problem(
                where,
                f"endpointOutput holds {len(values)} predictions for {rows} input rows; "
                "rows kept without predictions",
            )
            return [np.nan] * rows
        return values

    def finish(self) -> Window:
        frame, kept = self.sink.finish()
        inference_ids, event_ids, times, variants, counts = (
            (list(column) for column in zip(*self.meta, strict=True))
            if self.meta
            else ([], [], [], [], [])
        )

        def per_row(values: list[Any], dtype: Any = object) -> np.ndarray:
            repeated: np.ndarray = np.repeat(np.array(values, dtype=dtype), counts)[kept]
            return repeated

        sizes = np.array(counts, dtype=np.int64)
        starts = np.repeat(np.cumsum(sizes) - sizes, sizes)
        positions = np.arange(int(sizes.sum()), dtype=np.int64) - starts + 1
        return Window(
            frame=frame,
            inference_ids=per_row(inference_ids).tolist(),
            event_ids=per_row(event_ids).tolist(),
            positions=positions[kept],
            record_rows=per_row(counts, np.int64),
            times=per_row(times, "datetime64[s]"),
            variants=per_row(variants).tolist(),
            probabilities=np.array(self.proba, dtype=np.float64)[kept],
            problems=sorted(self.problems, key=lambda p: (p.file, p.line)),
            records=self.records,
            rows=len(frame),
            since=self.since,
            until=self.until,
        )


def _payload(payload: Any) -> tuple[str, str | bytes]:
    """The content type and body of one ``endpointInput``/``endpointOutput``."""
    data = payload.get("data") if type(payload) is dict else None
    if type(data) is not str:
        raise DataError("no 'data' text")
    encoding, content_type = payload.get("encoding"), payload.get("observedContentType")
    content_type = codecs.media_type(content_type)
    if encoding == "BASE64":
        try:
            return content_type, base64.b64decode(data, validate=True)
        except binascii.Error as exc:
            raise DataError(f"'data' is not valid BASE64: {exc}") from None
    if encoding not in ("CSV", "JSON"):
        raise DataError(f"unknown encoding {encoding!r} (CSV, JSON or BASE64)")
    return content_type, data


def _split(payload: Any, spec: TabularSpec) -> tuple[list[str] | None, list[Any]]:
    """A captured body's column names and raw rows, split exactly as the endpoint split it."""
    content_type, body = _payload(payload)
    return codecs.split_rows(body, content_type, spec)


def _output_probabilities(payload: Any) -> list[float]:
    """Positive-class probabilities of a JSON or CSV answer, in row order."""
    content_type, body = _payload(payload)
    try:
        if content_type == codecs.CSV:
            text = body.decode("utf-8") if isinstance(body, bytes) else body
            return [float(line.split(",", 1)[0]) for line in text.splitlines() if line.strip()]
        return [float(p["probability"]) for p in orjson.loads(body)["predictions"]]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise DataError(f"no probabilities readable ({type(exc).__name__}: {exc})") from None


def _files(
    folder: Path, since: datetime, until: datetime, variants: Sequence[str] | None
) -> Iterator[tuple[str, Path]]:
    """``(variant, file)`` for every capture file in an hour folder overlapping the window."""
    if not folder.is_dir():
        return
    for variant_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        if variants is not None and variant_dir.name not in variants:
            continue
        for hour in hour_folders(variant_dir, since, until):
            for path in sorted(hour.glob("*.jsonl")):
                yield variant_dir.name, path


def hour_folders(
    folder: Path, since: datetime | None, until: datetime | None, parts: tuple[int, ...] = ()
) -> Iterator[Path]:
    """``YYYY/MM/DD/HH`` folders under ``folder`` overlapping ``[since, until)``, in time order.

    Shared by the capture and the ground-truth layouts; ``None`` leaves that side open.
    """
    for child in sorted(p for p in folder.iterdir() if p.is_dir() and p.name.isdigit()):
        span = _span((*parts, int(child.name)))
        if span is None or (since and span[1] <= since) or (until and span[0] >= until):
            continue
        if len(parts) == 3:
            yield child
        else:
            yield from hour_folders(child, since, until, (*parts, int(child.name)))


def _span(parts: tuple[int, ...]) -> tuple[datetime, datetime] | None:
    """The time range a (year[, month[, day[, hour]]]) folder covers; None if not a date."""
    year, month, day, hour = parts + (1, 1, 0)[len(parts) - 1 :]
    try:
        start = datetime(year, month, day, hour, tzinfo=UTC)
        if len(parts) == 1:
            return start, start.replace(year=year + 1)
        if len(parts) == 2:
            return start, (start + timedelta(days=32)).replace(day=1)
        return start, start + (timedelta(days=1) if len(parts) == 3 else timedelta(hours=1))
    except (ValueError, OverflowError):
        return None
