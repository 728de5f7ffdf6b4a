"""``driftloop alarms put``: the low-sample-count flag, and the warning for an alarm whose
namespace, metric and dimensions match no stored datapoint."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from driftloop.backends.local.alarms import SqliteAlarmStore
from driftloop.backends.local.metrics import SqliteMetricStore
from driftloop.cli import alarms as alarms_cli
from driftloop.config import load_settings
from driftloop.metrics.base import Datapoint

T0 = 1_800_000_000


def put(*extra: str) -> list[str]:
    return [
        "put",
        "--alarm-name",
        "HighLatency",
        "--namespace",
        "AWS/SageMaker",
        "--metric-name",
        "ModelLatency",
        "--extended-statistic",
        "p99",
        "--period",
        "60",
        "--evaluation-periods",
        "1",
        "--threshold",
        "1000",
        "--comparison-operator",
        "GreaterThanThreshold",
        *extra,
    ]


def latency(home: Path, dimensions: dict[str, str]) -> None:
    point = Datapoint(
        "AWS/SageMaker", "ModelLatency", dimensions, T0, "Microseconds", 5.0, 1, 5.0, 5.0
    )
    SqliteMetricStore(home / "metrics.db").put_metric_data([point])


def stored(home: Path) -> SqliteAlarmStore:
    return SqliteAlarmStore(load_settings().workspace.root / "alarms.db")


def test_low_sample_count_flag_is_stored(home: Path) -> None:
    latency(home, {"EndpointName": "churn", "VariantName": "AllTraffic"})
    result = CliRunner().invoke(
        alarms_cli.app,
        put(
            "--dimensions",
            "Name=EndpointName,Value=churn",
            "--dimensions",
            "VariantName=AllTraffic",
            "--evaluate-low-sample-count-percentile",
            "ignore",
        ),
    )
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr
    alarm = stored(home).get("HighLatency").definition
    assert alarm.evaluate_low_sample_count_percentile == "ignore"


def test_a_dimension_mismatch_warns_and_names_the_stored_sets(home: Path) -> None:
    latency(home, {"EndpointName": "churn", "VariantName": "AllTraffic"})
    latency(home, {"EndpointName": "fraud", "VariantName": "AllTraffic"})
    result = CliRunner().invoke(
        alarms_cli.app, put("--dimensions", "Name=EndpointName,Value=churn")
    )
    assert result.exit_code == 0, result.output
    assert "stored" in result.stdout
    warning = " ".join(result.stderr.split())
    assert "warning: no datapoint in the metric store has namespace 'AWS/SageMaker'" in warning
    assert "dimensions {EndpointName=churn};" in warning
    assert "{EndpointName=churn, VariantName=AllTraffic}" in warning
    assert "{EndpointName=fraud, VariantName=AllTraffic}" in warning
    assert stored(home).get("HighLatency").definition.dimensions == {"EndpointName": "churn"}


def test_an_alarm_on_a_metric_without_datapoints_warns(home: Path) -> None:
    result = CliRunner().invoke(
        alarms_cli.app, put("--dimensions", "Name=EndpointName,Value=churn")
    )
    assert result.exit_code == 0, result.output
    assert "the metric has no datapoints at all yet" in " ".join(result.stderr.split())
    assert stored(home).get("HighLatency").state == "INSUFFICIENT_DATA"


def test_a_bad_low_sample_count_value_names_the_field(home: Path) -> None:
    result = CliRunner().invoke(
        alarms_cli.app, put("--evaluate-low-sample-count-percentile", "sometimes")
    )
    assert result.exit_code != 0
    assert "evaluate_low_sample_count_percentile" in str(result.exception)
