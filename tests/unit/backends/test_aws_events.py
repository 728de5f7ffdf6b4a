"""The EventBridge bus against moto: batches of PutEvents, the S3 copy read back, and delivery
through EventBridge -> SQS -> deliver_pending, retried with visibility timeouts and
dead-lettered by SQS's redrive."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from driftloop.backends.aws._s3 import Bucket
from driftloop.backends.aws.events import EventBridgeBus
from driftloop.backends.catalog import Backends
from driftloop.config import Settings
from driftloop.events.base import EventEntry
from driftloop.events.delivery import DeliveryReport
from driftloop.events.handlers import Handler
from tests.aws import REGION, settings_for
from tests.waiting import wait_until

DRIFT = {"source": ["driftloop.monitoring"]}


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    return settings_for("aws", tmp_path / ".driftloop", request)


@pytest.fixture
def stores(settings: Settings) -> Backends:
    stores = Backends.from_settings(settings)
    stores.rules.put({"name": "drift", "event_pattern": DRIFT, "targets": [{"type": "retrain"}]})
    return stores


@pytest.fixture
def bus(settings: Settings, stores: Backends) -> EventBridgeBus:
    """A bus whose backoffs are 1 s, 1 s, then the dead-letter queue."""
    return EventBridgeBus(settings, stores, backoff_s=0.5)


def down(_target: object, _event: dict[str, Any]) -> None:
    raise RuntimeError("target down")


def _once_back(bus: EventBridgeBus, handlers: dict[str, Handler]) -> DeliveryReport:
    """The first delivery call that receives the message again, once its backoff is over."""

    def attempt() -> DeliveryReport | None:
        report = bus.deliver_pending(handlers)
        return report if report.events or report.dead_lettered else None

    return wait_until(attempt, 10, what="the message back after its backoff")


def test_puts_of_more_than_ten_entries_keep_their_order(stores: Backends) -> None:
    entries = [EventEntry("driftloop.deploy", "Deployment Step", {"n": n}) for n in range(23)]
    put = stores.events.put_events(entries)
    later = stores.events.emit("driftloop.deploy", "Deployment Step", {"n": 23})
    read = list(stores.events.read_events())
    assert [e["detail"]["n"] for e in read] == list(range(24))
    assert [e["id"] for e in read] == [e["id"] for e in put] + [later["id"]]


def test_a_line_that_is_not_an_event_is_described(settings: Settings, stores: Backends) -> None:
    stores.events.emit("s", "t", {})
    Bucket(settings).put("events/9999/zz.jsonl", b'{"id": 1}\nnot json\n')
    problems: list[str] = []
    assert len(list(stores.events.read_events(problems))) == 1
    where = "s3://driftloop-contracts/team/churn/events/9999/zz.jsonl"
    assert [p.split(": ")[0:2] for p in problems] == [
        [f"{where} line 1", "no valid 'id'"],
        [f"{where} line 2", "not JSON (invalid literal, expected 'null'"],
    ]


def test_a_failing_target_is_retried_after_its_backoff_then_redriven(bus: EventBridgeBus) -> None:
    event = bus.emit("driftloop.monitoring", "Monitoring Run Completed", {})
    assert bus.deliver_pending({"retrain": down}).scheduled == 1
    assert bus.deliver_pending({"retrain": down}).events == 0  # hidden for its backoff
    second = _once_back(bus, {"retrain": down})
    assert (second.retries, second.scheduled) == (1, 1)
    assert [row["attempts"] for row in bus.retries()] == [2]
    assert _once_back(bus, {"retrain": down}).dead_lettered == 1
    assert bus.deliver_pending({"retrain": down}).events == 0  # SQS moved it
    [dead] = bus.dead_letters()
    assert (dead["event_id"], dead["rule"], dead["attempts"]) == (event["id"], "drift", 3)
    assert "target down" in dead["error"] and bus.retries() == []


def test_a_retry_that_succeeds_is_a_delivery(bus: EventBridgeBus) -> None:
    event = bus.emit("driftloop.monitoring", "Monitoring Run Completed", {})
    bus.deliver_pending({"retrain": down})
    seen: list[str] = []
    report = _once_back(bus, {"retrain": lambda _t, e: seen.append(e["id"])})
    assert (report.delivered, report.retries, seen) == (1, 1, [event["id"]])
    assert [(r["event_id"], r["attempts"]) for r in bus.deliveries()] == [(event["id"], 2)]
    assert bus.retries() == [] and bus.dead_letters() == []


def test_what_is_not_a_delivery_is_dead_lettered_at_once(
    bus: EventBridgeBus,
    moto_url: str,
) -> None:
    sqs = boto3.client("sqs", region_name=REGION, endpoint_url=moto_url)
    sqs.send_message(QueueUrl=bus.queues.main.url, MessageBody="hello")
    bus.emit("driftloop.monitoring", "Monitoring Run Completed", {})
    report = bus.deliver_pending({})  # no retrain handler
    assert (report.corrupt, report.dead_lettered, report.delivered) == (1, 1, 0)
    errors = sorted(row["error"] for row in bus.dead_letters())
    assert errors[0].startswith("no handler for target type 'retrain'")
    assert errors[1].startswith("not a delivery")
