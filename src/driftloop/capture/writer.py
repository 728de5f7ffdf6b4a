"""Data capture in SageMaker's JSON Lines format, one file per worker, variant and hour.

Each record is one ``os.write`` on a file opened with ``O_APPEND`` before the response is sent:
the kernel holds it even if the worker is killed a moment later, and no fsync slows the request.
Layout: ``capture/{endpoint}/{variant}/YYYY/MM/DD/HH/{MM-SS-mmm}-{pid}-{id}.jsonl``.
"""

from __future__ import annotations

import base64
import os
import random
import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson

from driftloop.names import safe_name

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


def _iso_second(when: datetime) -> str:
    """SageMaker's inferenceTime: UTC to the second, with a Z."""
    return (
        f"{when.year:04d}-{when.month:02d}-{when.day:02d}T"
        f"{when.hour:02d}:{when.minute:02d}:{when.second:02d}Z"
    )


def new_event_id() -> str:
    """A random (version 4) UUID without a system call per request."""
    return str(uuid.UUID(int=random.getrandbits(128), version=4))


def capture_file_name(when: datetime, tag: str) -> str:
    """A capture file's name in its hour (SageMaker's ``MM-SS-mmm-<tag>.jsonl``)."""
    return f"{when.strftime('%M-%S')}-{when.microsecond // 1000:03d}-{tag}.jsonl"


class CaptureWriter:
    """Appends capture lines for one endpoint; keeps one open file per variant and hour."""

    def __init__(self, root: Path, endpoint: str) -> None:
        self.root = root / safe_name(endpoint, "endpoint")
        self._open: dict[str, tuple[str, int]] = {}  # variant -> (hour, fd)
        self._tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"

    def write(self, variant: str, line: bytes, when: datetime) -> None:
        hour = f"{when.year:04d}/{when.month:02d}/{when.day:02d}/{when.hour:02d}"
        current = self._open.get(variant)
        if current is None or current[0] != hour:
            fd = self._rotate(variant, hour, when)
        else:
            fd = current[1]
        os.write(fd, line)

    def _rotate(self, variant: str, hour: str, when: datetime) -> int:
        previous = self._open.pop(variant, None)
        if previous is not None:
            os.close(previous[1])
        folder = self.root / safe_name(variant, "variant") / hour
        folder.mkdir(parents=True, exist_ok=True)
        name = capture_file_name(when, self._tag)
        fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._open[variant] = (hour, fd)
        return fd

    def close(self) -> None:
        for _, fd in self._open.values():
            os.close(fd)
        self._open.clear()


def utcnow() -> datetime:
    return datetime.now(UTC)
