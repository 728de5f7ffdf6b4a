"""Captured traffic of one endpoint over a time window, as typed rows: the monitoring input.

Parses capture files of the data-capture layout ``{endpoint}/{variant}/YYYY/MM/DD/HH/*.jsonl``
(SageMaker's format, see :mod:`driftloop.capture.writer`) from wherever a store keeps them: the
store feeds :func:`parse_window` (or :func:`records_in`) ``(variant, name, blocks)`` of each
file in an hour overlapping ``[since, until)``, and only records whose
``eventMetadata.inferenceTime`` falls inside it are kept. :func:`read_window` feeds it a
capture folder. Request bodies are split into rows by the endpoint's own codec helpers, then
typed in bulk: rows of many records go through one :class:`RowReader` call per chunk, and only a
chunk that fails is re-read record by record, so a bad record costs its chunk a second pass and
never drops good rows. Every line that
cannot be used becomes a :class:`Problem` naming the file and line.

Lines are taken in blocks of about :data:`BLOCK_BYTES`: the records of the shape the endpoint
writes (one JSON object per request, JSON answer) go through one column-wise bulk path
(:mod:`driftloop.capture._uniform`, Arrow's JSON reader); any other record, and any line the bulk
path cannot vouch for, is read on its own by the general path, so both give the same rows and
the same problems. :func:`iter_chunks` yields the window as a stream
of windows of at most ``chunk_rows`` rows each, so nothing has to hold the whole window.
"""

from __future__ import annotations

import base64
import gc
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

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
BLOCK_BYTES = 8 << 20  # bytes of whole lines parsed together by the bulk path
CHUNK_ROWS = 65_536  # rows per window of iter_chunks (a chunk ends after a block of lines)

CaptureFile = tuple[str, str, Iterable[bytes]]
"""One capture file as a store feeds it: its variant, its name relative to the capture root
(``{endpoint}/{variant}/YYYY/MM/DD/HH/<file>.jsonl``, as problems name it) and its content as
blocks of whole lines (one line each, or many, as :func:`blocks_of` cuts them)."""


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
            for _ in reader.read_blocks(lines, name, variant):
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
    """:func:`iter_chunks` of pieces of files: ``(variant, name, blocks, first line number)``."""
    since, until = utc(since), utc(until)
    if until <= since:
        raise ConfigError(f"the window ends ({until:%Y-%m-%dT%H:%M:%S}) before it starts")
    reader = _Reader(spec, since, until)
    for variant, name, lines, first in pieces:
        blocks = reader.read_blocks(lines, name, variant, first, chunk_rows)
        while _next_paused(blocks, chunk_rows):
            # the collector runs while the caller holds the chunk: its cycles (frames, say)
            # are freed chunk by chunk, never held for the whole window
            yield reader.finish()
    yield reader.finish()


def _next_paused(blocks: Iterator[int], chunk_rows: int) -> bool:
    """Read blocks, the collector paused, until a chunk is full (True) or none is left."""
    with _collector_paused():
        return any(rows >= chunk_rows for rows in blocks)


def records_in(
    files: Iterable[CaptureFile], *, since: datetime, until: datetime
) -> Iterator[dict[str, Any]]:
    """Each record of ``files`` whose ``inferenceTime`` is in ``[since, until)``; a line that is
    not a JSON object (or has no such time) is skipped."""
    low, high = str(whole_second(since)), str(whole_second(until))
    for _variant, _name, blocks in files:
        for line in (line for block in blocks for line in block.split(b"\n")):
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
        self.meta = _Meta()

    def _problem(self, where: Where, reason: str) -> None:
        self.problems.append(Problem(where[0], where[1], reason))

    def read_blocks(
        self,
        blocks: Iterable[bytes],
        name: str,
        variant: str,
        first: int = 1,
        most: int = CHUNK_ROWS,
    ) -> Iterator[int]:
        """Read ``blocks`` of whole lines (the first is line ``first`` of file ``name``) a
        block of about :data:`BLOCK_BYTES` (and at most ``most`` lines) at a time; after each,
        yield the rows read so far."""
        for whole, lines in _whole_lines(blocks):
            for block, count in _at_most(whole, lines, most):
                self._block(block, count, first, name, variant)
                first += count
                yield self.sink.total

    def _block(self, block: bytes, count: int, first: int, name: str, variant: str) -> None:
        """Bulk-read the uniform records of a block; every other line goes to :meth:`_line`."""
        found = self.uniform.read(block, count)
        taken = 0
        bounds = _line_bounds(block) if found.others else None
        for index in found.others:
            self._take_uniform(found, taken, index, variant)
            taken = index + 1
            assert bounds is not None
            line = block[bounds[index] : bounds[index + 1]]
            if len(line) < 3 and not line.strip():
                continue
            self._line(line, variant, (name, first + index))
        self._take_uniform(found, taken, count, variant)

    def _take_uniform(self, found: Found, start: int, stop: int, variant: str) -> None:
        """Hand over the uniform records of block lines ``[start, stop)``, in line order."""
        low, high = found.span(start, stop)
        if low == high:
            return
        self.records += high - low
        self.meta.add_many(
            found.inference_ids[low:high],
            found.event_ids[low:high],
            found.times[low:high],
            variant,
            found.proba[low:high],
        )
        self.sink.add_typed(found.numeric[low:high], [t[low:high] for t in found.texts])

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
        proba = self._probabilities(data.get("endpointOutput"), len(rows), where)
        self.meta.add_one(inference_id, event_id, time[:19], variant, len(rows), proba)
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
        meta = self.meta
        sizes = np.array(meta.counts, dtype=np.int64)

        def per_row(values: Any) -> np.ndarray:
            repeated: np.ndarray = np.repeat(values, sizes)[kept]
            return repeated

        starts = np.repeat(np.cumsum(sizes) - sizes, sizes)
        positions = np.arange(int(sizes.sum()), dtype=np.int64) - starts + 1
        return Window(
            frame=frame,
            inference_ids=per_row(np.array(meta.inference_ids, dtype=object)).tolist(),
            event_ids=per_row(np.array(meta.event_ids, dtype=object)).tolist(),
            positions=positions[kept],
            record_rows=per_row(sizes),
            times=per_row(meta.all_times()),
            variants=per_row(np.array(meta.variants, dtype=object)).tolist(),
            probabilities=meta.all_proba()[kept],
            problems=sorted(self.problems, key=lambda p: (p.file, p.line)),
            records=self.records,
            rows=len(frame),
            since=self.since,
            until=self.until,
            first_row=self.first_row,
        )


