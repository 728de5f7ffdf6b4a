"""The Evidently HTML drift report of a monitoring window against the reference data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from driftloop.data.spec import TabularSpec
from driftloop.workspace import atomic_path


def write_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    spec: TabularSpec,
    path: Path,
    *,
    max_rows: int,
    seed: int = 0,
) -> dict[str, int]:
    """Run Evidently's DataDriftPreset and save its HTML; frames above ``max_rows`` are sampled.

    Returns the row counts the report used (so a sampled report says so).
    """
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(
        numerical_columns=spec.numeric_features, categorical_columns=spec.categorical_features
    )
    frames = [_sample(f[spec.features], max_rows, seed) for f in (reference, current)]
    datasets = [Dataset.from_pandas(f, data_definition=definition) for f in frames]
    snapshot = Report([DataDriftPreset()]).run(current_data=datasets[1], reference_data=datasets[0])
    with atomic_path(path) as tmp:
        snapshot.save_html(str(tmp))
    return {"reference_rows": len(frames[0]), "current_rows": len(frames[1])}


def _sample(frame: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    return frame.sample(n=max_rows, random_state=seed) if len(frame) > max_rows else frame
