"""The local snapshot store: ``{digest}.parquet`` beside ``{digest}.schema.json`` in a folder.

A snapshot file that cannot be read (damaged on disk, cut short) is a
:class:`~driftloop.errors.DataError` naming the file, never a reader's traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pyarrow as pa
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
from driftloop.errors import DataError
from driftloop.workspace import atomic_path, atomic_write_text


@contextmanager
def _readable(path: Path) -> Iterator[None]:
    """A damaged snapshot file: one sentence naming it."""
    try:
        yield
    except (pa.ArrowException, OSError, ValueError, KeyError) as exc:
        raise DataError(
            f"snapshot file {path} is unreadable ({type(exc).__name__}: {exc}): delete it and "
            "store the dataset again",
            details={"file": str(path)},
        ) from exc


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
        with _readable(data):
            rows = pq.ParquetFile(data).metadata.num_rows  # read from the footer, not the data
        return Snapshot(digest, data.resolve().as_uri(), rows)

    def read(self, digest: str) -> pd.DataFrame:
        data = self._existing(digest)
        with _readable(data):
            return pd.read_parquet(data)

    def spec(self, digest: str) -> TabularSpec:
        self._existing(digest)
        schema = self._paths(digest)[1]
        with _readable(schema):
            return schema_spec(schema.read_text())

    def _existing(self, digest: str) -> Path:
        data = self._paths(digest)[0]
        if not data.is_file():
            raise snapshot_missing(digest, str(self.folder))
        return data
