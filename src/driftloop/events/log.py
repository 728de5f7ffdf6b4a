"""The local event log: events in EventBridge's shape, appended to the workspace's log.

``{"id", "time", "source", "detail-type", "detail"}``, one JSON line each, written with a single
``O_APPEND`` write so several processes can emit at once without interleaving. A line that is
not an event in that shape (a torn write, bad JSON, a missing field) is never yielded as one:
readers skip it and log it, and delivery dead-letters it. A last line torn by a crash does not
swallow the next event: the next append starts on a new line (:mod:`driftloop.events.jsonl`).
Empty lines are passed over.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from driftloop.events.jsonl import append_lines
from driftloop.workspace import Workspace

EVENT_LOG = "events.jsonl"
FIELDS: dict[str, type] = {
    "id": str,
    "time": str,
    "source": str,
    "detail-type": str,
    "detail": dict,
}

log = logging.getLogger("driftloop.events")
_reported: set[tuple[str, int]] = set()  # (log path, byte offset) already logged by read_events


@dataclass(frozen=True)
class LogLine:
    """One complete line of the event log."""

    number: int | None
    """1-based line number, when the read started at the top of the log."""
    offset: int
    """Byte offset where the line starts."""
    end: int
    """Byte offset just past its newline."""
    text: bytes
    event: dict[str, Any] | None
    """The event, or None when the line is not one."""
    problem: str = ""
    """Why the line is not an event."""

    def describe(self) -> str:
        where = f"line {self.number}, " if self.number is not None else ""
        return f"{where}byte {self.offset} of {EVENT_LOG}: {self.problem}"


def event_log(workspace: Workspace) -> Path:
    return workspace.root / EVENT_LOG


def new_event(source: str, detail_type: str, detail: dict[str, Any]) -> dict[str, Any]:
    """An event in EventBridge's shape, with a new id and the current time."""
    return {
        "id": str(uuid.uuid4()),
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "source": source,
        "detail-type": detail_type,
        "detail": detail,
    }


def append(path: Path, events: list[dict[str, Any]]) -> None:
    """Append ``events`` to the log at ``path`` in one ``O_APPEND`` write."""
    append_lines(path, b"".join(orjson.dumps(event) + b"\n" for event in events))


def problem(value: object) -> str:
    """Why ``value`` is not an event in the log's shape, or "" when it is."""
    if not isinstance(value, dict):
        return f"a JSON {type(value).__name__}, not an object"
    for name, kind in FIELDS.items():
        if not isinstance(value.get(name), kind) or (kind is str and not value[name]):
            return f"no valid {name!r}"
    return ""


TORN = "no newline at the end: still being written, or torn by a crash"


def scan(path: Path, offset: int = 0, *, tail: bool = False) -> Iterator[LogLine]:
    """Each complete, non-empty line of the log at ``path`` from byte ``offset`` on. A last line
    without its newline may still be being written: it is left for a later read, or yielded
    as not an event (:data:`TORN`) when ``tail`` is set."""
    if not path.is_file():
        return
    number = 0 if offset == 0 else None
    with path.open("rb") as handle:
        handle.seek(offset)
        for text in handle:
            start, offset = offset, offset + len(text)
            number = None if number is None else number + 1
            if not text.endswith(b"\n"):
                if tail:
                    yield LogLine(number, start, offset, text, None, TORN)
                return
            if not text.strip():
                continue
            try:
                value = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                yield LogLine(number, start, offset, text, None, f"not JSON ({exc})")
                continue
            why = problem(value)
            yield LogLine(number, start, offset, text, None if why else value, why)


def read_events(
    workspace: Workspace, corrupt: list[LogLine] | None = None
) -> Iterator[dict[str, Any]]:
    """Every event, oldest first. A line that is not an event (a torn last line included) is
    skipped, logged once per process, and appended to ``corrupt`` when a list is given."""
    path = event_log(workspace)
    for line in scan(path, tail=True):
        if line.event is not None:
            yield line.event
            continue
        if corrupt is not None:
            corrupt.append(line)
        if (str(path), line.offset) not in _reported:
            _reported.add((str(path), line.offset))
            log.warning("skipped %s", line.describe())
