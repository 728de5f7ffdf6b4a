"""Immutable dataset snapshots, named by a hash of their content, with their schema; and the
snapshot store contract.

:meth:`SnapshotStore.get`, :meth:`SnapshotStore.read` and :meth:`SnapshotStore.spec` raise
:class:`~driftloop.errors.NotFoundError` for a digest the store does not hold.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass

import pandas as pd

from driftloop.data.spec import TabularSpec
from driftloop.errors import NotFoundError

_HASH_CHARS = 16


@dataclass(frozen=True)
class Snapshot:
    """A stored dataset: its content digest, where it lives (a URI) and its row count."""

    digest: str
    uri: str
    rows: int


def content_digest(frame: pd.DataFrame) -> str:
    """Hash of column names, dtypes and values: equal data, equal name."""
    hasher = hashlib.sha256()
    hasher.update(json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode())
    hasher.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return hasher.hexdigest()[:_HASH_CHARS]


def schema_document(snapshot: Snapshot, spec: TabularSpec, name: str) -> str:
    """What a store keeps beside a snapshot's data (JSON): its name, digest, rows and spec."""
    described = {"name": name, "digest": snapshot.digest, "rows": snapshot.rows}
    return json.dumps(described | {"spec": spec.to_dict()}, indent=2)


def schema_spec(document: str | bytes) -> TabularSpec:
    """The spec of a :func:`schema_document`."""
    return TabularSpec.from_dict(json.loads(document)["spec"])


def snapshot_missing(digest: str, where: str) -> NotFoundError:
    """The error for a snapshot ``where`` (a folder, an S3 prefix) does not hold."""
    return NotFoundError(
        f"dataset snapshot {digest} not found in {where}", details={"snapshot": digest}
    )


class SnapshotStore(ABC):
    """Where snapshots are kept (a workspace folder, an S3 prefix)."""

    @abstractmethod
    def put(self, frame: pd.DataFrame, spec: TabularSpec, *, name: str) -> Snapshot:
        """Store ``frame`` with its spec under its content digest; storing the same content
        again changes nothing and returns the same snapshot."""

    @abstractmethod
    def get(self, digest: str) -> Snapshot:
        """The snapshot ``digest``."""

    @abstractmethod
    def read(self, digest: str) -> pd.DataFrame:
        """The rows of snapshot ``digest``."""

    @abstractmethod
    def spec(self, digest: str) -> TabularSpec:
        """The spec snapshot ``digest`` was stored with."""
