"""CloudWatch alarm semantics on the local metric store."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from driftloop.alarms.definition import AlarmDefinition, parse_alarm, topics
from driftloop.alarms.evaluate import evaluate, state_change_event
from driftloop.backends.local.alarms import SqliteAlarmStore
from driftloop.backends.local.metrics import SqliteMetricStore
from driftloop.errors import ConfigError, NotFoundError
from driftloop.metrics.base import Datapoint, MetricStore, dimensions_key
from driftloop.metrics.statistics import low_sample_minimum, percentile, period_values, series

T0 = int(datetime(2026, 11, 27, 14, 0, tzinfo=UTC).timestamp())
DIMS = {"EndpointName": "churn", "VariantName": "AllTraffic"}

HIGH_LATENCY_JSON = """{
  "AlarmName": "HighLatencyAlarm",
  "AlarmDescription": "Model latency above 1 ms",
  "ActionsEnabled": true,
  "AlarmActions": ["arn:aws:sns:us-east-1:123456789012:ops-alerts"],
  "OKActions": ["ops-alerts"],
  "MetricName": "ModelLatency",
  "Namespace": "AWS/SageMaker",
  "Statistic": "Average",
  "Dimensions": [
    {"Name": "EndpointName", "Value": "churn"},
    {"Name": "VariantName", "Value": "AllTraffic"}
  ],
  "Period": 60,
  "EvaluationPeriods": 2,
  "Threshold": 1000.0,
  "ComparisonOperator": "GreaterThanThreshold",
  "Unit": "Microseconds"
}"""


def at(minute: int, second: int = 0) -> datetime:
    """The moment ``minute`` minutes (and ``second`` seconds) after T0."""
    return datetime.fromtimestamp(T0 + minute * 60 + second, UTC)


def latency(store: MetricStore, minute: int, *values: float) -> None:
    """Write one minute of ModelLatency samples, with their distribution."""
    distribution: dict[str, float] = {}
    for value in values:
        distribution[f"{value:.2g}"] = distribution.get(f"{value:.2g}", 0.0) + 1
    point = Datapoint(
        "AWS/SageMaker",
        "ModelLatency",
        DIMS,
        T0 + minute * 60,
        "Microseconds",
        sum(values),
        len(values),
        min(values),
        max(values),
        distribution,
    )
    store.put_metric_data([point])


def alarm(**changes: Any) -> AlarmDefinition:
    """The HighLatencyAlarm with some fields changed (snake_case)."""
    return parse_alarm({**json.loads(HIGH_LATENCY_JSON), **changes})


@pytest.fixture
def metrics(tmp_path: Path) -> MetricStore:
    return SqliteMetricStore(tmp_path / "metrics.db")


def test_pascal_case_cli_input_parses() -> None:
    parsed = alarm()
    assert parsed.alarm_name == "HighLatencyAlarm"
    assert parsed.dimensions == DIMS
    assert parsed.datapoints_to_alarm == 2
    assert parsed.treat_missing_data == "missing"
    assert topics(parsed.alarm_actions + parsed.ok_actions) == ["ops-alerts", "ops-alerts"]
    snake = AlarmDefinition(**parsed.model_dump())
    assert snake == parsed


def test_high_latency_alarm_insufficient_then_alarm_then_ok(metrics: MetricStore) -> None:
    high = alarm()
    first = evaluate(high, metrics, at(2, 30), None)
    assert first.state == "INSUFFICIENT_DATA"
    assert first.reason == "Insufficient Data: 2 datapoints were unknown."
    latency(metrics, 0, 1400.0, 1600.0)
    latency(metrics, 1, 1523.0)
    latency(metrics, 2, 9999.0)  # the current, incomplete minute is not evaluated
    second = evaluate(high, metrics, at(2, 30), first.state)
    assert second.state == "ALARM"
    # the retrieval range holds two more periods than the two evaluated
    assert second.values == [(T0 - 120, None), (T0 - 60, None), (T0, 1500.0), (T0 + 60, 1523.0)]
    assert second.reason == (
        "Threshold Crossed: 2 out of the last 2 datapoints [1523.0 (27/11/26 14:01:00), "
        "1500.0 (27/11/26 14:00:00)] were greater than the threshold (1000.0) "
        "(minimum 2 datapoints for INSUFFICIENT_DATA -> ALARM transition)."
    )
    latency(metrics, 3, 200.0)
    third = evaluate(high, metrics, at(4), second.state)
    assert third.state == "OK"
    assert "1 out of the last 2 datapoints" in third.reason
    assert "were not greater than" not in third.reason and "was not greater than" in third.reason


@pytest.mark.parametrize(
    ("mode", "previous", "expected"),
    [
        ("missing", "OK", "INSUFFICIENT_DATA"),
        ("notBreaching", "ALARM", "OK"),
        ("breaching", "OK", "ALARM"),
        ("ignore", "ALARM", "ALARM"),
        ("ignore", None, "INSUFFICIENT_DATA"),
    ],
)
def test_treat_missing_data_when_all_missing(
    metrics: MetricStore, mode: str, previous: Any, expected: str
) -> None:
    result = evaluate(alarm(TreatMissingData=mode), metrics, at(5), previous)
    assert result.state == expected


@pytest.mark.parametrize(
    ("mode", "required", "expected"),
    [
        ("missing", 2, "ALARM"),
        ("missing", 3, "ALARM"),  # the oldest evaluated datapoint breaches, none is within
        ("ignore", 2, "ALARM"),
        ("ignore", 3, "OK"),
        ("notBreaching", 2, "ALARM"),
        ("notBreaching", 3, "OK"),
        ("breaching", 3, "ALARM"),
    ],
)
def test_treat_missing_data_with_gaps(
    metrics: MetricStore, mode: str, required: int, expected: str
) -> None:
    # Five retrieved periods `- - X - X`: two real datapoints, both breaching.
    latency(metrics, 0, 5000.0)
    latency(metrics, 2, 5000.0)
    definition = alarm(EvaluationPeriods=3, DatapointsToAlarm=required, TreatMissingData=mode)
    result = evaluate(definition, metrics, at(3), "OK")
    assert result.state == expected
    assert [value for _, value in result.values] == [None, None, 5000.0, None, 5000.0]


def test_missing_mode_with_one_recent_breaching_point_is_insufficient(metrics: MetricStore) -> None:
    latency(metrics, 2, 5000.0)
    result = evaluate(alarm(EvaluationPeriods=3), metrics, at(3), "ALARM")
    assert (result.state, result.reason) == (
        "INSUFFICIENT_DATA",
        "Insufficient Data: 2 datapoints were unknown.",
    )
    breaching = evaluate(
        alarm(EvaluationPeriods=3, TreatMissingData="breaching"), metrics, at(3), "OK"
    )
    assert breaching.state == "ALARM"


def test_m_of_n(metrics: MetricStore) -> None:
    for minute, value in enumerate([5000.0, 10.0, 5000.0, 10.0, 10.0]):
        latency(metrics, minute, value)
    two_of_five = alarm(EvaluationPeriods=5, DatapointsToAlarm=2)
    assert evaluate(two_of_five, metrics, at(5), None).state == "ALARM"
    three_of_five = alarm(EvaluationPeriods=5, DatapointsToAlarm=3)
    result = evaluate(three_of_five, metrics, at(5), "ALARM")
    assert result.state == "OK"
    assert "3 out of the last 5 datapoints" in result.reason
    assert "minimum 3 datapoints for ALARM -> OK" in result.reason
    # Two-minute periods aligned to even minutes: [0,2) avg 2505, [2,4) avg 2505.
    wide = alarm(Period=120, EvaluationPeriods=2)
    assert evaluate(wide, metrics, at(5), None).values[-2:] == [(T0, 2505.0), (T0 + 120, 2505.0)]


def test_percentiles_from_distributions(metrics: MetricStore) -> None:
    latency(metrics, 0, *[float(v) for v in range(1, 51)])
    latency(metrics, 1, *[float(v) for v in range(51, 101)])
    points = metrics.get_metric_data("AWS/SageMaker", "ModelLatency", DIMS)
    values = dict(period_values(points, "p50", 120, T0, T0 + 120))
    assert values[T0] == 50.0
    p99 = period_values(points, "p99", 120, T0, T0 + 120)[0][1]
    assert p99 is not None and abs(p99 - 99.0) / 99.0 <= 0.05
    assert percentile({"1e+03": 1, "2e+03": 1}, 99.9) == 2000.0
    assert percentile({}, 50) is None
    result = evaluate(
        alarm(Statistic=None, ExtendedStatistic="p99", Threshold=90), metrics, at(2), None
    )
    assert result.state == "OK"  # one period each: p99 of 1..50 is 50, of 51..100 is ~99
    assert [value is not None and value > 90 for _, value in result.values[-2:]] == [False, True]


def test_simple_statistics_and_series(metrics: MetricStore) -> None:
    latency(metrics, 0, 100.0, 300.0)
    latency(metrics, 1, 50.0)
    points = metrics.get_metric_data("AWS/SageMaker", "ModelLatency", DIMS)
    expected = {"SampleCount": 3, "Average": 150.0, "Sum": 450.0, "Minimum": 50.0, "Maximum": 300.0}
    for statistic, value in expected.items():
        assert period_values(points, statistic, 120, T0, T0 + 240) == [
            (T0, value),
            (T0 + 120, None),
        ]
    got = series(metrics, "AWS/SageMaker", "ModelLatency", DIMS, "Sum", 60, T0 + 30, T0 + 90)
    assert got == [(T0, 400.0), (T0 + 60, 50.0)]
    by_time = series(metrics, "AWS/SageMaker", "ModelLatency", DIMS, "Sum", 60, at(0), at(1, 1))
    assert by_time == got


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"ComparisonOperator": "GreaterThanUpperThreshold"}, "comparison_operator"),
        ({"Period": 90}, "period"),
        ({"Period": 20}, "period"),
        ({"DatapointsToAlarm": 3}, "datapoints_to_alarm"),
        ({"ExtendedStatistic": "p99"}, "statistic"),
        ({"Statistic": None, "ExtendedStatistic": "p100"}, "extended_statistic"),
        ({"TreatMissingData": "maybe"}, "treat_missing_data"),
        ({"Tags": []}, "Tags"),
    ],
)
def test_bad_definitions_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match=f"^alarm 'HighLatencyAlarm': field '{field}': "):
        alarm(**changes)


def test_strict_mode_knows_product_metrics() -> None:
    with pytest.raises(ConfigError, match=r"field 'metric_name': unknown metric 'Latency'.*known:"):
        parse_alarm({**json.loads(HIGH_LATENCY_JSON), "MetricName": "Latency"}, strict=True)
    assert alarm(MetricName="Latency").metric_name == "Latency"  # allowed when not strict
    drift = {"Namespace": "aws/sagemaker/Endpoints/data-metrics", "Dimensions": {}}
    for metric in ("feature_baseline_drift_age", "dataset_drift_share"):
        parse_alarm({**json.loads(HIGH_LATENCY_JSON), **drift, "MetricName": metric}, strict=True)


def test_store_records_only_changes(tmp_path: Path, metrics: MetricStore) -> None:
    alarms = SqliteAlarmStore(tmp_path / "alarms.db")
    high = alarm()
    alarms.put(high)
    assert alarms.get("HighLatencyAlarm").state == "INSUFFICIENT_DATA"
    assert alarms.set_state("HighLatencyAlarm", evaluate(high, metrics, at(2), None)) is None
    latency(metrics, 0, 5000.0)
    latency(metrics, 1, 5000.0)
    for _ in range(2):
        previous = alarms.get("HighLatencyAlarm").state
        change = alarms.set_state("HighLatencyAlarm", evaluate(high, metrics, at(2), previous))
    assert change is None
    history = alarms.history("HighLatencyAlarm")
    assert [(item.old, item.new) for item in history] == [("INSUFFICIENT_DATA", "ALARM")]
    alarms.put(alarm(Threshold=2000.0))  # an update keeps the state
    stored = alarms.get("HighLatencyAlarm")
    assert (stored.state, stored.definition.threshold) == ("ALARM", 2000.0)
    assert [a.alarm_name for a in alarms.list()] == ["HighLatencyAlarm"]
    alarms.delete("HighLatencyAlarm")
    with pytest.raises(NotFoundError):
        alarms.get("HighLatencyAlarm")
    with pytest.raises(NotFoundError):
        alarms.set_state("HighLatencyAlarm", evaluate(high, metrics, at(2), None))
    assert [item.alarm_name for item in alarms.history()] == ["HighLatencyAlarm"]


def test_state_change_event_shape() -> None:
    detail = state_change_event(alarm(), "OK", "ALARM", "Threshold Crossed", at(2))
    assert detail["alarmName"] == "HighLatencyAlarm"
    assert detail["state"] == {
        "value": "ALARM",
        "reason": "Threshold Crossed",
        "timestamp": "2026-11-27T14:02:00.000+0000",
    }
    assert detail["previousState"]["value"] == "OK"
    stat = detail["configuration"]["metrics"][0]["metricStat"]
    assert stat["metric"] == {
        "namespace": "AWS/SageMaker",
        "name": "ModelLatency",
        "dimensions": DIMS,
    }
    assert (stat["period"], stat["stat"]) == (60, "Average")


def test_prune_keeps_recent_minutes(metrics: MetricStore) -> None:
    assert metrics.prune(T0) == 0  # no database yet
    for minute in range(4):
        latency(metrics, minute, 1.0)
    assert metrics.prune(T0 + 120) == 2
    assert [
        p.timestamp for p in metrics.get_metric_data("AWS/SageMaker", "ModelLatency", DIMS)
    ] == [
        T0 + 120,
        T0 + 180,
    ]


def test_high_resolution_alarm_evaluates_ten_second_buckets(metrics: MetricStore) -> None:
    fast = alarm(Period=10, EvaluationPeriods=1)
    for second, value in ((0, 500.0), (10, 4000.0), (20, 90000.0)):
        point = Datapoint(
            "AWS/SageMaker",
            "ModelLatency",
            DIMS,
            T0 + second,
            "Microseconds",
            value,
            1,
            value,
            value,
        )
        metrics.put_metric_data([point])
    assert evaluate(fast, metrics, at(0, 15), None).state == "OK"  # [T0, T0+10): 500
    breached = evaluate(fast, metrics, at(0, 25), "OK")  # [T0+10, T0+20): 4000, not 90000
    assert (breached.state, breached.values[-1]) == ("ALARM", (T0 + 10, 4000.0))
    half = alarm(Period=30, EvaluationPeriods=1, Statistic="Maximum")
    assert evaluate(half, metrics, at(0, 31), None).values[-1] == (T0, 90000.0)
    # a one-minute alarm over the same buckets sees their average
    assert evaluate(alarm(EvaluationPeriods=1), metrics, at(1), None).values[-1] == (
        T0,
        (500.0 + 4000.0 + 90000.0) / 3,
    )


def test_a_store_written_with_minute_columns_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with closing(sqlite3.connect(path)) as db:
        db.execute(
            "CREATE TABLE datapoints (namespace TEXT NOT NULL, metric TEXT NOT NULL, dimensions "
            "TEXT NOT NULL, minute INTEGER NOT NULL, unit TEXT NOT NULL, sum REAL NOT NULL, count "
            "REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL, distribution TEXT, "
            "PRIMARY KEY (namespace, metric, dimensions, minute))"
        )
        db.execute(
            "INSERT INTO datapoints VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
            ("AWS/SageMaker", "ModelLatency", dimensions_key(DIMS), T0, "Microseconds", 3, 1, 3, 3),
        )
        db.commit()
    found = SqliteMetricStore(path).get_metric_data("AWS/SageMaker", "ModelLatency", DIMS)
    assert [(p.timestamp, p.sum) for p in found] == [(T0, 3.0)]


def test_low_sample_minimum_follows_the_documented_formula() -> None:
    # "Percentile-based alarms and low data samples": fewer than 10/(1-percentile) data points
    # for percentiles of 0.5 and above (1000 for p99), fewer than 10/percentile below 0.5.
    assert [low_sample_minimum(s) for s in ("p99", "p99.9", "p50", "p25", "p10")] == [
        1000,
        10000,
        20,
        40,
        100,
    ]
    assert low_sample_minimum("Average") is None


@pytest.mark.parametrize(
    ("setting", "previous", "expected"),
    [
        (None, "OK", "ALARM"),  # omitted: always evaluated
        ("evaluate", "OK", "ALARM"),
        ("ignore", "OK", "OK"),  # too few samples: the state does not change
        ("ignore", None, "INSUFFICIENT_DATA"),
    ],
)
def test_evaluate_low_sample_count_percentile(
    metrics: MetricStore, setting: str | None, previous: Any, expected: str
) -> None:
    latency(metrics, 0, *[5000.0] * 30)  # 30 samples, fewer than the 1000 a p99 needs
    changes = {"Statistic": None, "ExtendedStatistic": "p99", "EvaluationPeriods": 1}
    if setting is not None:
        changes["EvaluateLowSampleCountPercentile"] = setting
    result = evaluate(alarm(**changes), metrics, at(1), previous)
    assert result.state == expected
    if setting == "ignore":
        assert "fewer than 1000 samples" in result.reason


def test_enough_samples_are_evaluated_even_when_ignoring_low_counts(metrics: MetricStore) -> None:
    latency(metrics, 0, *[5000.0] * 20)  # p50 needs 10/(1-0.5) = 20 samples
    median = alarm(
        Statistic=None,
        ExtendedStatistic="p50",
        EvaluationPeriods=1,
        EvaluateLowSampleCountPercentile="ignore",
    )
    assert evaluate(median, metrics, at(1), "OK").state == "ALARM"
    with pytest.raises(ConfigError, match="evaluate_low_sample_count_percentile"):
        alarm(EvaluateLowSampleCountPercentile="always")
