"""Immutable dataset snapshots: a Parquet file named by its content hash, with its schema."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from driftloop.data.spec import TabularSpec
from driftloop.errors import NotFoundError
from driftloop.workspace import atomic_path, atomic_write_text

_HASH_CHARS = 16


@dataclass(frozen=True)
class Snapshot:
    """A stored dataset: ``{digest}.parquet`` beside ``{digest}.schema.json``."""

    digest: str
    path: Path
    rows: int

    @property
    def schema_path(self) -> Path:
        return self.path.with_name(f"{self.digest}.schema.json")

    def read(self) -> pd.DataFrame:
        return pd.read_parquet(self.path)

    def spec(self) -> TabularSpec:
        return TabularSpec.from_dict(json.loads(self.schema_path.read_text())["spec"])


def content_digest(frame: pd.DataFrame) -> str:
    """Hash of column names, dtypes and values: equal data, equal name."""
    hasher = hashlib.sha256()
    hasher.update(json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode())
    hasher.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return hasher.hexdigest()[:_HASH_CHARS]


def write_snapshot(frame: pd.DataFrame, spec: TabularSpec, folder: Path, *, name: str) -> Snapshot:
    """Store ``frame`` once under ``folder``; writing the same content again is a no-op."""
    digest = content_digest(frame)
    path = folder / f"{digest}.parquet"
    snapshot = Snapshot(digest=digest, path=path, rows=len(frame))
    if path.exists() and snapshot.schema_path.exists():
        return snapshot
    schema = {"name": name, "digest": digest, "rows": len(frame), "spec": spec.to_dict()}
    atomic_write_text(snapshot.schema_path, json.dumps(schema, indent=2))
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)
    return snapshot


def open_snapshot(folder: Path, digest: str) -> Snapshot:
    """The snapshot ``digest`` in ``folder``; :class:`NotFoundError` if it is not there."""
    path = folder / f"{digest}.parquet"
    if not path.is_file():
        raise NotFoundError(f"dataset snapshot {digest} not found in {folder}")
    return Snapshot(digest=digest, path=path, rows=len(pd.read_parquet(path, columns=[])))
