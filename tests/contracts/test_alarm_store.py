"""The alarm store contract: definitions, state, history; "not found" is NotFoundError."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from moto.cloudwatch.models import Alarm, CloudWatchBackend
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult
from moto.core.utils import utcnow

from driftloop.alarms.definition import parse_alarm
from driftloop.alarms.evaluate import Evaluation
from driftloop.backends.catalog import Backends
from driftloop.errors import NotFoundError

STORES = ("alarms",)
"""The stores these tests exercise: they run for every backend kind that builds them."""


@pytest.fixture(autouse=True)
def _moto_as_cloudwatch(backend_kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto 5.2.5 differs from CloudWatch where these tests look, so on the aws kind (whose
    moto server runs in this process) its models are patched to behave as CloudWatch does:
    a new alarm starts INSUFFICIENT_DATA (moto: OK), PutMetricAlarm on an existing alarm keeps
    its state (moto: resets it), and DescribeAlarmHistory, which moto does not implement (it
    answers 500), answers StateUpdate items recorded at each state change in CloudWatch's
    shape. The store under test still makes every call to the server."""
    if backend_kind != "aws":
        return
    history: list[dict[str, Any]] = []
    put, update = CloudWatchBackend.put_metric_alarm, Alarm.update_state

    def put_metric_alarm(backend: CloudWatchBackend, **fields: Any) -> Alarm:
        old = backend.alarms.get(fields["name"])
        alarm = put(backend, **fields)
        alarm.state_value = "INSUFFICIENT_DATA"
        if old is not None:
            for key in ("state_value", "state_reason", "state_reason_data"):
                setattr(alarm, key, getattr(old, key))
            alarm.state_updated_timestamp = old.state_updated_timestamp
        return alarm

    def update_state(alarm: Alarm, reason: str, data: str, state: str) -> None:
        change = {
            "version": "1.0",
            "oldState": {"stateValue": alarm.state_value, "stateReason": alarm.state_reason},
            "newState": {"stateValue": state, "stateReason": reason},
        }
        history.append(
            {
                "AlarmName": alarm.name,
                "AlarmType": "MetricAlarm",
                "Timestamp": utcnow(),
                "HistoryItemType": "StateUpdate",
                "HistorySummary": f"Alarm updated from {alarm.state_value} to {state}",
                "HistoryData": json.dumps(change),
            }
        )
        update(alarm, reason, data, state)

    def describe_alarm_history(response: CloudWatchResponse) -> ActionResult:
        name, kind = response._get_param("AlarmName"), response._get_param("HistoryItemType")
        items = [
            item
            for item in reversed(history)
            if name in (None, item["AlarmName"]) and kind in (None, item["HistoryItemType"])
        ]
        start, size = int(response._get_param("NextToken", 0)), response._get_param("MaxRecords")
        page: dict[str, Any] = {"AlarmHistoryItems": items[start : start + (size or 100)]}
        if start + (size or 100) < len(items):
            page["NextToken"] = str(start + (size or 100))
        return ActionResult(page)

    monkeypatch.setattr(CloudWatchBackend, "put_metric_alarm", put_metric_alarm)
    monkeypatch.setattr(Alarm, "update_state", update_state)
    monkeypatch.setattr(
        CloudWatchResponse, "describe_alarm_history", describe_alarm_history, raising=False
    )


def _alarm(name: str, threshold: float = 1000.0):  # type: ignore[no-untyped-def]
    return parse_alarm(
        {
            "AlarmName": name,
            "Namespace": "AWS/SageMaker",
            "MetricName": "ModelLatency",
            "Statistic": "Average",
            "Period": 60,
            "EvaluationPeriods": 2,
            "Threshold": threshold,
            "ComparisonOperator": "GreaterThanThreshold",
        }
    )


def _evaluation(state: str) -> Evaluation:
    return Evaluation(state, f"now {state}", [], datetime(2026, 1, 1, tzinfo=UTC))  # type: ignore[arg-type]


def test_a_new_alarm_is_insufficient_data_and_an_update_keeps_its_state(
    backends: Backends,
) -> None:
    store = backends.alarms
    store.put(_alarm("b"))
    store.put(_alarm("a"))
    assert store.get("a").state == "INSUFFICIENT_DATA"
    assert [a.alarm_name for a in store.list()] == ["a", "b"]
    assert store.set_state("a", _evaluation("ALARM")) == ("INSUFFICIENT_DATA", "ALARM")
    store.put(_alarm("a", threshold=5.0))
    current = store.get("a")
    assert (current.state, current.reason, current.definition.threshold) == (
        "ALARM",
        "now ALARM",
        5.0,
    )
    assert current.definition == _alarm("a", threshold=5.0)  # every field round-trips


def test_only_changes_are_history_newest_first(backends: Backends) -> None:
    store = backends.alarms
    store.put(_alarm("a"))
    assert store.set_state("a", _evaluation("OK")) == ("INSUFFICIENT_DATA", "OK")
    assert store.set_state("a", _evaluation("OK")) is None
    store.set_state("a", _evaluation("ALARM"))
    assert [(h.old, h.new, h.reason) for h in store.history("a")] == [
        ("OK", "ALARM", "now ALARM"),
        ("INSUFFICIENT_DATA", "OK", "now OK"),
    ]
    assert store.history("a", limit=1)[0].new == "ALARM"
    assert store.history("other") == []
    store.delete("a")
    assert len(store.history()) == 2  # the history of a deleted alarm stays


def test_unknown_alarms_are_not_found(backends: Backends) -> None:
    store = backends.alarms
    for call in (
        lambda: store.get("nope"),
        lambda: store.delete("nope"),
        lambda: store.set_state("nope", _evaluation("OK")),
    ):
        with pytest.raises(NotFoundError, match="nope"):
            call()
    store.put(_alarm("a"))
    store.delete("a")
    assert store.list() == []


def test_evaluate_reports_each_named_alarm_and_refuses_unknown_ones(backends: Backends) -> None:
    store = backends.alarms
    store.put(_alarm("quiet"))
    store.put(_alarm("other"))
    now = datetime.now(UTC)
    results = store.evaluate(now, ["quiet"])
    assert list(results) == ["quiet"]
    assert results["quiet"].state == "INSUFFICIENT_DATA" and results["quiet"].reason
    assert sorted(store.evaluate(now)) == ["other", "quiet"]
    with pytest.raises(NotFoundError, match="missing"):
        store.evaluate(now, ["missing"])
