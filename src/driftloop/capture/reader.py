"""Captured traffic of one endpoint over a time window, as typed rows: the monitoring input.

Parses capture files of the data-capture layout ``{endpoint}/{variant}/YYYY/MM/DD/HH/*.jsonl``
(SageMaker's format, see :mod:`driftloop.capture.writer`) from wherever a store keeps them: the
store feeds :func:`parse_window` (or :func:`records_in`) ``(variant, name, lines)`` of each file
in an hour overlapping ``[since, until)``, and only records whose ``eventMetadata.inferenceTime``
falls inside it are kept. :func:`read_window` feeds it a capture folder. Request bodies are
split into rows by the endpoint's own codec helpers, then typed in bulk: rows of many records go
through one :class:`RowReader` call per chunk, and only a chunk that fails is re-read record by
record, so a bad record costs its chunk a second pass and never drops good rows. Every line that
cannot be used becomes a :class:`Problem` naming the file and line.

Lines are taken in blocks: a block's lines are parsed together and the records of the shape the
endpoint writes (one JSON object per request, JSON answer) go through one bulk path; any other
record, and any line the bulk path cannot vouch for, is read on its own by the general path, so
both give the same rows and the same problems. :func:`iter_chunks` yields the window as a stream
of windows of at most ``chunk_rows`` rows each, so nothing has to hold the whole window.
"""

from __future__ import annotations

import base64
import gc
import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from driftloop.capture._rows import RowSink, Where
from driftloop.capture._uniform import Found, UniformRecords
from driftloop.capture.layout import hour_folders as hour_folders  # re-exported
from driftloop.capture.layout import utc as utc  # re-exported
from driftloop.data import codecs
from driftloop.data.spec import TabularSpec
from driftloop.errors import ConfigError, DataError
from driftloop.names import safe_name

_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
_OUTSIDE = "outside"  # a record outside the window: neither used nor counted
BLOCK_LINES = 2048  # lines parsed together by the bulk path
CHUNK_ROWS = 65_536  # rows per window of iter_chunks (a chunk ends after a block of lines)

CaptureFile = tuple[str, str, Iterable[bytes]]
"""One capture file as a store feeds it: its variant, its name relative to the capture root
(``{endpoint}/{variant}/YYYY/MM/DD/HH/<file>.jsonl``, as problems name it) and its lines."""


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
    first_row: int = 0
    """A chunk's first row in the whole window (0-based); 0 for a whole window."""


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
    """Every row ``endpoint`` captured in ``[since, until)`` (naive datetimes are UTC) under
    the capture folder ``capture_root``.

    ``variants`` limits the read to those variant folders. An endpoint with no capture folder
    gives an empty window.
    """
    files = folder_files(capture_root, endpoint, utc(since), utc(until), variants)
    return parse_window(files, spec, since=since, until=until)


def parse_window(
    files: Iterable[CaptureFile], spec: TabularSpec, *, since: datetime, until: datetime
) -> Window:
    """The rows of ``files`` (in the order given) captured in ``[since, until)``."""
    since, until = utc(since), utc(until)
    if until <= since:
        raise ConfigError(f"the window ends ({until:%Y-%m-%dT%H:%M:%S}) before it starts")
    reader = _Reader(spec, since, until)
    with _collector_paused():
        for variant, name, lines in files:
            for _ in reader.read_lines(lines, name, variant):
                pass
        return reader.finish()


