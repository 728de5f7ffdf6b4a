"""The SQS queue that rules' ``retrain`` targets send to (``aws.queue``) and its dead-letter
queue (``<aws.queue>-dead-letters``).

A missing queue is created on first use with a redrive policy (a message received
``DELIVERY_ATTEMPTS`` times without being deleted moves to the dead-letter queue) and the queue
policy that lets EventBridge rules of the queue's account and region send to it, as
:mod:`driftloop.events.delivery_queue` describes them. An existing queue is used as it is: its
redrive policy, if any, says how many attempts it allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import orjson

from driftloop.backends.aws._clients import call, client
from driftloop.config import Settings
from driftloop.errors import NotFoundError
from driftloop.events.delivery_queue import (
    HANDLER_TIME_S,
    RETENTION_S,
    dead_letter_queue,
    eventbridge_may_send,
    redrive_policy,
)


@dataclass(frozen=True)
class Queue:
    url: str
    arn: str
    max_receives: int | None
    """The redrive policy's ``maxReceiveCount``; None when the queue has none."""
    dead_letter_arn: str | None


class DeliveryQueues:
    """``aws.queue`` and its dead-letter queue, looked up (or created) once per instance."""

    def __init__(self, settings: Settings) -> None:
        self.name = settings.aws.queue
        self.sqs = client(settings, "sqs")

    @cached_property
    def main(self) -> Queue:
        try:
            url = self._url(self.name)
        except NotFoundError:
            url = self._create()
        return self._queue(url)

    @cached_property
    def dead_letters(self) -> Queue | None:
        arn = self.main.dead_letter_arn
        if arn is None:
            return None
        _, _, _, _, account, name = arn.split(":")
        return self._queue(self._url(name, account))

    def sqs_call(self, operation: str, **kwargs: Any) -> Any:
        """SQS ``operation`` (a boto3 method name) with its failures translated."""
        return call("sqs", getattr(self.sqs, operation), f"queue {self.name!r}", **kwargs)

    def _url(self, name: str, account: str | None = None) -> str:
        owner = {"QueueOwnerAWSAccountId": account} if account else {}
        return str(self.sqs_call("get_queue_url", QueueName=name, **owner)["QueueUrl"])

    def _queue(self, url: str) -> Queue:
        names = ["QueueArn", "RedrivePolicy"]
        attributes = self.sqs_call("get_queue_attributes", QueueUrl=url, AttributeNames=names)
        attributes = attributes.get("Attributes", {})
        redrive = orjson.loads(attributes.get("RedrivePolicy", "{}"))
        receives = redrive.get("maxReceiveCount")
        arn = str(attributes["QueueArn"])
        return Queue(
            url, arn, int(receives) if receives else None, redrive.get("deadLetterTargetArn")
        )

    def _create(self) -> str:
        """Create the dead-letter queue, then the queue redriving to it; return the queue's URL."""
        retention = {"MessageRetentionPeriod": str(RETENTION_S)}
        dead = self.sqs_call(
            "create_queue", QueueName=dead_letter_queue(self.name), Attributes=retention
        )
        dead_arn = self._queue(str(dead["QueueUrl"])).arn
        arn = f"{dead_arn.rsplit(':', 1)[0]}:{self.name}"
        redrive = redrive_policy(dead_arn)
        attributes = {
            "RedrivePolicy": orjson.dumps(redrive).decode(),
            "VisibilityTimeout": str(HANDLER_TIME_S),
            "Policy": orjson.dumps(_eventbridge_may_send(arn)).decode(),
        }
        answer = self.sqs_call("create_queue", QueueName=self.name, Attributes=attributes)
        return str(answer["QueueUrl"])


def _eventbridge_may_send(queue_arn: str) -> dict[str, Any]:
    """The queue policy letting the account's EventBridge rules (any bus) send to the queue."""
    _, partition, _, region, account, _ = queue_arn.split(":")
    return eventbridge_may_send(queue_arn, f"arn:{partition}:events:{region}:{account}:rule/*")
