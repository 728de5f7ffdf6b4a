"""A dataset ready for training: typed frame, its spec and the snapshot it was stored as."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from driftloop.config import DataSettings
from driftloop.data.readers import read_table
from driftloop.data.snapshot import Snapshot, SnapshotStore
from driftloop.data.spec import TabularSpec, apply_spec, infer_spec, target_vector
from driftloop.errors import DataError


@dataclass(frozen=True)
class Dataset:
    """Typed rows (features and target, no ids), with the spec and snapshot they came from."""

    frame: pd.DataFrame
    spec: TabularSpec
    snapshot: Snapshot
    source: str

    @property
    def features(self) -> pd.DataFrame:
        return self.frame[self.spec.features]

    @property
    def target(self) -> np.ndarray:
        return target_vector(self.frame, self.spec, source=self.source)


def spec_from_settings(frame: pd.DataFrame, settings: DataSettings) -> TabularSpec:
    """Infer a spec from a text frame, with the configured target, ids and column kinds;
    ``drop_columns`` are kept out of the features like ids."""
    if settings.target in settings.drop_columns:
        raise DataError(
            f"data.drop_columns names the target column '{settings.target}'",
            details={"column": settings.target},
        )
    left_out = [*settings.id_columns, *settings.drop_columns]
    return infer_spec(
        frame,
        target=settings.target,
        positive_label=settings.positive_label,
        id_columns=[c for c in left_out if c in frame.columns],
        kinds={k: v for k, v in settings.column_types.items() if k in frame.columns},
    )


def read_typed(
    path: Path, settings: DataSettings, *, spec: TabularSpec | None = None
) -> tuple[pd.DataFrame, TabularSpec]:
    """Read ``path`` and type it with ``spec`` (inferred when None); check the target. No writes."""
    source = str(path)
    raw = read_table(path)
    spec = spec or spec_from_settings(raw, settings)
    if spec.target not in raw.columns:
        raise DataError(
            f"{source}: target column '{spec.target}' is missing", details={"column": spec.target}
        )
    frame = apply_spec(raw, spec, source=source)
    target_vector(frame, spec, source=source)  # fail early on a bad target
    return frame, spec


def store(
    frame: pd.DataFrame, spec: TabularSpec, snapshots: SnapshotStore, *, source: str
) -> Dataset:
    """Snapshot a typed frame and wrap it as a :class:`Dataset`."""
    snapshot = snapshots.put(frame, spec, name=Path(source).name)
    return Dataset(frame=frame, spec=spec, snapshot=snapshot, source=source)