def iter_chunks(
    files: Iterable[CaptureFile],
    spec: TabularSpec,
    *,
    since: datetime,
    until: datetime,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[Window]:
    """The rows of ``files`` captured in ``[since, until)`` as consecutive windows of about
    ``chunk_rows`` rows (a chunk ends at the end of a block of lines).

    Each chunk holds the records, rows and problems of the lines read since the previous one,
    and its ``first_row`` in the whole window; together they hold what :func:`parse_window`
    gives. The last chunk may be empty (an empty window is one empty chunk).
    """
    pieces = ((variant, name, lines, 1) for variant, name, lines in files)
    return iter_pieces(pieces, spec, since=since, until=until, chunk_rows=chunk_rows)


def iter_pieces(
    pieces: Iterable[tuple[str, str, Iterable[bytes], int]],
    spec: TabularSpec,
    *,
    since: datetime,
    until: datetime,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[Window]:
    """:func:`iter_chunks` of pieces of files: ``(variant, name, lines, first line number)``."""
    since, until = utc(since), utc(until)
    if until <= since:
        raise ConfigError(f"the window ends ({until:%Y-%m-%dT%H:%M:%S}) before it starts")
    reader = _Reader(spec, since, until)
    with _collector_paused():
        for variant, name, lines, first in pieces:
            for rows in reader.read_lines(lines, name, variant, first):
                if rows >= chunk_rows:
                    yield reader.finish()
        yield reader.finish()


def records_in(
    files: Iterable[CaptureFile], *, since: datetime, until: datetime
) -> Iterator[dict[str, Any]]:
    """Each record of ``files`` whose ``inferenceTime`` is in ``[since, until)``; a line that is
    not a JSON object (or has no such time) is skipped."""
    low, high = str(whole_second(since)), str(whole_second(until))
    for _variant, _name, lines in files:
        for line in lines:
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            meta = record.get("eventMetadata") if isinstance(record, dict) else None
            moment = meta.get("inferenceTime") if isinstance(meta, dict) else None
            if isinstance(moment, str) and low <= moment[:19] < high:
                yield record


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


def whole_second(when: datetime) -> np.datetime64:
    """The first whole UTC second at or after ``when``: capture times are whole seconds, so
    ``time >= when`` is ``time >= whole_second(when)`` (and likewise for ``<``)."""
    when = utc(when)
    ceiled = when.replace(microsecond=0) + timedelta(seconds=1 if when.microsecond else 0)
    return np.datetime64(ceiled.replace(tzinfo=None), "s")


class _Reader:
    """Turns capture lines into per-record metadata plus rows handed to a :class:`RowSink`.

    :meth:`finish` hands over what was read so far as a window and starts the next one.
    """

    def __init__(self, spec: TabularSpec, since: datetime, until: datetime) -> None:
        self.spec, self.since, self.until = spec, since, until
        self.low, self.high = str(whole_second(since)), str(whole_second(until))
        self.sink = RowSink(spec, self._problem)
        self.uniform = UniformRecords(spec, self.low, self.high)
        self.first_row = 0
        self._start()

    def _start(self) -> None:
        self.problems: list[Problem] = []
        self.records = 0
        self.meta: list[tuple[str | None, str, str, str, int]] = []  # ids, time, variant, rows
        self.proba: list[float] = []

    def _problem(self, where: Where, reason: str) -> None:
        self.problems.append(Problem(where[0], where[1], reason))

    def read_lines(
        self, lines: Iterable[bytes], name: str, variant: str, first: int = 1
    ) -> Iterator[int]:
        """Read ``lines`` (the first is line ``first`` of file ``name``) block by block; after
        each block, yield the rows read so far."""
        numbered = iter(lines)
        while block := list(itertools.islice(numbered, BLOCK_LINES)):
            self._block(block, first, name, variant)
            first += len(block)
            yield self.sink.total

    def _block(self, block: list[bytes], first: int, name: str, variant: str) -> None:
        """Bulk-read the uniform records of a block; every other line goes to :meth:`_line`."""
        found = self.uniform.read(block)
        taken = 0
        for index in found.others:
            self._take_uniform(found, taken, index, name, first, variant)
            taken = index + 1
            line = block[index]
            if len(line) < 3 and not line.strip():
                continue
            self._line(line, variant, (name, first + index))
        self._take_uniform(found, taken, len(block), name, first, variant)

    def _take_uniform(
        self, found: Found, start: int, stop: int, name: str, first: int, variant: str
    ) -> None:
        """Hand over the uniform records of block lines ``[start, stop)``, in line order."""
        low, high = found.span(start, stop)
        if low == high:
            return
        indexes = found.lines[low:high]
        self.records += high - low
        self.meta.extend(
            (inference, event, moment, variant, 1)
            for inference, event, moment in found.meta[low:high]
        )
        self.proba.extend(found.proba[low:high])
        wheres = [(name, first + index) for index in indexes]
        self.sink.add_records(found.bodies[low:high], wheres)

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
        """What was read since the last call, as a window; the reader starts afresh."""
        window = self._window()
        self.first_row += window.rows
        self._start()
        return window

    def _window(self) -> Window:
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
            first_row=self.first_row,
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
        except ValueError as exc:  # binascii.Error, or text that is not ASCII
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


def folder_files(
    capture_root: Path,
    endpoint: str,
    since: datetime,
    until: datetime,
    variants: Sequence[str] | None,
) -> Iterator[CaptureFile]:
    """Every capture file of ``endpoint`` under ``capture_root`` in an hour folder overlapping
    the window, variant by variant; each is opened when its lines are read."""
    folder = capture_root / safe_name(endpoint, "endpoint")
    if not folder.is_dir():
        return
    for variant_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        if variants is not None and variant_dir.name not in variants:
            continue
        for hour in hour_folders(variant_dir, since, until):
            for path in sorted(hour.glob("*.jsonl")):
                name = path.relative_to(capture_root).as_posix()
                yield variant_dir.name, name, _file_lines(path)


def _file_lines(path: Path) -> Iterator[bytes]:
    with path.open("rb", buffering=1 << 20) as lines:
        yield from lines
