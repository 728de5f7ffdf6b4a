"""One measured task of the drift benchmark, run in its own process.

``python benchmarks/_drift_tasks.py TASK ROWS SCENARIO`` builds the reference (scenario none) and
current (SCENARIO) windows with the generator, typed by ``apply_spec``, runs TASK on them and
prints one JSON object: seconds per step, the peak traced allocation of a second, untimed run of
each step (tracemalloc: Python objects and numpy arrays), and the per-column verdicts.
"""

from __future__ import annotations

import gc
import json
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from driftloop.config import DataSettings
from driftloop.data.dataset import spec_from_settings
from driftloop.data.generator import generate
from driftloop.data.spec import TabularSpec, apply_spec
from driftloop.monitoring._stattests import EVIDENTLY_NAMES
from driftloop.monitoring.drift import DriftResult, detect_drift
from driftloop.monitoring.reference import ReferenceProfile

Windows = tuple[pd.DataFrame, pd.DataFrame, TabularSpec]
Report = dict[str, Any]
T = TypeVar("T")


def _generated(rows: int, seed: int, scenario: str) -> pd.DataFrame:
    raw = generate(rows, seed, scenario)
    raw["TotalCharges"] = pd.to_numeric(raw["TotalCharges"], errors="coerce")
    return raw


def windows(rows: int, scenario: str) -> Windows:
    """Reference (seed 1, no drift) and current (seed 2, ``scenario``) feature frames."""
    reference, current = _generated(rows, 1, "none"), _generated(rows, 2, scenario)
    spec = spec_from_settings(reference, DataSettings())
    typed = [apply_spec(frame, spec)[spec.features] for frame in (reference, current)]
    return typed[0], typed[1], spec


def measure(report: Report, step: str, action: Callable[[], T]) -> T:
    """Time ``action``, then run it once more under tracemalloc for its peak allocation."""
    gc.collect()
    start = time.perf_counter()
    result = action()
    report.setdefault("seconds", {})[step] = time.perf_counter() - start
    gc.collect()
    tracemalloc.start()
    try:
        action()
        report.setdefault("peak_mb", {})[step] = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    return result


def _verdicts(result: DriftResult) -> Report:
    columns = {c.column: [c.method, c.score, c.drifted] for c in result.columns}
    return {"columns": columns, "dataset_drift": result.dataset_drift}


def run_driftloop(data: Windows, report: Report) -> None:
    """Build the reference profile (timed apart), store and reload it, then detect drift."""
    reference, current, spec = data
    profile = measure(report, "build", lambda: ReferenceProfile.build(reference, spec))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "reference.npz"
        profile.save(path)
        report["profile_mb"] = path.stat().st_size / 2**20
        profile = ReferenceProfile.load(path)
    report.update(_verdicts(measure(report, "detect", lambda: detect_drift(profile, current))))


def _evidently_verdicts(snapshot: dict[str, Any]) -> Report:
    failed = {t["metric_config"]["metric_id"]: t["status"] == "FAIL" for t in snapshot["tests"]}
    columns, dataset_drift = {}, None
    for metric in snapshot["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            method = EVIDENTLY_NAMES[config["method"]]
            columns[config["column"]] = [method, metric["value"], failed[metric["id"]]]
        elif config["type"].endswith("DriftedColumnsCount"):
            dataset_drift = failed[metric["id"]]
    return {"columns": columns, "dataset_drift": dataset_drift}


def run_evidently(data: Windows, report: Report) -> None:
    """Wrap both frames as Evidently Datasets (timed apart), then run ``DataDriftPreset``."""
    with warnings.catch_warnings():  # Evidently 0.7 imports numpy.core and deprecated helpers
        warnings.simplefilter("ignore", DeprecationWarning)
        from evidently import DataDefinition, Dataset
        from evidently import Report as EvidentlyReport
        from evidently.presets import DataDriftPreset
    reference, current, spec = data
    definition = DataDefinition(
        numerical_columns=spec.numeric_features, categorical_columns=spec.categorical_features
    )

    def wrap() -> list[Dataset]:
        return [Dataset.from_pandas(f, data_definition=definition) for f in (reference, current)]

    datasets = measure(report, "wrap", wrap)
    evidently = EvidentlyReport([DataDriftPreset()], include_tests=True)
    snapshot = measure(report, "run", lambda: evidently.run(datasets[1], datasets[0]))
    report.update(_evidently_verdicts(snapshot.dict()))


TASKS: dict[str, Callable[[Windows, Report], None]] = {
    "driftloop": run_driftloop,
    "evidently": run_evidently,
}


def main(argv: list[str]) -> None:
    task, rows, scenario = argv[0], int(argv[1]), argv[2]
    report: Report = {"task": task, "rows": rows, "scenario": scenario}
    TASKS[task](windows(rows, scenario), report)
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
