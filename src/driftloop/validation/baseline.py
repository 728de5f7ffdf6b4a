"""A baseline on disk: ``statistics.json`` and ``constraints.json`` side by side."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from driftloop.data.spec import TabularSpec
from driftloop.errors import DataError
from driftloop.validation._files import read_json, write_json
from driftloop.validation.constraints import load_constraints, suggest_constraints
from driftloop.validation.statistics import compute_statistics

STATISTICS_FILE = "statistics.json"
CONSTRAINTS_FILE = "constraints.json"


@dataclass(frozen=True)
class Baseline:
    """Where a baseline's two files are, and their content."""

    statistics_path: Path
    constraints_path: Path
    statistics: dict[str, Any]
    constraints: dict[str, Any]

    @classmethod
    def load(cls, directory: Path) -> Baseline:
        """Read the baseline in ``directory``; errors name the missing or malformed file."""
        directory = Path(directory)
        statistics_path = directory / STATISTICS_FILE
        constraints_path = directory / CONSTRAINTS_FILE
        return cls(
            statistics_path=statistics_path,
            constraints_path=constraints_path,
            statistics=load_statistics(statistics_path),
            constraints=load_constraints(constraints_path),
        )


def write_baseline(frame: pd.DataFrame, spec: TabularSpec, out_dir: Path) -> Baseline:
    """Compute statistics and suggested constraints of ``frame``; write both atomically."""
    out_dir = Path(out_dir)
    statistics = compute_statistics(frame, spec)
    constraints = suggest_constraints(statistics, spec)
    baseline = Baseline(
        statistics_path=out_dir / STATISTICS_FILE,
        constraints_path=out_dir / CONSTRAINTS_FILE,
        statistics=statistics,
        constraints=constraints,
    )
    write_json(baseline.statistics_path, statistics)
    write_json(baseline.constraints_path, constraints)
    return baseline


def load_statistics(path: Path) -> dict[str, Any]:
    """Read a ``statistics.json``; errors name the file (missing, not JSON, wrong shape)."""
    raw = read_json(Path(path), "statistics")
    features = raw.get("features") if isinstance(raw, dict) else None
    dataset = raw.get("dataset") if isinstance(raw, dict) else None
    if (
        not isinstance(raw, dict)
        or not isinstance(features, list)
        or not isinstance(dataset, dict)
        or not all(isinstance(f, dict) and isinstance(f.get("name"), str) for f in features)
    ):
        raise DataError(
            f"{path}: not a statistics file (needs 'dataset' and a list of named 'features')",
            details={"file": str(path)},
        )
    return raw
