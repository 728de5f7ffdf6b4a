"""Events in EventBridge's shape, appended to the workspace's event log.

``{"id", "time", "source", "detail-type", "detail"}``, one JSON line each, written with a single
``O_APPEND`` write so several processes can emit at once without interleaving.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from driftloop.workspace import Workspace

EVENT_LOG = "events.jsonl"


def event_log(workspace: Workspace) -> Path:
    return workspace.root / EVENT_LOG


def emit(
    workspace: Workspace, source: str, detail_type: str, detail: dict[str, Any]
) -> dict[str, Any]:
    """Append one event and return it."""
    event = {
        "id": str(uuid.uuid4()),
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "source": source,
        "detail-type": detail_type,
        "detail": detail,
    }
    path = event_log(workspace)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, orjson.dumps(event) + b"\n")
    finally:
        os.close(fd)
    return event


def read_events(workspace: Workspace) -> Iterator[dict[str, Any]]:
    """Every event, oldest first (lines that do not parse are skipped)."""
    path = event_log(workspace)
    if not path.is_file():
        return
    with path.open("rb") as handle:
        for line in handle:
            try:
                yield orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
