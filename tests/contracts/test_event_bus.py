"""The event bus contract (PutEvents, reading back, delivery to the targets of matching rules)."""

from __future__ import annotations

from typing import Any

from driftloop.backends.catalog import Backends
from driftloop.events.base import EventEntry

STORES = ("rules", "events")
"""The stores these tests exercise: they run for every backend kind that builds them."""

DRIFT = {"source": ["driftloop.monitoring"], "detail-type": ["Monitoring Run Completed"]}


def test_put_events_stamps_and_keeps_the_order(backends: Backends) -> None:
    bus = backends.events
    first, second = bus.put_events(
        [
            EventEntry("driftloop.monitoring", "Monitoring Run Completed", {"status": "x"}),
            EventEntry("driftloop.deploy", "Deployment Step", {"step": "canary"}),
        ]
    )
    third = bus.emit("driftloop.retrain", "Retraining Started", {"endpoint": "churn"})
    assert first["id"] != second["id"] != third["id"]
    assert first["time"].endswith("Z") and first["detail"] == {"status": "x"}
    read = list(bus.read_events())
    assert [e["id"] for e in read] == [first["id"], second["id"], third["id"]]
    assert [e["detail-type"] for e in read][1] == "Deployment Step"
    assert bus.put_events([]) == []


def test_matching_events_reach_their_targets_once(backends: Backends) -> None:
    backends.rules.put({"name": "drift", "event_pattern": DRIFT, "targets": [{"type": "retrain"}]})
    seen: list[dict[str, Any]] = []
    handlers = {"retrain": lambda _target, event: seen.append(event)}
    bus = backends.events
    drift = bus.emit("driftloop.monitoring", "Monitoring Run Completed", {"status": "x"})
    bus.emit("driftloop.deploy", "Deployment Step", {})
    report = bus.deliver_pending(handlers)
    assert (report.delivered, [e["id"] for e in seen]) == (1, [drift["id"]])
    assert bus.deliver_pending(handlers).delivered == 0  # at least once, and not again
    assert [row["event_id"] for row in bus.deliveries()] == [drift["id"]]


def test_a_failing_target_is_retried_then_dead_lettered(backends: Backends) -> None:
    backends.rules.put({"name": "drift", "event_pattern": DRIFT, "targets": [{"type": "retrain"}]})

    def down(_target: object, _event: dict[str, Any]) -> None:
        raise RuntimeError("target down")

    bus = backends.events
    bus.emit("driftloop.monitoring", "Monitoring Run Completed", {})
    report = bus.deliver_pending({"retrain": down})
    assert (report.delivered, report.scheduled) == (0, 1)
    [waiting] = bus.retries()
    assert "target down" in waiting["error"] and bus.dead_letters() == []


def test_unreadable_entries_are_described_not_yielded(backends: Backends) -> None:
    bus = backends.events
    bus.emit("s", "t", {})
    problems: list[str] = []
    assert len(list(bus.read_events(problems))) == 1 and problems == []
