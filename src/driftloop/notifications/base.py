"""The notifier contract (SNS's Publish) and what alarm notifications say."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DeliveryResult:
    """The outcome for one subscription of one published message."""

    subscription: str
    ok: bool
    error: str | None = None


class Notifier(ABC):
    """Publishes messages to named topics."""

    @abstractmethod
    def check_topic(self, topic: str) -> None:
        """:class:`~driftloop.errors.NotFoundError` unless ``topic`` exists."""

    @abstractmethod
    def publish(
        self,
        topic: str,
        subject: str,
        message: str,
        detail: dict[str, Any] | None = None,
        *,
        strict: bool = True,
    ) -> list[DeliveryResult]:
        """Deliver to every subscription of ``topic``; one result per subscription.
        :class:`~driftloop.errors.NotFoundError` for an unknown topic; with ``strict``,
        :class:`~driftloop.errors.NotificationFailed` when any delivery failed."""


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
