"""The classic ``preprocess_telco.py`` step, for any tabular CSV: type, drop ids, split, store."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from driftloop.config import DataSettings
from driftloop.data.dataset import spec_from_settings
from driftloop.data.readers import read_table
from driftloop.data.snapshot import Snapshot, SnapshotStore
from driftloop.data.spec import TabularSpec, apply_spec
from driftloop.data.split import stratified_split
from driftloop.workspace import atomic_path, atomic_write_text

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Prepared:
    """What preprocessing wrote: the two CSVs and their snapshots."""

    train_csv: Path
    val_csv: Path
    train: Snapshot
    val: Snapshot
    spec: TabularSpec


def preprocess(
    input_csv: Path, output_dir: Path, settings: DataSettings, snapshots: SnapshotStore
) -> Prepared:
    """Fix dtypes, drop id columns, split stratified, write ``train.csv``/``val.csv`` + snapshots.

    Everything is checked before the first write, so a bad input leaves no file behind.
    """
    raw = read_table(input_csv)
    spec = spec_from_settings(raw, settings)
    typed = apply_spec(raw, spec, source=str(input_csv))
    train, val = stratified_split(
        typed,
        spec,
        fraction=settings.validation_fraction,
        seed=settings.seed,
        source=str(input_csv),
    )
    train_snap = snapshots.put(train, spec, name="train")
    val_snap = snapshots.put(val, spec, name="val")
    train_csv, val_csv = output_dir / "train.csv", output_dir / "val.csv"
    _write_csv(train, train_csv)
    _write_csv(val, val_csv)
    manifest = {
        "input": str(input_csv),
        "train": {"file": train_csv.name, "snapshot": train_snap.digest, "rows": len(train)},
        "val": {"file": val_csv.name, "snapshot": val_snap.digest, "rows": len(val)},
        "spec": spec.to_dict(),
    }
    atomic_write_text(output_dir / MANIFEST, json.dumps(manifest, indent=2))
    return Prepared(train_csv, val_csv, train_snap, val_snap, spec)


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.10g")


def read_manifest_spec(folder: Path) -> TabularSpec | None:
    """The spec recorded by :func:`preprocess` in ``folder``, if there is one."""
    path = folder / MANIFEST
    if not path.is_file():
        return None
    return TabularSpec.from_dict(json.loads(path.read_text())["spec"])
