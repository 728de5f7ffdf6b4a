"""Every local path in one place. The workspace folder is the database (DESIGN.md, principle 3)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Workspace:
    """The folder holding all local state: MLflow store, snapshots, baselines, reports."""

    root: Path

    @property
    def mlflow_db(self) -> Path:
        return self.root / "mlflow.db"

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.mlflow_db.resolve()}"

    @property
    def artifacts(self) -> Path:
        return self.root / "mlartifacts"

    @property
    def snapshots(self) -> Path:
        return self.root / "snapshots"

    @property
    def baselines(self) -> Path:
        return self.root / "baselines"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def prepared(self) -> Path:
        return self.root / "prepared"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def endpoints(self) -> Path:
        return self.root / "endpoints"

    @property
    def capture(self) -> Path:
        return self.root / "capture"

    @property
    def monitoring(self) -> Path:
        return self.root / "monitoring"

    @property
    def metrics_db(self) -> Path:
        return self.root / "metrics.db"

    @property
    def alarms_db(self) -> Path:
        return self.root / "alarms.db"

    @property
    def rules_file(self) -> Path:
        return self.root / "rules.json"

    @property
    def event_log(self) -> Path:
        return self.root / "events.jsonl"

    @property
    def delivery_db(self) -> Path:
        return self.root / "delivery.db"

    @property
    def retrain_db(self) -> Path:
        return self.root / "retrain.db"

    @property
    def retrain_runs(self) -> Path:
        return self.root / "retrain"

    @property
    def pipelines_db(self) -> Path:
        return self.root / "pipelines.db"

    @property
    def pipeline_runs(self) -> Path:
        return self.root / "pipelines"

    @property
    def deployments(self) -> Path:
        return self.root / "deployments"

    @property
    def labels(self) -> Path:
        return self.root / "labels"

    @property
    def notifications(self) -> Path:
        return self.root / "notifications"

    def ensure(self) -> Workspace:
        """Create the workspace folder (and nothing else) if it is missing."""
        self.root.mkdir(parents=True, exist_ok=True)
        return self


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` so readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Text flavour of :func:`atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` to write to; rename it into place on success.

    For writers that need a file name (Parquet, CSV via pandas). On error nothing is left behind.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
