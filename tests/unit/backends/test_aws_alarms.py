"""The CloudWatch alarm store's translations: actions to SNS ARNs, CloudWatch's items back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from driftloop.alarms.definition import parse_alarm
from driftloop.backends.aws.alarms import CloudWatchAlarmStore, definition, history_item
from driftloop.backends.catalog import Backends
from driftloop.config import load_settings
from driftloop.errors import ConfigError, NotFoundError

REGION = "us-east-1"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CloudWatchAlarmStore]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    aws = {"region": REGION, "bucket": "unit-bucket", "max_attempts": 1}
    settings = load_settings(home=tmp_path, backend={"kind": "aws"}, aws=aws)
    with mock_aws():
        store = Backends.from_settings(settings).alarms
        assert isinstance(store, CloudWatchAlarmStore)
        yield store


def _alarm(actions: list[str]):  # type: ignore[no-untyped-def]
    return parse_alarm(
        {
            "AlarmName": "slow",
            "Namespace": "AWS/SageMaker",
            "MetricName": "ModelLatency",
            "ExtendedStatistic": "p99",
            "Period": 10,
            "EvaluationPeriods": 3,
            "DatapointsToAlarm": 2,
            "Threshold": 5.0,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "ignore",
            "EvaluateLowSampleCountPercentile": "ignore",
            "Dimensions": [{"Name": "EndpointName", "Value": "churn"}],
            "AlarmActions": actions,
        }
    )


def test_topic_names_become_the_arns_of_their_sns_topics(store: CloudWatchAlarmStore) -> None:
    arn = boto3.client("sns", region_name=REGION).create_topic(Name="ops")["TopicArn"]
    store.put(_alarm(["ops"]))
    stored = store.get("slow").definition
    assert stored.alarm_actions == [arn]
    assert stored.model_copy(update={"alarm_actions": ["ops"]}) == _alarm(["ops"])
    with pytest.raises(NotFoundError, match="no SNS topic named 'pager'"):
        store.put(_alarm(["pager"]))


def test_alarms_driftloop_cannot_represent_are_left_out_of_the_list(
    store: CloudWatchAlarmStore,
) -> None:
    with pytest.raises(ConfigError, match="alarm 'math' is no metric alarm driftloop reads"):
        definition({"AlarmName": "math", "Metrics": [], "EvaluationPeriods": 1})
    metric = {"Namespace": "AWS/SageMaker", "MetricName": "ModelLatency"}
    boto3.client("cloudwatch", region_name=REGION).put_metric_alarm(
        AlarmName="math",
        Metrics=[
            {"Id": "m", "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Sum"}},
            {"Id": "e", "Expression": "m * 2", "ReturnData": True},
        ],
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    store.put(_alarm([]))
    assert [alarm.alarm_name for alarm in store.list()] == ["slow"]


def test_a_history_item_reads_cloudwatchs_state_update_data() -> None:
    raw = {
        "AlarmName": "slow",
        "Timestamp": datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=UTC),
        "HistoryItemType": "StateUpdate",
        "HistoryData": '{"version":"1.0","oldState":{"stateValue":"OK","stateReason":"was"},'
        '"newState":{"stateValue":"ALARM","stateReason":"Threshold Crossed: 2 out of the '
        'last 3 datapoints","stateReasonData":{"threshold":5.0}}}',
    }
    item = history_item(raw)
    assert (item.time, item.old, item.new) == ("2026-01-02T03:04:05Z", "OK", "ALARM")
    assert item.reason.startswith("Threshold Crossed")
