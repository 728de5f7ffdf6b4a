"""SNS-style notification topics: publish once, deliver to every subscription.

Protocols: ``file`` (a JSON line appended to a path, relative paths under the workspace),
``webhook`` (a JSON POST in SNS's HTTP notification shape), ``slack`` (a Slack incoming-webhook
body) and ``email`` (plain text over SMTP). Subscriptions are independent: each one is tried
whatever happened to the others. :meth:`Notifier.publish` then raises
:class:`NotificationFailed`, naming every failed subscription, if any failed (so the delivery
layer retries); pass ``strict=False`` to get the failures back as results instead.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from driftloop.errors import DriftloopError, NotFoundError
from driftloop.notifications._smtp import send_email
from driftloop.notifications._webhook import post_json, redact
from driftloop.workspace import Workspace

Protocol = Literal["file", "webhook", "slack", "email"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class Subscription(_Section):
    protocol: Protocol
    """How to deliver: ``file``, ``webhook``, ``slack`` or ``email``."""
    endpoint: str = Field(min_length=1)
    """File path, http(s) URL or email address, depending on the protocol."""

    @model_validator(mode="after")
    def _endpoint_fits(self) -> Subscription:
        if self.protocol in ("webhook", "slack") and not self.endpoint.startswith(
            ("http://", "https://")
        ):
            raise ValueError(f"a {self.protocol} endpoint must be an http(s) URL")
        if self.protocol == "email" and "@" not in self.endpoint:
            raise ValueError("an email endpoint must be an address")
        return self

    def describe(self) -> str:
        """The subscription for messages and logs, without secrets in webhook paths."""
        shown = redact(self.endpoint) if self.protocol in ("webhook", "slack") else self.endpoint
        return f"{self.protocol}:{shown}"


class Topic(_Section):
    name: str = Field(min_length=1)
    """Topic name that rules and alarms publish to."""
    subscriptions: list[Subscription] = []
    """Where each message published to the topic goes."""


class SmtpSettings(_Section):
    host: str = "127.0.0.1"
    """SMTP relay host."""
    port: int = Field(default=25, gt=0, lt=65536)
    """SMTP relay port."""
    sender: str = "driftloop@localhost"
    """From address of notification emails."""
    username: str | None = None
    """Login name, if the relay needs one."""
    password: SecretStr | None = None
    """Login password, if the relay needs one."""
    starttls: bool = False
    """Upgrade the connection with STARTTLS before sending."""
    timeout_s: float = Field(default=10.0, gt=0)
    """Seconds to wait for the relay."""


class NotificationSettings(_Section):
    topics: list[Topic] = []
    """Notification topics and their subscriptions."""
    smtp: SmtpSettings = SmtpSettings()
    """SMTP relay used by email subscriptions."""

    @model_validator(mode="after")
    def _unique_topics(self) -> NotificationSettings:
        names = [topic.name for topic in self.topics]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"topic names must be unique: {', '.join(duplicates)}")
        return self


@dataclass(frozen=True)
class DeliveryResult:
    """The outcome for one subscription of one published message."""

    subscription: str
    ok: bool
    error: str | None = None


class NotificationFailed(DriftloopError):
    """At least one subscription of a topic could not be reached (all were tried)."""

    code = "notification_failed"

    def __init__(self, topic: str, results: list[DeliveryResult]) -> None:
        failed = [result for result in results if not result.ok]
        named = "; ".join(f"{result.subscription}: {result.error}" for result in failed)
        super().__init__(
            f"topic {topic!r}: {len(failed)} of {len(results)} subscriptions failed: {named}",
            details={"topic": topic, "failed": [result.subscription for result in failed]},
        )
        self.results = results


class Notifier:
    """Publishes messages to the configured topics."""

    def __init__(self, settings: NotificationSettings, workspace: Workspace) -> None:
        self.settings = settings
        self.workspace = workspace

    def topic(self, name: str) -> Topic:
        """The topic called ``name``; :class:`NotFoundError` if none is configured."""
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
        """Deliver to every subscription of ``topic``; one result per subscription."""
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
            return DeliveryResult(subscription.describe(), False, f"{type(exc).__name__}: {exc}")
        return DeliveryResult(subscription.describe(), True)

    def _append(self, endpoint: str, note: _Note) -> None:
        path = Path(endpoint)
        if not path.is_absolute():
            path = self.workspace.root / path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, orjson.dumps(note.record()) + b"\n")
        finally:
            os.close(fd)


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


_ADVICE = {
    "ALARM": [
        "Look at the metric behind it: driftloop metrics get (same namespace and dimensions).",
        "If it started after a promotion, roll back: driftloop models promote <previous version>.",
        "If it is data drift, inspect the latest report: driftloop monitor run.",
    ],
    "OK": ["No action needed; the alarm recovered."],
    "INSUFFICIENT_DATA": [
        "Check that traffic reaches the endpoint and that metrics are being recorded.",
    ],
}


def alarm_message(alarm_name: str, old: str, new: str, reason: str, where: str) -> tuple[str, str]:
    """(subject, message) telling a human what changed, where, and what to do next."""
    subject = f'{new}: "{alarm_name}" in {where}'
    steps = _ADVICE.get(new, ["Check the alarm's metric and recent changes."])
    lines = [
        f'Alarm "{alarm_name}" in {where} changed from {old} to {new}.',
        f"Reason: {reason}",
        "",
        "What to do:",
        *(f"- {step}" for step in steps),
    ]
    return subject, "\n".join(lines)
