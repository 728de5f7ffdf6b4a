"""Ground-truth labels in SageMaker Model Monitor's format: ingested, stored and read back.

Stored like Model Monitor's ground truth: JSON Lines under ``{endpoint}/YYYY/MM/DD/HH/`` (the hour
of ingestion) of a store's ground-truth root (the workspace's ``labels/``, or ``groundtruth/``
under the S3 prefix), one record per label::

    {"groundTruthData": {"data": "1", "encoding": "CSV"},
     "eventMetadata": {"eventId": "...", "inferenceId": "..."}, "eventVersion": "0"}

A label is matched to captured rows by its id: the ``inferenceId`` when the source named one,
else the ``eventId`` (which, as in Model Monitor, may hold a caller's inference id). Stored
records always carry an ``eventId`` (the inference id when that is all the source gave), so
Model Monitor's own merge reads them too. Sources are
Model Monitor's ground-truth JSON Lines, or a CSV with an ``inference_id,label`` header; labels may
be 1/0, true/false or the spec's target values. Every line is checked before anything is written.

Checking, storing and reading work on names and bytes; the stores say where files go and come
from (:func:`ingest_labels` and :func:`read_labels` are the workspace folder's).
"""

from __future__ import annotations

import base64
import csv
import io
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from driftloop.capture.layout import hour_folders, hour_of, utc
from driftloop.capture.reader import Problem
from driftloop.capture.writer import utcnow
from driftloop.data.spec import TabularSpec
from driftloop.errors import DataError, NotFoundError
from driftloop.names import safe_name
from driftloop.workspace import Workspace, atomic_write_bytes

SHOWN_ERRORS = 10  # bad lines named in an error message (all are in its details, up to 1000)
_TRUE, _FALSE = frozenset({"1", "true"}), frozenset({"0", "false"})
_STORED_TRUTH = [{"data": "0", "encoding": "CSV"}, {"data": "1", "encoding": "CSV"}]


Labels = dict[str, tuple[int, dict[str, str]]]
"""Checked labels: ``id -> (0/1, eventMetadata to store)``."""
Write = Callable[[str, bytes], Path | str]
"""Stores one ground-truth file at a path relative to the ground-truth root and says where it
went (a path, an s3:// URI)."""


