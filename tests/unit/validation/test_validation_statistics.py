"""statistics.json and constraints.json computed from the Telco churn sample."""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd
import pytest

from driftloop.data.spec import ColumnSpec, Kind, TabularSpec
from driftloop.errors import DataError
from driftloop.validation import compute_statistics, suggest_constraints
from driftloop.validation.constraints import suggested_completeness

NUMERIC = ["tenure", "MonthlyCharges", "TotalCharges"]


@pytest.fixture(scope="module")
def statistics(telco_frame: pd.DataFrame, telco_spec: TabularSpec) -> dict[str, Any]:
    return compute_statistics(telco_frame, telco_spec)


def _feature(document: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in document["features"] if f["name"] == name)


def test_dataset_level_shape(statistics: dict[str, Any]) -> None:
    assert statistics["version"] == 0.0
    assert statistics["dataset"] == {"item_count": 7043}
    names = [f["name"] for f in statistics["features"]]
    assert "customerID" not in names  # ids are not part of a baseline
    assert "Churn" in names  # the target is
    assert len(names) == 20


def test_total_charges_is_fractional_with_blanks(statistics: dict[str, Any]) -> None:
    feature = _feature(statistics, "TotalCharges")
    assert feature["inferred_type"] == "Fractional"
    assert feature["numerical_statistics"]["common"] == {"num_present": 7032, "num_missing": 11}


def test_tenure_is_integral(statistics: dict[str, Any]) -> None:
    feature = _feature(statistics, "tenure")
    assert feature["inferred_type"] == "Integral"
    assert feature["numerical_statistics"]["min"] == 0.0
    assert feature["numerical_statistics"]["max"] == 72.0


@pytest.mark.parametrize("name", NUMERIC)
def test_numbers_match_pandas(
    statistics: dict[str, Any], telco_frame: pd.DataFrame, name: str
) -> None:
    expected = pd.to_numeric(telco_frame[name]).dropna()
    stats = _feature(statistics, name)["numerical_statistics"]
    for key, value in [
        ("mean", expected.mean()),
        ("sum", expected.sum()),
        ("min", expected.min()),
        ("max", expected.max()),
        ("std_dev", expected.std(ddof=0)),  # population standard deviation
    ]:
        assert math.isclose(stats[key], value, rel_tol=1e-9, abs_tol=1e-9), key


@pytest.mark.parametrize("name", NUMERIC)
def test_histogram_and_sketch(statistics: dict[str, Any], name: str) -> None:
    stats = _feature(statistics, name)["numerical_statistics"]
    kll = stats["distribution"]["kll"]
    buckets = kll["buckets"]
    assert len(buckets) == 10
    assert buckets[0]["lower_bound"] == stats["min"]
    assert buckets[-1]["upper_bound"] == stats["max"]
    assert sum(b["count"] for b in buckets) == stats["common"]["num_present"]
    widths = [b["upper_bound"] - b["lower_bound"] for b in buckets]
    assert max(widths) - min(widths) < 1e-6 * (stats["max"] - stats["min"])
    assert kll["sketch"]["parameters"] == {"c": 0.64, "k": 2048.0}
    (level,) = kll["sketch"]["data"]
    assert len(level) == min(2048, stats["common"]["num_present"])
    assert level == sorted(level)
    assert stats["min"] <= level[0] and level[-1] <= stats["max"]


def test_categorical_statistics(statistics: dict[str, Any]) -> None:
    senior = _feature(statistics, "SeniorCitizen")
    assert senior["inferred_type"] == "String"
    contract = _feature(statistics, "Contract")["string_statistics"]
    assert contract["distinct_count"] == 3
    buckets = contract["distribution"]["categorical"]["buckets"]
    assert {b["value"] for b in buckets} == {"Month-to-month", "One year", "Two year"}
    assert sum(b["count"] for b in buckets) == 7043
    counts = [b["count"] for b in buckets]
    assert counts == sorted(counts, reverse=True)


def test_suggested_constraints(statistics: dict[str, Any], telco_spec: TabularSpec) -> None:
    constraints = suggest_constraints(statistics, telco_spec)
    senior = _feature(constraints, "SeniorCitizen")
    assert senior["inferred_type"] == "String"
    assert set(senior["string_constraints"]["domains"]) == {"0", "1"}
    assert _feature(constraints, "tenure")["num_constraints"] == {"is_non_negative": True}
    # 7,032 of 7,043 present: Deequ's rule keeps the 95% lower bound, rounded down to 0.99
    assert _feature(constraints, "TotalCharges")["completeness"] == 0.99
    assert _feature(constraints, "tenure")["completeness"] == 1.0
    config = constraints["monitoring_config"]
    assert config["datatype_check_threshold"] == 1.0
    assert config["distribution_constraints"]["comparison_method"] == "Robust"
    assert config["distribution_constraints"]["categorical_drift_method"] == "LInfinity"
    assert constraints["driftloop"] == {"ignored_columns": ["customerID"]}


def test_json_round_trip(statistics: dict[str, Any], telco_spec: TabularSpec) -> None:
    constraints = suggest_constraints(statistics, telco_spec)
    for document in (statistics, constraints):
        assert json.loads(json.dumps(document, allow_nan=False)) == document


def test_typed_frame_gives_the_same_statistics(
    telco_frame: pd.DataFrame, telco_spec: TabularSpec, statistics: dict[str, Any]
) -> None:
    typed = telco_frame.copy()
    for name in NUMERIC:
        typed[name] = pd.to_numeric(typed[name])
    typed["tenure"] = typed["tenure"].astype("int64")
    typed["SeniorCitizen"] = typed["SeniorCitizen"].astype("float64")  # 0.0/1.0 codes
    assert compute_statistics(typed, telco_spec) == statistics


def _small_spec(kind: Kind) -> TabularSpec:
    columns = (ColumnSpec("x", kind), ColumnSpec("y", "categorical", "target"))
    return TabularSpec(columns=columns, target="y", positive_label="a")


def test_constant_and_empty_columns_stay_valid_json() -> None:
    frame = pd.DataFrame({"x": ["5", "5", "5"], "y": [None, None, None]})
    statistics = compute_statistics(frame, _small_spec("numeric"))
    buckets = _feature(statistics, "x")["numerical_statistics"]["distribution"]["kll"]["buckets"]
    assert [b["count"] for b in buckets] == [3] + [0] * 9
    target = _feature(statistics, "y")["string_statistics"]
    assert target["common"] == {"num_present": 0, "num_missing": 3}
    json.dumps(statistics, allow_nan=False)
    assert "string_constraints" not in _feature(
        suggest_constraints(statistics, _small_spec("numeric")), "y"
    )


def test_text_in_a_numeric_baseline_column_is_a_data_error() -> None:
    frame = pd.DataFrame({"x": ["1", "two"], "y": ["a", "b"]})
    with pytest.raises(DataError, match=r"'x'.*row 2.*'two'"):
        compute_statistics(frame, _small_spec("numeric"))


def test_missing_spec_column_is_a_data_error() -> None:
    with pytest.raises(DataError, match="missing column"):
        compute_statistics(pd.DataFrame({"y": ["a"]}), _small_spec("numeric"))


@pytest.mark.parametrize(
    ("present", "count", "expected"),
    [(100, 100, 1.0), (0, 0, 1.0), (9990, 10000, 0.99), (7032, 7043, 0.99), (50, 100, 0.40)],
)
def test_suggested_completeness_is_deequs_lower_bound(
    present: int, count: int, expected: float
) -> None:
    assert suggested_completeness(present, count) == expected
