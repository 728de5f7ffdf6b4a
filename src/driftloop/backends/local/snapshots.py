"""The local snapshot store: ``{digest}.parquet`` beside ``{digest}.schema.json`` in a folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from driftloop.data.snapshot import (
    Snapshot,
    SnapshotStore,
    content_digest,
    schema_document,
    schema_spec,
    snapshot_missing,
)
from driftloop.data.spec import TabularSpec
from driftloop.workspace import atomic_path, atomic_write_text


class FolderSnapshotStore(SnapshotStore):
    """Snapshots as Parquet files in the workspace's ``snapshots`` folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _paths(self, digest: str) -> tuple[Path, Path]:
        return self.folder / f"{digest}.parquet", self.folder / f"{digest}.schema.json"

    def put(self, frame: pd.DataFrame, spec: TabularSpec, *, name: str) -> Snapshot:
        digest = content_digest(frame)
        data, schema = self._paths(digest)
        snapshot = Snapshot(digest, data.resolve().as_uri(), len(frame))
        if data.exists() and schema.exists():
            return snapshot
        atomic_write_text(schema, schema_document(snapshot, spec, name))
        with atomic_path(data) as tmp:
            frame.to_parquet(tmp, index=False)
        return snapshot

    def get(self, digest: str) -> Snapshot:
        data = self._existing(digest)
        rows = pq.ParquetFile(data).metadata.num_rows  # read from the footer, not the data
        return Snapshot(digest, data.resolve().as_uri(), rows)

    def read(self, digest: str) -> pd.DataFrame:
        return pd.read_parquet(self._existing(digest))

    def spec(self, digest: str) -> TabularSpec:
        self._existing(digest)
        return schema_spec(self._paths(digest)[1].read_text())

    def _existing(self, digest: str) -> Path:
        data = self._paths(digest)[0]
        if not data.is_file():
            raise snapshot_missing(digest, str(self.folder))
        return data