@dataclass(frozen=True)
class LabelIngest:
    """What one ingestion stored."""

    labels: int
    positives: int
    path: Path | str  # the file written: a local path, or an s3:// URI

    @property
    def negatives(self) -> int:
        return self.labels - self.positives

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready counts (the answer of ``POST /labels``)."""
        return {
            "labels": self.labels,
            "positives": self.positives,
            "negatives": self.negatives,
            "path": str(self.path),
        }


def labels_root(workspace: Workspace) -> Path:
    """Where ground truth lives: ``labels/{endpoint}/YYYY/MM/DD/HH/*.jsonl``."""
    return workspace.root / "labels"


def ingest_labels(
    workspace: Workspace, endpoint: str, source: Path, spec: TabularSpec
) -> LabelIngest:
    """Check every line of ``source`` (ground-truth JSON Lines or CSV), then store them all."""
    return store_labels(endpoint, file_labels(source, spec), source.name, _writer(workspace))


def ingest_label_records(
    workspace: Workspace, endpoint: str, records: list[dict[str, Any]], spec: TabularSpec
) -> LabelIngest:
    """Store labels posted as objects (ground-truth records or ``{"inference_id", "label"}``).

    Errors name ``request`` and the 1-based position of the record.
    """
    labels = record_labels(records, spec)
    return store_labels(endpoint, labels, "request", _writer(workspace))


def read_labels(workspace: Workspace, endpoint: str, *, since: datetime | None = None) -> LabelSet:
    """Label per id (0/1) from files ingested in hours ending after ``since``; later ones win."""
    folder = labels_root(workspace) / safe_name(endpoint, "endpoint")
    if not folder.is_dir():
        return LabelSet()
    hours = hour_folders(folder, utc(since) if since else None, None)
    paths = (path for hour in hours for path in sorted(hour.glob("*.jsonl")))
    return labels_in((str(path), path.read_bytes()) for path in paths)


def _writer(workspace: Workspace) -> Write:
    def write(relative: str, body: bytes) -> Path:
        path = labels_root(workspace) / relative
        atomic_write_bytes(path, body)
        return path

    return write


def file_labels(source: Path, spec: TabularSpec) -> Labels:
    """Every label of ``source`` (ground-truth JSON Lines or CSV), checked; :class:`DataError`
    naming every bad line."""
    if not source.is_file():
        raise NotFoundError(f"label file not found: {source}", details={"path": str(source)})
    raw = source.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{source}: not UTF-8 text (byte {exc.start})") from None
    if text.lstrip().startswith("{"):
        lines = _jsonl_lines(enumerate(text.splitlines(), 1))
    else:
        lines = _csv_lines(text)
    return _checked(lines, spec, source.name)


def record_labels(records: list[dict[str, Any]], spec: TabularSpec) -> Labels:
    """Labels posted as objects, checked; errors name ``request`` and the 1-based position."""
    return _checked(enumerate(records, 1), spec, "request")


class LabelSet(dict[str, int]):
    """Label (0/1) per id, and the stored lines that could not be read (:attr:`skipped`)."""

    def __init__(self) -> None:
        super().__init__()
        self.skipped: list[Problem] = []
        """Each unreadable line (a torn or corrupt one) with its file, line and reason."""


def labels_in(files: Iterable[tuple[str, bytes]]) -> LabelSet:
    """Label per id of ground-truth files ``(name, content)`` in time order; later ones win.

    Lines not written by :func:`store_labels` (Model Monitor's, say) are fully checked: a bad
    one is skipped and listed in :attr:`LabelSet.skipped` with ``name`` and its line, never
    lost silently.
    """
    labels = LabelSet()
    for name, content in files:
        for number, line in enumerate(content.splitlines(), 1):
            if not line.strip():
                continue
            try:
                key, label = _stored(line) or _checked_line(line)
            except DataError as exc:
                labels.skipped.append(Problem(name, number, f"label line: {exc.message}"))
                continue
            labels[key] = label
    return labels


def _stored(line: bytes) -> tuple[str, int] | None:
    """``(id, label)`` of a line exactly as :func:`_store` writes it, else None."""
    try:
        doc = orjson.loads(line)
        meta, label = doc["eventMetadata"], _STORED_TRUTH.index(doc["groundTruthData"])
        key = meta.get("inferenceId") or meta["eventId"]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        return None
    return (key, label) if type(key) is str and key and key == key.strip() else None


def _checked_line(line: bytes) -> tuple[str, int]:
    """Any other ground-truth line (from Model Monitor, say), fully checked."""
    ((_, record),) = _jsonl_lines([(1, line)])
    key, label, _ = _entry(record, None)
    return key, label


def _checked(lines: Iterable[tuple[int, Any]], spec: TabularSpec | None, source: str) -> Labels:
    """``id -> (label, eventMetadata)`` for every ``(line, record)``, the later label winning.

    Any bad line fails the whole source, naming every bad line.
    """
    labels: Labels = {}
    errors: list[str] = []
    for number, record in lines:
        try:
            key, label, meta = _entry(record, spec)
        except DataError as exc:
            errors.append(f"{source}:{number}: {exc.message}")
            continue
        labels[key] = label, meta
    if errors:
        shown = "\n  ".join(errors[:SHOWN_ERRORS])
        more = (
            f"\n  ... and {len(errors) - SHOWN_ERRORS} more" if len(errors) > SHOWN_ERRORS else ""
        )
        raise DataError(
            f"{len(errors)} bad label line(s), nothing stored:\n  {shown}{more}",
            details={"errors": errors[:1000], "count": len(errors)},
        )
    return labels


def _jsonl_lines(lines: Iterable[tuple[int, str | bytes]]) -> Iterable[tuple[int, Any]]:
    """Numbered JSON documents (a line that is not JSON becomes its error)."""
    for number, line in lines:
        if not line.strip():
            continue
        try:
            yield number, orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield number, DataError(f"not JSON: {exc}")


def _csv_lines(text: str) -> Iterable[tuple[int, Any]]:
    """``inference_id,label`` rows as records; a bad header fails line 1."""
    reader = csv.reader(io.StringIO(text))
    header = [name.strip() for name in next(reader, [])]
    if "inference_id" not in header or "label" not in header:
        yield 1, DataError(f"the header must name inference_id and label, got {header}")
        return
    for row in reader:
        if not row:
            continue
        if len(row) != len(header):
            found = DataError(f"{len(row)} values for {len(header)} header columns")
            yield reader.line_num, found
        else:
            yield reader.line_num, dict(zip(header, row, strict=True))


def _entry(record: Any, spec: TabularSpec | None) -> tuple[str, int, dict[str, str]]:
    """``(id, 0/1, eventMetadata to store)`` of one ground-truth or flat record."""
    if isinstance(record, DataError):
        raise record
    if not isinstance(record, dict):
        raise DataError("expected an object")
    if "groundTruthData" in record:
        meta = record.get("eventMetadata")
        if not isinstance(meta, dict):
            raise DataError("no eventMetadata object")
        ids = meta.get("inferenceId"), meta.get("eventId")
        value = _truth(record["groundTruthData"])
    else:
        ids = record.get("inference_id", record.get("inferenceId")), record.get("eventId")
        value = record.get("label")
    inference_id, event_id = (i.strip() if isinstance(i, str) else None for i in ids)
    key = inference_id or event_id
    if not key:
        raise DataError("no inferenceId or eventId")
    meta = {"eventId": event_id or key} | ({"inferenceId": inference_id} if inference_id else {})
    return key, _label(value, spec), meta


def _truth(truth: Any) -> Any:
    """The label value of a ``groundTruthData`` object (encoding CSV, JSON or BASE64)."""
    if not isinstance(truth, dict) or "data" not in truth:
        raise DataError("groundTruthData needs 'data'")
    data, encoding = truth["data"], truth.get("encoding", "CSV")
    if encoding == "CSV" or not isinstance(data, str):
        return data
    try:
        if encoding == "JSON":
            return orjson.loads(data)
        if encoding == "BASE64":
            return base64.b64decode(data, validate=True).decode("utf-8")
    except ValueError as exc:  # not JSON, not base64 (non-ASCII text too), not UTF-8
        raise DataError(f"groundTruthData.data is not {encoding}: {exc}") from None
    raise DataError(f"unknown groundTruthData.encoding {encoding!r} (CSV, JSON or BASE64)")


def _label(value: Any, spec: TabularSpec | None) -> int:
    """1 for the positive class, 0 for the negative one."""
    if isinstance(value, bool) or (isinstance(value, int | float) and value in (0, 1)):
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if spec is not None and text == spec.positive_label:
            return 1
        if spec is not None and spec.negative_label is not None and text == spec.negative_label:
            return 0
        if text.lower() in _TRUE | _FALSE:
            return int(text.lower() in _TRUE)
    names = [spec.positive_label, spec.negative_label] if spec is not None else []
    accepted = ", ".join(repr(n) for n in [*names, "1", "0", "true", "false"] if n is not None)
    raise DataError(f"label {value!r} is not one of {accepted}")


def store_labels(endpoint: str, labels: Labels, source: str, write: Write) -> LabelIngest:
    """Store ``labels`` as one ground-truth file ``{endpoint}/YYYY/MM/DD/HH/<name>.jsonl`` (the
    hour of now), written whole by ``write``."""
    if not labels:
        raise DataError(f"{source}: no labels")
    now = utcnow()
    name = f"{now:%M-%S-%f}-{uuid.uuid4().hex[:8]}.jsonl"
    body = b"".join(_ground_truth(*entry) for entry in labels.values())
    where = write(f"{safe_name(endpoint, 'endpoint')}/{hour_of(now)}/{name}", body)
    positives = sum(label for label, _ in labels.values())
    return LabelIngest(labels=len(labels), positives=positives, path=where)


def _ground_truth(label: int, meta: dict[str, str]) -> bytes:
    data = {"data": str(label), "encoding": "CSV"}
    return (
        orjson.dumps({"groundTruthData": data, "eventMetadata": meta, "eventVersion": "0"}) + b"\n"
    )
