"""The alarm store contract: definitions, state, history; "not found" is NotFoundError."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from driftloop.alarms.definition import parse_alarm
from driftloop.alarms.evaluate import Evaluation
from driftloop.backends.catalog import Backends
from driftloop.errors import NotFoundError

STORES = ("alarms",)
"""The stores these tests exercise: they run for every backend kind that builds them."""


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
    assert (current.state, current.definition.threshold) == ("ALARM", 5.0)


def test_only_changes_are_history_newest_first(backends: Backends) -> None:
    store = backends.alarms
    store.put(_alarm("a"))
    assert store.set_state("a", _evaluation("OK")) == ("INSUFFICIENT_DATA", "OK")
    assert store.set_state("a", _evaluation("OK")) is None
    store.set_state("a", _evaluation("ALARM"))
    assert [(h.old, h.new) for h in store.history("a")] == [
        ("OK", "ALARM"),
        ("INSUFFICIENT_DATA", "OK"),
    ]
    assert store.history("a", limit=1)[0].new == "ALARM"
    assert store.history("other") == []


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
