"""The local capture and ground-truth stores: JSON Lines under the workspace folder."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from driftloop.capture.base import CaptureStore, LabelStore
from driftloop.capture.labels import LabelIngest, ingest_label_records, ingest_labels, read_labels
from driftloop.capture.reader import Window, hour_folders, read_window, utc
from driftloop.capture.writer import CaptureWriter
from driftloop.data.spec import TabularSpec
from driftloop.workspace import Workspace


class FolderCaptureStore(CaptureStore):
    """``capture/{endpoint}/{variant}/YYYY/MM/DD/HH/*.jsonl`` under the workspace."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, endpoint: str, variant: str, records: Sequence[bytes], when: datetime) -> None:
        writer = CaptureWriter(self.root, endpoint)
        try:
            for record in records:
                writer.write(variant, record, when)
        finally:
            writer.close()

    def read_window(
        self,
        endpoint: str,
        spec: TabularSpec,
        *,
        since: datetime,
        until: datetime,
        variants: Sequence[str] | None = None,
    ) -> Window:
        return read_window(self.root, endpoint, spec, since=since, until=until, variants=variants)

    def read_records(
        self, endpoint: str, variant: str, *, since: datetime, until: datetime
    ) -> Iterator[dict[str, Any]]:
        folder = self.root / endpoint / variant
        if not folder.is_dir():
            return
        low, high = f"{utc(since):%Y-%m-%dT%H:%M:%S}", f"{utc(until):%Y-%m-%dT%H:%M:%S}"
        for hour in hour_folders(folder, since, until):
            for path in sorted(hour.glob("*.jsonl")):
                for line in path.read_bytes().splitlines():
                    record = _record(line)
                    moment = str(record.get("eventMetadata", {}).get("inferenceTime", ""))[:19]
                    if record and low <= moment < high:
                        yield record


def _record(line: bytes) -> dict[str, Any]:
    """A capture line as a record, or {} when it is not a JSON object."""
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


class FolderLabelStore(LabelStore):
    """``labels/{endpoint}/YYYY/MM/DD/HH/*.jsonl`` under the workspace."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def put_file(self, endpoint: str, source: Path, spec: TabularSpec) -> LabelIngest:
        return ingest_labels(self.workspace, endpoint, source, spec)

    def put_records(
        self, endpoint: str, records: list[dict[str, Any]], spec: TabularSpec
    ) -> LabelIngest:
        return ingest_label_records(self.workspace, endpoint, records, spec)

    def read(self, endpoint: str, *, since: datetime | None = None) -> dict[str, int]:
        return read_labels(self.workspace, endpoint, since=since)
