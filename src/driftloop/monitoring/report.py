"""The Evidently HTML drift report of a monitoring window against the reference data.

A monitoring run hands it a bounded, seeded sample of its window (see
:mod:`driftloop.monitoring.sample`); the report says so at its top. The report is a picture:
the run's verdicts come from the whole window.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from driftloop.data.spec import TabularSpec
from driftloop.workspace import atomic_path


def load_evidently() -> None:
    """Import Evidently (seconds of imports), e.g. while worker processes read a window."""
    import evidently.presets  # noqa: F401


def write_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    spec: TabularSpec,
    path: Path,
    *,
    max_rows: int,
    seed: int = 0,
    current_total: int | None = None,
) -> dict[str, int]:
    """Run Evidently's DataDriftPreset and save its HTML; frames above ``max_rows`` are sampled.

    ``current_total`` is how many rows ``current`` was sampled from, when it is a sample.
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
    total = len(current) if current_total is None else current_total
    used = {"reference_rows": len(frames[0]), "current_rows": len(frames[1])}
    note = _note(len(reference), used["reference_rows"], total, used["current_rows"], seed)
    with atomic_path(path) as tmp:
        snapshot.save_html(str(tmp))
        if note:
            html = tmp.read_text(encoding="utf-8")
            tmp.write_text(html.replace("<body>", f"<body>{note}", 1), encoding="utf-8")
    if total != used["current_rows"]:
        used["current_sampled_from"] = total
        used["sample_seed"] = seed
    return used


def _note(reference: int, reference_used: int, current: int, current_used: int, seed: int) -> str:
    """A line atop the report saying which sides are seeded samples, empty when none is."""
    sides = [
        f"{name}: a seeded uniform sample of {used:,} of {total:,} rows"
        for name, used, total in (
            ("reference", reference_used, reference),
            ("current window", current_used, current),
        )
        if used < total
    ]
    if not sides:
        return ""
    text = "; ".join(sides)
    return (
        '<p style="font-family:sans-serif;margin:8px">This report is drawn on samples '
        f"(seed {seed}). {text}. The monitoring run's verdicts cover every row.</p>"
    )


def _sample(frame: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    return frame.sample(n=max_rows, random_state=seed) if len(frame) > max_rows else frame
