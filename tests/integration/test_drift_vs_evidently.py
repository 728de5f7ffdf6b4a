"""driftloop's drift engine against Evidently 0.7 itself on the same reference and windows.

Evidently runs through its new API (``Report([DataDriftPreset()])`` on ``Dataset.from_pandas``
frames, column types inferred by Evidently); every feature must get the same method, score
(within 1e-6) and verdict, and the dataset the same share and verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest

from driftloop.data.generator import generate
from driftloop.data.spec import ColumnSpec, TabularSpec, apply_spec
from driftloop.monitoring._stattests import EVIDENTLY_NAMES
from driftloop.monitoring.drift import DriftSettings, detect_drift
from driftloop.monitoring.reference import ReferenceProfile

pytestmark = pytest.mark.slow

SCENARIOS = ("none", "price_rise", "product_mix", "concept_shift")
SIZES = (800, 5_000)  # KS / chi-square / Z below 1,000 reference rows, distances above


@dataclass(frozen=True)
class EvidentlyDrift:
    columns: dict[str, tuple[str, float, bool]]  # method, score, drifted
    share: float
    dataset_drift: bool
    numerical: set[str]
    categorical: set[str]


def evidently_drift(
    reference: pd.DataFrame, current: pd.DataFrame, settings: DriftSettings
) -> EvidentlyDrift:
    from evidently import Dataset, Report
    from evidently.presets import DataDriftPreset

    datasets = [Dataset.from_pandas(frame) for frame in (reference, current)]
    preset = DataDriftPreset(
        drift_share=settings.drift_share,
        per_column_method=dict(settings.methods) or None,
        per_column_threshold=dict(settings.thresholds) or None,
    )
    report = Report([preset], include_tests=True)
    snapshot = report.run(current_data=datasets[1], reference_data=datasets[0]).dict()
    status = {t["metric_config"]["metric_id"]: t["status"] == "FAIL" for t in snapshot["tests"]}
    columns, share, dataset_drift = {}, float("nan"), None
    for metric in snapshot["metrics"]:
        config: dict[str, Any] = metric["config"]
        if config["type"].endswith("ValueDrift"):
            method = EVIDENTLY_NAMES.get(config["method"], config["method"])
            columns[config["column"]] = (method, float(metric["value"]), status[metric["id"]])
        elif config["type"].endswith("DriftedColumnsCount"):
            share, dataset_drift = metric["value"]["share"], status[metric["id"]]
    definition = datasets[0].data_definition
    return EvidentlyDrift(
        columns=columns,
        share=share,
        dataset_drift=bool(dataset_drift),
        numerical=set(definition.numerical_columns or []),
        categorical=set(definition.categorical_columns or []),
    )


def assert_agrees(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    spec: TabularSpec,
    settings: DriftSettings | None = None,
) -> None:
    settings = settings or DriftSettings()
    expected = evidently_drift(reference, current, settings)
    assert expected.numerical == set(spec.numeric_features)
    assert expected.categorical == set(spec.categorical_features)
    result = detect_drift(ReferenceProfile.build(reference, spec, settings), current)
    assert [c.column for c in result.columns] == spec.features
    assert set(expected.columns) == set(spec.features)
    for column in result.columns:
        method, score, drifted = expected.columns[column.column]
        assert column.method == method, column.column
        assert column.score == pytest.approx(score, abs=1e-6, rel=0), column.column
        assert column.drifted == drifted, column.column
    assert result.share == pytest.approx(expected.share, abs=1e-12)
    assert result.dataset_drift == expected.dataset_drift


def typed_generated(rows: int, seed: int, scenario: str, spec: TabularSpec) -> pd.DataFrame:
    raw = generate(rows, seed, scenario)
    raw["TotalCharges"] = pd.to_numeric(raw["TotalCharges"], errors="coerce")
    return apply_spec(raw, spec)[spec.features]


@pytest.mark.parametrize("rows", SIZES)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_generated_windows_agree(rows: int, scenario: str, telco_spec: TabularSpec) -> None:
    reference = typed_generated(rows, 1, "none", telco_spec)
    current = typed_generated(rows, 2, scenario, telco_spec)
    assert_agrees(reference, current, telco_spec)


def test_real_telco_halves_agree(telco_frame: pd.DataFrame, telco_spec: TabularSpec) -> None:
    typed = apply_spec(telco_frame, telco_spec)[telco_spec.features]
    order = np.random.default_rng(0).permutation(len(typed))
    half = len(typed) // 2
    reference = typed.iloc[order[:half]].reset_index(drop=True)
    current = typed.iloc[order[half:]].reset_index(drop=True)
    assert int(reference["TotalCharges"].isna().sum()) > 0  # missing values are dropped alike
    assert_agrees(reference, current, telco_spec)


def test_small_real_reference_against_generated_drift(
    telco_frame: pd.DataFrame, telco_spec: TabularSpec
) -> None:
    """A 700-row real reference (p-value tests, missing totals) against a drifted window."""
    typed = apply_spec(telco_frame, telco_spec)[telco_spec.features]
    reference = typed.iloc[np.random.default_rng(1).permutation(len(typed))[:700]]
    current = typed_generated(3_000, 4, "price_rise", telco_spec)
    assert_agrees(reference.reset_index(drop=True), current, telco_spec)


EDGE_SPEC = TabularSpec(
    columns=(
        *(ColumnSpec(n, "numeric") for n in ("three", "two", "fifteen", "spread")),
        *(ColumnSpec(n, "categorical") for n in ("label", "fresh_label")),
        ColumnSpec("y", "categorical", role="target"),
    ),
    target="y",
    positive_label="1",
)
OVERRIDES = DriftSettings(
    methods={"spread": "psi", "fifteen": "jensenshannon", "label": "psi", "three": "wasserstein"},
    thresholds={"spread": 0.2, "label": 0.01, "two": 0.2},
    drift_share=0.3,
)


def edge_frame(rows: int, seed: int, shift: float) -> pd.DataFrame:
    """Few-valued numbers, a numeric column with missing values, and (when shifted) a label
    the reference never saw."""
    rng = np.random.default_rng(seed)
    spread = rng.normal(shift, 1.0, rows)
    spread[rng.random(rows) < 0.05] = np.nan
    labels = ["a", "b", "c", "new"] if shift else ["a", "b", "c"]
    return pd.DataFrame({
        "three": rng.choice([1.0, 2.0, 3.0], rows, p=[0.5, 0.3 - shift / 4, 0.2 + shift / 4]),
        "two": rng.choice([0.0, 1.0], rows, p=[0.7 - shift / 4, 0.3 + shift / 4]),
        "fifteen": rng.integers(0, 15, rows).astype(np.float64),
        "spread": spread,
        "label": rng.choice(["x", "y", "z"], rows).astype(object),
        "fresh_label": rng.choice(labels, rows).astype(object),
    })  # fmt: skip


# A label new in the current window makes a chi-square expected count zero: scipy warns in
# Evidently (driftloop computes the same p = 0 without the warning).
@pytest.mark.filterwarnings("ignore:divide by zero encountered in divide:RuntimeWarning")
@pytest.mark.parametrize("settings", [None, OVERRIDES], ids=["defaults", "overrides"])
@pytest.mark.parametrize("rows", SIZES)
def test_edge_columns_agree(rows: int, settings: DriftSettings | None) -> None:
    reference, current = edge_frame(rows, 5, 0.0), edge_frame(rows, 6, 0.4)
    assert_agrees(reference, current, EDGE_SPEC, settings)
