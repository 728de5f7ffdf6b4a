"""The local notifier: SNS-style topics, published once and delivered to every subscription.

Protocols: ``file`` (a JSON line appended to a path, relative paths under the workspace; after
a line torn by a crash the next note starts a new line),
``webhook`` (a JSON POST in SNS's HTTP notification shape), ``slack`` (a Slack incoming-webhook
body) and ``email`` (plain text over SMTP). Subscriptions are independent: each one is tried
whatever happened to the others. :meth:`TopicNotifier.publish` then raises
:class:`NotificationFailed`, naming every failed subscription, if any failed (so the delivery
layer retries); pass ``strict=False`` to get the failures back as results instead.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from driftloop.backends.local._smtp import send_email
from driftloop.backends.local._webhook import post_json, redact
from driftloop.config import NotificationSettings, Subscription, Topic
from driftloop.errors import NotFoundError, NotificationFailed
from driftloop.events.jsonl import append_lines
from driftloop.names import safe_name
from driftloop.notifications.base import DeliveryResult, Notifier
from driftloop.workspace import Workspace


class TopicNotifier(Notifier):
    """Publishes to the topics configured in ``[notifications]``: file, webhook, Slack and
    email subscriptions."""

    def __init__(self, settings: NotificationSettings, workspace: Workspace) -> None:
        self.settings = settings
        self.workspace = workspace

    def check_topic(self, topic: str) -> None:
        self.topic(topic)

    def topic(self, name: str) -> Topic:
        """The topic called ``name``; :class:`NotFoundError` if none is configured, and
        :class:`~driftloop.errors.ConfigError` for a name that could not name a file."""
        safe_name(name, "topic")
        for topic in self.settings.topics:
            if topic.name == name:
                return topic
        raise NotFoundError(f"no notification topic named {name!r}", details={"topic": name})

    def publish(
        self,
        topic: str,
        subject: str,
        message: str,
        detail: dict[str, Any] | None = None,
        *,
        strict: bool = True,
    ) -> list[DeliveryResult]:
        note = _Note(topic, subject, message, detail or {})
        results = [
            self._deliver(subscription, note) for subscription in self.topic(topic).subscriptions
        ]
        if strict and any(not result.ok for result in results):
            raise NotificationFailed(topic, results)
        return results

    def _deliver(self, subscription: Subscription, note: _Note) -> DeliveryResult:
        try:
            if subscription.protocol == "file":
                self._append(subscription.endpoint, note)
            elif subscription.protocol == "webhook":
                post_json(subscription.endpoint, note.sns_body())
            elif subscription.protocol == "slack":
                post_json(subscription.endpoint, {"text": f"*{note.subject}*\n{note.message}"})
            else:
                send_email(self.settings.smtp, subscription.endpoint, note.subject, note.message)
        except Exception as exc:  # each subscription fails alone; the error is reported
            return DeliveryResult(describe(subscription), False, f"{type(exc).__name__}: {exc}")
        return DeliveryResult(describe(subscription), True)

    def _append(self, endpoint: str, note: _Note) -> None:
        path = Path(endpoint)
        if not path.is_absolute():
            path = self.workspace.root / path
        append_lines(path, orjson.dumps(note.record()) + b"\n")


def describe(subscription: Subscription) -> str:
    """A subscription for messages and logs, without secrets in webhook paths."""
    endpoint = subscription.endpoint
    shown = redact(endpoint) if subscription.protocol in ("webhook", "slack") else endpoint
    return f"{subscription.protocol}:{shown}"


def _timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class _Note:
    topic: str
    subject: str
    message: str
    detail: dict[str, Any]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: str = field(default_factory=_timestamp)

    def record(self) -> dict[str, Any]:
        """The JSON line written by ``file`` subscriptions."""
        keys = ("time", "topic", "subject", "message", "detail")
        return {key: getattr(self, key) for key in keys}

    def sns_body(self) -> dict[str, Any]:
        """SNS's HTTP notification shape."""
        return {
            "Type": "Notification",
            "MessageId": self.id,
            "TopicArn": f"arn:driftloop:sns:local:000000000000:{self.topic}",
            "Subject": self.subject,
            "Message": self.message,
            "Timestamp": self.time,
        }