class _Meta:
    """Per record: ids, time, variant and row count; per row: the probability. Records of
    the bulk path come as columns, the others one by one."""

    def __init__(self) -> None:
        self.inference_ids: list[str | None] = []
        self.event_ids: list[str] = []
        self.variants: list[str] = []
        self.counts: list[int] = []
        self.times: list[np.ndarray] = []
        self.proba: list[np.ndarray] = []
        self._times: list[str] = []  # of records read one by one, not yet in self.times
        self._proba: list[float] = []

    def add_one(
        self,
        inference_id: str | None,
        event_id: str,
        time: str,
        variant: str,
        rows: int,
        proba: list[float],
    ) -> None:
        self.inference_ids.append(inference_id)
        self.event_ids.append(event_id)
        self.variants.append(variant)
        self.counts.append(rows)
        self._times.append(time)
        self._proba.extend(proba)

    def add_many(
        self,
        inference_ids: list[str | None],
        event_ids: list[str],
        times: np.ndarray,
        variant: str,
        proba: np.ndarray,
    ) -> None:
        """One-row records."""
        self._settle()
        self.inference_ids.extend(inference_ids)
        self.event_ids.extend(event_ids)
        self.variants.extend([variant] * len(event_ids))
        self.counts.extend([1] * len(event_ids))
        self.times.append(times)
        self.proba.append(proba)

    def _settle(self) -> None:
        if self._times:
            self.times.append(np.array(self._times, dtype="datetime64[s]"))
            self._times = []
        if self._proba:
            self.proba.append(np.array(self._proba, dtype=np.float64))
            self._proba = []

    def all_times(self) -> np.ndarray:
        self._settle()
        return np.concatenate([np.empty(0, "datetime64[s]"), *self.times])

    def all_proba(self) -> np.ndarray:
        self._settle()
        return np.concatenate([np.empty(0, np.float64), *self.proba])


def _whole_lines(blocks: Iterable[bytes]) -> Iterator[tuple[bytes, int]]:
    """``blocks`` (each whole lines; its last line may lack its newline) gathered into blocks
    of at least half :data:`BLOCK_BYTES` (unless the input ends), every line ending in a
    newline, with their line counts."""
    parts: list[bytes] = []
    size = 0
    for block in blocks:
        if not block.endswith(b"\n"):
            block += b"\n"
        parts.append(block)
        size += len(block)
        if size >= BLOCK_BYTES // 2:  # blocks_of's blocks (a little short of it) pass as they are
            joined = parts[0] if len(parts) == 1 else b"".join(parts)
            yield joined, joined.count(b"\n")
            parts, size = [], 0
    if parts:
        joined = b"".join(parts)
        yield joined, joined.count(b"\n")


def _at_most(block: bytes, count: int, most: int) -> Iterator[tuple[bytes, int]]:
    """``block`` of ``count`` lines cut into blocks of at most ``most`` lines."""
    if count <= most:
        yield block, count
        return
    bounds = _line_bounds(block)
    for start in range(0, count, most):
        stop = min(start + most, count)
        yield block[bounds[start] : bounds[stop]], stop - start


def _line_bounds(block: bytes) -> np.ndarray:
    """Where each line of ``block`` starts, and where the last one ends."""
    ends = np.flatnonzero(np.frombuffer(block, np.uint8) == 10) + 1
    bounds: np.ndarray = np.concatenate([[0], ends])
    return bounds


class Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...


def blocks_of(handle: Readable, size: int | None = None) -> Iterator[bytes]:
    """The content of ``handle`` from where it stands, in blocks of about ``size`` bytes
    (:data:`BLOCK_BYTES`) that end at a line end (the last one where the content ends)."""
    size = size or BLOCK_BYTES
    carry = b""
    while chunk := handle.read(size):
        chunk = carry + chunk if carry else chunk
        cut = chunk.rfind(b"\n") + 1
        if cut == 0:
            carry = chunk
            continue
        carry = chunk[cut:]
        yield chunk[:cut]
    if carry:
        yield carry


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
                yield variant_dir.name, name, _file_blocks(path)


def _file_blocks(path: Path) -> Iterator[bytes]:
    with path.open("rb", buffering=0) as handle:
        yield from blocks_of(handle)
