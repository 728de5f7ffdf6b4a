"""verify() against constraints suggested from the Telco sample, and the baseline files."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from driftloop.data.spec import TabularSpec
from driftloop.errors import DataError, NotFoundError
from driftloop.validation import (
    Baseline,
    CheckContext,
    compute_statistics,
    load_constraints,
    suggest_constraints,
    verify,
    violation,
    write_baseline,
)


@pytest.fixture(scope="module")
def constraints(telco_frame: pd.DataFrame, telco_spec: TabularSpec) -> dict[str, Any]:
    return suggest_constraints(compute_statistics(telco_frame, telco_spec), telco_spec)


def _found(result: dict[str, Any]) -> set[tuple[str, str]]:
    return {(v["feature_name"], v["constraint_check_type"]) for v in result["violations"]}


def _set(column: str, rows: slice | list[int], value: object) -> Callable[[pd.DataFrame], None]:
    def mutate(frame: pd.DataFrame) -> None:
        frame.loc[rows, column] = value

    return mutate


def _add_column(frame: pd.DataFrame) -> None:
    frame["Coupon"] = "none"


def _drop_gender(frame: pd.DataFrame) -> None:
    del frame["gender"]


def test_the_baseline_data_passes(telco_frame: pd.DataFrame, constraints: dict[str, Any]) -> None:
    result = verify(telco_frame, constraints)
    assert result == {"violations": []}


@pytest.mark.parametrize(
    ("mutate", "expected", "cited"),
    [
        (_set("tenure", [3], "abc"), ("tenure", "data_type_check"), "'abc' (row 4)"),
        (_set("tenure", [8], "2.5"), ("tenure", "data_type_check"), "Expected data type: Integral"),
        (_drop_gender, ("gender", "missing_column_check"), "'gender'"),
        (_add_column, ("Coupon", "extra_column_check"), "'Coupon'"),
        (_set("Contract", [5], "Weekly"), ("Contract", "categorical_values_check"), "'Weekly'"),
        (
            _set("PaymentMethod", slice(0, 99), None),
            ("PaymentMethod", "completeness_check"),
            "(100 of 7043",
        ),
        (_set("MonthlyCharges", [7], "-5"), ("MonthlyCharges", "non_negative_check"), "-5.0"),
    ],
)
def test_each_violation_fires_and_names_the_feature(
    telco_frame: pd.DataFrame,
    constraints: dict[str, Any],
    mutate: Callable[[pd.DataFrame], None],
    expected: tuple[str, str],
    cited: str,
) -> None:
    frame = telco_frame.copy()
    mutate(frame)
    result = verify(frame, constraints)
    assert _found(result) == {expected}
    assert cited in result["violations"][0]["description"]
    json.dumps(result)


def test_data_type_description_reads_like_model_monitor(
    telco_frame: pd.DataFrame, constraints: dict[str, Any]
) -> None:
    frame = telco_frame.copy()
    frame.loc[:69, "tenure"] = "n/a"  # 70 of 7043 rows
    (found,) = verify(frame, constraints)["violations"]
    assert found["description"].startswith(
        "Data type match requirement is not met. Expected data type: Integral, "
        "Expected match: 100.0%. Observed: Only 99.0061% of data is Integral."
    )


def test_optional_target_may_be_absent(
    telco_frame: pd.DataFrame, constraints: dict[str, Any]
) -> None:
    traffic = telco_frame.drop(columns=["Churn", "customerID"])
    assert verify(traffic, constraints, optional_columns=["Churn"]) == {"violations": []}
    assert _found(verify(traffic, constraints)) == {("Churn", "missing_column_check")}


def test_thresholds_follow_model_monitor(
    telco_frame: pd.DataFrame, constraints: dict[str, Any]
) -> None:
    frame = telco_frame.copy()
    frame.loc[0, "Contract"] = "Weekly"
    frame.loc[0, "tenure"] = "abc"
    lenient = copy.deepcopy(constraints)
    lenient["monitoring_config"]["domain_content_threshold"] = 0.99  # 99% must be known
    tenure = next(f for f in lenient["features"] if f["name"] == "tenure")
    tenure["monitoringConfigOverrides"] = {"datatype_check_threshold": 0.99}
    assert verify(frame, lenient) == {"violations": []}
    assert len(verify(frame, constraints)["violations"]) == 2


def test_disabled_evaluation_still_runs_extra_checks(
    telco_frame: pd.DataFrame, constraints: dict[str, Any]
) -> None:
    disabled = copy.deepcopy(constraints)
    disabled["monitoring_config"]["evaluate_constraints"] = "Disabled"
    frame = telco_frame.drop(columns=["gender"]).assign(Contract="Weekly")

    def drift(context: CheckContext) -> list[dict[str, str]]:
        if context.name != "MonthlyCharges":
            return []
        return [violation(context.name, "baseline_drift_check", "drifted")]

    result = verify(frame, disabled, extra_checks=[drift])
    assert _found(result) == {("MonthlyCharges", "baseline_drift_check")}


def test_typed_frame_passes(telco_frame: pd.DataFrame, constraints: dict[str, Any]) -> None:
    typed = telco_frame.copy()
    typed["tenure"] = typed["tenure"].astype("int64")
    typed["SeniorCitizen"] = typed["SeniorCitizen"].astype("int64")
    typed["MonthlyCharges"] = typed["MonthlyCharges"].astype("float64")
    assert verify(typed, constraints) == {"violations": []}


def test_malformed_constraints_are_a_data_error(telco_frame: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="features"):
        verify(telco_frame, {"features": {"name": "tenure"}})


def test_write_and_load_baseline(
    telco_frame: pd.DataFrame, telco_spec: TabularSpec, tmp_path: Path
) -> None:
    written = write_baseline(telco_frame, telco_spec, tmp_path / "baseline")
    assert written.statistics_path.name == "statistics.json"
    assert json.loads(written.constraints_path.read_text()) == written.constraints
    loaded = Baseline.load(tmp_path / "baseline")
    assert loaded == written
    assert load_constraints(written.constraints_path) == written.constraints
    assert sorted(p.name for p in (tmp_path / "baseline").iterdir()) == [
        "constraints.json",
        "statistics.json",
    ]


def test_load_constraints_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "constraints.json"
    with pytest.raises(NotFoundError, match="constraints file not found") as caught:
        load_constraints(path)
    assert str(path) in caught.value.message


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "top level is not a JSON object"),
        ('{"version": 0}', "'features' is missing"),
        ('{"features": [{"name": "a", "inferred_type": "Text"}]}', r"features\[0\].*Text"),
        ('{"features": [{"name": "a", "inferred_type": "String", "completeness": "x"}]}', "comp"),
    ],
)
def test_load_constraints_bad_file(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "constraints.json"
    path.write_text(content)
    with pytest.raises(DataError, match=problem) as caught:
        load_constraints(path)
    assert str(path) in caught.value.message
    assert caught.value.details["file"] == str(path)
