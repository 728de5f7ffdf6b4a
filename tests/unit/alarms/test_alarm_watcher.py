"""One alarm watcher for the agent and the deployments: a change is recorded, announced as an
event and published to the actions of the new state; a failed page is an event, not a crash."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson

from driftloop.alarms.definition import parse_alarm
from driftloop.alarms.watcher import AlarmWatcher
from driftloop.backends.local.alarms import SqliteAlarmStore
from driftloop.backends.local.metrics import SqliteMetricStore
from driftloop.backends.local.notifications import TopicNotifier
from driftloop.config import NotificationSettings
from driftloop.events.log import read_events
from driftloop.metrics.base import Datapoint
from driftloop.workspace import Workspace
from tests.workspaces import event_bus

T0 = int(datetime(2026, 11, 27, 14, 0, tzinfo=UTC).timestamp())
DIMS = {"EndpointName": "churn"}
TOPICS = {
    "topics": [
        {"name": "ops", "subscriptions": [{"protocol": "file", "endpoint": "ops.jsonl"}]},
        {
            "name": "down",
            "subscriptions": [{"protocol": "webhook", "endpoint": "http://127.0.0.1:9/x"}],
        },
    ]
}


def _watcher(tmp_path: Path, actions: list[str]) -> tuple[AlarmWatcher, Workspace]:
    ws = Workspace(tmp_path / "ws").ensure()
    alarms, metrics = SqliteAlarmStore(ws.alarms_db), SqliteMetricStore(ws.metrics_db)
    alarms.put(
        parse_alarm(
            {
                "AlarmName": "slow",
                "Namespace": "AWS/SageMaker",
                "MetricName": "ModelLatency",
                "Dimensions": [{"Name": "EndpointName", "Value": "churn"}],
                "Statistic": "Average",
                "Period": 10,
                "EvaluationPeriods": 1,
                "Threshold": 1000,
                "ComparisonOperator": "GreaterThanThreshold",
                "AlarmActions": actions,
            }
        )
    )
    point = Datapoint("AWS/SageMaker", "ModelLatency", DIMS, T0, "Microseconds", 5e3, 1, 5e3, 5e3)
    metrics.put_metric_data([point])
    notifier = TopicNotifier(NotificationSettings.model_validate(TOPICS), ws)
    return AlarmWatcher(str(ws.root), alarms, metrics, notifier, event_bus(ws)), ws


def test_a_change_is_recorded_announced_and_paged_once(tmp_path: Path) -> None:
    watcher, ws = _watcher(tmp_path, ["ops"])
    now = datetime.fromtimestamp(T0 + 12, UTC)
    watcher.check_all(now)
    watcher.check_all(now)  # no change: nothing more
    assert watcher.alarms.get("slow").state == "ALARM"
    kinds = [event["detail-type"] for event in read_events(ws)]
    assert kinds == ["CloudWatch Alarm State Change"]
    (page,) = (ws.root / "ops.jsonl").read_text().splitlines()
    assert orjson.loads(page)["subject"].startswith('ALARM: "slow"')


def test_a_failed_page_becomes_an_event(tmp_path: Path) -> None:
    watcher, ws = _watcher(tmp_path, ["down"])
    watcher.check_all(datetime.fromtimestamp(T0 + 12, UTC))
    kinds = [event["detail-type"] for event in read_events(ws)]
    assert kinds == ["CloudWatch Alarm State Change", "Notification Failed"]
