"""The local capture and ground-truth stores: JSON Lines under the workspace folder."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from driftloop.capture.base import CaptureStore, Fold, LabelStore
from driftloop.capture.labels import (
    LabelIngest,
    LabelSet,
    ingest_label_records,
    ingest_labels,
    read_labels,
)
from driftloop.capture.parallel import fold_folder, warm_up
from driftloop.capture.reader import (
    CHUNK_ROWS,
    Window,
    folder_files,
    iter_chunks,
    read_window,
    records_in,
    utc,
)
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

    def read_chunks(
        self,
        endpoint: str,
        spec: TabularSpec,
        *,
        since: datetime,
        until: datetime,
        variants: Sequence[str] | None = None,
        chunk_rows: int = CHUNK_ROWS,
    ) -> Iterator[Window]:
        files = folder_files(self.root, endpoint, utc(since), utc(until), variants)
        return iter_chunks(files, spec, since=since, until=until, chunk_rows=chunk_rows)

    def prepare_fold(
        self, endpoint: str, *, since: datetime, until: datetime, workers: int
    ) -> None:
        warm_up(self.root, endpoint, since=since, until=until, workers=workers)

    def fold_window(
        self,
        endpoint: str,
        spec: TabularSpec,
        fold: Fold,
        *,
        since: datetime,
        until: datetime,
        variants: Sequence[str] | None = None,
        workers: int = 1,
        meanwhile: Callable[[], None] | None = None,
    ) -> list[Any]:
        return fold_folder(
            self.root,
            endpoint,
            spec,
            fold,
            since=since,
            until=until,
            variants=variants,
            workers=workers,
            meanwhile=meanwhile,
        )

    def read_records(
        self, endpoint: str, variant: str, *, since: datetime, until: datetime
    ) -> Iterator[dict[str, Any]]:
        files = folder_files(self.root, endpoint, utc(since), utc(until), [variant])
        return records_in(files, since=since, until=until)


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

    def read(self, endpoint: str, *, since: datetime | None = None) -> LabelSet:
        return read_labels(self.workspace, endpoint, since=since)
