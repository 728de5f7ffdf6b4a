"""A deployment step bakes long enough for its alarms to judge the new traffic."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from driftloop.alarms.definition import parse_alarm
from driftloop.backends.local.alarms import Evaluator, SqliteAlarmStore
from driftloop.backends.local.metrics import SqliteMetricStore
from driftloop.backends.local.notifications import TopicNotifier
from driftloop.config import NotificationSettings
from driftloop.deploy._steps import AlarmWatch, bake
from driftloop.workspace import Workspace
from tests.workspaces import event_bus

T0 = int(datetime(2026, 11, 27, 14, 0, tzinfo=UTC).timestamp())  # a multiple of 60


def _alarm(name: str, period: int, periods: int) -> dict[str, object]:
    return {
        "AlarmName": name,
        "MetricName": "ModelLatency",
        "Namespace": "AWS/SageMaker",
        "Statistic": "Average",
        "Period": period,
        "EvaluationPeriods": periods,
        "Threshold": 1000,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
        "Dimensions": [{"Name": "EndpointName", "Value": "churn"}],
    }


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    ws = Workspace(tmp_path / "ws").ensure()
    store = SqliteAlarmStore(ws.root / "alarms.db")
    store.put(parse_alarm(_alarm("fast", 10, 1)))
    store.put(parse_alarm(_alarm("slow", 60, 2)))
    return ws


def _watch(ws: Workspace, names: list[str], at: float) -> AlarmWatch:
    notifier = TopicNotifier(NotificationSettings(), ws)
    parts = Evaluator(str(ws.root), SqliteMetricStore(ws.metrics_db), notifier, event_bus(ws))
    alarms = SqliteAlarmStore(ws.alarms_db, parts)
    return AlarmWatch(alarms, names, lambda: datetime.fromtimestamp(at, UTC))


def test_settle_covers_the_first_complete_evaluation_range(workspace: Workspace) -> None:
    # at T0+12 the first complete 10 s period of new traffic is [T0+20, T0+30)
    assert _watch(workspace, ["fast"], T0 + 12).settle_s(1.5) == pytest.approx(18 + 1.5)
    # two 60 s periods: [T0+60, T0+180) must be complete
    assert _watch(workspace, ["fast", "slow"], T0 + 12).settle_s(0) == pytest.approx(168)
    assert _watch(workspace, [], T0 + 12).settle_s(5) == 0


def test_a_short_bake_is_extended_until_the_alarms_can_fire(workspace: Workspace) -> None:
    clock = [0.0]
    watch = _watch(workspace, ["fast"], T0 + 12)

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    assert bake(watch, 3, 1, lambda: clock[0], sleep, margin_s=1) is None
    assert clock[0] == pytest.approx(19)  # not 3
    clock[0] = 0.0
    assert bake(watch, 40, 1, lambda: clock[0], sleep, margin_s=1) is None
    assert clock[0] == pytest.approx(40)  # a longer bake is kept
