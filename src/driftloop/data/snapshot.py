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
