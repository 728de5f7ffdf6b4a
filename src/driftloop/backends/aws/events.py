"""The aws event bus: EventBridge PutEvents, a readable copy on S3, and delivery from SQS.

:meth:`EventBridgeBus.put_events` puts the entries on ``aws.event_bus`` (10 per call, the
entries EventBridge refused are a :class:`CloudError` after the accepted ones are kept) and
writes the accepted events, with EventBridge's ids, as one JSON-lines object under
``<prefix>/events/yyyy/mm/dd/hh/``, which :meth:`read_events` reads back oldest first
(EventBridge keeps no readable log). EventBridge then delivers by itself: ``notify`` targets
straight to SNS, ``retrain`` targets to the ``aws.queue`` SQS queue (see ``rules``).

:meth:`deliver_pending` consumes that queue: each message names its rule, target and event;
the handler of the target's type is called, and the message is deleted when it returns. A
failed attempt hides the message for a backoff (its visibility timeout, doubling per receive)
so a later call retries it; after the queue's ``maxReceiveCount`` receives SQS's redrive moves
it to the dead-letter queue. A message that is not a delivery, or whose target type has no
handler, is moved there at once. No call waits for a backoff.

What is observable: successful deliveries and failed attempts are recorded by the consumer
under ``<prefix>/deliveries/`` (``done/`` newest first, ``failed/`` by SQS message id, with the
error); :meth:`dead_letters` reads the dead-letter queue (peeking, so SQS counts a receive)
and adds each message's last error when one was recorded. Not kept: deliveries EventBridge
made to SNS (and SNS's own retries), and EventBridge's failures to reach a target.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import TypeAdapter, ValidationError

from driftloop.backends.aws._clients import call, client
from driftloop.backends.aws._queues import DeliveryQueues, Queue
from driftloop.backends.aws._s3 import Bucket
from driftloop.config import Settings
from driftloop.errors import CloudError, NotFoundError
from driftloop.events.base import EventBus, EventEntry
from driftloop.events.delivery import DeliveryReport
from driftloop.events.handlers import Handler
from driftloop.events.log import problem
from driftloop.events.rules import Target

if TYPE_CHECKING:
    from driftloop.backends.catalog import Backends

BATCH = 10
"""Entries per PutEvents call and messages per ReceiveMessage call (both services' limit)."""
MAX_BATCHES = 10
"""ReceiveMessage calls per :meth:`EventBridgeBus.deliver_pending`, so that a call ends."""
_TARGET: TypeAdapter[Target] = TypeAdapter(Target)
log = logging.getLogger("driftloop.events")


class EventBridgeBus(EventBus):
    """Events on EventBridge and S3; delivery from the rules' SQS queue."""

    def __init__(self, settings: Settings, stores: Backends, *, backoff_s: float = 30.0) -> None:
        self.bus = settings.aws.event_bus
        self.events = client(settings, "events")
        self.bucket = Bucket(settings)
        self.queues = DeliveryQueues(settings)
        self.backoff_s = backoff_s

    def put_events(self, entries: Sequence[EventEntry]) -> list[dict[str, Any]]:
        now = datetime.now(UTC).replace(microsecond=0)
        put: list[dict[str, Any]] = []
        try:
            for start in range(0, len(entries), BATCH):
                self._put_batch(entries[start : start + BATCH], now, put)
        finally:
            if put:
                self.bucket.put(_event_key(now), b"".join(orjson.dumps(e) + b"\n" for e in put))
        return put

    def _put_batch(
        self, entries: Sequence[EventEntry], now: datetime, put: list[dict[str, Any]]
    ) -> None:
        """PutEvents for up to 10 entries; add the accepted events to ``put``, then raise
        CloudError if any entry was refused."""
        request = [
            {
                "Source": entry.source,
                "DetailType": entry.detail_type,
                "Detail": orjson.dumps(entry.detail).decode(),
                "Time": now,
                "EventBusName": self.bus,
            }
            for entry in entries
        ]
        answer = call("events", self.events.put_events, f"bus {self.bus!r}", Entries=request)
        stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        put += [
            _event(str(result["EventId"]), stamp, entry)
            for entry, result in zip(entries, answer["Entries"], strict=True)
            if "EventId" in result
        ]
        if answer.get("FailedEntryCount"):
            first = next(r for r in answer["Entries"] if "EventId" not in r)
            raise CloudError(
                f"bus {self.bus!r}: events PutEvents refused {answer['FailedEntryCount']} of "
                f"{len(entries)} entries: {first.get('ErrorCode')}: {first.get('ErrorMessage')}"
            )

    def read_events(self, problems: list[str] | None = None) -> Iterator[dict[str, Any]]:
        for key in self.bucket.keys("events/"):
            for number, line in enumerate(self.bucket.get(key).splitlines(), start=1):
                try:
                    value: object = orjson.loads(line)
                    why = problem(value)
                except orjson.JSONDecodeError as exc:
                    why = f"not JSON ({exc})"
                if why:
                    if problems is not None:
                        problems.append(f"{self.bucket.uri(key)} line {number}: {why}")
                    continue
                assert isinstance(value, dict)
                yield value

    def deliver_pending(self, handlers: Mapping[str, Handler]) -> DeliveryReport:
        report = DeliveryReport()
        queue = self.queues.main
        for _ in range(MAX_BATCHES):
            messages = self._receive(queue, BATCH)
            for message in messages:
                self._deliver(queue, message, handlers, report)
            if not messages:
                break
        return report

    def _receive(self, queue: Queue, count: int, **options: Any) -> list[dict[str, Any]]:
        answer = self.queues.sqs_call(
            "receive_message",
            QueueUrl=queue.url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            **options,
        )
        return list(answer.get("Messages", []))

    def _deliver(
        self,
        queue: Queue,
        message: dict[str, Any],
        handlers: Mapping[str, Handler],
        report: DeliveryReport,
    ) -> None:
        """One attempt at the delivery ``message`` carries."""
        delivery = _delivery(message)
        if isinstance(delivery, str):
            report.corrupt += 1
            self._dead_letter_now(queue, message, delivery)
            return
        target, record = delivery
        report.events += 1
        handler = handlers.get(target.type)
        if handler is None:
            report.dead_lettered += 1
            self._dead_letter_now(queue, message, f"no handler for target type {target.type!r}")
            return
        attempt = record["attempts"]
        if attempt > 1:
            report.retries += 1
        try:
            handler(target, record["event"])
        except Exception as exc:  # any handler failure is retried, then dead-lettered
            self._failed(queue, message, record, f"{type(exc).__name__}: {exc}", report)
            return
        self.queues.sqs_call(
            "delete_message", QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"]
        )
        done = {k: record[k] for k in ("event_id", "rule", "target", "target_type", "attempts")}
        self.bucket.put(_done_key(message), orjson.dumps(done | {"delivered_at": _now()}))
        if attempt > 1:
            self.bucket.delete(_failed_key(message))
        report.delivered += 1

    def _failed(
        self,
        queue: Queue,
        message: dict[str, Any],
        record: dict[str, Any],
        error: str,
        report: DeliveryReport,
    ) -> None:
        """Record the failure and hide the message for its backoff (or, after its last
        attempt, show it at once so that the next receive redrives it)."""
        attempt = record["attempts"]
        last = queue.max_receives is not None and attempt >= queue.max_receives
        delay = 0 if last else max(1, math.ceil(self.backoff_s * 2 ** (attempt - 1)))
        failed = record | {"error": error, "failed_at": _now(), "next_at": time.time() + delay}
        self.bucket.put(_failed_key(message), orjson.dumps(failed))
        self.queues.sqs_call(
            "change_message_visibility",
            QueueUrl=queue.url,
            ReceiptHandle=message["ReceiptHandle"],
            VisibilityTimeout=delay,
        )
        if last:
            report.dead_lettered += 1
        else:
            report.scheduled += 1

    def _dead_letter_now(self, queue: Queue, message: dict[str, Any], error: str) -> None:
        """Move ``message`` to the dead-letter queue with ``error`` (or, with none, drop it)."""
        dead = self.queues.dead_letters
        if dead is None:
            log.warning("dropped a message of queue %s: %s", self.queues.name, error)
        else:
            error_attribute = {"error": {"DataType": "String", "StringValue": error[:1000]}}
            self.queues.sqs_call(
                "send_message",
                QueueUrl=dead.url,
                MessageBody=message["Body"],
                MessageAttributes=error_attribute,
            )
        self.queues.sqs_call(
            "delete_message", QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"]
        )

    def deliveries(self, limit: int = 100) -> list[dict[str, Any]]:
        keys = itertools.islice(self.bucket.keys("deliveries/done/"), limit)
        return [orjson.loads(self.bucket.get(key)) for key in keys]

    def retries(self, limit: int = 100) -> list[dict[str, Any]]:
        maximum = self.queues.main.max_receives
        rows = [
            orjson.loads(self.bucket.get(key)) for key in self.bucket.keys("deliveries/failed/")
        ]
        waiting = [row for row in rows if maximum is None or row["attempts"] < maximum]
        return sorted(waiting, key=lambda row: float(row["next_at"]))[:limit]

    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        dead = self.queues.dead_letters
        if dead is None:
            return []
        seen: dict[str, dict[str, Any]] = {}
        while len(seen) < limit:
            batch = self._receive(dead, min(BATCH, limit - len(seen)), VisibilityTimeout=0)
            new = [message for message in batch if message["MessageId"] not in seen]
            if not new:
                break
            seen.update((message["MessageId"], message) for message in new)
        rows = [self._dead_row(message) for message in seen.values()]
        return sorted(rows, key=lambda row: str(row["failed_at"]), reverse=True)

    def _dead_row(self, message: dict[str, Any]) -> dict[str, Any]:
        """A dead letter as the local bus shows one: its failure record when the consumer
        wrote one, else what the message carries (moved at once, with its error attached)."""
        try:
            return dict(orjson.loads(self.bucket.get(_failed_key(message))))
        except NotFoundError:
            pass
        delivery = _delivery(message)
        row = {"event": message["Body"]} if isinstance(delivery, str) else delivery[1]
        error = message.get("MessageAttributes", {}).get("error", {}).get("StringValue", "")
        sent = datetime.fromtimestamp(int(message["Attributes"]["SentTimestamp"]) / 1000, UTC)
        return row | {"error": error, "failed_at": _now(sent)}


def _event(event_id: str, stamp: str, entry: EventEntry) -> dict[str, Any]:
    """An event in EventBridge's shape, with the local log's fields."""
    return {
        "id": event_id,
        "time": stamp,
        "source": entry.source,
        "detail-type": entry.detail_type,
        "detail": entry.detail,
    }


def _delivery(message: dict[str, Any]) -> tuple[Target, dict[str, Any]] | str:
    """The target and delivery record a queue message carries, or why it carries none."""
    try:
        body = orjson.loads(message["Body"])
        target = _TARGET.validate_python(body["spec"])
        event = body["event"]
        record = {
            "event_id": str(event["id"]),
            "rule": str(body["rule"]),
            "target": int(body["target"]),
            "target_type": target.type,
            "attempts": int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1)),
            "event": event,
        }
    except (orjson.JSONDecodeError, ValidationError, KeyError, TypeError, ValueError) as exc:
        return f"not a delivery: {type(exc).__name__}: {exc}"
    return target, record


def _now(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _event_key(now: datetime) -> str:
    """Where one put's events go: by hour, then by put time, so keys sort oldest first."""
    return f"events/{now:%Y/%m/%d/%H}/{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.jsonl"


def _done_key(message: dict[str, Any]) -> str:
    """Newest first in S3's order: the time counts down."""
    return f"deliveries/done/{10**20 - time.time_ns():020d}-{message['MessageId']}.json"


def _failed_key(message: dict[str, Any]) -> str:
    return f"deliveries/failed/{message['MessageId']}.json"
