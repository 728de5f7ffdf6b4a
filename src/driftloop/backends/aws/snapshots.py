"""The S3 snapshot store: ``snapshots/{digest}.parquet`` beside ``{digest}.schema.json`` under
the bucket's prefix. The Parquet object carries the digest, rows, columns and name as object
metadata, so :meth:`S3SnapshotStore.get` is one HEAD. The schema is written first and the data
last: a snapshot exists once its Parquet object does.
"""

from __future__ import annotations

import io
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pandas as pd
import pyarrow.parquet as pq

from driftloop.backends.aws._clients import call
from driftloop.backends.aws._s3 import Bucket
from driftloop.data.snapshot import (
    Snapshot,
    SnapshotStore,
    content_digest,
    schema_document,
    schema_spec,
    snapshot_missing,
)
from driftloop.data.spec import TabularSpec
from driftloop.errors import NotFoundError

if TYPE_CHECKING:
    from driftloop.backends.catalog import Backends
    from driftloop.config import Settings

log = logging.getLogger(__name__)
_FOLDER = "snapshots"


class S3SnapshotStore(SnapshotStore):
    """Snapshots as Parquet objects by content digest in the configured bucket."""

    def __init__(self, settings: Settings, _stores: Backends | None = None) -> None:
        self.bucket = Bucket(settings)
        self._versioning: str | None = None

    def versioning(self) -> str:
        """The bucket's versioning state (``Enabled``, ``Suspended`` or ``Disabled``), asked
        once; anything but ``Enabled`` is logged as a warning, never refused."""
        if self._versioning is None:
            answer = call(
                "s3",
                self.bucket.s3.get_bucket_versioning,
                self.bucket.uri(""),
                Bucket=self.bucket.name,
            )
            self._versioning = str(answer.get("Status") or "Disabled")
            if self._versioning != "Enabled":
                log.warning(
                    "bucket %s is not versioned (versioning %s): a deleted snapshot cannot be "
                    "recovered",
                    self.bucket.name,
                    self._versioning,
                )
        return self._versioning

    def put(self, frame: pd.DataFrame, spec: TabularSpec, *, name: str) -> Snapshot:
        digest = content_digest(frame)
        snapshot = Snapshot(digest, self.bucket.uri(_data(digest)), len(frame))
        self.versioning()
        if self._head(digest) is not None:
            return snapshot
        self.bucket.put(_schema(digest), schema_document(snapshot, spec, name).encode())
        body = io.BytesIO()
        frame.to_parquet(body, index=False)
        metadata = {
            "digest": digest,
            "rows": str(len(frame)),
            "columns": str(frame.shape[1]),
            "name": quote(name),  # S3 metadata is ASCII
        }
        self.bucket.put(_data(digest), body.getvalue(), metadata)
        return snapshot

    def get(self, digest: str) -> Snapshot:
        head = self._head(digest)
        if head is None:
            raise self._missing(digest)
        rows = head.get("Metadata", {}).get("rows")
        if rows is None:  # put by something else: read the Parquet footer
            rows = pq.ParquetFile(io.BytesIO(self._bytes(_data(digest), digest))).metadata.num_rows
        return Snapshot(digest, self.bucket.uri(_data(digest)), int(rows))

    def read(self, digest: str) -> pd.DataFrame:
        return pd.read_parquet(io.BytesIO(self._bytes(_data(digest), digest)))

    def spec(self, digest: str) -> TabularSpec:
        if self._head(digest) is None:
            raise self._missing(digest)
        return schema_spec(self._bytes(_schema(digest), digest))

    def _head(self, digest: str) -> dict[str, Any] | None:
        try:
            return self.bucket.head(_data(digest))
        except NotFoundError:
            return None

    def _bytes(self, relative: str, digest: str) -> bytes:
        try:
            return self.bucket.get(relative)
        except NotFoundError:
            raise self._missing(digest) from None

    def _missing(self, digest: str) -> NotFoundError:
        return snapshot_missing(digest, self.bucket.uri(f"{_FOLDER}/"))


def _data(digest: str) -> str:
    return f"{_FOLDER}/{digest}.parquet"


def _schema(digest: str) -> str:
    return f"{_FOLDER}/{digest}.schema.json"
