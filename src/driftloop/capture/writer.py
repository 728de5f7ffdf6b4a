"""Data capture in SageMaker's JSON Lines format, one file per worker, variant and hour.

Each record is one ``os.write`` on a file opened with ``O_APPEND`` before the response is sent:
the kernel holds it even if the worker is killed a moment later, and no fsync slows the request.
A full disk drops records (counted, and announced by an event), never the request.
Layout: ``capture/{endpoint}/{variant}/YYYY/MM/DD/HH/{MM-SS-mmm}-{pid}-{id}.jsonl``.
"""

from __future__ import annotations

import base64
import errno
import logging
import os
import random
import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson

from driftloop.events.base import EventBus
from driftloop.names import safe_name

log = logging.getLogger(__name__)

_TEXT = {"text/csv": "CSV", "application/json": "JSON", "application/jsonlines": "JSON"}


def _payload(body: bytes, content_type: str, mode: str) -> dict[str, str]:
    encoding = _TEXT.get(content_type)
    if encoding is not None:
        try:
            data = body.decode("utf-8")
        except UnicodeDecodeError:
            encoding = None
    if encoding is None:
        encoding, data = "BASE64", base64.b64encode(body).decode("ascii")
    return {"observedContentType": content_type, "mode": mode, "data": data, "encoding": encoding}


def capture_record(
    *,
    request: bytes | None,
    request_type: str,
    response: bytes | None,
    response_type: str,
    event_id: str,
    inference_id: str | None,
    when: datetime,
) -> bytes:
    """One capture line (with its newline). ``None`` bodies are left out (capture modes)."""
    data: dict[str, object] = {}
    if request is not None:
        data["endpointInput"] = _payload(request, request_type, "INPUT")
    if response is not None:
        data["endpointOutput"] = _payload(response, response_type, "OUTPUT")
    metadata = {"eventId": event_id, "inferenceTime": _iso_second(when)}
    if inference_id:
        metadata["inferenceId"] = inference_id
    record = {"captureData": data, "eventMetadata": metadata, "eventVersion": "0"}
    return orjson.dumps(record) + b"\n"


_ISO_SECOND = "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}Z".format
_last_second: dict[tuple[int, ...], str] = {}  # the second formatted last, and its text


def _iso_second(when: datetime) -> str:
    """SageMaker's inferenceTime: UTC to the second, with a Z (formatted once per second)."""
    key = (when.year, when.month, when.day, when.hour, when.minute, when.second)
    text = _last_second.get(key)
    if text is None:
        _last_second.clear()
        text = _last_second[key] = _ISO_SECOND(*key)
    return text


_V4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))  # the version and variant bits
_V4_SET = (0x4000 << 64) | (0x8000 << 48)  # version 4, RFC 4122 variant


def new_event_id() -> str:
    """A random (version 4) UUID, as ``str(uuid.uuid4())``, without a system call per request."""
    text = f"{random.getrandbits(128) & _V4_CLEAR | _V4_SET:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def capture_file_name(when: datetime, tag: str) -> str:
    """A capture file's name in its hour (SageMaker's ``MM-SS-mmm-<tag>.jsonl``)."""
    return f"{when.strftime('%M-%S')}-{when.microsecond // 1000:03d}-{tag}.jsonl"


_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
Hour = tuple[int, int, int, int]


class CaptureWriter:
    """Appends capture lines for one endpoint; keeps one open file per variant and hour.

    A full disk (``ENOSPC``, a quota, a file size limit) never fails the request: the record
    is dropped, as SageMaker drops what it cannot capture, and counted in :attr:`lost`. The
    first loss and the return of space each put a ``Capture Records Lost`` event on ``events``
    (best effort: the event log may sit on the same full disk); the second carries the count.
    """

    def __init__(self, root: Path, endpoint: str, *, events: EventBus | None = None) -> None:
        self.endpoint = endpoint
        self.root = root / safe_name(endpoint, "endpoint")
        self.events = events
        self.lost: dict[str, int] = {}  # variant -> records dropped since the last one written
        self._open: dict[str, tuple[Hour, int]] = {}  # variant -> (hour, fd)
        self._tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"

    def write(self, variant: str, line: bytes, when: datetime) -> bool:
        """Append ``line``; False when a full disk dropped it (any other OSError is raised)."""
        hour = (when.year, when.month, when.day, when.hour)
        try:
            current = self._open.get(variant)
            fd = current[1] if current is not None and current[0] == hour else -1
            if fd < 0:
                fd = self._rotate(variant, hour, when)
            written = os.write(fd, line)
            if written < len(line):  # space ran out mid-line: take the torn part back
                os.ftruncate(fd, os.lseek(fd, 0, os.SEEK_CUR) - written)
                raise OSError(errno.ENOSPC, "short write")
        except OSError as exc:
            if exc.errno not in _DISK_FULL:
                raise
            self._dropped(variant, exc)
            return False
        if self.lost.get(variant):
            self._resumed(variant)
        return True

    def _rotate(self, variant: str, hour: Hour, when: datetime) -> int:
        previous = self._open.pop(variant, None)
        if previous is not None:
            os.close(previous[1])
        folder = (
            self.root / safe_name(variant, "variant") / "{:04d}/{:02d}/{:02d}/{:02d}".format(*hour)
        )
        folder.mkdir(parents=True, exist_ok=True)
        name = capture_file_name(when, self._tag)
        fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._open[variant] = (hour, fd)
        return fd

    def _dropped(self, variant: str, exc: OSError) -> None:
        lost = self.lost.get(variant, 0) + 1
        self.lost[variant] = lost
        if lost == 1:
            log.error(
                "capture of %s/%s is failing (%s): answering without capture, counting losses",
                self.endpoint,
                variant,
                exc.strerror or exc,
            )
            self._event(variant, "failing", 1, exc.strerror or str(exc))

    def _resumed(self, variant: str) -> None:
        lost = self.lost.pop(variant)
        log.warning(
            "capture of %s/%s resumed after dropping %d record(s)", self.endpoint, variant, lost
        )
        self._event(variant, "resumed", lost, None)

    def _event(self, variant: str, state: str, lost: int, reason: str | None) -> None:
        if self.events is None:
            return
        detail = {"endpoint": self.endpoint, "variant": variant, "state": state, "lost": lost}
        if reason is not None:
            detail["reason"] = reason
        try:
            self.events.emit("driftloop.capture", "Capture Records Lost", detail)
        except Exception:  # the event log may be on the same full disk
            log.warning("the capture-loss event of %s/%s was not stored", self.endpoint, variant)

    def close(self) -> None:
        for _, fd in self._open.values():
            os.close(fd)
        self._open.clear()


def utcnow() -> datetime:
    return datetime.now(UTC)
