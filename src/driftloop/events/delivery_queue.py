"""The SQS queue that rules' ``retrain`` targets send to (``aws.queue``) and its dead-letter
queue: their names, attributes and the queue policy letting EventBridge send. The aws backend
creates them this way when they are missing, and ``driftloop infra render`` declares them the
same way.
"""

from __future__ import annotations

from typing import Any

DELIVERY_ATTEMPTS = 3
"""Receives before SQS dead-letters a message (the local bus's attempts)."""
HANDLER_TIME_S = 900
"""Visibility timeout of a received message: how long a handler may run before the message is
shown to another consumer."""
RETENTION_S = 14 * 24 * 3600
"""How long the dead-letter queue keeps a message (SQS's maximum)."""
EVENTBRIDGE_MAY_SEND = "driftloop-eventbridge-rules"
"""Sid of the queue policy statement that lets EventBridge rules send."""


def dead_letter_queue(queue: str) -> str:
    """The name of ``queue``'s dead-letter queue."""
    return f"{queue}-dead-letters"


def redrive_policy(dead_letter_arn: Any) -> dict[str, Any]:
    """The redrive policy sending a message to ``dead_letter_arn`` after its last attempt."""
    return {"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": str(DELIVERY_ATTEMPTS)}


def eventbridge_may_send(queue_arn: Any, rule_arns: Any) -> dict[str, Any]:
    """The queue policy letting EventBridge rules whose ARN is like ``rule_arns`` send to the
    queue ``queue_arn``; either may be a value or a reference the caller resolves."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": EVENTBRIDGE_MAY_SEND,
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnLike": {"aws:SourceArn": rule_arns}},
            }
        ],
    }
